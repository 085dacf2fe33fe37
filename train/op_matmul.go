package train

import (
	"fmt"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// gemmOp is ONNX Gemm: Y = alpha*A'*B' + beta*C with A' = A or Aᵀ, B' = B
// or Bᵀ, C broadcast to Y's shape.
type gemmOp struct {
	alpha, beta    float32
	transA, transB bool
	relu           bool // a following Relu is fused in (see reluFuser)
}

func (o *gemmOp) fuseRelu(g gradSpec) (gradSpec, bool) {
	o.relu = true
	g.saveOut |= 1
	return g, true
}

func buildGemm(b *buildCtx) (built, error) {
	if err := b.needInputs(2, 3); err != nil {
		return built{}, err
	}
	if err := b.needFloat(0, 1, 2); err != nil {
		return built{}, err
	}
	o := &gemmOp{alpha: b.attrFloat("alpha", 1), beta: b.attrFloat("beta", 1),
		transA: b.attrInt("transA", 0) != 0, transB: b.attrInt("transB", 0) != 0}
	return built{op: o, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 7, saveIn: 3}}, nil
}

func init() {
	register("Gemm", buildGemm)
	register("MatMul", buildMatMul)
}

func (o *gemmOp) dims(a, b *tensor) (m, n, k int, err error) {
	if len(a.shape) != 2 || len(b.shape) != 2 {
		return 0, 0, 0, fmt.Errorf("inputs of shapes %v and %v: need 2-D inputs", a.shape, b.shape)
	}
	m, k = a.shape[0], a.shape[1]
	if o.transA {
		m, k = k, m
	}
	kb, n := b.shape[0], b.shape[1]
	if o.transB {
		kb, n = n, kb
	}
	if kb != k {
		return 0, 0, 0, fmt.Errorf("inner dimensions differ: A %v (transA=%v), B %v (transB=%v)", a.shape, o.transA, b.shape, o.transB)
	}
	return m, n, k, nil
}

func (o *gemmOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	a, b := in[0], in[1]
	m, n, k, err := o.dims(a, b)
	if err != nil {
		return nil, err
	}
	y := c.pool.newFloat([]int{m, n})
	beta := float32(0)
	if len(in) > 2 && in[2] != nil && o.beta != 0 {
		cc := in[2]
		if bs, err := broadcastShapes(cc.shape, y.shape); err != nil || len(cc.shape) > 2 || !shapeEq(bs, y.shape) {
			c.pool.release(y)
			return nil, fmt.Errorf("input C of shape %v does not broadcast to %v", cc.shape, y.shape)
		}
		expandTo(y.f, cc.f, cc.shape, y.shape)
		beta = o.beta
	}
	c.gemm(0, o.transA, o.transB, m, n, k, o.alpha, a.f, a.shape[1], b.f, b.shape[1], beta, y.f, n)
	if o.relu {
		kernels.Relu(y.f, y.f)
	}
	return []*tensor{y}, nil
}

func (o *gemmOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	a, b, g := in[0], in[1], gout[0]
	m, n, k, err := o.dims(a, b)
	if err != nil {
		return nil, err
	}
	if o.relu {
		kernels.ReluBackward(g.f, g.f, out[0].f)
	}
	lda, ldb := a.shape[1], b.shape[1]
	res := make([]*tensor, len(in))
	if want[0] {
		da := c.pool.newFloat(cloneShape(a.shape))
		if !o.transA { // dA (m×k) = alpha * dY · op(B)ᵀ
			c.gemm(0, false, !o.transB, m, k, n, o.alpha, g.f, n, b.f, ldb, 0, da.f, k)
		} else { // dA (k×m) = alpha * op(B) · dYᵀ
			c.gemm(0, o.transB, true, k, m, n, o.alpha, b.f, ldb, g.f, n, 0, da.f, m)
		}
		res[0] = da
	}
	if want[1] {
		// Into the weight's gradient directly when the executor allows.
		dst, beta := c.into(1), float32(1)
		res[1] = addedIntoGrad
		if dst == nil {
			db := c.pool.newFloat(cloneShape(b.shape))
			dst, beta, res[1] = db.f, 0, db
		}
		if !o.transB { // dB (k×n) = alpha * op(A)ᵀ · dY
			c.gemm(0, !o.transA, false, k, n, m, o.alpha, a.f, lda, g.f, n, beta, dst, n)
		} else { // dB (n×k) = alpha * dYᵀ · op(A)
			c.gemm(0, true, o.transA, n, k, m, o.alpha, g.f, n, a.f, lda, beta, dst, k)
		}
	}
	if len(in) > 2 && in[2] != nil && want[2] {
		dc := c.pool.newFloat(cloneShape(in[2].shape))
		if o.beta == 0 {
			clear(dc.f)
		} else {
			reduceTo(dc.f, g.f, g.shape, in[2].shape)
			if o.beta != 1 {
				for i := range dc.f {
					dc.f[i] *= o.beta
				}
			}
		}
		res[2] = dc
	}
	return res, nil
}

// matMulOp is numpy matmul: 1-D operands are promoted (and the added
// dimension removed from the result), batch dimensions broadcast.
type matMulOp struct{}

