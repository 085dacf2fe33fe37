package quantize

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/opinfo"
	"github.com/shrinkml/shrink/transform"
)

// NodeState is the plan's decision for one node that has a handler.
type NodeState struct {
	Node    *onnxpb.NodeProto
	Handler *Handler
	Spec    Spec
	// Quantized is true when the node runs in int8 (for an Activation:
	// when it is folded into the node before it).
	Quantized bool
	// Float says why a node with a handler stays float ("" if quantized).
	Float string
	// Fold is the Relu/Clip folded into this node's output range; FoldedInto
	// is, for that Relu/Clip, the node it folded into.
	Fold, FoldedInto *onnxpb.NodeProto
}

// Plan says which nodes run in int8 and which activation tensors carry
// which quantization parameters.
type Plan struct {
	Order  []*onnxpb.NodeProto
	States map[*onnxpb.NodeProto]*NodeState
	// Tensors maps each quantized activation tensor to its parameters.
	Tensors map[string]Params
	// ActType is the activation element type.
	ActType onnxio.DType
	// PerTensor disables per-channel weight scales.
	PerTensor bool
	// Sub holds the decisions for nodes of subgraphs (If branches, Loop
	// and Scan bodies), each with its scope (dynamic mode).
	Sub []subState
}

// TensorNames returns the quantized tensors sorted by name.
func (p *Plan) TensorNames() []string {
	out := make([]string, 0, len(p.Tensors))
	for t := range p.Tensors {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Quantized returns the quantized nodes in topological order.
func (p *Plan) Quantized() []*NodeState {
	var out []*NodeState
	for _, n := range p.Order {
		if s := p.States[n]; s != nil && s.Quantized {
			out = append(out, s)
		}
	}
	return out
}

// selection is the result of node filtering: for each node with a
// handler, "" when it may be quantized or the reason it may not.
type selection struct {
	reason map[*onnxpb.NodeProto]string
}

// notSelected is the float reason of nodes whose op type is not selected.
const notSelected = "op type not selected (--op-types)"

// selectNodes applies --op-types, --exclude, --keep-first/--keep-last and
// the preset to the main graph's nodes in order, and the op types and
// exclusions to sub, the nodes of subgraphs. An exclusion that matches
// nothing is an error.
func selectNodes(order, sub []*onnxpb.NodeProto, o *Options) (*selection, error) {
	sel := &selection{reason: map[*onnxpb.NodeProto]string{}}
	ops := map[string]bool{}
	for _, op := range o.OpTypes {
		ops[op] = true
	}
	type matcher struct {
		src  string
		re   *regexp.Regexp
		name string
		hits int
	}
	var ms []*matcher
	for _, e := range o.Exclude {
		m := &matcher{src: e}
		if r, ok := strings.CutPrefix(e, "re:"); ok {
			m.re = regexp.MustCompile(r) // validated in withDefaults
		} else {
			m.name = e
		}
		ms = append(ms, m)
	}
	var compute []*onnxpb.NodeProto
	for _, n := range order {
		// --keep-first/--keep-last count the weight-carrying ops.
		if handlerFor(n) != nil && opinfo.IsCompute(n.GetOpType()) {
			compute = append(compute, n)
		}
	}
	keep := map[*onnxpb.NodeProto]string{}
	for i := 0; i < o.KeepFirst && i < len(compute); i++ {
		keep[compute[i]] = fmt.Sprintf("first %s kept float (--keep-first)", plural(o.KeepFirst, "compute node", "compute nodes"))
	}
	for i := 0; i < o.KeepLast && i < len(compute); i++ {
		keep[compute[len(compute)-1-i]] = fmt.Sprintf("last %s kept float (--keep-last)", plural(o.KeepLast, "compute node", "compute nodes"))
	}
	var presetFloat map[*onnxpb.NodeProto]string
	if o.Preset == Transformer {
		presetFloat = transformerFloatNodes(order)
	}
	for _, n := range append(order[:len(order):len(order)], sub...) {
		name := n.GetName()
		for _, m := range ms {
			if m.re != nil && m.re.MatchString(name) || m.re == nil && m.name == name {
				m.hits++
				if _, done := sel.reason[n]; !done {
					sel.reason[n] = fmt.Sprintf("excluded (--exclude %s)", m.src)
				}
			}
		}
		if handlerFor(n) == nil {
			continue
		}
		if _, done := sel.reason[n]; done {
			continue
		}
		switch {
		case keep[n] != "":
			sel.reason[n] = keep[n]
		case presetFloat[n] != "":
			sel.reason[n] = presetFloat[n]
		case !ops[n.GetOpType()]:
			sel.reason[n] = notSelected
		default:
			sel.reason[n] = ""
		}
	}
	for _, m := range ms {
		if m.hits == 0 {
			return nil, transform.Errorf("Exclude", m.src, "matches no node")
		}
	}
	return sel, nil
}

// transformerFloatNodes finds LayerNorm, Softmax and GELU, fused or
// decomposed, and returns every node of those patterns.
func transformerFloatNodes(order []*onnxpb.NodeProto) map[*onnxpb.NodeProto]string {
	out := map[*onnxpb.NodeProto]string{}
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range order {
		for _, o := range n.Output {
			producer[o] = n
		}
	}
	mark := func(n *onnxpb.NodeProto, why string) {
		if n != nil && out[n] == "" {
			out[n] = why
		}
	}
	for _, n := range order {
		switch n.GetOpType() {
		case "LayerNormalization", "SkipLayerNormalization", "SimplifiedLayerNormalization":
			mark(n, "LayerNorm kept float (--preset transformer)")
		case "Softmax", "LogSoftmax":
			mark(n, "Softmax kept float (--preset transformer)")
		case "Gelu", "FastGelu", "BiasGelu":
			mark(n, "GELU kept float (--preset transformer)")
		case "Erf":
			// GELU: 0.5·x·(1+erf(x/√2)): Div → Erf → Add → Mul → Mul.
			mark(n, "GELU kept float (--preset transformer)")
			mark(producer[n.GetInput()[0]], "GELU kept float (--preset transformer)")
		case "ReduceMean":
			// LayerNorm: ReduceMean → Sub → Pow → ReduceMean → Add → Sqrt →
			// Div → Mul → Add. Mark the ReduceMean and the elementwise
			// nodes that consume what it feeds.
			mark(n, "LayerNorm kept float (--preset transformer)")
		case "Sqrt", "Pow":
			mark(n, "LayerNorm kept float (--preset transformer)")
		}
	}
	// Decomposed LayerNorm and GELU end in Add/Mul/Div chains: keep the
	// elementwise consumers of marked nodes float too (two levels).
	for range 2 {
		for _, n := range order {
			switch n.GetOpType() {
			case "Add", "Mul", "Div", "Sub":
			default:
				continue
			}
			for _, in := range n.Input {
				if p := producer[in]; p != nil && out[p] != "" && out[n] == "" {
					out[n] = out[p]
				}
			}
		}
	}
	return out
}

// buildPlan decides which nodes and tensors are quantized. float holds
// extra nodes to keep in float with a reason (speed- or accuracy-driven).
func buildPlan(g *onnxio.Graph, order []*onnxpb.NodeProto, sel *selection, st *Stats, o *Options, float map[*onnxpb.NodeProto]string) (*Plan, error) {
	p := &Plan{Order: order, States: map[*onnxpb.NodeProto]*NodeState{}, Tensors: map[string]Params{}, ActType: o.ActivationType, PerTensor: o.PerTensor}
	ok := map[*onnxpb.NodeProto]bool{}
	for _, n := range order {
		h := handlerFor(n)
		if h == nil {
			continue
		}
		s := &NodeState{Node: n, Handler: h}
		p.States[n] = s
		if why := sel.reason[n]; why != "" {
			s.Float = why
			continue
		}
		if why := float[n]; why != "" {
			s.Float = why
			continue
		}
		spec, why := h.Spec(g, n)
		if why != "" {
			s.Float = why
			continue
		}
		s.Spec = spec
		if st != nil && (h.Kind == Compute || h.Kind == Elementwise) {
			for _, i := range spec.Acts {
				in := n.Input[i]
				if !st.isFloat(in) {
					if _, seen := st.DTypes[in]; seen {
						why = fmt.Sprintf("input %q is %s, not float32", in, st.DTypes[in])
					} else {
						why = fmt.Sprintf("input %q was not observed in calibration", in)
					}
					break
				}
			}
			if why != "" {
				s.Float = why
				continue
			}
		}
		ok[n] = true
	}
	want := map[string]bool{}
	isOut := map[string]bool{}
	for _, v := range g.P.Output {
		isOut[v.GetName()] = true
	}
	// fold returns the tensor that carries n's quantized output: its own
	// output, or that of the single Relu/Clip that reads it.
	fold := func(n *onnxpb.NodeProto) (string, *onnxpb.NodeProto) {
		out := n.Output[0]
		if o.ActivationType != onnxio.Uint8 || isOut[out] {
			return out, nil
		}
		cs := g.Consumers(out)
		if len(cs) != 1 {
			return out, nil
		}
		r := cs[0]
		if !ok[r] || handlerFor(r).Kind != Activation || len(r.Input) == 0 || r.Input[0] != out {
			return out, nil
		}
		if st != nil && !st.isFloat(r.Output[0]) {
			return out, nil
		}
		return r.Output[0], r
	}
	for _, n := range order {
		if !ok[n] {
			continue
		}
		s := p.States[n]
		if s.Handler.Kind != Compute && s.Handler.Kind != Elementwise {
			continue
		}
		s.Quantized = true
		for _, i := range s.Spec.Acts {
			want[n.Input[i]] = true
		}
	}
	for _, n := range order {
		s := p.States[n]
		if s == nil || !s.Quantized {
			continue
		}
		out, r := fold(n)
		if !s.Spec.FloatOutput || want[out] {
			want[out] = true
			if r != nil {
				s.Fold = r
				rs := p.States[r]
				rs.Quantized, rs.FoldedInto = true, n
			}
		}
	}
	for _, n := range order {
		s := p.States[n]
		if s != nil && s.Handler.Kind == Activation && !s.Quantized && s.Float == "" {
			s.Float = "not after a quantized node (nothing to fold into)"
		}
	}
	// Parameters of the tensors quantized for their own sake.
	for t := range want {
		if st == nil {
			return nil, fmt.Errorf("internal: static plan without statistics")
		}
		lo, hi, found := st.Cal.Range(t, o.ActivationType == onnxio.Int8)
		if !found {
			return nil, fmt.Errorf("no calibration statistics for tensor %q", t)
		}
		pr, err := ActivationParams(lo, hi, o.ActivationType)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t, err)
		}
		p.Tensors[t] = pr
	}
	// Pass-through nodes whose input is quantized: their output shares
	// the input's parameters.
	for _, n := range order {
		s := p.States[n]
		if s == nil || !ok[n] || s.Handler.Kind != PassThrough {
			continue
		}
		in := n.Input[0]
		pr, q := p.Tensors[in]
		if !q {
			s.Float = "input is not quantized"
			continue
		}
		if st != nil && !st.isFloat(n.Output[0]) {
			s.Float = "output is not float32"
			continue
		}
		s.Quantized = true
		p.Tensors[n.Output[0]] = pr
	}
	return p, nil
}
