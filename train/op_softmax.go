package train

import (
	"math"

	"github.com/shrinkml/shrink/onnxio"
)

// softmaxOp is Softmax or LogSoftmax. From opset 13 it normalizes along
// one axis (default -1); before, the input is seen as 2-D, [prod(dims
// before axis), prod(dims from axis)] (default axis 1), and each row is
// normalized.
type softmaxOp struct {
	log    bool
	axis   int
	coerce bool
}

func buildSoftmax(log bool) builder {
	return func(b *buildCtx) (built, error) {
		if err := b.needInputs(1, 1); err != nil {
			return built{}, err
		}
		if err := b.needFloat(0); err != nil {
			return built{}, err
		}
		o := &softmaxOp{log: log, coerce: b.opset < 13}
		def := int64(-1)
		if o.coerce {
			def = 1
		}
		o.axis = int(b.attrInt("axis", def))
		return built{op: o, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 1, saveOut: 1}}, nil
	}
}

func init() {
	register("Softmax", buildSoftmax(false))
	register("LogSoftmax", buildSoftmax(true))
}

// layout returns how many independent vectors there are (outer*inner),
// their length and the stride between their elements.
func (o *softmaxOp) layout(shape []int) (outer, n, inner int, err error) {
	r := len(shape)
	if r == 0 {
		return 1, 1, 1, nil
	}
	ax, err := normAxis(o.axis, r)
	if err != nil {
		return 0, 0, 0, err
	}
	if o.coerce {
		return prod(shape[:ax]), prod(shape[ax:]), 1, nil
	}
	return prod(shape[:ax]), shape[ax], prod(shape[ax+1:]), nil
}

func (o *softmaxOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	outer, n, inner, err := o.layout(x.shape)
	if err != nil {
		return nil, err
	}
	y := c.pool.newFloat(cloneShape(x.shape))
	parallelFor(c.threads, outer*inner, max(1, elemGrain/max(n, 1)), func(lo, hi int) {
		for v := lo; v < hi; v++ {
			base := (v/inner)*n*inner + v%inner
			m := float32(math.Inf(-1))
			for j := 0; j < n; j++ {
				m = max(m, x.f[base+j*inner])
			}
			var s float64
			for j := 0; j < n; j++ {
				e := math.Exp(float64(x.f[base+j*inner] - m))
				s += e
				if !o.log {
					y.f[base+j*inner] = float32(e)
				}
			}
			if o.log {
				ls := float32(math.Log(s))
				for j := 0; j < n; j++ {
					y.f[base+j*inner] = x.f[base+j*inner] - m - ls
				}
			} else {
				inv := float32(1 / s)
				for j := 0; j < n; j++ {
					y.f[base+j*inner] *= inv
				}
			}
		}
	})
	return []*tensor{y}, nil
}

func (o *softmaxOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	y, g := out[0], gout[0]
	outer, n, inner, err := o.layout(y.shape)
	if err != nil {
		return nil, err
	}
	dx := c.pool.newFloat(cloneShape(y.shape))
	parallelFor(c.threads, outer*inner, max(1, elemGrain/max(n, 1)), func(lo, hi int) {
		for v := lo; v < hi; v++ {
			base := (v/inner)*n*inner + v%inner
			var s float32
			if o.log { // dx = g - softmax * sum(g)
				for j := 0; j < n; j++ {
					s += g.f[base+j*inner]
				}
				for j := 0; j < n; j++ {
					k := base + j*inner
					dx.f[k] = g.f[k] - float32(math.Exp(float64(y.f[k])))*s
				}
			} else { // dx = y * (g - sum(g*y))
				for j := 0; j < n; j++ {
					k := base + j*inner
					s += g.f[k] * y.f[k]
				}
				for j := 0; j < n; j++ {
					k := base + j*inner
					dx.f[k] = y.f[k] * (g.f[k] - s)
				}
			}
		}
	})
	return []*tensor{dx}, nil
}
