package train

import (
	"fmt"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// convOp is Conv (1 to 3 spatial dimensions, groups, strides, pads or
// auto_pad, dilations) by one matrix product per image and group,
// Y_g[Mg, P] = W_g[Mg, Cg·K] × col_g[Cg·K, P], written straight into the
// output; col is the image itself for a 1×1 convolution with unit strides
// and no pads, else its im2col columns in a per-worker buffer that stays in
// cache. Images are spread over the workers; each worker's products run on
// its goroutine (on all threads when there is one image).
type convOp struct {
	attrs windowAttrs
	group int
	relu  bool // a following Relu is fused in (see reluFuser)
}

func (o *convOp) fuseRelu(g gradSpec) (gradSpec, bool) {
	o.relu = true
	g.saveOut |= 1
	return g, true
}

// colBudget bounds the im2col buffer (in floats); batches are processed in
// chunks of images whose columns fit.
const colBudget = 1 << 18

func buildConv(b *buildCtx) (built, error) {
	if err := b.needInputs(2, 3); err != nil {
		return built{}, err
	}
	if err := b.needFloat(0, 1, 2); err != nil {
		return built{}, err
	}
	a, err := readWindowAttrs(b)
	if err != nil {
		return built{}, err
	}
	o := &convOp{attrs: a, group: int(b.attrInt("group", 1))}
	if o.group < 1 {
		return built{}, b.errorf("group=%d", o.group)
	}
	if w := b.consts[1]; w != nil && (len(w.shape) < 3 || len(w.shape) > 5) {
		return built{}, b.unsupported("weight of rank %d (1 to 3 spatial dimensions supported)", len(w.shape))
	}
	return built{op: o, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 7, saveIn: 3}}, nil
}

func init() {
	register("Conv", buildConv)
}

type convPlan struct {
	win                  window
	geom                 kernels.ConvGeomND // one image's group of Cg channels
	N, C, M, Cg, Mg, CKK int
	P                    int // output positions per image
	IS                   int // input positions per image
	out                  []int
	direct               bool // 1×1, unit strides, no pads: the image is its own column matrix
}

func (o *convOp) plan(x, w *tensor) (*convPlan, error) {
	if len(x.shape) < 3 || len(w.shape) != len(x.shape) {
		return nil, fmt.Errorf("input %v and weight %v: need equal ranks of at least 3", x.shape, w.shape)
	}
	p := &convPlan{N: x.shape[0], C: x.shape[1], M: w.shape[0]}
	if p.C%o.group != 0 || p.M%o.group != 0 {
		return nil, fmt.Errorf("%d input and %d output channels do not split into %d groups", p.C, p.M, o.group)
	}
	p.Cg, p.Mg = p.C/o.group, p.M/o.group
	if w.shape[1] != p.Cg {
		return nil, fmt.Errorf("weight %v for %d input channels in %d groups", w.shape, p.C, o.group)
	}
	kernel := w.shape[2:]
	if o.attrs.kernel != nil {
		for i, k := range o.attrs.kernel {
			if i >= len(kernel) || int(k) != kernel[i] {
				return nil, fmt.Errorf("kernel_shape %v differs from weight %v", o.attrs.kernel, w.shape)
			}
		}
	}
	win, err := o.attrs.geometry(x.shape[2:], kernel)
	if err != nil {
		return nil, err
	}
	p.win = win
	r := len(x.shape) - 2
	p.geom = p.win.convGeom(p.Cg, r)
	if err := p.geom.Validate(); err != nil {
		return nil, err
	}
	p.CKK = p.Cg * prod(kernel)
	p.P = win.outSize()
	p.IS = win.inSize()
	p.direct = true
	for j := 0; j < 3; j++ {
		if win.k[j] != 1 || win.s[j] != 1 || win.pb[j] != 0 || win.pe[j] != 0 {
			p.direct = false
		}
	}
	p.out = append([]int{p.N, p.M}, x.shape[2:]...)
	copy(p.out[2:], win.out[3-r:])
	return p, nil
}

// columns returns the column matrix (CKK×P) of group g of image n: the
// image's own channels when direct, else their im2col in col.
func (p *convPlan) columns(x, col []float32, n, g int) ([]float32, error) {
	xo := (n*p.C + g*p.Cg) * p.IS
	if p.direct {
		return x[xo : xo+p.Cg*p.IS], nil
	}
	return col, kernels.Im2ColND(col, p.P, x[xo:xo+p.Cg*p.IS], p.geom)
}

// workers says how many goroutines share the images and how many threads
// each product may use: one worker per thread when there are enough
// images, each running its products alone.
func (p *convPlan) workers(threads int) (t, gemmThreads int) {
	t = max(1, min(threads, p.N))
	if t == 1 {
		return 1, kernels.Threads()
	}
	return t, 1
}

