package quantize

import (
	"slices"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/opinfo"
)

// Compute ops: Conv, ConvTranspose, MatMul, Gemm. Which input is the
// activation, the weight and the bias, the weight's output-channel axis
// and the MAC count are opinfo's facts; what is quantize's own is which
// of those axes ORT's integer kernels take per-channel scales along.

func init() {
	register(&Handler{Ops: []string{"Conv"}, Kind: Compute, Spec: convSpec, QOperator: convQOp, Dynamic: convDynamic, MACs: macs})
	register(&Handler{Ops: []string{"ConvTranspose"}, Kind: Compute, Spec: convTransposeSpec, QOperator: convTransposeQOp, MACs: macs})
	register(&Handler{Ops: []string{"MatMul"}, Kind: Compute, Spec: matMulSpec, QOperator: matMulQOp, Dynamic: matMulDynamic, MACs: macs})
	register(&Handler{Ops: []string{"Gemm"}, Kind: Compute, Spec: gemmSpec, QOperator: gemmQOp, Dynamic: gemmDynamic, MACs: macs})
}

// roles returns, from opinfo, the indices of a compute op's activation,
// weight and bias inputs (-1 where it has none).
func roles(n *onnxpb.NodeProto) (act, weight, bias int) {
	o, ok := opinfo.ForNode(n)
	if !ok {
		return -1, -1, -1
	}
	return o.Find(opinfo.Data), o.Find(opinfo.Weight), o.Find(opinfo.Bias)
}

// outAxis is the output-channel axis of n's weight of the given shape
// (opinfo's Out axis: Conv 0, ConvTranspose 1, Gemm 1 or 0 with transB,
// MatMul the last), or -1.
func outAxis(n *onnxpb.NodeProto, shape []int64) int {
	a, ok := opinfo.WeightAxes(n, shape)
	if !ok {
		return -1
	}
	return a.Out
}

func weightShape(g *onnxio.Graph, name string) ([]int64, bool) {
	for _, r := range g.Weights() {
		if r.Name == name {
			return r.Shape, r.DType == onnxio.Float32
		}
	}
	return nil, false
}

// convSpec: X activation, W int8 per output channel (axis 0), B int32.
func convSpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s := noSpec()
	act, wi, bi := roles(n)
	if len(n.Input) <= wi || !g.IsWeight(n.Input[wi]) {
		return s, "weight is not a constant"
	}
	shape, ok := weightShape(g, n.Input[wi])
	if !ok {
		return s, "weight is not float32"
	}
	s.Acts, s.Weight, s.Axis = []int{act}, wi, outAxis(n, shape)
	if hasInput(n, bi) {
		if !g.IsWeight(n.Input[bi]) {
			return s, "bias is not a constant"
		}
		s.Bias = bi
	}
	return s, ""
}

// convTransposeSpec: W is [C_in, C_out/group, k...]: output channels are
// axis 1, which holds every output channel (per-channel scales) only for
// group 1.
func convTransposeSpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s, why := convSpec(g, n)
	if why != "" {
		return s, why
	}
	if opinfo.Groups(n) != 1 {
		s.Axis = -1
	}
	return s, ""
}

// matMulSpec: A activation; B int8 per column (its last axis) when
// constant, else a second activation (attention-style MatMul).
func matMulSpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s := noSpec()
	s.FloatOutput = true
	act, wi, _ := roles(n)
	if len(n.Input) <= wi {
		return s, "MatMul needs two inputs"
	}
	if g.IsWeight(n.Input[act]) {
		return s, "constant left operand"
	}
	if !g.IsWeight(n.Input[wi]) {
		s.Acts = []int{act, wi}
		return s, ""
	}
	shape, ok := weightShape(g, n.Input[wi])
	if !ok {
		return s, "weight is not float32"
	}
	s.Acts, s.Weight = []int{act}, wi
	switch len(shape) {
	case 2:
		s.Axis = outAxis(n, shape)
	case 1:
		return s, "1-D weight"
	default:
		s.Axis = -1
	}
	return s, ""
}

// gemmSpec: A activation, B int8 per output feature (axis 0 when transB,
// else 1), C int32 when it is a constant 1-D [N] (or [1, N]) bias.
func gemmSpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s := noSpec()
	s.FloatOutput = true
	act, wi, bi := roles(n)
	if len(n.Input) <= wi || !g.IsWeight(n.Input[wi]) {
		return s, "weight is not a constant"
	}
	if g.IsWeight(n.Input[act]) {
		return s, "constant left operand"
	}
	shape, ok := weightShape(g, n.Input[wi])
	if !ok || len(shape) != 2 {
		return s, "weight is not a float32 matrix"
	}
	s.Acts, s.Weight, s.Axis = []int{act}, wi, outAxis(n, shape)
	s.WeightAlpha = onnxio.AttrFloat(n, "alpha", 1)
	if hasInput(n, bi) {
		if !g.IsWeight(n.Input[bi]) {
			return s, "bias C is not a constant"
		}
		cs, _ := weightShape(g, n.Input[bi])
		nOut := shape[s.Axis]
		if !(len(cs) == 1 && cs[0] == nOut || len(cs) == 2 && cs[0] == 1 && cs[1] == nOut) {
			return s, "bias C is not a vector of the output features"
		}
		s.Bias = bi
		s.BiasBeta = onnxio.AttrFloat(n, "beta", 1)
	}
	return s, ""
}

// macs is the compute handlers' MAC count per sample (opinfo.MACs), given
// the node's observed input and output shapes and its constant weight's
// shape w (nil when the weight is not a constant); 0 when a shape the
// count needs is missing.
func macs(n *onnxpb.NodeProto, in, out [][]int64, w []int64) int64 {
	ins := slices.Clone(in)
	if len(ins) > 1 {
		ins[1] = w
	}
	c, err := opinfo.MACs(n, opinfo.Shapes{In: ins, Out: out})
	if err != nil {
		return 0
	}
	return c.PerSample
}
