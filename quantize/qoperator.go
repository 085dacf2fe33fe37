package quantize

import (
	"errors"
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// errNoQOp says a handler has no integer form for this node (in this
// opset); the writer keeps the float op between DequantizeLinear and
// QuantizeLinear instead.
var errNoQOp = errors.New("no QOperator form")

// qopWriter rewrites quantized nodes as integer ops. Every quantized
// activation tensor T has a quantized twin T_quantized; integer nodes read
// and write twins, and the writer adds QuantizeLinear where a twin's value
// comes from a float producer and DequantizeLinear where a float reader
// (or a graph output) needs T back.
type qopWriter struct {
	b        *builder
	p        *Plan
	twin     map[string]string
	refs     map[string]qref
	produced map[string]bool // twins written by integer nodes
	removed  map[*onnxpb.NodeProto]bool
}

// writeQOperator writes the plan in QOperator form.
func writeQOperator(b *builder, p *Plan) error {
	w := &qopWriter{b: b, p: p, twin: map[string]string{}, refs: map[string]qref{}, produced: map[string]bool{}, removed: map[*onnxpb.NodeProto]bool{}}
	g := b.g
	for _, t := range p.TensorNames() {
		r, err := b.actParams(t, p.Tensors[t])
		if err != nil {
			return err
		}
		r.Q = b.name(t + "_quantized")
		w.twin[t] = r.Q
		w.refs[t] = r
	}
	for _, s := range p.Quantized() {
		n := s.Node
		if s.Handler.Kind == Activation {
			continue // removed with the node it folds into
		}
		err := errNoQOp
		if s.Handler.QOperator != nil {
			err = s.Handler.QOperator(w, n, s.Spec)
		}
		if errors.Is(err, errNoQOp) {
			// Keep n as a float op: its weights become int8 behind a
			// DequantizeLinear, and the boundary pass gives it float
			// inputs and quantizes its output.
			err = b.dqOperands(s, p)
		}
		if err != nil {
			return fmt.Errorf("node %q: %w", n.GetName(), err)
		}
	}
	// Keep the nodes list free of the replaced ones.
	keep := g.P.Node[:0]
	for _, n := range g.P.Node {
		if !w.removed[n] {
			keep = append(keep, n)
		}
	}
	g.P.Node = keep
	g.Reindex()
	// Boundaries.
	var holds []string
	for _, t := range p.TensorNames() {
		r := w.refs[t]
		if w.produced[t] {
			if len(g.Consumers(t)) > 0 || g.IsGraphOutput(t) {
				g.AddNode(b.qdqNode("DequantizeLinear", r.Q, r.Scale, r.Zero, t, r.P))
			}
			continue
		}
		if len(g.Consumers(r.Q)) > 0 {
			g.AddNode(b.qdqNode("QuantizeLinear", t, r.Scale, r.Zero, r.Q, r.P))
			if prod := g.Producer(t); prod != nil && needsHold(p, prod) {
				holds = append(holds, t)
			}
		}
	}
	g.Reindex()
	if err := b.finish(); err != nil {
		return err
	}
	b.hold(holds)
	return nil
}

// in returns the twin of activation input i of n.
func (w *qopWriter) in(n *onnxpb.NodeProto, i int) (qref, error) {
	r, ok := w.refs[n.Input[i]]
	if !ok {
		return qref{}, fmt.Errorf("internal: input %q is not quantized", n.Input[i])
	}
	return r, nil
}

// out returns the twin the integer form of n writes (its own output's, or
// the folded Relu/Clip's, which is then removed); ok is false when the
// output stays float.
func (w *qopWriter) out(n *onnxpb.NodeProto) (qref, bool) {
	s := w.p.States[n]
	t := n.Output[0]
	if s.Fold != nil {
		t = s.Fold.Output[0]
	}
	r, ok := w.refs[t]
	if !ok {
		return qref{}, false
	}
	return r, true
}

// commit marks n's output twin as produced, removes n (and its folded
// Relu/Clip) and adds the replacement nodes.
func (w *qopWriter) commit(n *onnxpb.NodeProto, quantizedOut bool, nodes ...*onnxpb.NodeProto) {
	s := w.p.States[n]
	if quantizedOut {
		t := n.Output[0]
		if s.Fold != nil {
			t = s.Fold.Output[0]
			w.removed[s.Fold] = true
		}
		w.produced[t] = true
	}
	w.removed[n] = true
	for _, m := range nodes {
		w.b.g.AddNode(m)
		w.b.origin[m] = n
	}
}

// node builds an integer node that keeps n's name (profiling maps fused
// and replaced nodes back by name).
func (w *qopWriter) node(n *onnxpb.NodeProto, op, domain string, inputs []string, output string) *onnxpb.NodeProto {
	m := onnxio.NewNode(op, n.GetName(), inputs, []string{output})
	if domain != "" {
		m.Domain = proto.String(domain)
		w.b.useOpset(domain, 1)
	}
	return m
}

// copyAttrs copies n's attributes except those named in skip.
func copyAttrs(dst, n *onnxpb.NodeProto, skip ...string) {
	for _, a := range n.Attribute {
		drop := false
		for _, s := range skip {
			drop = drop || a.GetName() == s
		}
		if !drop {
			dst.Attribute = append(dst.Attribute, proto.Clone(a).(*onnxpb.AttributeProto))
		}
	}
}

// The QOperator forms, one per handler.

func convQOp(w *qopWriter, n *onnxpb.NodeProto, s Spec) error {
	x, err := w.in(n, 0)
	if err != nil {
		return err
	}
	y, ok := w.out(n)
	if !ok {
		return errNoQOp
	}
	wt, bias, err := w.b.weight(n, s, x.P.Scale[0], w.p.PerTensor)
	if err != nil {
		return err
	}
	ins := []string{x.Q, x.Scale, x.Zero, wt.Q, wt.Scale, wt.Zero, y.Scale, y.Zero}
	if bias != nil {
		ins = append(ins, bias.Q)
	}
	m := w.node(n, "QLinearConv", "", ins, y.Q)
	copyAttrs(m, n)
	w.b.useOpset("", 10)
	w.commit(n, true, m)
	return nil
}

// convTransposeQOp: ONNX Runtime has no integer ConvTranspose kernel, so
// the op stays float on int8 weights (smaller file, same speed).
func convTransposeQOp(w *qopWriter, n *onnxpb.NodeProto, s Spec) error { return errNoQOp }

func matMulQOp(w *qopWriter, n *onnxpb.NodeProto, s Spec) error {
	a, err := w.in(n, 0)
	if err != nil {
		return err
	}
	var bq qref
	if s.Weight >= 0 {
		bq, _, err = w.b.weight(n, s, a.P.Scale[0], w.p.PerTensor)
	} else {
		bq, err = w.in(n, 1)
	}
	if err != nil {
		return err
	}
	if y, ok := w.out(n); ok {
		m := w.node(n, "QLinearMatMul", "", []string{a.Q, a.Scale, a.Zero, bq.Q, bq.Scale, bq.Zero, y.Scale, y.Zero}, y.Q)
		w.b.useOpset("", 10)
		w.commit(n, true, m)
		return nil
	}
	m := w.node(n, "MatMulIntegerToFloat", msDomain, []string{a.Q, bq.Q, a.Scale, bq.Scale, a.Zero, bq.Zero}, n.Output[0])
	w.commit(n, false, m)
	return nil
}

func gemmQOp(w *qopWriter, n *onnxpb.NodeProto, s Spec) error {
	a, err := w.in(n, 0)
	if err != nil {
		return err
	}
	bq, bias, err := w.b.weight(n, s, a.P.Scale[0], w.p.PerTensor)
	if err != nil {
		return err
	}
	c := ""
	if bias != nil {
		c = bias.Q
	}
	ins := []string{a.Q, a.Scale, a.Zero, bq.Q, bq.Scale, bq.Zero, c}
	y, quantOut := w.out(n)
	out := n.Output[0]
	if quantOut {
		ins = append(ins, y.Scale, y.Zero)
		out = y.Q
	}
	m := w.node(n, "QGemm", msDomain, ins, out)
	copyAttrs(m, n, "beta", "alpha")
	w.commit(n, quantOut, m)
	return nil
}

func binaryQOp(w *qopWriter, n *onnxpb.NodeProto, s Spec) error {
	y, ok := w.out(n)
	if !ok {
		return errNoQOp
	}
	ins, err := w.operands(n, s, nil)
	if err != nil {
		return err
	}
	ins = append(ins, y.Scale, y.Zero)
	m := w.node(n, "QLinear"+n.GetOpType(), msDomain, ins, y.Q)
	w.commit(n, true, m)
	return nil
}

// operands appends to ins the (tensor, scale, zero point) triple of every
// input of n: the twin of an activation, the quantized initializer of a
// constant.
func (w *qopWriter) operands(n *onnxpb.NodeProto, s Spec, ins []string) ([]string, error) {
	for i := range n.Input {
		var r qref
		var err error
		if isConst(s, i) {
			r, err = w.b.constant(n.Input[i], w.p.ActType)
		} else {
			r, err = w.in(n, i)
		}
		if err != nil {
			return nil, err
		}
		ins = append(ins, r.Q, r.Scale, r.Zero)
	}
	return ins, nil
}

func isConst(s Spec, i int) bool {
	for _, c := range s.Consts {
		if c == i {
			return true
		}
	}
	return false
}

func concatQOp(w *qopWriter, n *onnxpb.NodeProto, s Spec) error {
	y, ok := w.out(n)
	if !ok {
		return errNoQOp
	}
	ins, err := w.operands(n, s, []string{y.Scale, y.Zero})
	if err != nil {
		return err
	}
	m := w.node(n, "QLinearConcat", msDomain, ins, y.Q)
	copyAttrs(m, n)
	w.commit(n, true, m)
	return nil
}

func avgPoolQOp(w *qopWriter, n *onnxpb.NodeProto, s Spec) error {
	x, err := w.in(n, 0)
	if err != nil {
		return err
	}
	y, ok := w.out(n)
	if !ok {
		return errNoQOp
	}
	m := w.node(n, "QLinear"+n.GetOpType(), msDomain, []string{x.Q, x.Scale, x.Zero, y.Scale, y.Zero}, y.Q)
	copyAttrs(m, n)
	onnxio.SetAttrInt(m, "channels_last", 0)
	w.commit(n, true, m)
	return nil
}

// passQOp runs a pass-through op on the quantized twin (MaxPool needs
// opset 12 for 8-bit types).
func passQOp(w *qopWriter, n *onnxpb.NodeProto, s Spec) error {
	if n.GetOpType() == "MaxPool" && w.b.m.Opset("") < 12 {
		return errNoQOp
	}
	x, err := w.in(n, 0)
	if err != nil {
		return err
	}
	y, ok := w.refs[n.Output[0]]
	if !ok {
		return errNoQOp
	}
	m := onnxio.NewNode(n.GetOpType(), n.GetName(), append([]string{x.Q}, n.Input[1:]...), []string{y.Q})
	m.Domain = n.Domain
	copyAttrs(m, n)
	w.commit(n, true, m)
	return nil
}
