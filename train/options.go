package train

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
)

// Mode says how a forward pass runs.
type Mode int

const (
	// Inference runs the graph as deployed (BatchNormalization uses its
	// running statistics, Dropout is the identity) and keeps no activation
	// longer than the nodes that read it need it. Backward is not possible.
	Inference Mode = iota
	// Training uses batch statistics in BatchNormalization (and updates the
	// running statistics with the node's momentum), applies Dropout with a
	// seeded mask, and keeps what Backward needs.
	Training
	// EvalGrad runs with Inference semantics but keeps what Backward needs:
	// gradients of the model as deployed (for pruning importance scores,
	// for instance).
	EvalGrad
)

func (m Mode) String() string {
	switch m {
	case Inference:
		return "inference"
	case Training:
		return "training"
	case EvalGrad:
		return "eval-grad"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Options configures an Executor.
type Options struct {
	// Threads bounds the goroutines the engine's own loops use (im2col,
	// pooling, elementwise work on big tensors); 0 means GOMAXPROCS. GEMMs
	// run in package kernels, whose parallelism kernels.SetThreads sets.
	Threads int
	// Seed seeds the generator used by Dropout in Training mode and by
	// ResetParams.
	Seed uint64
	// Trainable decides which float32 weights get gradients and updates.
	// When nil, every float32 weight that reaches a differentiable input of
	// some node is trainable except single-element Constant nodes (the
	// epsilons, exponents and scale factors of decomposed layers).
	Trainable func(w onnxio.WeightRef) bool
	// InputGrads makes Backward also compute the gradients of the graph's
	// float inputs (see InputGrad).
	InputGrads bool
	// Outputs names intermediate tensors to keep after Forward, readable
	// with Value (for feature distillation or debugging).
	Outputs []string

	// Precision is the arithmetic of the matrix products (FP32 by
	// default). BF16 falls back to FP32 on CPUs without a bfloat16 matrix
	// unit; Executor.PrecisionNote then says so.
	Precision Precision

	// noFusion keeps every node a step of its own (tests compare the fused
	// plan with it).
	noFusion bool
}

// Precision is the arithmetic of the engine's matrix products.
type Precision int

const (
	// FP32 multiplies float32 operands with float32 sums.
	FP32 Precision = iota
	// BF16 is mixed precision: the operands of every matrix product (Gemm,
	// MatMul, Conv, ConvTranspose, forward and backward) are rounded to
	// bfloat16 and their products summed in float32 (kernels.SgemmBF16, on
	// AMX-BF16 tiles). Weights (the optimizer's master copy), activations,
	// gradients, losses, softmax, normalizations and the optimizer stay
	// float32.
	BF16
)

func (p Precision) String() string {
	switch p {
	case FP32:
		return "fp32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision reads "fp32" or "bf16".
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "fp32":
		return FP32, nil
	case "bf16":
		return BF16, nil
	}
	return FP32, fmt.Errorf("precision %q: want fp32 or bf16", s)
}

// Param is a trainable weight. Data is the weight itself (the optimizer
// updates it in place); Grad accumulates its gradient over Backward calls
// until ZeroGrad. Where Mask is set, entries whose mask is false are held at
// zero: their gradient is dropped and the optimizer leaves them at zero.
type Param struct {
	Name  string
	Shape []int64
	Data  []float32
	Grad  []float32
	Mask  []bool
}
