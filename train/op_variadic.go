package train

import (
	"github.com/shrinkml/shrink/onnxio"
)

// variadicOp is Sum, Mean, Max or Min over any number of inputs with numpy
// broadcasting. Max and Min send the gradient to the input that won (the
// first one on ties).
type variadicOp struct{ kind string }

func buildVariadic(kind string) builder {
	return func(b *buildCtx) (built, error) {
		if len(b.in) == 0 {
			return built{}, b.errorf("no inputs")
		}
		d := b.input(0)
		for k, t := range b.in {
			if t != d {
				return built{}, b.errorf("input %d is %s, input 0 %s", k, t, d)
			}
		}
		if d != onnxio.Float32 && (!isIntType(d) || kind == "Mean") {
			return built{}, b.unsupported("inputs are %s", d)
		}
		g := gradSpec{}
		if d == onnxio.Float32 && len(b.in) <= 63 {
			g.diffIn = 1<<len(b.in) - 1
			if kind == "Max" || kind == "Min" {
				g.saveIn, g.saveOut = g.diffIn, 1
			}
		}
		return built{op: &variadicOp{kind: kind}, out: []onnxio.DType{d}, grad: g}, nil
	}
}

func init() {
	register("Sum", buildVariadic("Sum"))
	register("Mean", buildVariadic("Mean"))
	register("Max", buildVariadic("Max"))
	register("Min", buildVariadic("Min"))
}

func (o *variadicOp) shapes(in []*tensor) ([]int, [][]int, error) {
	shapes := make([][]int, len(in))
	for k, t := range in {
		shapes[k] = t.shape
	}
	out, err := broadcastShapes(shapes...)
	if err != nil {
		return nil, nil, err
	}
	strides := [][]int{stridesOf(out)}
	for _, t := range in {
		strides = append(strides, bcastStrides(t.shape, out))
	}
	return out, strides, nil
}

func (o *variadicOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	shape, strides, err := o.shapes(in)
	if err != nil {
		return nil, err
	}
	y := c.pool.newLike(in[0], shape)
	base := make([]int, len(strides))
	forRows(shape, base, strides, func(off []int, n int, st []int) {
		for j := 0; j < n; j++ {
			if y.f != nil {
				v := in[0].f[off[1]+j*st[1]]
				for k := 1; k < len(in); k++ {
					u := in[k].f[off[k+1]+j*st[k+1]]
					switch o.kind {
					case "Sum", "Mean":
						v += u
					case "Max":
						if u > v || u != u {
							v = u
						}
					case "Min":
						if u < v || u != u {
							v = u
						}
					}
				}
				if o.kind == "Mean" {
					v /= float32(len(in))
				}
				y.f[off[0]+j] = v
				continue
			}
			v := in[0].i[off[1]+j*st[1]]
			for k := 1; k < len(in); k++ {
				u := in[k].i[off[k+1]+j*st[k+1]]
				switch o.kind {
				case "Sum":
					v += u
				case "Max":
					v = max(v, u)
				case "Min":
					v = min(v, u)
				}
			}
			y.i[off[0]+j] = v
		}
	})
	if y.i != nil {
		wrapInts(y.dtype, y.i)
	}
	return []*tensor{y}, nil
}

func (o *variadicOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	g := gout[0]
	shape, strides, err := o.shapes(in)
	if err != nil {
		return nil, err
	}
	res := make([]*tensor, len(in))
	scale := float32(1)
	if o.kind == "Mean" {
		scale = 1 / float32(len(in))
	}
	var winner []int32
	if o.kind == "Max" || o.kind == "Min" {
		winner = make([]int32, len(g.f))
		y := out[0].f
		forRows(shape, make([]int, len(strides)), strides, func(off []int, n int, st []int) {
			for j := 0; j < n; j++ {
				v := y[off[0]+j]
				w := int32(-1)
				for k := range in {
					if u := in[k].f[off[k+1]+j*st[k+1]]; u == v || (u != u && v != v) {
						w = int32(k)
						break
					}
				}
				winner[off[0]+j] = w
			}
		})
	}
	tmp := c.pool.newFloat(shape)
	for k := range in {
		if !want[k] {
			continue
		}
		for i, v := range g.f {
			if winner != nil && winner[i] != int32(k) {
				v = 0
			}
			tmp.f[i] = v * scale
		}
		r := c.pool.newFloat(cloneShape(in[k].shape))
		reduceTo(r.f, tmp.f, shape, in[k].shape)
		res[k] = r
	}
	c.pool.release(tmp)
	return res, nil
}

// compareOp is Equal, Less, LessOrEqual, Greater, GreaterOrEqual (bool
// output, broadcasting) or And, Or, Xor (bool inputs).
type compareOp struct{ kind string }

