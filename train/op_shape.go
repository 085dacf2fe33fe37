package train

import (
	"fmt"
	"math"

	"github.com/shrinkml/shrink/onnxio"
)

func init() {
	register("Reshape", buildReshape)
	register("Flatten", buildFlatten)
	register("Squeeze", buildSqueeze)
	register("Unsqueeze", buildUnsqueeze)
	register("Transpose", buildTranspose)
	register("Concat", buildConcat)
	register("Split", buildSplit)
	register("Slice", buildSlice)
	register("Gather", buildGather)
	register("Shape", buildShape)
	register("Constant", buildConstant)
	register("ConstantOfShape", buildConstantOfShape)
	register("Cast", buildCast)
	register("Range", buildRange)
	register("Expand", buildExpand)
}

func floatGrad(d onnxio.DType, g gradSpec) gradSpec {
	if d == onnxio.Float32 {
		return g
	}
	return gradSpec{}
}

// viewOp changes a tensor's shape without touching its elements (Reshape,
// Flatten, Squeeze, Unsqueeze). The data is copied; the gradient is the
// output's gradient viewed with the input's shape.
type viewOp struct {
	shape func(in []*tensor) ([]int, error)
}

func (o *viewOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	s, err := o.shape(in)
	if err != nil {
		return nil, err
	}
	if prod(s) != in[0].size() {
		return nil, fmt.Errorf("cannot view shape %v as %v", in[0].shape, s)
	}
	return []*tensor{copyTensor(c.pool, in[0], s)}, nil
}

func (o *viewOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	res := make([]*tensor, len(in))
	res[0] = aliasGrad(gout[0], in[0].shape)
	return res, nil
}

func viewBuilt(b *buildCtx, f func(in []*tensor) ([]int, error)) built {
	return built{op: &viewOp{shape: f}, out: []onnxio.DType{b.input(0)}, grad: floatGrad(b.input(0), gradSpec{diffIn: 1})}
}

func buildReshape(b *buildCtx) (built, error) {
	if b.opset < 5 {
		if err := b.needInputs(1, 1); err != nil {
			return built{}, err
		}
		target := b.attrInts("shape", nil)
		return viewBuilt(b, func(in []*tensor) ([]int, error) { return reshapeTo(in[0].shape, target, false) }), nil
	}
	if err := b.needInputs(2, 2); err != nil {
		return built{}, err
	}
	if err := b.needInt(1); err != nil {
		return built{}, err
	}
	allowZero := b.attrInt("allowzero", 0) != 0
	return viewBuilt(b, func(in []*tensor) ([]int, error) {
		s, err := intsOf(in[1])
		if err != nil {
			return nil, err
		}
		return reshapeTo(in[0].shape, s, allowZero)
	}), nil
}

// reshapeTo resolves a Reshape target: 0 copies the input dimension (unless
// allowZero), -1 is inferred.
func reshapeTo(in []int, target []int64, allowZero bool) ([]int, error) {
	out := make([]int, len(target))
	infer := -1
	known := 1
	for i, d := range target {
		switch {
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("reshape target %v copies dimension %d of %v", target, i, in)
			}
			out[i] = in[i]
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("reshape target %v has two -1", target)
			}
			infer = i
			continue
		case d < 0:
			return nil, fmt.Errorf("reshape target %v has a negative dimension", target)
		default:
			out[i] = int(d)
		}
		known *= out[i]
	}
	total := prod(in)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", in, target)
		}
		out[infer] = total / known
	}
	if prod(out) != total {
		return nil, fmt.Errorf("cannot reshape %v to %v", in, target)
	}
	return out, nil
}

func buildFlatten(b *buildCtx) (built, error) {
	if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	axis := int(b.attrInt("axis", 1))
	return viewBuilt(b, func(in []*tensor) ([]int, error) {
		r := len(in[0].shape)
		ax := axis
		if ax < 0 {
			ax += r
		}
		if ax < 0 || ax > r {
			return nil, fmt.Errorf("flatten axis %d out of range for rank %d", axis, r)
		}
		return []int{prod(in[0].shape[:ax]), prod(in[0].shape[ax:])}, nil
	}), nil
}

// axesInput reads axes from an attribute (old opsets) or an optional input.
func axesFrom(attr []int64, fromInput bool, in []*tensor, k int) ([]int64, bool, error) {
	if !fromInput {
		return attr, attr != nil, nil
	}
	if k >= len(in) || in[k] == nil {
		return nil, false, nil
	}
	v, err := intsOf(in[k])
	return v, true, err
}

