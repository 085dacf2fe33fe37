package train

import (
	"fmt"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// convOp is Conv (1 to 3 spatial dimensions, groups, strides, pads or
// auto_pad, dilations) by im2col and one matrix product per group and chunk
// of images: Y_g[Mg, n·P] = W_g[Mg, Cg·K] × col_g[Cg·K, n·P].
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
	chunk                int // images per matrix product
	out                  []int
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
	p.chunk = max(1, min(p.N, colBudget/max(1, p.CKK*p.P)))
	p.out = append([]int{p.N, p.M}, x.shape[2:]...)
	copy(p.out[2:], win.out[3-r:])
	return p, nil
}

// im2col unfolds group g of images n0..n0+nb of x into col, the images'
// columns side by side (row stride nb·P).
func (p *convPlan) im2col(c *runCtx, x, col []float32, n0, nb, g int) error {
	return parallelImages(c.threads, nb, func(j int) error {
		xo := ((n0+j)*p.C + g*p.Cg) * p.IS
		return kernels.Im2ColND(col[j*p.P:], nb*p.P, x[xo:xo+p.Cg*p.IS], p.geom)
	})
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
	col := c.pool.floats(p.CKK * p.chunk * p.P)
	tmp := c.pool.floats(p.Mg * p.chunk * p.P)
	for n0 := 0; n0 < p.N; n0 += p.chunk {
		nb := min(p.chunk, p.N-n0)
		ld := nb * p.P
		for g := 0; g < o.group; g++ {
			if err := p.im2col(c, x.f, col, n0, nb, g); err != nil {
				c.pool.putFloats(col)
				c.pool.putFloats(tmp)
				c.pool.release(y)
				return nil, err
			}
			sgemm(false, false, p.Mg, ld, p.CKK, 1, w.f[g*p.Mg*p.CKK:], p.CKK, col, ld, 0, tmp, ld)
			parallelFor(c.threads, nb*p.Mg, max(1, elemGrain/p.P), func(lo, hi int) {
				for q := lo; q < hi; q++ {
					j, m := q/p.Mg, q%p.Mg
					ch := g*p.Mg + m
					dst := y.f[((n0+j)*p.M+ch)*p.P : ((n0+j)*p.M+ch+1)*p.P]
					src := tmp[m*ld+j*p.P : m*ld+(j+1)*p.P]
					switch {
					case bias != nil:
						kernels.Affine(dst, src, 1, bias[ch], o.relu)
					case o.relu:
						kernels.Relu(dst, src)
					default:
						copy(dst, src)
					}
				}
			})
		}
	}
	c.pool.putFloats(col)
	c.pool.putFloats(tmp)
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

func (o *convOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, w, gy := in[0], in[1], gout[0]
	p, err := o.plan(x, w)
	if err != nil {
		return nil, err
	}
	if o.relu {
		kernels.ReluBackward(gy.f, gy.f, out[0].f)
	}
	res := make([]*tensor, len(in))
	var dx, dw *tensor
	if want[0] {
		dx = c.pool.zeroFloat(cloneShape(x.shape))
		res[0] = dx
	}
	if want[1] {
		dw = c.pool.zeroFloat(cloneShape(w.shape))
		res[1] = dw
	}
	if len(in) > 2 && in[2] != nil && want[2] {
		res[2] = biasGrad(c, in[2].shape, gy.f, p.N, p.M, p.P)
	}
	if dx == nil && dw == nil || p.N == 0 || p.P == 0 {
		return res, nil
	}
	col := c.pool.floats(p.CKK * p.chunk * p.P)
	gt := c.pool.floats(p.Mg * p.chunk * p.P)
	err = o.backwardChunks(c, p, x, w, gy, dx, dw, col, gt)
	c.pool.putFloats(col)
	c.pool.putFloats(gt)
	if err != nil {
		for _, t := range res {
			if t != nil {
				c.pool.release(t)
			}
		}
		return nil, err
	}
	return res, nil
}

// backwardChunks accumulates dW and writes dX (either may be nil) chunk of
// images by chunk, with the scratch buffers col and gt.
func (o *convOp) backwardChunks(c *runCtx, p *convPlan, x, w, gy, dx, dw *tensor, col, gt []float32) error {
	for n0 := 0; n0 < p.N; n0 += p.chunk {
		nb := min(p.chunk, p.N-n0)
		ld := nb * p.P
		for g := 0; g < o.group; g++ {
			// gt[Mg, nb·P]: this group's output gradient, images side by side.
			for j := 0; j < nb; j++ {
				for m := 0; m < p.Mg; m++ {
					ch := g*p.Mg + m
					copy(gt[m*ld+j*p.P:m*ld+(j+1)*p.P], gy.f[((n0+j)*p.M+ch)*p.P:((n0+j)*p.M+ch+1)*p.P])
				}
			}
			wg := w.f[g*p.Mg*p.CKK : (g+1)*p.Mg*p.CKK]
			if dw != nil {
				if err := p.im2col(c, x.f, col, n0, nb, g); err != nil {
					return err
				}
				// dW_g += gt · colᵀ
				sgemm(false, true, p.Mg, p.CKK, ld, 1, gt, ld, col, ld, 1, dw.f[g*p.Mg*p.CKK:], p.CKK)
			}
			if dx != nil {
				// dcol = W_gᵀ · gt, then scattered back into the images.
				sgemm(true, false, p.CKK, ld, p.Mg, 1, wg, p.CKK, gt, ld, 0, col, ld)
				err := parallelImages(c.threads, nb, func(j int) error {
					xo := ((n0+j)*p.C + g*p.Cg) * p.IS
					return kernels.Col2ImND(dx.f[xo:xo+p.Cg*p.IS], col[j*p.P:], ld, p.geom)
				})
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}
