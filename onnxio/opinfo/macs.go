package opinfo

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// Shapes is what the pure functions know of one node's tensors: the
// shapes of its inputs and outputs (nil where unknown; a weight's shape is
// its input's), the values of small constant integer inputs (Reshape's
// shape, Slice's starts, ends, axes and steps, Reduce's axes; nil where
// unknown) and the model's default-domain opset (0: the newest).
type Shapes struct {
	In, Out [][]int64
	Values  [][]int64
	Opset   int64
}

func at(s [][]int64, i int) []int64 {
	if i < 0 || i >= len(s) {
		return nil
	}
	return s[i]
}

func (s Shapes) in(i int) []int64    { return at(s.In, i) }
func (s Shapes) out(i int) []int64   { return at(s.Out, i) }
func (s Shapes) value(i int) []int64 { return at(s.Values, i) }

// Count is a multiply-accumulate count.
type Count struct {
	// Total is for the shapes given; PerSample for one sample of the
	// batch (the first dimension of the output; of the data input for
	// ConvTranspose).
	Total, PerSample int64
}

// MACs counts the multiply-accumulates of node n for the shapes in s:
//
//	Conv           every output value sums C_in/g·k_h·k_w products:    |Y|·|W|/C_out
//	ConvTranspose  every input value scatters into C_out/g·k outputs: |X|·|W|/C_in
//	MatMul         every output value sums K products:                 |Y|·K
//	Gemm           as MatMul, K from A (its first axis with transA)
//
// Other ops the table knows count 0: their elementwise work is not
// counted, as in most model-zoo tables. An op the table does not know
// returns ErrUnknown; missing shapes return an error.
func MACs(n *onnxpb.NodeProto, s Shapes) (Count, error) {
	o, ok := ForNode(n)
	if !ok {
		return Count{}, fmt.Errorf("%s node %q: %w", n.GetOpType(), n.GetName(), ErrUnknown)
	}
	if o.macs == nil {
		return Count{}, nil
	}
	per, batch, err := o.macs(n, s)
	if err != nil {
		return Count{}, fmt.Errorf("%s node %q: MACs: %w", n.GetOpType(), n.GetName(), err)
	}
	return Count{Total: per * batch, PerSample: per}, nil
}

// split returns the product of shape[1:] and shape[0] (1 and 1 for a
// scalar).
func split(shape []int64) (per, batch int64) {
	if len(shape) == 0 {
		return 1, 1
	}
	return prod(shape[1:]), shape[0]
}

func need(what string, shape []int64, min int) error {
	if shape == nil || len(shape) < min {
		return fmt.Errorf("%s shape %v unknown or of rank < %d", what, shape, min)
	}
	return nil
}

// kernelMACs counts, for every value of one tensor, the products with
// W[1:] (C_in/g·k for a Conv weight, C_out/g·k for a ConvTranspose one):
// Conv over its output values, ConvTranspose over its input values (each
// scattered into C_out/g·k outputs).
func kernelMACs(what string, pick func(Shapes) []int64) func(*onnxpb.NodeProto, Shapes) (int64, int64, error) {
	return func(n *onnxpb.NodeProto, s Shapes) (int64, int64, error) {
		t, w := pick(s), s.in(1)
		if err := need(what, t, 1); err != nil {
			return 0, 0, err
		}
		if err := need("weight", w, 2); err != nil {
			return 0, 0, err
		}
		per, batch := split(t)
		return per * prod(w[1:]), batch, nil
	}
}

var (
	convMACs          = kernelMACs("output", func(s Shapes) []int64 { return s.out(0) })
	convTransposeMACs = kernelMACs("input", func(s Shapes) []int64 { return s.in(0) })
)

// matMulMACs: |Y| output values, each K products (A's last axis, or for
// Gemm with transA its first).
func matMulMACs(n *onnxpb.NodeProto, s Shapes) (int64, int64, error) {
	a, y := s.in(0), s.out(0)
	if err := need("input A", a, 1); err != nil {
		return 0, 0, err
	}
	if y == nil {
		return 0, 0, fmt.Errorf("output shape unknown")
	}
	k := a[len(a)-1]
	if n.GetOpType() == "Gemm" && onnxio.AttrInt(n, "transA", 0) != 0 {
		k = a[0]
	}
	per, batch := split(y)
	return per * k, batch, nil
}
