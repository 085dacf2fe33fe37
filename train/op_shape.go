package train

// Shape arithmetic: Shape, Constant, ConstantOfShape, Range and Cast, the
// integer ops of Shape → Gather → Unsqueeze → Concat → Reshape chains (Cast
// also converts float tensors).

import (
	"fmt"
	"math"

	"github.com/shrinkml/shrink/onnxio"
)

func init() {
	register("Shape", buildShape)
	register("Constant", buildConstant)
	register("ConstantOfShape", buildConstantOfShape)
	register("Cast", buildCast)
	register("Range", buildRange)
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