// axesInputs checks the inputs of Squeeze and Unsqueeze and says whether
// the axes come from input 1 (opset 13 on, at least minIn inputs) rather
// than the axes attribute.
func axesInputs(b *buildCtx, minIn int) (fromInput bool, err error) {
	if b.opset < 13 {
		return false, b.needInputs(1, 1)
	}
	return true, b.needInputs(minIn, 2)
}

func buildSqueeze(b *buildCtx) (built, error) {
	fromInput, err := axesInputs(b, 1)
	if err != nil {
		return built{}, err
	}
	attr := b.attrInts("axes", nil)
	return viewBuilt(b, func(in []*tensor) ([]int, error) {
		axes, given, err := axesFrom(attr, fromInput, in, 1)
		if err != nil {
			return nil, err
		}
		s := in[0].shape
		drop := make([]bool, len(s))
		if !given {
			for i, d := range s {
				drop[i] = d == 1
			}
		}
		for _, a := range axes {
			ax, err := normAxis(int(a), len(s))
			if err != nil {
				return nil, err
			}
			if s[ax] != 1 {
				return nil, fmt.Errorf("cannot squeeze axis %d of shape %v", a, s)
			}
			drop[ax] = true
		}
		var out []int
		for i, d := range s {
			if !drop[i] {
				out = append(out, d)
			}
		}
		return out, nil
	}), nil
}