func buildCompare(kind string) builder {
	return func(b *buildCtx) (built, error) {
		if err := b.needInputs(2, 2); err != nil {
			return built{}, err
		}
		da, db := b.input(0), b.input(1)
		if da != db {
			return built{}, b.errorf("inputs are %s and %s", da, db)
		}
		switch kind {
		case "And", "Or", "Xor":
			if da != onnxio.Bool {
				return built{}, b.errorf("inputs are %s, want bool", da)
			}
		default:
			if da != onnxio.Float32 && !isIntType(da) && !(kind == "Equal" && da == onnxio.Bool) {
				return built{}, b.unsupported("inputs are %s", da)
			}
		}
		return built{op: &compareOp{kind: kind}, out: []onnxio.DType{onnxio.Bool}}, nil
	}
}

func (o *compareOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	a, b := in[0], in[1]
	shape, err := broadcastShapes(a.shape, b.shape)
	if err != nil {
		return nil, err
	}
	y := c.pool.newInt(onnxio.Bool, shape)
	strides := [][]int{stridesOf(shape), bcastStrides(a.shape, shape), bcastStrides(b.shape, shape)}
	forRows(shape, []int{0, 0, 0}, strides, func(off []int, n int, st []int) {
		for j := 0; j < n; j++ {
			var x, z float64
			if a.f != nil {
				x, z = float64(a.f[off[1]+j*st[1]]), float64(b.f[off[2]+j*st[2]])
			}
			var xi, zi int64
			if a.i != nil {
				xi, zi = a.i[off[1]+j*st[1]], b.i[off[2]+j*st[2]]
			}
			var r bool
			switch o.kind {
			case "Equal":
				r = x == z && xi == zi
			case "Less":
				r = x < z || a.i != nil && xi < zi
			case "LessOrEqual":
				r = a.f != nil && x <= z || a.i != nil && xi <= zi
			case "Greater":
				r = x > z || a.i != nil && xi > zi
			case "GreaterOrEqual":
				r = a.f != nil && x >= z || a.i != nil && xi >= zi
			case "And":
				r = xi != 0 && zi != 0
			case "Or":
				r = xi != 0 || zi != 0
			case "Xor":
				r = (xi != 0) != (zi != 0)
			}
			var v int64
			if r {
				v = 1
			}
			y.i[off[0]+j] = v
		}
	})
	return []*tensor{y}, nil
}

type notOp struct{}

func buildNot(b *buildCtx) (built, error) {
	if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	if b.input(0) != onnxio.Bool {
		return built{}, b.errorf("input is %s, want bool", b.input(0))
	}
	return built{op: notOp{}, out: []onnxio.DType{onnxio.Bool}}, nil
}

func (notOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	y := c.pool.newInt(onnxio.Bool, cloneShape(in[0].shape))
	for i, v := range in[0].i {
		y.i[i] = 1 - v
	}
	return []*tensor{y}, nil
}

// whereOp selects x where cond is true, else y, with broadcasting; the
// gradient goes to whichever was selected.
type whereOp struct{}

func buildWhere(b *buildCtx) (built, error) {
	if err := b.needInputs(3, 3); err != nil {
		return built{}, err
	}
	if b.input(0) != onnxio.Bool {
		return built{}, b.errorf("condition is %s", b.input(0))
	}
	d := b.input(1)
	if b.input(2) != d {
		return built{}, b.errorf("branches are %s and %s", d, b.input(2))
	}
	return built{op: whereOp{}, out: []onnxio.DType{d}, grad: floatGrad(d, gradSpec{diffIn: 6, saveIn: 1})}, nil
}

func init() {
	register("Equal", buildCompare("Equal"))
	register("Less", buildCompare("Less"))
	register("LessOrEqual", buildCompare("LessOrEqual"))
	register("Greater", buildCompare("Greater"))
	register("GreaterOrEqual", buildCompare("GreaterOrEqual"))
	register("And", buildCompare("And"))
	register("Or", buildCompare("Or"))
	register("Xor", buildCompare("Xor"))
	register("Not", buildNot)
	register("Where", buildWhere)
}

func whereLayout(in []*tensor) ([]int, [][]int, error) {
	shape, err := broadcastShapes(in[0].shape, in[1].shape, in[2].shape)
	if err != nil {
		return nil, nil, err
	}
	return shape, [][]int{stridesOf(shape), bcastStrides(in[0].shape, shape), bcastStrides(in[1].shape, shape), bcastStrides(in[2].shape, shape)}, nil
}