func buildMatMul(b *buildCtx) (built, error) {
	if err := b.needInputs(2, 2); err != nil {
		return built{}, err
	}
	if err := b.needFloat(0, 1); err != nil {
		return built{}, err
	}
	return built{op: matMulOp{}, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 3, saveIn: 3}}, nil
}

// mmPlan describes one MatMul's shapes.
type mmPlan struct {
	m, n, k      int
	batch        []int // broadcast batch shape
	aBatch       []int // a's batch dims (left-padded with 1s to len(batch))
	bBatch       []int
	out          []int
	aFold        bool // b has no batch dims: a's batch folds into m
	nBatch       int
	aStr, bStr   []int // batch strides (in matrices) of a and b over batch
	aSize, bSize int   // elements per matrix
}

func planMatMul(as, bs []int) (*mmPlan, error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("product of a scalar")
	}
	a2, b2 := as, bs
	if len(as) == 1 {
		a2 = []int{1, as[0]}
	}
	if len(bs) == 1 {
		b2 = []int{bs[0], 1}
	}
	p := &mmPlan{m: a2[len(a2)-2], k: a2[len(a2)-1], n: b2[len(b2)-1]}
	if kb := b2[len(b2)-2]; kb != p.k {
		return nil, fmt.Errorf("inner dimensions differ: %v and %v", as, bs)
	}
	ab, bb := a2[:len(a2)-2], b2[:len(b2)-2]
	batch, err := broadcastShapes(ab, bb)
	if err != nil {
		return nil, fmt.Errorf("batch dimensions: %w", err)
	}
	p.batch = batch
	p.nBatch = prod(batch)
	p.aFold = prod(bb) == 1 && len(as) >= 2
	p.aSize, p.bSize = p.m*p.k, p.k*p.n
	p.aStr = bcastStrides(ab, batch)
	p.bStr = bcastStrides(bb, batch)
	p.aBatch, p.bBatch = ab, bb
	out := cloneShape(batch)
	if len(as) > 1 {
		out = append(out, p.m)
	}
	if len(bs) > 1 {
		out = append(out, p.n)
	}
	p.out = out
	return p, nil
}

// forBatch calls fn with the matrix offsets of a, b and y for each output
// batch index, in order.
func (p *mmPlan) forBatch(fn func(ao, bo, yo int)) {
	idx := make([]int, len(p.batch))
	for t := 0; t < p.nBatch; t++ {
		ao, bo := 0, 0
		for d, i := range idx {
			ao += i * p.aStr[d]
			bo += i * p.bStr[d]
		}
		fn(ao*p.aSize, bo*p.bSize, t*p.m*p.n)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < p.batch[d] {
				break
			}
			idx[d] = 0
		}
	}
}

func (matMulOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	a, b := in[0], in[1]
	p, err := planMatMul(a.shape, b.shape)
	if err != nil {
		return nil, err
	}
	y := c.pool.newFloat(p.out)
	if p.aFold {
		c.gemm(0, false, false, p.nBatch*p.m, p.n, p.k, 1, a.f, p.k, b.f, p.n, 0, y.f, p.n)
		return []*tensor{y}, nil
	}
	p.forBatch(func(ao, bo, yo int) {
		c.gemm(0, false, false, p.m, p.n, p.k, 1, a.f[ao:], p.k, b.f[bo:], p.n, 0, y.f[yo:], p.n)
	})
	return []*tensor{y}, nil
}

func (matMulOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	a, b, g := in[0], in[1], gout[0]
	p, err := planMatMul(a.shape, b.shape)
	if err != nil {
		return nil, err
	}
	res := make([]*tensor, 2)
	if p.aFold {
		if want[0] { // dA = dY · Bᵀ
			da := c.pool.newFloat(cloneShape(a.shape))
			c.gemm(0, false, true, p.nBatch*p.m, p.k, p.n, 1, g.f, p.n, b.f, p.n, 0, da.f, p.k)
			res[0] = da
		}
		if want[1] { // dB = Aᵀ · dY, summed over the folded batch
			db := c.pool.newFloat(cloneShape(b.shape))
			c.gemm(0, true, false, p.k, p.n, p.nBatch*p.m, 1, a.f, p.k, g.f, p.n, 0, db.f, p.n)
			res[1] = db
		}
		return res, nil
	}
	var da, db *tensor
	if want[0] {
		da = c.pool.zeroFloat(cloneShape(a.shape))
		res[0] = da
	}
	if want[1] {
		db = c.pool.zeroFloat(cloneShape(b.shape))
		res[1] = db
	}
	p.forBatch(func(ao, bo, yo int) {
		if da != nil {
			c.gemm(0, false, true, p.m, p.k, p.n, 1, g.f[yo:], p.n, b.f[bo:], p.n, 1, da.f[ao:], p.k)
		}
		if db != nil {
			c.gemm(0, true, false, p.k, p.n, p.m, 1, a.f[ao:], p.k, g.f[yo:], p.n, 1, db.f[bo:], p.n)
		}
	})
	return res, nil
}
