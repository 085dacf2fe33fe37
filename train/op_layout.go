package train

// Layout ops: Transpose, Concat, Split and Expand move elements to new
// positions.

import (
	"fmt"
	"math"

	"github.com/shrinkml/shrink/onnxio"
)

func init() {
	register("Transpose", buildTranspose)
	register("Concat", buildConcat)
	register("Split", buildSplit)
	register("Expand", buildExpand)
}

type transposeOp struct{ perm []int64 }

func buildTranspose(b *buildCtx) (built, error) {
	if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	return built{op: &transposeOp{perm: b.attrInts("perm", nil)}, out: []onnxio.DType{b.input(0)},
		grad: floatGrad(b.input(0), gradSpec{diffIn: 1})}, nil
}

func (o *transposeOp) permFor(r int) ([]int, error) {
	p := make([]int, r)
	if o.perm == nil {
		for i := range p {
			p[i] = r - 1 - i
		}
		return p, nil
	}
	if len(o.perm) != r {
		return nil, fmt.Errorf("perm %v for rank %d", o.perm, r)
	}
	seen := make([]bool, r)
	for i, v := range o.perm {
		ax, err := normAxis(int(v), r)
		if err != nil || seen[ax] {
			return nil, fmt.Errorf("invalid perm %v", o.perm)
		}
		seen[ax] = true
		p[i] = ax
	}
	return p, nil
}

func (o *transposeOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	p, err := o.permFor(len(x.shape))
	if err != nil {
		return nil, err
	}
	xs := stridesOf(x.shape)
	shape := make([]int, len(p))
	st := make([]int, len(p))
	for i, a := range p {
		shape[i] = x.shape[a]
		st[i] = xs[a]
	}
	y := c.pool.newLike(x, shape)
	if x.isFloat() {
		stridedCopy(y.f, x.f, shape, 0, st)
	} else {
		stridedCopy(y.i, x.i, shape, 0, st)
	}
	return []*tensor{y}, nil
}

func (o *transposeOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, g := in[0], gout[0]
	p, err := o.permFor(len(x.shape))
	if err != nil {
		return nil, err
	}
	gs := stridesOf(g.shape)
	st := make([]int, len(p))
	for j, a := range p {
		st[a] = gs[j]
	}
	dx := c.pool.newFloat(cloneShape(x.shape))
	stridedCopy(dx.f, g.f, x.shape, 0, st)
	return []*tensor{dx}, nil
}

type concatOp struct{ axis int }

func buildConcat(b *buildCtx) (built, error) {
	if len(b.in) == 0 {
		return built{}, b.errorf("no inputs")
	}
	d := b.input(0)
	for k, t := range b.in {
		if t != d {
			return built{}, b.errorf("input %d is %s, input 0 %s", k, t, d)
		}
	}
	var all uint64
	for k := range b.in {
		all |= 1 << k
	}
	if len(b.in) > 63 {
		all = math.MaxUint64
	}
	return built{op: &concatOp{axis: int(b.attrInt("axis", 1))}, out: []onnxio.DType{d}, grad: floatGrad(d, gradSpec{diffIn: all})}, nil
}

func (o *concatOp) layout(in []*tensor) (axis int, shape []int, err error) {
	r := len(in[0].shape)
	axis, err = normAxis(o.axis, r)
	if err != nil {
		return 0, nil, err
	}
	shape = cloneShape(in[0].shape)
	shape[axis] = 0
	for _, t := range in {
		if len(t.shape) != r {
			return 0, nil, fmt.Errorf("concat of ranks %d and %d", r, len(t.shape))
		}
		for i, d := range t.shape {
			if i != axis && d != shape[i] {
				return 0, nil, fmt.Errorf("concat on axis %d of shapes %v and %v", axis, in[0].shape, t.shape)
			}
		}
		shape[axis] += t.shape[axis]
	}
	return axis, shape, nil
}

func (o *concatOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	axis, shape, err := o.layout(in)
	if err != nil {
		return nil, err
	}
	y := c.pool.newLike(in[0], shape)
	outer := prod(shape[:axis])
	inner := prod(shape[axis+1:])
	row := shape[axis] * inner
	off := 0
	for _, t := range in {
		n := t.shape[axis] * inner
		for r := 0; r < outer; r++ {
			if y.f != nil {
				copy(y.f[r*row+off:r*row+off+n], t.f[r*n:(r+1)*n])
			} else {
				copy(y.i[r*row+off:r*row+off+n], t.i[r*n:(r+1)*n])
			}
		}
		off += n
	}
	return []*tensor{y}, nil
}

func (o *concatOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	g := gout[0]
	axis, shape, err := o.layout(in)
	if err != nil {
		return nil, err
	}
	outer := prod(shape[:axis])
	inner := prod(shape[axis+1:])
	row := shape[axis] * inner
	res := make([]*tensor, len(in))
	off := 0
	for k, t := range in {
		n := t.shape[axis] * inner
		if want[k] {
			d := c.pool.newFloat(cloneShape(t.shape))
			for r := 0; r < outer; r++ {
				copy(d.f[r*n:(r+1)*n], g.f[r*row+off:r*row+off+n])
			}
			res[k] = d
		}
		off += n
	}
	return res, nil
}

