package quantize

import (
	"fmt"
	"sort"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
)

// quantizedOps are the ops quantizers write: ONNX's and ONNX Runtime's
// (com.microsoft) integer and quantize/dequantize ops. A model holding any
// is already quantized.
var quantizedOps = map[string]bool{
	"QuantizeLinear": true, "DequantizeLinear": true, "DynamicQuantizeLinear": true,
	"QLinearConv": true, "QLinearMatMul": true, "MatMulInteger": true, "ConvInteger": true,
	"QGemm": true, "QLinearAdd": true, "QLinearMul": true, "QLinearConcat": true,
	"QLinearAveragePool": true, "QLinearGlobalAveragePool": true, "QLinearSigmoid": true,
	"QLinearLeakyRelu": true, "QLinearSoftmax": true, "QLinearWhere": true, "QAttention": true,
	"DynamicQuantizeMatMul": true, "MatMulIntegerToFloat": true, "DynamicQuantizeLSTM": true,
	"MatMulNBits": true, "QOrderedMatMul": true, "QLinearConvTranspose": true,
}

// AlreadyQuantizedError says the model given to Quantize already holds
// quantized nodes (and Options.AllowQuantized is not set): quantizing it
// again would at best leave it as it is and at worst stack scales on
// scales. It unwraps to an *onnxio.UnsupportedError (the CLI's exit 4).
type AlreadyQuantizedError struct {
	// Ops counts the quantized nodes by op type; First names one.
	Ops   map[string]int
	First string
}

func (e *AlreadyQuantizedError) Error() string {
	ops := make([]string, 0, len(e.Ops))
	for op := range e.Ops {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%d %s", e.Ops[op], op)
	}
	return fmt.Sprintf("already quantized: the model holds %s (first node %q); quantize the float model instead", strings.Join(parts, ", "), e.First)
}

func (e *AlreadyQuantizedError) Unwrap() error {
	return &onnxio.UnsupportedError{Reason: e.Error()}
}

// checkQuantized returns an *AlreadyQuantizedError when m (its main graph
// or a subgraph) holds quantized nodes.
func checkQuantized(m *onnxio.Model) error {
	var e *AlreadyQuantizedError
	for _, n := range allNodes(m.Proto.Graph) {
		if !quantizedOps[n.GetOpType()] {
			continue
		}
		if d := n.GetDomain(); d != "" && d != "ai.onnx" && d != msDomain {
			continue
		}
		if e == nil {
			e = &AlreadyQuantizedError{Ops: map[string]int{}, First: nodeLabel(n)}
		}
		e.Ops[n.GetOpType()]++
	}
	if e == nil {
		return nil
	}
	return e
}
