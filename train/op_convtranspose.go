package train

import (
	"fmt"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// convTransposeOp is ConvTranspose, the adjoint of Conv: per group and chunk
// of images, col[Mg·K, n·P] = W_gᵀ × X_g, then col2im scatters the columns
// into the output. Its window is Conv's with input and output swapped: the
// ConvTranspose output is the window's "input", its input the window's
// "output".
type convTransposeOp struct {
	attrs    windowAttrs
	group    int
	outPad   []int64
	outShape []int64
}

func buildConvTranspose(b *buildCtx) (built, error) {
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
	o := &convTransposeOp{attrs: a, group: int(b.attrInt("group", 1)),
		outPad: b.attrInts("output_padding", nil), outShape: b.attrInts("output_shape", nil)}
	if o.group < 1 {
		return built{}, b.errorf("group=%d", o.group)
	}
	if w := b.consts[1]; w != nil && (len(w.shape) < 3 || len(w.shape) > 5) {
		return built{}, b.unsupported("weight of rank %d (1 to 3 spatial dimensions supported)", len(w.shape))
	}
	return built{op: o, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 7, saveIn: 3}}, nil
}

func init() {
	register("ConvTranspose", buildConvTranspose)
}

type ctPlan struct {
	win                  window
	geom                 kernels.ConvGeomND // the window over one image's group of Mg output channels
	N, C, M, Cg, Mg, MKK int
	P                    int // input positions per image (the window's outputs)
	YS                   int // output positions per image
	chunk                int
	out                  []int
}

