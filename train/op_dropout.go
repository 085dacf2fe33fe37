package train

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
)

// dropoutOp is Dropout. In Training mode (or when the node's training_mode
// input is true) each element is kept with probability 1-ratio and scaled
// by 1/(1-ratio), drawn from the executor's seeded generator; otherwise it
// is the identity. The optional mask output is bool (float before opset 10).
type dropoutOp struct {
	ratio     float32 // attribute (opset < 12)
	fromInput bool
	isTest    bool // opset < 7: is_test=1 forces the identity
	maskType  onnxio.DType
	nOut      int
	// from the last forward pass
	scale float32
	keep  []bool // nil when the pass was the identity
}

func buildDropout(b *buildCtx) (built, error) {
	o := &dropoutOp{ratio: b.attrFloat("ratio", 0.5), fromInput: b.opset >= 12, nOut: b.nOut, maskType: onnxio.Bool}
	if o.fromInput {
		if err := b.needInputs(1, 3); err != nil {
			return built{}, err
		}
	} else if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	if err := b.needFloat(0, 1); err != nil {
		return built{}, err
	}
	if t := b.input(2); t != onnxio.Undefined && t != onnxio.Bool {
		return built{}, b.errorf("training_mode is %s", t)
	}
	if b.opset < 7 {
		o.isTest = b.attrInt("is_test", 0) != 0
	}
	if b.opset < 10 {
		o.maskType = onnxio.Float32
	}
	ot := []onnxio.DType{onnxio.Float32, o.maskType}[:b.nOut]
	return built{op: o, out: ot, grad: gradSpec{diffIn: 1, constOut: 2}}, nil
}

func init() {
	register("Dropout", buildDropout)
}

func (o *dropoutOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	ratio := o.ratio
	training := c.train && !o.isTest
	if o.fromInput {
		if len(in) > 1 && in[1] != nil {
			r, err := scalarFloat(in[1])
			if err != nil {
				return nil, err
			}
			ratio = r
		}
		if len(in) > 2 && in[2] != nil {
			if in[2].size() != 1 {
				return nil, fmt.Errorf("training_mode must be a scalar")
			}
			training = training || in[2].i[0] != 0
		}
	}
	if ratio < 0 || ratio >= 1 {
		return nil, fmt.Errorf("dropout ratio %g outside [0, 1)", ratio)
	}
	y := c.pool.newFloat(cloneShape(x.shape))
	o.keep = o.keep[:0]
	if !training || ratio == 0 {
		copy(y.f, x.f)
		o.keep = nil
	} else {
		if cap(o.keep) < len(x.f) {
			o.keep = make([]bool, len(x.f))
		}
		o.keep = o.keep[:len(x.f)]
		o.scale = 1 / (1 - ratio)
		for i, v := range x.f {
			k := c.rng.Float32() >= ratio
			o.keep[i] = k
			if k {
				y.f[i] = v * o.scale
			} else {
				y.f[i] = 0
			}
		}
	}
	res := []*tensor{y}
	if o.nOut > 1 {
		var m *tensor
		if o.maskType == onnxio.Float32 {
			m = c.pool.newFloat(cloneShape(x.shape))
			for i := range m.f {
				m.f[i] = 1
				if o.keep != nil && !o.keep[i] {
					m.f[i] = 0
				}
			}
		} else {
			m = c.pool.newInt(onnxio.Bool, cloneShape(x.shape))
			for i := range m.i {
				m.i[i] = 1
				if o.keep != nil && !o.keep[i] {
					m.i[i] = 0
				}
			}
		}
		res = append(res, m)
	}
	return res, nil
}

func (o *dropoutOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	g := gout[0]
	res := make([]*tensor, len(in))
	if o.keep == nil {
		res[0] = aliasGrad(g, in[0].shape)
		return res, nil
	}
	dx := c.pool.newFloat(cloneShape(in[0].shape))
	for i, v := range g.f {
		if o.keep[i] {
			dx.f[i] = v * o.scale
		} else {
			dx.f[i] = 0
		}
	}
	res[0] = dx
	return res, nil
}
