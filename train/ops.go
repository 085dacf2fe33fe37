package train

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// op is one node's forward computation. Outputs are fresh tensors from the
// pool; an op never writes into its inputs (BatchNormalization's running
// statistics, updated in Training mode, are the one documented exception).
type op interface {
	forward(c *runCtx, in []*tensor) ([]*tensor, error)
}

// backwarder is an op with a gradient. backward returns, for each input k
// with want[k], d loss / d input k (a fresh pool tensor of the input's size,
// or one sharing the data of a gout, which it then takes over); nil
// elsewhere. in and out hold the forward values: their shapes are always
// valid, their data only where gradSpec.saveIn/saveOut asked for it. gout[j]
// is nil for outputs that are not float.
type backwarder interface {
	backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error)
}

// gradSpec says what an op's backward can do and what it reads.
type gradSpec struct {
	diffIn  uint64 // bit k: the op can send a gradient to input k
	saveIn  uint64 // bit k: backward reads input k's data
	saveOut uint64 // bit j: backward reads output j's data
	// constOut marks outputs through which no gradient flows (running
	// statistics, masks): they never require a gradient.
	constOut uint64
}

// runCtx is what ops see while running.
type runCtx struct {
	pool    *pool
	threads int
	train   bool // training semantics (batch statistics, dropout)
	grad    bool // a backward pass may follow
	rng     *rand.Rand
	bf16    bool // matrix products in bf16 mixed precision
	// gradInto[k], during a backward call, is the trainable weight's
	// Param.Grad that input k's gradient accumulates into (nil for other
	// inputs): an op may add its gradient there itself (a weight gradient's
	// product with beta = 1) and return addedIntoGrad for that input,
	// sparing a buffer and a pass over it.
	gradInto [][]float32
}

// addedIntoGrad is the gradient a backward returns for an input whose
// gradient it has already added into runCtx.gradInto.
var addedIntoGrad = &tensor{}

// into returns where input k's gradient may be accumulated directly, or nil.
func (c *runCtx) into(k int) []float32 {
	if k < len(c.gradInto) {
		return c.gradInto[k]
	}
	return nil
}

// gemm is the engine's one matrix product, C = alpha*op(A)*op(B) + beta*C
// on row-major matrices (BLAS semantics; beta == 0 does not read C), on at
// most threads goroutines (≤ 0: kernels.Threads()). Every Gemm, MatMul,
// Conv and ConvTranspose, forward and backward, goes through it: in float32
// (kernels.Sgemm), or with Precision BF16 on bfloat16-rounded operands with
// float32 sums (kernels.SgemmBF16).
func (c *runCtx) gemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, y []float32, ldy int) {
	switch {
	case c.bf16:
		kernels.SgemmBF16(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, y, ldy)
	case threads <= 0:
		kernels.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, y, ldy)
	default:
		kernels.SgemmThreads(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, y, ldy)
	}
}

// buildCtx is what an op builder sees.
type buildCtx struct {
	node   *onnxpb.NodeProto
	opset  int64
	in     []onnxio.DType // per input; Undefined for an absent optional input
	consts []*tensor      // per input: its value when it is a weight, else nil
	nOut   int
}

// built is an op builder's result.
type built struct {
	op          op
	out         []onnxio.DType // per output
	grad        gradSpec
	stateInputs []int // inputs holding running statistics the op updates in training
}

type builder func(b *buildCtx) (built, error)

// registry maps ONNX op types (default domain) to builders.
var registry = map[string]builder{}

// register adds the builder of op type name (default ONNX domain). It is
// called from the op files' init functions; registering a name twice is a
// programming error and panics at start-up, like database/sql.Register.
func register(name string, b builder) {
	if _, dup := registry[name]; dup {
		panic("train: op " + name + " registered twice")
	}
	registry[name] = b
}

// SupportedOps lists the op types (default ONNX domain) the engine runs.
func SupportedOps() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (b *buildCtx) name() string { return nodeName(b.node) }

func (b *buildCtx) unsupported(format string, args ...any) error {
	return &onnxio.UnsupportedError{Node: b.name(), Op: b.node.GetOpType(), Reason: fmt.Sprintf(format, args...)}
}