func (o *convOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x, w := in[0], in[1]
	p, err := o.plan(x, w)
	if err != nil {
		return nil, err
	}
	var bias []float32
	if len(in) > 2 && in[2] != nil {
		if in[2].size() != p.M {
			return nil, fmt.Errorf("bias of shape %v for %d output channels", in[2].shape, p.M)
		}
		bias = in[2].f
	}
	y := c.pool.newFloat(p.out)
	if p.N == 0 || p.P == 0 {
		return []*tensor{y}, nil
	}
	t, gt := p.workers(c.threads)
	var cols []float32
	if !p.direct {
		cols = c.pool.floats(t * p.CKK * p.P)
		defer c.pool.putFloats(cols)
	}
	err = forWorkers(t, p.N, func(wk, lo, hi int) error {
		var col []float32
		if !p.direct {
			col = cols[wk*p.CKK*p.P : (wk+1)*p.CKK*p.P]
		}
		for n := lo; n < hi; n++ {
			yn := y.f[n*p.M*p.P : (n+1)*p.M*p.P]
			for g := 0; g < o.group; g++ {
				b, err := p.columns(x.f, col, n, g)
				if err != nil {
					return err
				}
				c.gemm(gt, false, false, p.Mg, p.P, p.CKK, 1, w.f[g*p.Mg*p.CKK:], p.CKK, b, p.P, 0, yn[g*p.Mg*p.P:], p.P)
			}
			// Bias and the fused Relu while the image's output is in cache.
			for m := 0; m < p.M; m++ {
				ym := yn[m*p.P : (m+1)*p.P]
				switch {
				case bias != nil:
					kernels.Affine(ym, ym, 1, bias[m], o.relu)
				case o.relu:
					kernels.Relu(ym, ym)
				}
			}
		}
		return nil
	})
	if err != nil {
		c.pool.release(y)
		return nil, err
	}
	return []*tensor{y}, nil
}

// biasGrad returns the gradient of a per-channel bias of the given shape
// added to an N×M×P output whose gradient is gy: the sum of gy over each
// channel.
func biasGrad(c *runCtx, shape []int, gy []float32, N, M, P int) *tensor {
	db := c.pool.zeroFloat(cloneShape(shape))
	for n := 0; n < N; n++ {
		for m := 0; m < M; m++ {
			db.f[m] += kernels.Sum(gy[(n*M+m)*P : (n*M+m+1)*P])
		}
	}
	return db
}

// backward runs per image like forward: the fused Relu's mask, the bias
// gradient (per-channel sums), dW_g += gy_g × col_gᵀ and dX_g = col2im(W_gᵀ
// × gy_g), or W_gᵀ × gy_g written straight into dX when direct. Each worker
// clears its images' slices of dX just before accumulating into them, and
// sums dW and the bias gradient over its images; the workers' sums are then
// added in worker order, so the result depends only on the thread count.
func (o *convOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, w, gy := in[0], in[1], gout[0]
	p, err := o.plan(x, w)
	if err != nil {
		return nil, err
	}
	wantBias := len(in) > 2 && in[2] != nil && want[2]
	res := make([]*tensor, len(in))
	if want[0] {
		res[0] = c.pool.newFloat(cloneShape(x.shape))
	}
	dwInto := c.into(1) // the weight's gradient, added into directly
	if want[1] && dwInto == nil {
		res[1] = c.pool.zeroFloat(cloneShape(w.shape))
		dwInto = res[1].f
	} else if want[1] {
		res[1] = addedIntoGrad
	}
	if wantBias {
		res[2] = c.pool.zeroFloat(cloneShape(in[2].shape))
	}
	if p.N == 0 || p.P == 0 {
		if res[0] != nil {
			clear(res[0].f)
		}
		return res, nil
	}
	t, gt := p.workers(c.threads)
	// Scratch per worker: a column buffer, and for workers after the first
	// their own dW and bias sums (the first adds into the results).
	colLen, dwLen := 0, 0
	if !p.direct {
		colLen = p.CKK * p.P
	}
	if want[1] {
		dwLen = p.M * p.CKK
	}
	stride := colLen + dwLen + p.M
	scratch := c.pool.floats(t * stride)
	defer c.pool.putFloats(scratch)
	clear(scratch)
	err = forWorkers(t, p.N, func(wk, lo, hi int) error {
		s := scratch[wk*stride : (wk+1)*stride]
		col, dw, db := s[:colLen], s[colLen:colLen+dwLen], s[colLen+dwLen:]
		if wk == 0 {
			if want[1] {
				dw = dwInto
			}
			if wantBias {
				db = res[2].f
			}
		}
		for n := lo; n < hi; n++ {
			gn := gy.f[n*p.M*p.P : (n+1)*p.M*p.P]
			if o.relu {
				kernels.ReluBackward(gn, gn, out[0].f[n*p.M*p.P:(n+1)*p.M*p.P])
			}
			if wantBias {
				for m := range p.M {
					db[m] += kernels.Sum(gn[m*p.P : (m+1)*p.P])
				}
			}
			for g := 0; g < o.group; g++ {
				gg := gn[g*p.Mg*p.P : (g+1)*p.Mg*p.P]
				if want[1] {
					b, err := p.columns(x.f, col, n, g)
					if err != nil {
						return err
					}
					c.gemm(gt, false, true, p.Mg, p.CKK, p.P, 1, gg, p.P, b, p.P, 1, dw[g*p.Mg*p.CKK:], p.CKK)
				}
				if want[0] {
					xo := (n*p.C + g*p.Cg) * p.IS
					dxg := res[0].f[xo : xo+p.Cg*p.IS]
					wg := w.f[g*p.Mg*p.CKK : (g+1)*p.Mg*p.CKK]
					if p.direct {
						c.gemm(gt, true, false, p.CKK, p.P, p.Mg, 1, wg, p.CKK, gg, p.P, 0, dxg, p.P)
						continue
					}
					c.gemm(gt, true, false, p.CKK, p.P, p.Mg, 1, wg, p.CKK, gg, p.P, 0, col, p.P)
					clear(dxg)
					if err := kernels.Col2ImND(dxg, col, p.P, p.geom); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err == nil {
		for wk := 1; wk < t; wk++ {
			s := scratch[wk*stride : (wk+1)*stride]
			if want[1] {
				kernels.Axpy(1, s[colLen:colLen+dwLen], dwInto)
			}
			if wantBias {
				kernels.Axpy(1, s[colLen+dwLen:], res[2].f)
			}
		}
		return res, nil
	}
	for _, r := range res {
		if r != nil && r != addedIntoGrad {
			c.pool.release(r)
		}
	}
	return nil, err
}