func buildUnsqueeze(b *buildCtx) (built, error) {
	fromInput, err := axesInputs(b, 2)
	if err != nil {
		return built{}, err
	}
	attr := b.attrInts("axes", nil)
	return viewBuilt(b, func(in []*tensor) ([]int, error) {
		axes, _, err := axesFrom(attr, fromInput, in, 1)
		if err != nil {
			return nil, err
		}
		s := in[0].shape
		r := len(s) + len(axes)
		ins := make([]bool, r)
		for _, a := range axes {
			ax, err := normAxis(int(a), r)
			if err != nil {
				return nil, err
			}
			if ins[ax] {
				return nil, fmt.Errorf("unsqueeze axes %v repeat %d", axes, a)
			}
			ins[ax] = true
		}
		out := make([]int, 0, r)
		k := 0
		for i := 0; i < r; i++ {
			if ins[i] {
				out = append(out, 1)
			} else {
				out = append(out, s[k])
				k++
			}
		}
		return out, nil
	}), nil
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

type shapeOp struct{ start, end int64 }

func buildShape(b *buildCtx) (built, error) {
	if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	return built{op: &shapeOp{start: b.attrInt("start", 0), end: b.attrInt("end", math.MaxInt64)}, out: []onnxio.DType{onnxio.Int64}}, nil
}

func (o *shapeOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	s := in[0].shape
	r := int64(len(s))
	lo, hi := o.start, o.end
	if lo < 0 {
		lo += r
	}
	if hi < 0 {
		hi += r
	}
	lo = min(max(lo, 0), r)
	hi = min(max(hi, 0), r)
	n := max(hi-lo, 0)
	y := c.pool.newInt(onnxio.Int64, []int{int(n)})
	for i := range y.i {
		y.i[i] = int64(s[int(lo)+i])
	}
	return []*tensor{y}, nil
}

func buildConstant(b *buildCtx) (built, error) {
	// Numeric Constant nodes are weights and never reach here.
	for _, a := range b.node.Attribute {
		return built{}, b.unsupported("constant attribute %q", a.GetName())
	}
	return built{}, b.errorf("no value")
}

type constantOfShapeOp struct {
	dtype onnxio.DType
	f     float32
	i     int64
}

func buildConstantOfShape(b *buildCtx) (built, error) {
	if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	if err := b.needInt(0); err != nil {
		return built{}, err
	}
	o := &constantOfShapeOp{dtype: onnxio.Float32}
	if a := onnxio.Attr(b.node, "value"); a != nil && a.T != nil {
		t, err := onnxio.TensorFromProto(a.T)
		if err != nil {
			return built{}, b.errorf("value: %v", err)
		}
		if !supportedDType(t.DType) {
			return built{}, b.unsupported("value of type %s", t.DType)
		}
		v, err := fromONNX(t)
		if err != nil || v.size() != 1 {
			return built{}, b.errorf("value must hold one element")
		}
		o.dtype = v.dtype
		if v.isFloat() {
			o.f = v.f[0]
		} else {
			o.i = v.i[0]
		}
	}
	return built{op: o, out: []onnxio.DType{o.dtype}}, nil
}

func (o *constantOfShapeOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	s, err := intsOf(in[0])
	if err != nil {
		return nil, err
	}
	shape := make([]int, len(s))
	for i, d := range s {
		if d < 0 {
			return nil, fmt.Errorf("negative dimension in %v", s)
		}
		shape[i] = int(d)
	}
	if o.dtype == onnxio.Float32 {
		y := c.pool.newFloat(shape)
		for i := range y.f {
			y.f[i] = o.f
		}
		return []*tensor{y}, nil
	}
	y := c.pool.newInt(o.dtype, shape)
	for i := range y.i {
		y.i[i] = o.i
	}
	return []*tensor{y}, nil
}

type castOp struct{ to onnxio.DType }

func buildCast(b *buildCtx) (built, error) {
	if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	to := onnxio.DType(b.attrInt("to", 0))
	if !supportedDType(to) {
		return built{}, b.unsupported("cast to %s", to)
	}
	g := gradSpec{}
	if to == onnxio.Float32 && b.input(0) == onnxio.Float32 {
		g.diffIn = 1
	}
	return built{op: &castOp{to: to}, out: []onnxio.DType{to}, grad: g}, nil
}

func (o *castOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	shape := cloneShape(x.shape)
	switch {
	case o.to == onnxio.Float32 && x.isFloat():
		return []*tensor{copyTensor(c.pool, x, shape)}, nil
	case o.to == onnxio.Float32:
		y := c.pool.newFloat(shape)
		for i, v := range x.i {
			y.f[i] = float32(v)
		}
		return []*tensor{y}, nil
	case x.isFloat():
		y := c.pool.newInt(o.to, shape)
		for i, v := range x.f {
			switch {
			case o.to == onnxio.Bool:
				if v != 0 {
					y.i[i] = 1
				} else {
					y.i[i] = 0
				}
			case v != v:
				y.i[i] = 0
			case o.to == onnxio.Uint64 || o.to == onnxio.Uint32 || o.to == onnxio.Uint16 || o.to == onnxio.Uint8:
				y.i[i] = int64(uint64(v))
			default:
				y.i[i] = int64(v)
			}
		}
		wrapInts(o.to, y.i)
		return []*tensor{y}, nil
	}
	y := c.pool.newInt(o.to, shape)
	copy(y.i, x.i)
	wrapInts(o.to, y.i)
	return []*tensor{y}, nil
}

func (o *castOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	return []*tensor{aliasGrad(gout[0], in[0].shape)}, nil
}

type rangeOp struct{}

func buildRange(b *buildCtx) (built, error) {
	if err := b.needInputs(3, 3); err != nil {
		return built{}, err
	}
	d := b.input(0)
	if b.input(1) != d || b.input(2) != d || (d != onnxio.Float32 && !isIntType(d)) {
		return built{}, b.unsupported("inputs are %s, %s, %s", d, b.input(1), b.input(2))
	}
	return built{op: rangeOp{}, out: []onnxio.DType{d}}, nil
}

func (rangeOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	for _, t := range in {
		if t.size() != 1 {
			return nil, fmt.Errorf("range inputs must be scalars, got shape %v", t.shape)
		}
	}
	if in[0].isFloat() {
		s, l, d := in[0].f[0], in[1].f[0], in[2].f[0]
		if d == 0 {
			return nil, fmt.Errorf("range delta 0")
		}
		n := max(int(math.Ceil(float64((l-s)/d))), 0)
		y := c.pool.newFloat([]int{n})
		for i := range y.f {
			y.f[i] = s + float32(i)*d
		}
		return []*tensor{y}, nil
	}
	s, l, d := in[0].i[0], in[1].i[0], in[2].i[0]
	if d == 0 {
		return nil, fmt.Errorf("range delta 0")
	}
	n := int64(0)
	if d > 0 && l > s {
		n = (l - s + d - 1) / d
	} else if d < 0 && l < s {
		n = (s - l - d - 1) / -d
	}
	y := c.pool.newInt(in[0].dtype, []int{int(n)})
	for i := range y.i {
		y.i[i] = s + int64(i)*d
	}
	return []*tensor{y}, nil
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