func (whereOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	cond, x, z := in[0], in[1], in[2]
	shape, strides, err := whereLayout(in)
	if err != nil {
		return nil, err
	}
	y := c.pool.newLike(x, shape)
	forRows(shape, make([]int, 4), strides, func(off []int, n int, st []int) {
		for j := 0; j < n; j++ {
			pick := cond.i[off[1]+j*st[1]] != 0
			if y.f != nil {
				if pick {
					y.f[off[0]+j] = x.f[off[2]+j*st[2]]
				} else {
					y.f[off[0]+j] = z.f[off[3]+j*st[3]]
				}
			} else if pick {
				y.i[off[0]+j] = x.i[off[2]+j*st[2]]
			} else {
				y.i[off[0]+j] = z.i[off[3]+j*st[3]]
			}
		}
	})
	return []*tensor{y}, nil
}

func (whereOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	cond, g := in[0], gout[0]
	shape, strides, err := whereLayout(in)
	if err != nil {
		return nil, err
	}
	res := make([]*tensor, 3)
	tmp := c.pool.newFloat(shape)
	for k := 1; k <= 2; k++ {
		if !want[k] {
			continue
		}
		forRows(shape, make([]int, 4), strides, func(off []int, n int, st []int) {
			for j := 0; j < n; j++ {
				pick := cond.i[off[1]+j*st[1]] != 0
				v := g.f[off[0]+j]
				if pick != (k == 1) {
					v = 0
				}
				tmp.f[off[0]+j] = v
			}
		})
		r := c.pool.newFloat(cloneShape(in[k].shape))
		reduceTo(r.f, tmp.f, shape, in[k].shape)
		res[k] = r
	}
	c.pool.release(tmp)
	return res, nil
}

// preluOp is PRelu: x where x ≥ 0, slope·x elsewhere, the slope broadcast
// to x.
type preluOp struct{}

func buildPRelu(b *buildCtx) (built, error) {
	if err := b.needInputs(2, 2); err != nil {
		return built{}, err
	}
	if err := b.needFloat(0, 1); err != nil {
		return built{}, err
	}
	return built{op: preluOp{}, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 3, saveIn: 3}}, nil
}

func init() {
	register("PRelu", buildPRelu)
}

// preluSlope returns the slope's shape aligned with x (PRelu-6 and older
// allowed a [C] slope for an [N, C, ...] input).
func preluSlope(x, s *tensor) ([]int, error) {
	ss := s.shape
	if len(ss) == 1 && len(x.shape) > 2 && ss[0] == x.shape[1] && ss[0] != x.shape[len(x.shape)-1] {
		ss = append([]int{ss[0]}, make([]int, len(x.shape)-2)...)
		for i := 1; i < len(ss); i++ {
			ss[i] = 1
		}
	}
	out, err := broadcastShapes(x.shape, ss)
	if err != nil || !shapeEq(out, x.shape) {
		return nil, errf("PRelu slope %v does not broadcast to %v", s.shape, x.shape)
	}
	return ss, nil
}

func (preluOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x, s := in[0], in[1]
	ss, err := preluSlope(x, s)
	if err != nil {
		return nil, err
	}
	y := c.pool.newFloat(cloneShape(x.shape))
	forRows(x.shape, []int{0, 0}, [][]int{stridesOf(x.shape), bcastStrides(ss, x.shape)}, func(off []int, n int, st []int) {
		for j := 0; j < n; j++ {
			v := x.f[off[0]+j]
			if v < 0 {
				v *= s.f[off[1]+j*st[1]]
			}
			y.f[off[0]+j] = v
		}
	})
	return []*tensor{y}, nil
}

func (preluOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, s, g := in[0], in[1], gout[0]
	ss, err := preluSlope(x, s)
	if err != nil {
		return nil, err
	}
	res := make([]*tensor, 2)
	var dx, ds *tensor
	if want[0] {
		dx = c.pool.newFloat(cloneShape(x.shape))
		res[0] = dx
	}
	if want[1] {
		ds = c.pool.newFloat(cloneShape(x.shape)) // per element, reduced below
	}
	forRows(x.shape, []int{0, 0}, [][]int{stridesOf(x.shape), bcastStrides(ss, x.shape)}, func(off []int, n int, st []int) {
		for j := 0; j < n; j++ {
			i := off[0] + j
			v, gv := x.f[i], g.f[i]
			if dx != nil {
				if v < 0 {
					dx.f[i] = gv * s.f[off[1]+j*st[1]]
				} else {
					dx.f[i] = gv
				}
			}
			if ds != nil {
				if v < 0 {
					ds.f[i] = gv * v
				} else {
					ds.f[i] = 0
				}
			}
		}
	})
	if ds != nil {
		r := c.pool.newFloat(cloneShape(s.shape))
		reduceTo(r.f, ds.f, x.shape, ss)
		c.pool.release(ds)
		res[1] = r
	}
	return res, nil
}