func (o *convTransposeOp) plan(x, w *tensor) (*ctPlan, error) {
	if len(x.shape) < 3 || len(x.shape) > 5 || len(w.shape) != len(x.shape) {
		return nil, fmt.Errorf("input %v and weight %v: need equal ranks from 3 to 5", x.shape, w.shape)
	}
	p := &ctPlan{N: x.shape[0], C: x.shape[1]}
	if w.shape[0] != p.C || p.C%o.group != 0 {
		return nil, fmt.Errorf("weight %v for %d input channels in %d groups", w.shape, p.C, o.group)
	}
	p.Cg, p.Mg = p.C/o.group, w.shape[1]
	p.M = p.Mg * o.group
	kernel := w.shape[2:]
	if o.attrs.kernel != nil {
		for i, k := range o.attrs.kernel {
			if i >= len(kernel) || int(k) != kernel[i] {
				return nil, fmt.Errorf("kernel_shape %v differs from weight %v", o.attrs.kernel, w.shape)
			}
		}
	}
	r := len(x.shape) - 2
	get := func(v []int64, i, def int) (int, error) {
		if v == nil {
			return def, nil
		}
		if len(v) != r {
			return 0, fmt.Errorf("attribute %v for %d spatial dimensions", v, r)
		}
		return int(v[i]), nil
	}
	if o.attrs.pads != nil && len(o.attrs.pads) != 2*r {
		return nil, fmt.Errorf("pads %v for %d spatial dimensions", o.attrs.pads, r)
	}
	win := &p.win
	for j := 0; j < 3; j++ {
		win.in[j], win.out[j], win.k[j], win.s[j], win.d[j] = 1, 1, 1, 1, 1
	}
	p.out = []int{p.N, p.M}
	for i := 0; i < r; i++ {
		j := 3 - r + i
		var err error
		in := x.shape[2+i]
		k := kernel[i]
		s, e1 := get(o.attrs.strides, i, 1)
		d, e2 := get(o.attrs.dilations, i, 1)
		op, e3 := get(o.outPad, i, 0)
		if err = firstErr(e1, e2, e3); err != nil {
			return nil, err
		}
		if k < 1 || s < 1 || d < 1 {
			return nil, fmt.Errorf("kernel %v, strides %v, dilations %v must be positive", kernel, o.attrs.strides, o.attrs.dilations)
		}
		ext := (k-1)*d + 1
		var pb, pe, y int
		switch {
		case o.outShape != nil:
			// An output bigger than the transposed convolution covers is
			// zero (plus bias) at the end, as ONNX Runtime does.
			y = int(o.outShape[len(o.outShape)-r+i])
			total := max(0, s*(in-1)+op+ext-y)
			if o.attrs.autoPad == "SAME_UPPER" {
				pb, pe = total/2, total-total/2
			} else {
				pb, pe = total-total/2, total/2
			}
		case o.attrs.autoPad == "SAME_UPPER" || o.attrs.autoPad == "SAME_LOWER":
			y = in * s
			total := max(0, s*(in-1)+op+ext-y)
			if o.attrs.autoPad == "SAME_UPPER" {
				pb, pe = total/2, total-total/2
			} else {
				pb, pe = total-total/2, total/2
			}
		default:
			if o.attrs.pads != nil && o.attrs.autoPad != "VALID" {
				pb, pe = int(o.attrs.pads[i]), int(o.attrs.pads[i+r])
			}
			y = s*(in-1) + op + ext - pb - pe
		}
		if y < 0 || pb < 0 || pe < 0 {
			return nil, fmt.Errorf("output size %d (pads %d, %d) for input %d", y, pb, pe, in)
		}
		win.in[j], win.out[j], win.k[j], win.s[j], win.d[j], win.pb[j], win.pe[j] = y, in, k, s, d, pb, pe
		p.out = append(p.out, y)
	}
	p.MKK = p.Mg * prod(kernel)
	p.P = win.outSize()
	p.YS = win.inSize()
	p.geom = win.convGeom(p.Mg, r)
	if p.P > 0 { // an empty input leaves nothing to unfold
		if err := p.geom.Validate(); err != nil {
			return nil, err
		}
	}
	p.chunk = max(1, min(p.N, colBudget/max(1, p.MKK*p.P)))
	return p, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// gatherChunk copies channels [c0, c0+C) of images n0..n0+nb of x (P
// positions each, Ctot channels) side by side into dst[C, nb·P].
func gatherChunk(dst, x []float32, n0, nb, c0, C, Ctot, P int) {
	ld := nb * P
	for j := 0; j < nb; j++ {
		for c := 0; c < C; c++ {
			copy(dst[c*ld+j*P:c*ld+(j+1)*P], x[((n0+j)*Ctot+c0+c)*P:((n0+j)*Ctot+c0+c+1)*P])
		}
	}
}

// forwardChunks scatters W_gᵀ·X_g into y chunk of images by chunk, with
// the scratch buffers col and xt.
func (o *convTransposeOp) forwardChunks(c *runCtx, p *ctPlan, x, w, y *tensor, col, xt []float32) error {
	for n0 := 0; n0 < p.N; n0 += p.chunk {
		nb := min(p.chunk, p.N-n0)
		ld := nb * p.P
		for g := 0; g < o.group; g++ {
			gatherChunk(xt, x.f, n0, nb, g*p.Cg, p.Cg, p.C, p.P)
			c.gemm(0, true, false, p.MKK, ld, p.Cg, 1, w.f[g*p.Cg*p.MKK:], p.MKK, xt, ld, 0, col, ld)
			err := parallelImages(c.threads, nb, func(j int) error {
				yo := ((n0+j)*p.M + g*p.Mg) * p.YS
				return kernels.Col2ImND(y.f[yo:yo+p.Mg*p.YS], col[j*p.P:], ld, p.geom)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *convTransposeOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x, w := in[0], in[1]
	p, err := o.plan(x, w)
	if err != nil {
		return nil, err
	}
	y := c.pool.zeroFloat(p.out)
	if p.N > 0 && p.P > 0 {
		col := c.pool.floats(p.MKK * p.chunk * p.P)
		xt := c.pool.floats(p.Cg * p.chunk * p.P)
		err = o.forwardChunks(c, p, x, w, y, col, xt)
		c.pool.putFloats(col)
		c.pool.putFloats(xt)
		if err != nil {
			c.pool.release(y)
			return nil, err
		}
	}
	if len(in) > 2 && in[2] != nil {
		b := in[2]
		if b.size() != p.M {
			c.pool.release(y)
			return nil, fmt.Errorf("bias of shape %v for %d output channels", b.shape, p.M)
		}
		for n := 0; n < p.N; n++ {
			for m := 0; m < p.M; m++ {
				bv := b.f[m]
				row := y.f[(n*p.M+m)*p.YS : (n*p.M+m+1)*p.YS]
				for i := range row {
					row[i] += bv
				}
			}
		}
	}
	return []*tensor{y}, nil
}

func (o *convTransposeOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, w, gy := in[0], in[1], gout[0]
	p, err := o.plan(x, w)
	if err != nil {
		return nil, err
	}
	res := make([]*tensor, len(in))
	var dx, dw *tensor
	if want[0] {
		dx = c.pool.newFloat(cloneShape(x.shape))
		res[0] = dx
	}
	if want[1] {
		dw = c.pool.zeroFloat(cloneShape(w.shape))
		res[1] = dw
	}
	if len(in) > 2 && in[2] != nil && want[2] {
		res[2] = biasGrad(c, in[2].shape, gy.f, p.N, p.M, p.YS)
	}
	if dx == nil && dw == nil || p.N == 0 || p.P == 0 {
		if dx != nil {
			clear(dx.f)
		}
		return res, nil
	}
	col := c.pool.floats(p.MKK * p.chunk * p.P)
	xt := c.pool.floats(p.Cg * p.chunk * p.P)
	err = o.backwardChunks(c, p, x, w, gy, dx, dw, col, xt)
	c.pool.putFloats(col)
	c.pool.putFloats(xt)
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
// images by chunk, with the scratch buffers col and xt.
func (o *convTransposeOp) backwardChunks(c *runCtx, p *ctPlan, x, w, gy, dx, dw *tensor, col, xt []float32) error {
	for n0 := 0; n0 < p.N; n0 += p.chunk {
		nb := min(p.chunk, p.N-n0)
		ld := nb * p.P
		for g := 0; g < o.group; g++ {
			err := parallelImages(c.threads, nb, func(j int) error {
				yo := ((n0+j)*p.M + g*p.Mg) * p.YS
				return kernels.Im2ColND(col[j*p.P:], ld, gy.f[yo:yo+p.Mg*p.YS], p.geom)
			})
			if err != nil {
				return err
			}
			wg := w.f[g*p.Cg*p.MKK : (g+1)*p.Cg*p.MKK]
			if dw != nil { // dW_g += X_g · colᵀ
				gatherChunk(xt, x.f, n0, nb, g*p.Cg, p.Cg, p.C, p.P)
				c.gemm(0, false, true, p.Cg, p.MKK, ld, 1, xt, ld, col, ld, 1, dw.f[g*p.Cg*p.MKK:], p.MKK)
			}
			if dx != nil { // dX_g = W_g · col, then back into image layout
				c.gemm(0, false, false, p.Cg, ld, p.MKK, 1, wg, p.MKK, col, ld, 0, xt, ld)
				for j := 0; j < nb; j++ {
					for ch := 0; ch < p.Cg; ch++ {
						copy(dx.f[((n0+j)*p.C+g*p.Cg+ch)*p.P:((n0+j)*p.C+g*p.Cg+ch+1)*p.P], xt[ch*ld+j*p.P:ch*ld+(j+1)*p.P])
					}
				}
			}
		}
	}
	return nil
}
