package quantize

import (
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// Elementwise, pass-through and activation ops.

func init() {
	register(&Handler{Ops: []string{"Add", "Mul"}, Kind: Elementwise, Spec: binarySpec, QOperator: binaryQOp})
	register(&Handler{Ops: []string{"Concat"}, Kind: Elementwise, Spec: concatSpec, QOperator: concatQOp})
	register(&Handler{Ops: []string{"AveragePool", "GlobalAveragePool"}, Kind: Elementwise, Spec: poolSpec, QOperator: avgPoolQOp})
	register(&Handler{Ops: []string{"MaxPool"}, Kind: PassThrough, Spec: maxPoolSpec, QOperator: passQOp})
	register(&Handler{Ops: []string{"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze"}, Kind: PassThrough, Spec: shapeSpec, QOperator: passQOp})
	register(&Handler{Ops: []string{"Relu", "Clip"}, Kind: Activation, Spec: activationSpec})
}

// binarySpec: Add/Mul of two tensors; a constant operand is quantized
// with its own range. Two constants are left to constant folding.
func binarySpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s := noSpec()
	if len(n.Input) != 2 {
		return s, "needs two inputs"
	}
	splitOperands(g, n, &s)
	if len(s.Acts) == 0 {
		return s, "both operands are constants"
	}
	return s, ""
}

func concatSpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s := noSpec()
	for _, in := range n.Input {
		if in == "" {
			return s, "empty input"
		}
	}
	splitOperands(g, n, &s)
	if len(s.Acts) == 0 {
		return s, "all inputs are constants"
	}
	return s, ""
}

// splitOperands lists n's constant inputs in s.Consts (quantized with
// their own range) and the others in s.Acts.
func splitOperands(g *onnxio.Graph, n *onnxpb.NodeProto, s *Spec) {
	for i, in := range n.Input {
		if g.IsWeight(in) {
			s.Consts = append(s.Consts, i)
		} else {
			s.Acts = append(s.Acts, i)
		}
	}
}

func poolSpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s := noSpec()
	if len(n.Output) != 1 {
		return s, "more than one output"
	}
	s.Acts = []int{0}
	return s, ""
}

// maxPoolSpec: the Indices output is not quantizable.
func maxPoolSpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s := noSpec()
	if len(n.Output) > 1 && n.Output[1] != "" {
		return s, "Indices output requested"
	}
	if onnxio.AttrInt(n, "storage_order", 0) != 0 {
		return s, "storage_order 1"
	}
	s.Acts = []int{0}
	return s, ""
}

func shapeSpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s := noSpec()
	if len(n.Input) == 0 || len(n.Output) != 1 {
		return s, "unexpected arity"
	}
	s.Acts = []int{0}
	return s, ""
}

// activationSpec: Relu, and Clip whose bounds are constants (or absent).
func activationSpec(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string) {
	s := noSpec()
	for _, in := range n.Input[1:] {
		if in != "" && !g.IsWeight(in) {
			return s, "Clip bounds are not constants"
		}
	}
	s.Acts = []int{0}
	return s, ""
}
