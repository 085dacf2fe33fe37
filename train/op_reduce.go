package train

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
)

// reduceOp is ReduceMean or ReduceSum over some axes (all by default),
// keeping the reduced dimensions as 1s when keepdims is set. Axes come from
// an attribute before opset 18 (13 for ReduceSum), from an optional input
// after.
type reduceOp struct {
	mean      bool
	attrAxes  []int64
	fromInput bool
	keepDims  bool
	noopEmpty bool
}

func buildReduce(mean bool) builder {
	return func(b *buildCtx) (built, error) {
		inputSince := int64(18)
		if !mean {
			inputSince = 13
		}
		o := &reduceOp{mean: mean}
		if err := o.readAxes(b, inputSince); err != nil {
			return built{}, err
		}
		if err := b.needFloat(0); err != nil {
			return built{}, err
		}
		return built{op: o, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 1, saveIn: 2}}, nil
	}
}

// readAxes reads keepdims, noop_with_empty_axes and where the axes come
// from: the optional second input from opset inputSince, the axes
// attribute before.
func (o *reduceOp) readAxes(b *buildCtx, inputSince int64) error {
	o.keepDims = b.attrInt("keepdims", 1) != 0
	o.noopEmpty = b.attrInt("noop_with_empty_axes", 0) != 0
	if b.opset < inputSince {
		o.attrAxes = b.attrInts("axes", nil)
		return b.needInputs(1, 1)
	}
	o.fromInput = true
	if err := b.needInputs(1, 2); err != nil {
		return err
	}
	return b.needInt(1)
}

func init() {
	register("ReduceMean", buildReduce(true))
	register("ReduceSum", buildReduce(false))
	register("ReduceMax", buildReduceExt(true))
	register("ReduceMin", buildReduceExt(false))
}

// shapes returns the kept-dims shape (reduced dimensions set to 1), the
// output shape and how many elements each output averages.
func (o *reduceOp) shapes(in []*tensor) (kept, out []int, count int, err error) {
	x := in[0]
	axes := o.attrAxes
	if o.fromInput && len(in) > 1 && in[1] != nil {
		if axes, err = intsOf(in[1]); err != nil {
			return nil, nil, 0, err
		}
	}
	r := len(x.shape)
	red := make([]bool, r)
	if len(axes) == 0 {
		if o.noopEmpty {
			return cloneShape(x.shape), cloneShape(x.shape), 1, nil
		}
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		ax, err := normAxis(int(a), r)
		if err != nil {
			return nil, nil, 0, err
		}
		red[ax] = true
	}
	count = 1
	kept = cloneShape(x.shape)
	out = []int{}
	for i, d := range x.shape {
		if red[i] {
			count *= d
			kept[i] = 1
			if o.keepDims {
				out = append(out, 1)
			}
		} else {
			out = append(out, d)
		}
	}
	return kept, out, count, nil
}

func (o *reduceOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	kept, out, count, err := o.shapes(in)
	if err != nil {
		return nil, err
	}
	y := c.pool.newFloat(out)
	if prod(kept) != len(y.f) {
		return nil, fmt.Errorf("reduce: internal shape mismatch")
	}
	reduceTo(y.f, x.f, x.shape, kept)
	if o.mean && count > 0 {
		inv := 1 / float32(count)
		for i := range y.f {
			y.f[i] *= inv
		}
	}
	return []*tensor{y}, nil
}

func (o *reduceOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, g := in[0], gout[0]
	kept, _, count, err := o.shapes(in)
	if err != nil {
		return nil, err
	}
	dx := c.pool.newFloat(cloneShape(x.shape))
	expandTo(dx.f, g.f, kept, x.shape)
	if o.mean && count > 0 {
		inv := 1 / float32(count)
		for i := range dx.f {
			dx.f[i] *= inv
		}
	}
	res := make([]*tensor, len(in))
	res[0] = dx
	return res, nil
}

// reduceExtOp is ReduceMax or ReduceMin; the gradient goes to the first
// element holding each extreme.
type reduceExtOp struct {
	reduceOp
	max bool
}

func buildReduceExt(isMax bool) builder {
	return func(b *buildCtx) (built, error) {
		o := &reduceExtOp{max: isMax}
		if err := o.readAxes(b, 18); err != nil {
			return built{}, err
		}
		d := b.input(0)
		if d != onnxio.Float32 && !isIntType(d) {
			return built{}, b.unsupported("input is %s", d)
		}
		return built{op: o, out: []onnxio.DType{d}, grad: floatGrad(d, gradSpec{diffIn: 1, saveIn: 3, saveOut: 1})}, nil
	}
}

func (o *reduceExtOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	kept, out, _, err := o.shapes(in)
	if err != nil {
		return nil, err
	}
	if x.size() == 0 && prod(out) > 0 {
		return nil, fmt.Errorf("reduction of an empty axis")
	}
	y := c.pool.newLike(x, out)
	first := make([]bool, prod(out))
	st := bcastStrides(kept, x.shape) // 0 along reduced axes
	forRows(x.shape, []int{0, 0}, [][]int{stridesOf(x.shape), st}, func(off []int, n int, s []int) {
		for j := 0; j < n; j++ {
			d := off[1] + j*s[1]
			if x.f != nil {
				v := x.f[off[0]+j]
				if !first[d] || (o.max && (v > y.f[d] || v != v)) || (!o.max && (v < y.f[d] || v != v)) {
					y.f[d] = v
				}
			} else {
				v := x.i[off[0]+j]
				if !first[d] || (o.max && v > y.i[d]) || (!o.max && v < y.i[d]) {
					y.i[d] = v
				}
			}
			first[d] = true
		}
	})
	return []*tensor{y}, nil
}

func (o *reduceExtOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, y, g := in[0], out[0], gout[0]
	kept, _, _, err := o.shapes(in)
	if err != nil {
		return nil, err
	}
	dx := c.pool.zeroFloat(cloneShape(x.shape))
	done := make([]bool, len(y.f))
	st := bcastStrides(kept, x.shape)
	forRows(x.shape, []int{0, 0}, [][]int{stridesOf(x.shape), st}, func(off []int, n int, s []int) {
		for j := 0; j < n; j++ {
			d := off[1] + j*s[1]
			if !done[d] && x.f[off[0]+j] == y.f[d] {
				dx.f[off[0]+j] = g.f[d]
				done[d] = true
			}
		}
	})
	res := make([]*tensor, len(in))
	res[0] = dx
	return res, nil
}