func (b *buildCtx) errorf(format string, args ...any) error {
	return fmt.Errorf("node %q (%s): %s", b.name(), b.node.GetOpType(), fmt.Sprintf(format, args...))
}

func (b *buildCtx) attrInt(name string, def int64) int64 { return onnxio.AttrInt(b.node, name, def) }
func (b *buildCtx) attrFloat(name string, def float32) float32 {
	return onnxio.AttrFloat(b.node, name, def)
}
func (b *buildCtx) attrInts(name string, def []int64) []int64 {
	return onnxio.AttrInts(b.node, name, def)
}
func (b *buildCtx) attrFloats(name string, def []float32) []float32 {
	return onnxio.AttrFloats(b.node, name, def)
}
func (b *buildCtx) attrString(name, def string) string { return onnxio.AttrString(b.node, name, def) }
func (b *buildCtx) hasAttr(name string) bool           { return onnxio.Attr(b.node, name) != nil }

// input returns the type of input k, Undefined when absent.
func (b *buildCtx) input(k int) onnxio.DType {
	if k < len(b.in) {
		return b.in[k]
	}
	return onnxio.Undefined
}

// needInputs checks the input count.
func (b *buildCtx) needInputs(lo, hi int) error {
	n := len(b.in)
	for n > 0 && b.in[n-1] == onnxio.Undefined {
		n--
	}
	if n < lo || n > hi || (lo > 0 && b.in[0] == onnxio.Undefined) {
		if lo == hi {
			return b.errorf("has %d inputs, want %d", n, lo)
		}
		return b.errorf("has %d inputs, want %d to %d", n, lo, hi)
	}
	for k := 0; k < lo; k++ {
		if b.in[k] == onnxio.Undefined {
			return b.errorf("required input %d is missing", k)
		}
	}
	return nil
}

// needFloat requires input k to be float32.
func (b *buildCtx) needFloat(ks ...int) error {
	for _, k := range ks {
		if d := b.input(k); d != onnxio.Undefined && d != onnxio.Float32 {
			return b.unsupported("input %d is %s (float32 only)", k, d)
		}
	}
	return nil
}

// needInt requires input k to be an integer type.
func (b *buildCtx) needInt(ks ...int) error {
	for _, k := range ks {
		if d := b.input(k); d != onnxio.Undefined && !isIntType(d) {
			return b.errorf("input %d is %s, want an integer type", k, d)
		}
	}
	return nil
}

func outs(d onnxio.DType, n int) []onnxio.DType {
	o := make([]onnxio.DType, n)
	for i := range o {
		o[i] = d
	}
	return o
}

// normAxis resolves a possibly negative axis against rank r.
func normAxis(axis, r int) (int, error) {
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, r)
	}
	return axis, nil
}

// intsOf returns an integer tensor's values.
func intsOf(t *tensor) ([]int64, error) {
	if t == nil {
		return nil, nil
	}
	if t.isFloat() {
		return nil, fmt.Errorf("expected an integer tensor, got float32")
	}
	return t.i, nil
}

// scalarFloat reads a one-element tensor as float32.
func scalarFloat(t *tensor) (float32, error) {
	if t.size() != 1 {
		return 0, fmt.Errorf("expected a scalar, got shape %v", t.shape)
	}
	if t.isFloat() {
		return t.f[0], nil
	}
	return float32(t.i[0]), nil
}

// copyTensor returns a pooled copy of t with the given shape.
func copyTensor(p *pool, t *tensor, shape []int) *tensor {
	o := p.newLike(t, shape)
	if t.isFloat() {
		copy(o.f, t.f)
	} else {
		copy(o.i, t.i)
	}
	return o
}

// floatGrad is g for float32 tensors and no gradient for the others.
func floatGrad(d onnxio.DType, g gradSpec) gradSpec {
	if d == onnxio.Float32 {
		return g
	}
	return gradSpec{}
}

// aliasGrad returns gout's data viewed with shape (for ops that only
// reshape); the executor takes the buffer over.
func aliasGrad(g *tensor, shape []int) *tensor {
	return &tensor{dtype: onnxio.Float32, shape: cloneShape(shape), f: g.f, pooled: true}
}

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }
