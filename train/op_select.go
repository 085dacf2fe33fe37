package train

// Selection ops: Slice and Gather pick elements by range or by index.

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
)

func init() {
	register("Slice", buildSlice)
	register("Gather", buildGather)
}

// sliceOp is Slice; the plan of the last forward pass is kept for backward.
type sliceOp struct {
	attrs                     bool
	starts, ends, axes, steps []int64
	// last plan
	off     int
	shape   []int
	strides []int
}

func buildSlice(b *buildCtx) (built, error) {
	o := &sliceOp{}
	if b.opset < 10 {
		if err := b.needInputs(1, 1); err != nil {
			return built{}, err
		}
		o.attrs = true
		o.starts, o.ends, o.axes = b.attrInts("starts", nil), b.attrInts("ends", nil), b.attrInts("axes", nil)
	} else {
		if err := b.needInputs(3, 5); err != nil {
			return built{}, err
		}
		if err := b.needInt(1, 2, 3, 4); err != nil {
			return built{}, err
		}
	}
	d := b.input(0)
	return built{op: o, out: []onnxio.DType{d}, grad: floatGrad(d, gradSpec{diffIn: 1})}, nil
}

func (o *sliceOp) plan(in []*tensor) error {
	x := in[0]
	starts, ends, axes, steps := o.starts, o.ends, o.axes, o.steps
	if !o.attrs {
		var err error
		if starts, err = intsOf(in[1]); err != nil {
			return err
		}
		if ends, err = intsOf(in[2]); err != nil {
			return err
		}
		if len(in) > 3 && in[3] != nil {
			if axes, err = intsOf(in[3]); err != nil {
				return err
			}
		} else {
			axes = nil
		}
		if len(in) > 4 && in[4] != nil {
			if steps, err = intsOf(in[4]); err != nil {
				return err
			}
		} else {
			steps = nil
		}
	}
	if len(starts) != len(ends) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return fmt.Errorf("slice starts %v, ends %v, axes %v, steps %v differ in length", starts, ends, axes, steps)
	}
	r := len(x.shape)
	xs := stridesOf(x.shape)
	o.shape = cloneShape(x.shape)
	o.strides = cloneShape(xs)
	o.off = 0
	seen := make([]bool, r)
	for i := range starts {
		ax := i
		if axes != nil {
			ax = int(axes[i])
		}
		ax, err := normAxis(ax, r)
		if err != nil {
			return err
		}
		if seen[ax] {
			return fmt.Errorf("slice axis %d repeated", ax)
		}
		seen[ax] = true
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return fmt.Errorf("slice step 0")
		}
		dim := int64(x.shape[ax])
		s, e := starts[i], ends[i]
		if s < 0 {
			s += dim
		}
		if e < 0 {
			e += dim
		}
		var n int64
		if step > 0 {
			s = min(max(s, 0), dim)
			e = min(max(e, 0), dim)
			if e > s {
				n = (e - s + step - 1) / step
			}
		} else {
			s = min(max(s, -1), dim-1)
			e = min(max(e, -1), dim-1)
			if s > e {
				n = (s - e - step - 1) / -step
			}
		}
		o.shape[ax] = int(n)
		if n > 0 {
			o.off += int(s) * xs[ax]
		}
		o.strides[ax] = xs[ax] * int(step)
	}
	return nil
}

func (o *sliceOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	if err := o.plan(in); err != nil {
		return nil, err
	}
	x := in[0]
	y := c.pool.newLike(x, cloneShape(o.shape))
	if x.isFloat() {
		stridedCopy(y.f, x.f, o.shape, o.off, o.strides)
	} else {
		stridedCopy(y.i, x.i, o.shape, o.off, o.strides)
	}
	return []*tensor{y}, nil
}

func (o *sliceOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	dx := c.pool.zeroFloat(cloneShape(in[0].shape))
	stridedAdd(dx.f, gout[0].f, o.shape, o.off, o.strides)
	res := make([]*tensor, len(in))
	res[0] = dx
	return res, nil
}

type gatherOp struct{ axis int }

func buildGather(b *buildCtx) (built, error) {
	if err := b.needInputs(2, 2); err != nil {
		return built{}, err
	}
	if d := b.input(1); d != onnxio.Int32 && d != onnxio.Int64 {
		return built{}, b.errorf("indices are %s", d)
	}
	d := b.input(0)
	return built{op: &gatherOp{axis: int(b.attrInt("axis", 0))}, out: []onnxio.DType{d}, grad: floatGrad(d, gradSpec{diffIn: 1, saveIn: 2})}, nil
}

func (o *gatherOp) layout(x, ind *tensor) (axis, outer, inner int, shape []int, err error) {
	axis, err = normAxis(o.axis, len(x.shape))
	if err != nil {
		return
	}
	dim := int64(x.shape[axis])
	for _, v := range ind.i {
		if v < -dim || v >= dim {
			err = fmt.Errorf("gather index %d out of range for dimension %d", v, dim)
			return
		}
	}
	shape = append(append(cloneShape(x.shape[:axis]), ind.shape...), x.shape[axis+1:]...)
	return axis, prod(x.shape[:axis]), prod(x.shape[axis+1:]), shape, nil
}

func (o *gatherOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x, ind := in[0], in[1]
	axis, outer, inner, shape, err := o.layout(x, ind)
	if err != nil {
		return nil, err
	}
	y := c.pool.newLike(x, shape)
	dim := x.shape[axis]
	k := len(ind.i)
	for r := 0; r < outer; r++ {
		for j, v := range ind.i {
			src := int(v)
			if src < 0 {
				src += dim
			}
			so := (r*dim + src) * inner
			do := (r*k + j) * inner
			if x.f != nil {
				copy(y.f[do:do+inner], x.f[so:so+inner])
			} else {
				copy(y.i[do:do+inner], x.i[so:so+inner])
			}
		}
	}
	return []*tensor{y}, nil
}

func (o *gatherOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, ind, g := in[0], in[1], gout[0]
	axis, outer, inner, _, err := o.layout(x, ind)
	if err != nil {
		return nil, err
	}
	dx := c.pool.zeroFloat(cloneShape(x.shape))
	dim := x.shape[axis]
	k := len(ind.i)
	for r := 0; r < outer; r++ {
		for j, v := range ind.i {
			src := int(v)
			if src < 0 {
				src += dim
			}
			d := dx.f[(r*dim+src)*inner : (r*dim+src+1)*inner]
			s := g.f[(r*k+j)*inner : (r*k+j+1)*inner]
			for i, u := range s {
				d[i] += u
			}
		}
	}
	return []*tensor{dx, nil}, nil
}