type splitOp struct {
	axis      int
	attrSplit []int64
	fromInput bool
	n         int
}

func buildSplit(b *buildCtx) (built, error) {
	o := &splitOp{axis: int(b.attrInt("axis", 0)), n: b.nOut}
	if b.opset >= 13 {
		if err := b.needInputs(1, 2); err != nil {
			return built{}, err
		}
		o.fromInput = true
		if err := b.needInt(1); err != nil {
			return built{}, err
		}
	} else {
		if err := b.needInputs(1, 2); err != nil { // Split-2 and older; Split-1 had an optional input too
			return built{}, err
		}
		o.attrSplit = b.attrInts("split", nil)
		o.fromInput = len(b.in) > 1 && b.in[1] != onnxio.Undefined
	}
	if num := b.attrInt("num_outputs", 0); num > 0 && int(num) != b.nOut {
		return built{}, b.errorf("num_outputs=%d but %d outputs", num, b.nOut)
	}
	d := b.input(0)
	return built{op: o, out: outs(d, b.nOut), grad: floatGrad(d, gradSpec{diffIn: 1, saveIn: 2})}, nil
}

func (o *splitOp) sizes(in []*tensor) (int, []int, error) {
	x := in[0]
	axis, err := normAxis(o.axis, len(x.shape))
	if err != nil {
		return 0, nil, err
	}
	dim := x.shape[axis]
	split := o.attrSplit
	if o.fromInput && len(in) > 1 && in[1] != nil {
		if split, err = intsOf(in[1]); err != nil {
			return 0, nil, err
		}
	}
	sizes := make([]int, o.n)
	if split != nil {
		if len(split) != o.n {
			return 0, nil, fmt.Errorf("split %v into %d outputs", split, o.n)
		}
		total := 0
		for i, s := range split {
			sizes[i] = int(s)
			total += int(s)
		}
		if total != dim {
			return 0, nil, fmt.Errorf("split %v does not sum to dimension %d", split, dim)
		}
		return axis, sizes, nil
	}
	// Equal parts; the last may be smaller (opset 18).
	part := (dim + o.n - 1) / o.n
	rest := dim
	for i := range sizes {
		sizes[i] = min(part, rest)
		rest -= sizes[i]
	}
	if rest != 0 {
		return 0, nil, fmt.Errorf("cannot split %d into %d parts", dim, o.n)
	}
	return axis, sizes, nil
}

func (o *splitOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	axis, sizes, err := o.sizes(in)
	if err != nil {
		return nil, err
	}
	outer := prod(x.shape[:axis])
	inner := prod(x.shape[axis+1:])
	row := x.shape[axis] * inner
	res := make([]*tensor, o.n)
	off := 0
	for k, s := range sizes {
		shape := cloneShape(x.shape)
		shape[axis] = s
		y := c.pool.newLike(x, shape)
		n := s * inner
		for r := 0; r < outer; r++ {
			if x.f != nil {
				copy(y.f[r*n:(r+1)*n], x.f[r*row+off:r*row+off+n])
			} else {
				copy(y.i[r*n:(r+1)*n], x.i[r*row+off:r*row+off+n])
			}
		}
		off += n
		res[k] = y
	}
	return res, nil
}

func (o *splitOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x := in[0]
	axis, sizes, err := o.sizes(in)
	if err != nil {
		return nil, err
	}
	outer := prod(x.shape[:axis])
	inner := prod(x.shape[axis+1:])
	row := x.shape[axis] * inner
	dx := c.pool.newFloat(cloneShape(x.shape))
	off := 0
	for k, s := range sizes {
		n := s * inner
		for r := 0; r < outer; r++ {
			d := dx.f[r*row+off : r*row+off+n]
			if gout[k] == nil {
				clear(d)
			} else {
				copy(d, gout[k].f[r*n:(r+1)*n])
			}
		}
		off += n
	}
	res := make([]*tensor, len(in))
	res[0] = dx
	return res, nil
}

type expandOp struct{}

func buildExpand(b *buildCtx) (built, error) {
	if err := b.needInputs(2, 2); err != nil {
		return built{}, err
	}
	if err := b.needInt(1); err != nil {
		return built{}, err
	}
	d := b.input(0)
	return built{op: expandOp{}, out: []onnxio.DType{d}, grad: floatGrad(d, gradSpec{diffIn: 1})}, nil
}

func (expandOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	s, err := intsOf(in[1])
	if err != nil {
		return nil, err
	}
	target := make([]int, len(s))
	for i, d := range s {
		if d < 0 {
			return nil, fmt.Errorf("negative dimension in expand shape %v", s)
		}
		target[i] = int(d)
	}
	shape, err := broadcastShapes(x.shape, target)
	if err != nil {
		return nil, err
	}
	y := c.pool.newLike(x, shape)
	if x.isFloat() {
		expandTo(y.f, x.f, x.shape, shape)
	} else {
		expandTo(y.i, x.i, x.shape, shape)
	}
	return []*tensor{y}, nil
}

func (expandOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	dx := c.pool.newFloat(cloneShape(in[0].shape))
	reduceTo(dx.f, gout[0].f, gout[0].shape, in[0].shape)
	return []*tensor{dx, nil}, nil
}
