package quantize

import (
	"sort"
	"sync"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// Kind says how a node takes part in quantization.
type Kind int

const (
	// Compute nodes (Conv, ConvTranspose, MatMul, Gemm) have a weight and
	// run as integer kernels.
	Compute Kind = iota
	// Elementwise nodes (Add, Mul, Concat, average pools) read quantized
	// inputs and write a quantized output with its own parameters.
	Elementwise
	// PassThrough nodes (MaxPool, Reshape, Flatten, Transpose, Squeeze,
	// Unsqueeze) move values without changing them: they are quantized
	// only when their input is, and their output shares its parameters.
	PassThrough
	// Activation nodes (Relu, Clip) fold into the output range of the
	// quantized node before them.
	Activation
)

func (k Kind) String() string {
	return [...]string{"compute", "elementwise", "pass-through", "activation"}[k]
}

// Spec is what a handler says about one node.
type Spec struct {
	// Acts are the input indices quantized as activations (calibrated).
	Acts []int
	// Consts are constant operands quantized with their own range in the
	// activation type (Add/Mul with a constant operand).
	Consts []int
	// Weight is the index of the int8 weight input, or -1.
	Weight int
	// Axis is the weight's output-channel axis for per-channel scales, or
	// -1 when only per-tensor is possible.
	Axis int
	// Bias is the index of the int32 bias input, or -1.
	Bias int
	// FloatOutput is true when the integer kernel can produce a float
	// output, so the output is quantized only when a quantized node reads
	// it (MatMul, Gemm).
	FloatOutput bool
	// BiasBeta multiplies the bias before quantization (Gemm's beta), and
	// WeightAlpha the weight (Gemm's alpha): the writers fold both and set
	// the attributes to 1, because ORT's QGemm scales its int32 bias by
	// alpha too.
	BiasBeta, WeightAlpha float32
}

// Handler quantizes one family of ops. Each function is small and is
// tested on its own (ops_test.go).
type Handler struct {
	Ops  []string
	Kind Kind
	// Spec inspects a node and returns its spec, or a reason it cannot be
	// quantized (then the node stays float and the reason is reported).
	Spec func(g *onnxio.Graph, n *onnxpb.NodeProto) (Spec, string)
	// QOperator writes the node in integer form; nil means the writer
	// keeps the float op between DequantizeLinear and QuantizeLinear.
	QOperator func(w *qopWriter, n *onnxpb.NodeProto, s Spec) error
	// Dynamic writes the node in dynamic-quantization form, or returns a
	// reason it cannot; nil means the op has no dynamic form.
	Dynamic func(w *dynWriter, n *onnxpb.NodeProto, s Spec) (string, error)
	// MACs is the multiply-accumulate count per sample given the node's
	// input and output shapes (with the batch dimension) and the weight
	// shape; nil for ops without MACs worth counting.
	MACs func(n *onnxpb.NodeProto, in, out [][]int64, w []int64) int64
}

var (
	regMu    sync.RWMutex
	handlers = map[string]*Handler{}
)

// register adds h for each of its ops, replacing earlier handlers. It is
// not exported: a handler's QOperator and Dynamic writers take the
// package's writer types, so handlers live in this package (ops_*.go).
func register(h *Handler) {
	regMu.Lock()
	defer regMu.Unlock()
	for _, op := range h.Ops {
		handlers[op] = h
	}
}

func lookupHandler(op string) *Handler {
	regMu.RLock()
	defer regMu.RUnlock()
	return handlers[op]
}

// HandledOps lists the op types with a handler, sorted.
func HandledOps() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(handlers))
	for op := range handlers {
		out = append(out, op)
	}
	sort.Strings(out)
	return out
}

// handlerFor returns the handler of a default-domain node, or nil.
func handlerFor(n *onnxpb.NodeProto) *Handler {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return nil
	}
	return lookupHandler(n.GetOpType())
}

func noSpec() Spec { return Spec{Weight: -1, Axis: -1, Bias: -1, BiasBeta: 1, WeightAlpha: 1} }

func hasInput(n *onnxpb.NodeProto, i int) bool { return i < len(n.Input) && n.Input[i] != "" }
