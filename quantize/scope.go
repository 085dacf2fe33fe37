package quantize

import (
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// Control flow (If branches, Loop and Scan bodies) holds nodes in
// subgraphs, whose weights often live in the main graph: Silero VAD's
// convolutions and LSTM matrices sit in the two branches of an If on the
// sample rate, reading initializers of the main graph. Dynamic quantization
// reaches them through scopes.

// allNodes lists every node of the model: the main graph's in file order
// (so a main-graph node's index is its position, as before), then those of
// the subgraphs, depth first. A clone of the model lists its nodes in the
// same order, so an index names the same node in every variant.
func allNodes(g *onnxpb.GraphProto) []*onnxpb.NodeProto {
	out := append([]*onnxpb.NodeProto(nil), g.Node...)
	for _, sc := range scopes(g, nil) {
		out = append(out, sc.sg.Node...)
	}
	return out
}

// subNodes lists the nodes of the scopes' subgraphs.
func subNodes(scs []*scope) []*onnxpb.NodeProto {
	var out []*onnxpb.NodeProto
	for _, sc := range scs {
		out = append(out, sc.sg.Node...)
	}
	return out
}

// scope is one subgraph seen together with the weights of the graphs
// around it: view holds the subgraph's nodes and initializers plus the
// enclosing graphs' initializers and Constant nodes, so that g (an
// onnxio.Graph over view) finds every weight a node of the subgraph reads,
// and writers add nodes and initializers to it as to the main graph. commit
// writes the result back into the subgraph.
type scope struct {
	sg    *onnxpb.GraphProto
	outer []*onnxpb.GraphProto // enclosing graphs, main graph first
	view  *onnxpb.GraphProto
	g     *onnxio.Graph
	// borrowed are the enclosing graphs' Constant nodes placed in view.
	borrowed map[*onnxpb.NodeProto]bool
	// own is the subgraph's initializer count, seen view's before writing.
	own, seen int
}

// scopes returns a scope for every subgraph under g (g's own subgraphs
// first, each followed by the ones nested in it), outer being the graphs
// enclosing g (nil for the main graph). The views are built when asked
// (see view).
func scopes(g *onnxpb.GraphProto, outer []*onnxpb.GraphProto) []*scope {
	var out []*scope
	enclosing := append(append([]*onnxpb.GraphProto(nil), outer...), g)
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			var gs []*onnxpb.GraphProto
			if a.G != nil {
				gs = append(gs, a.G)
			}
			gs = append(gs, a.Graphs...)
			for _, sg := range gs {
				out = append(out, &scope{sg: sg, outer: enclosing})
				out = append(out, scopes(sg, enclosing)...)
			}
		}
	}
	return out
}

// open builds the scope's view of the subgraph and its enclosing weights.
func (s *scope) open() {
	v := &onnxpb.GraphProto{Name: s.sg.Name, Input: s.sg.Input, Output: s.sg.Output}
	s.borrowed = map[*onnxpb.NodeProto]bool{}
	v.Initializer = append(v.Initializer, s.sg.Initializer...)
	s.own = len(s.sg.Initializer)
	for _, o := range s.outer {
		v.Initializer = append(v.Initializer, o.Initializer...)
		for _, n := range o.Node {
			if isConstantNode(n) {
				v.Node = append(v.Node, n)
				s.borrowed[n] = true
			}
		}
	}
	v.Node = append(v.Node, s.sg.Node...)
	s.seen = len(v.Initializer)
	s.view, s.g = v, onnxio.NewGraph(v)
}

// commit writes the view's nodes and the initializers added to it back into
// the subgraph, drops what the rewrite orphaned there and sorts it.
func (s *scope) commit() error {
	var nodes []*onnxpb.NodeProto
	for _, n := range s.view.Node {
		if !s.borrowed[n] {
			nodes = append(nodes, n)
		}
	}
	s.sg.Node = nodes
	inits := append([]*onnxpb.TensorProto(nil), s.view.Initializer[:s.own]...)
	s.sg.Initializer = append(inits, s.view.Initializer[s.seen:]...)
	g := onnxio.NewGraph(s.sg)
	g.RemoveUnused()
	return g.Sort()
}

func isConstantNode(n *onnxpb.NodeProto) bool {
	return n.GetOpType() == "Constant" && (n.GetDomain() == "" || n.GetDomain() == "ai.onnx") && len(n.Output) == 1
}

// forScope returns a builder that writes into scope s and shares b's
// names, caches and records.
func (b *builder) forScope(s *scope) *builder {
	c := *b
	c.g = s.g
	return &c
}
