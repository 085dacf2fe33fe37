package quantize

import (
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// Compute ops: Conv, ConvTranspose, MatMul, Gemm.

func init() {
	Register(&Handler{Ops: []string{"Conv"}, Kind: Compute, Spec: convSpec, QOperator: convQOp, Dynamic: convDynamic, MACs: convMACs})
	Register(&Handler{Ops: []string{"ConvTranspose"}, Kind: Compute, Spec: convTransposeSpec, QOperator: convTransposeQOp, MACs: convTransposeMACs})
	Register(&Handler{Ops: []string{"MatMul"}, Kind: Compute, Spec: matMulSpec, QOperator: matMulQOp, Dynamic: matMulDynamic, MACs: matMulMACs})
	Register(&Handler{Ops: []string{"Gemm"}, Kind: Compute, Spec: gemmSpec, QOperator: gemmQOp, Dynamic: gemmDynamic, MACs: matMulMACs})
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
	if len(n.Input) < 2 || !g.IsWeight(n.Input[1]) {
		return s, "weight is not a constant"
	}
	if _, ok := weightShape(g, n.Input[1]); !ok {
		return s, "weight is not float32"
	}
	s.Acts, s.Weight, s.Axis = []int{0}, 1, 0
	if hasInput(n, 2) {
		if !g.IsWeight(n.Input[2]) {
			return s, "bias is not a constant"
		}
		s.Bias = 2
	}
	return s, ""
}

// convTransposeSpec: W is [C_in, C_out/group, k...]: output channels are
// axis 1, which is per-channel only for group 1.
func convTransposeSpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s, why := convSpec(g, n)
	if why != "" {
		return s, why
	}
	s.Axis = 1
	if onnxio.AttrInt(n, "group", 1) != 1 {
		s.Axis = -1
	}
	return s, ""
}

// matMulSpec: A activation; B int8 per column (its last axis) when
// constant, else a second activation (attention-style MatMul).
func matMulSpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s := noSpec()
	s.FloatOutput = true
	if len(n.Input) < 2 {
		return s, "MatMul needs two inputs"
	}
	if g.IsWeight(n.Input[0]) {
		return s, "constant left operand"
	}
	if !g.IsWeight(n.Input[1]) {
		s.Acts = []int{0, 1}
		return s, ""
	}
	shape, ok := weightShape(g, n.Input[1])
	if !ok {
		return s, "weight is not float32"
	}
	s.Acts, s.Weight = []int{0}, 1
	switch len(shape) {
	case 2:
		s.Axis = 1
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
	if len(n.Input) < 2 || !g.IsWeight(n.Input[1]) {
		return s, "weight is not a constant"
	}
	if g.IsWeight(n.Input[0]) {
		return s, "constant left operand"
	}
	shape, ok := weightShape(g, n.Input[1])
	if !ok || len(shape) != 2 {
		return s, "weight is not a float32 matrix"
	}
	s.Acts, s.Weight, s.Axis = []int{0}, 1, 1
	if onnxio.AttrInt(n, "transB", 0) != 0 {
		s.Axis = 0
	}
	s.WeightAlpha = onnxio.AttrFloat(n, "alpha", 1)
	if hasInput(n, 2) {
		if !g.IsWeight(n.Input[2]) {
			return s, "bias C is not a constant"
		}
		cs, _ := weightShape(g, n.Input[2])
		nOut := shape[s.Axis]
		if !(len(cs) == 1 && cs[0] == nOut || len(cs) == 2 && cs[0] == 1 && cs[1] == nOut) {
			return s, "bias C is not a vector of the output features"
		}
		s.Bias = 2
		s.BiasBeta = onnxio.AttrFloat(n, "beta", 1)
	}
	return s, ""
}

func prod(s []int64) int64 {
	p := int64(1)
	for _, d := range s {
		p *= d
	}
	return p
}

func perSample(shape []int64) int64 {
	if len(shape) == 0 {
		return 1
	}
	return prod(shape[1:])
}

// convMACs: every output value costs C_in/group·k_h·k_w MACs.
func convMACs(n *onnxpb.NodeProto, in, out [][]int64, w []int64) int64 {
	if len(out) == 0 || out[0] == nil || len(w) < 2 {
		return 0
	}
	return perSample(out[0]) * prod(w[1:])
}

// convTransposeMACs: every input value is scattered into C_out/group·k
// outputs.
func convTransposeMACs(n *onnxpb.NodeProto, in, out [][]int64, w []int64) int64 {
	if len(in) == 0 || in[0] == nil || len(w) < 2 {
		return 0
	}
	return perSample(in[0]) * prod(w[1:])
}

// matMulMACs: every output value costs K MACs (K = last dim of A, or its
// first when Gemm's transA).
func matMulMACs(n *onnxpb.NodeProto, in, out [][]int64, w []int64) int64 {
	if len(in) == 0 || in[0] == nil || len(out) == 0 || out[0] == nil || len(in[0]) == 0 {
		return 0
	}
	a := in[0]
	k := a[len(a)-1]
	if n.GetOpType() == "Gemm" && onnxio.AttrInt(n, "transA", 0) != 0 {
		k = a[0]
		// Gemm with transA: the batch is A's second dim; count per sample.
		return prod(out[0]) * k / max(a[1], 1)
	}
	return perSample(out[0]) * k
}
