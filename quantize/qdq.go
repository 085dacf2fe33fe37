package quantize

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// writeQDQ rewrites the model in QDQ form: every quantized activation
// tensor T gets QuantizeLinear → DequantizeLinear (the node that produced
// T now writes T_float, and the DequantizeLinear writes T, so every reader
// and the graph outputs see the same values and ORT finds the pattern it
// fuses); weights become int8 initializers behind a DequantizeLinear,
// biases int32 ones.
func writeQDQ(b *builder, p *Plan) error {
	g := b.g
	// Weights, biases and constants first, while node inputs still carry
	// their original names.
	for _, s := range p.Quantized() {
		if s.Handler.Kind != Compute && s.Handler.Kind != Elementwise {
			continue
		}
		if err := b.dqOperands(s, p); err != nil {
			return fmt.Errorf("node %q: %w", s.Node.GetName(), err)
		}
	}
	isInput := map[string]bool{}
	for _, v := range g.Inputs() {
		isInput[v.GetName()] = true
	}
	var holds []string
	for _, t := range p.TensorNames() {
		pr := p.Tensors[t]
		r, err := b.actParams(t, pr)
		if err != nil {
			return err
		}
		q := b.name(t + "_quantized")
		if isInput[t] {
			dq := b.name(t + "_dequantized")
			g.ReplaceUses(t, dq, false)
			g.AddNode(b.qdqNode("QuantizeLinear", t, r.Scale, r.Zero, q, pr))
			g.AddNode(b.qdqNode("DequantizeLinear", q, r.Scale, r.Zero, dq, pr))
			continue
		}
		prod := g.Producer(t)
		if prod == nil {
			return fmt.Errorf("internal: quantized tensor %q has no producer", t)
		}
		f := b.name(t + "_float")
		for i, o := range prod.Output {
			if o == t {
				prod.Output[i] = f
			}
		}
		g.Reindex()
		g.AddNode(b.qdqNode("QuantizeLinear", f, r.Scale, r.Zero, q, pr))
		g.AddNode(b.qdqNode("DequantizeLinear", q, r.Scale, r.Zero, t, pr))
		if needsHold(p, prod) {
			holds = append(holds, f)
		}
	}
	g.Reindex()
	if err := b.finish(); err != nil {
		return err
	}
	b.hold(holds)
	return nil
}

// dqOperands quantizes the constant operands of s's node and its weight
// and bias (int8 and int32 initializers) and makes the node read them
// through DequantizeLinear.
func (b *builder) dqOperands(s *NodeState, p *Plan) error {
	n := s.Node
	for _, i := range s.Spec.Consts {
		r, err := b.constant(n.Input[i], p.ActType)
		if err != nil {
			return err
		}
		n.Input[i] = b.dq(r, n.Input[i])
	}
	if s.Spec.Weight < 0 {
		return nil
	}
	in := p.Tensors[n.Input[s.Spec.Acts[0]]]
	w, bias, err := b.weight(n, s.Spec, in.Scale[0], p.PerTensor)
	if err != nil {
		return err
	}
	n.Input[s.Spec.Weight] = b.dq(w, n.Input[s.Spec.Weight])
	foldGemmScalars(n, s.Spec)
	if bias != nil {
		n.Input[s.Spec.Bias] = b.dq(*bias, n.Input[s.Spec.Bias])
	}
	return nil
}

// needsHold reports whether the float→int8 boundary after prod must be
// held: ONNX Runtime moves a QuantizeLinear up across a MaxPool whose
// output only it reads, which turns a fast float MaxPool into a slow NCHW
// uint8 one (measured in docs/quantize.md).
func needsHold(p *Plan, prod *onnxpb.NodeProto) bool {
	if prod.GetOpType() != "MaxPool" {
		return false
	}
	s := p.States[prod]
	return s == nil || !s.Quantized
}

// hold gives each tensor a second reader, a Shape node whose output is
// unused, so ORT's QDQ propagation (which needs the QuantizeLinear to be
// the only reader) keeps the boundary where the plan put it. Shape of a
// tensor with a dynamic batch dimension is not constant-folded and costs
// a few microseconds.
func (b *builder) hold(tensors []string) {
	for _, t := range tensors {
		b.g.AddNode(onnxio.NewNode("Shape", b.name(t+"_hold"), []string{t}, []string{b.name(t + "_hold_shape")}))
	}
	b.holds += len(tensors)
}

// foldGemmScalars sets Gemm's alpha and beta to 1 once the writer has
// folded them into the quantized weight and bias.
func foldGemmScalars(n *onnxpb.NodeProto, s Spec) {
	if n.GetOpType() != "Gemm" {
		return
	}
	if s.WeightAlpha != 1 {
		onnxio.SetAttrFloat(n, "alpha", 1)
	}
	if s.Bias >= 0 {
		onnxio.SetAttrFloat(n, "beta", 1)
	}
}

// dq adds (once per quantized initializer) a DequantizeLinear of r and
// returns its output name.
func (b *builder) dq(r qref, base string) string {
	key := r.Q + "|dq"
	if c, ok := b.paramNames[key]; ok {
		return c.Q
	}
	out := b.name(base + "_dequantized")
	b.g.AddNode(b.qdqNode("DequantizeLinear", r.Q, r.Scale, r.Zero, out, r.P))
	b.paramNames[key] = qref{Q: out}
	return out
}
