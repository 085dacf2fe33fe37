package train

import (
	"fmt"
	"math"

	"github.com/shrinkml/shrink/onnxio"
)

type binKind int

const (
	binAdd binKind = iota
	binSub
	binMul
	binDiv
	binPow
)

// binaryOp is Add, Sub, Mul, Div or Pow with numpy broadcasting (and, for
// opsets before 7, the legacy broadcast attribute with an axis).
type binaryOp struct {
	kind binKind
	axis int // legacy broadcast axis, -1 for numpy alignment
}

func buildBinary(kind binKind) builder {
	return func(b *buildCtx) (built, error) {
		if err := b.needInputs(2, 2); err != nil {
			return built{}, err
		}
		o := &binaryOp{kind: kind, axis: -1}
		if b.opset < 7 && b.attrInt("broadcast", 0) != 0 && b.hasAttr("axis") {
			o.axis = int(b.attrInt("axis", 0))
		}
		da, db := b.input(0), b.input(1)
		g := gradSpec{}
		switch {
		case kind == binPow:
			if da != onnxio.Float32 {
				return built{}, b.unsupported("base is %s (float32 only)", da)
			}
			if db != onnxio.Float32 && !isIntType(db) {
				return built{}, b.unsupported("exponent is %s", db)
			}
			g = gradSpec{diffIn: 1, saveIn: 3, saveOut: 1}
			if db == onnxio.Float32 {
				g.diffIn = 3
			}
		case da != db:
			return built{}, b.errorf("inputs are %s and %s", da, db)
		case da == onnxio.Float32:
			g.diffIn = 3
			if kind == binMul || kind == binDiv {
				g.saveIn = 3
			}
		case isIntType(da):
		default:
			return built{}, b.unsupported("inputs are %s", da)
		}
		return built{op: o, out: []onnxio.DType{da}, grad: g}, nil
	}
}

func init() {
	register("Add", buildBinary(binAdd))
	register("Sub", buildBinary(binSub))
	register("Mul", buildBinary(binMul))
	register("Div", buildBinary(binDiv))
	register("Pow", buildBinary(binPow))
}

// shapes returns the input shapes as broadcasting sees them and the output
// shape.
func (o *binaryOp) shapes(a, b *tensor) (sa, sb, out []int, err error) {
	sa, sb = a.shape, b.shape
	if o.axis >= 0 {
		// Legacy: b's dimensions line up with a's starting at axis.
		ax := o.axis
		if ax < 0 {
			ax += len(sa)
		}
		if ax+len(sb) > len(sa) {
			return nil, nil, nil, fmt.Errorf("legacy broadcast of %v at axis %d into %v", sb, o.axis, sa)
		}
		sb = append(cloneShape(sb), make([]int, len(sa)-ax-len(sb))...)
		for i := len(b.shape); i < len(sb); i++ {
			sb[i] = 1
		}
	}
	out, err = broadcastShapes(sa, sb)
	return sa, sb, out, err
}

func (o *binaryOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	a, b := in[0], in[1]
	sa, sb, shape, err := o.shapes(a, b)
	if err != nil {
		return nil, err
	}
	strides := [][]int{stridesOf(shape), bcastStrides(sa, shape), bcastStrides(sb, shape)}
	if !a.isFloat() {
		y := c.pool.newInt(a.dtype, shape)
		var divErr bool
		forRows(shape, []int{0, 0, 0}, strides, func(off []int, n int, st []int) {
			pa, pb := off[1], off[2]
			ys := y.i[off[0] : off[0]+n]
			for j := range ys {
				x, z := a.i[pa], b.i[pb]
				switch o.kind {
				case binAdd:
					ys[j] = x + z
				case binSub:
					ys[j] = x - z
				case binMul:
					ys[j] = x * z
				case binDiv:
					if z == 0 {
						divErr = true
						ys[j] = 0
					} else {
						ys[j] = x / z
					}
				}
				pa += st[1]
				pb += st[2]
			}
		})
		if divErr {
			c.pool.release(y)
			return nil, fmt.Errorf("integer division by zero")
		}
		wrapInts(a.dtype, y.i)
		return []*tensor{y}, nil
	}
	bf := b.f
	if !b.isFloat() { // Pow with an integer exponent
		bf = make([]float32, len(b.i))
		for i, v := range b.i {
			bf[i] = float32(v)
		}
	}
	y := c.pool.newFloat(shape)
	af := a.f
	forRows(shape, []int{0, 0, 0}, strides, func(off []int, n int, st []int) {
		ys := y.f[off[0] : off[0]+n]
		xa, xb := af[off[1]:], bf[off[2]:]
		sa, sb := st[1], st[2]
		switch o.kind {
		case binAdd:
			switch {
			case sa == 1 && sb == 1:
				xa, xb = xa[:n], xb[:n]
				for j := range ys {
					ys[j] = xa[j] + xb[j]
				}
			case sa == 1 && sb == 0:
				v := xb[0]
				for j, u := range xa[:n] {
					ys[j] = u + v
				}
			default:
				for j := range ys {
					ys[j] = xa[j*sa] + xb[j*sb]
				}
			}
		case binSub:
			for j := range ys {
				ys[j] = xa[j*sa] - xb[j*sb]
			}
		case binMul:
			switch {
			case sa == 1 && sb == 1:
				xa, xb = xa[:n], xb[:n]
				for j := range ys {
					ys[j] = xa[j] * xb[j]
				}
			case sa == 1 && sb == 0:
				v := xb[0]
				for j, u := range xa[:n] {
					ys[j] = u * v
				}
			default:
				for j := range ys {
					ys[j] = xa[j*sa] * xb[j*sb]
				}
			}
		case binDiv:
			for j := range ys {
				ys[j] = xa[j*sa] / xb[j*sb]
			}
		case binPow:
			for j := range ys {
				ys[j] = powf(xa[j*sa], xb[j*sb])
			}
		}
	})
	return []*tensor{y}, nil
}

func powf(x, e float32) float32 {
	switch e {
	case 2:
		return x * x
	case 1:
		return x
	case 0.5:
		return float32(math.Sqrt(float64(x)))
	}
	return float32(math.Pow(float64(x), float64(e)))
}

func (o *binaryOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	a, b, g := in[0], in[1], gout[0]
	sa, sb, shape, err := o.shapes(a, b)
	if err != nil {
		return nil, err
	}
	res := make([]*tensor, 2)
	// grad computes d loss / d input k: elementwise term(g, a, b, y) over
	// the output shape, summed down to the input's shape.
	grad := func(k int, target []int, term func(g, x, z, y float32) float32) {
		var tmp *tensor
		if term == nil {
			tmp = g
		} else {
			tmp = c.pool.newFloat(shape)
			strides := [][]int{stridesOf(shape), bcastStrides(sa, shape), bcastStrides(sb, shape)}
			var yf []float32
			if len(out) > 0 && out[0] != nil {
				yf = out[0].f
			}
			var af, bf []float32
			af = a.f
			if b.isFloat() {
				bf = b.f
			} else if b.i != nil {
				bf = make([]float32, len(b.i))
				for i, v := range b.i {
					bf[i] = float32(v)
				}
			}
			forRows(shape, []int{0, 0, 0}, strides, func(off []int, n int, st []int) {
				pa, pb := off[1], off[2]
				for j := 0; j < n; j++ {
					var x, z, y float32
					if af != nil {
						x = af[pa]
					}
					if bf != nil {
						z = bf[pb]
					}
					if yf != nil {
						y = yf[off[0]+j]
					}
					tmp.f[off[0]+j] = term(g.f[off[0]+j], x, z, y)
					pa += st[1]
					pb += st[2]
				}
			})
		}
		inShape := in[k].shape
		if shapeEq(target, shape) {
			if tmp == g {
				res[k] = aliasGrad(g, inShape)
			} else {
				tmp.shape = cloneShape(inShape)
				res[k] = tmp
			}
			return
		}
		r := c.pool.newFloat(cloneShape(inShape))
		reduceTo(r.f, tmp.f, shape, target)
		if tmp != g {
			c.pool.release(tmp)
		}
		res[k] = r
	}
	switch o.kind {
	case binAdd:
		if want[0] {
			grad(0, sa, nil)
		}
		if want[1] {
			grad(1, sb, nil)
		}
	case binSub:
		if want[0] {
			grad(0, sa, nil)
		}
		if want[1] {
			grad(1, sb, func(g, _, _, _ float32) float32 { return -g })
		}
	case binMul:
		if want[0] {
			grad(0, sa, func(g, _, z, _ float32) float32 { return g * z })
		}
		if want[1] {
			grad(1, sb, func(g, x, _, _ float32) float32 { return g * x })
		}
	case binDiv:
		if want[0] {
			grad(0, sa, func(g, _, z, _ float32) float32 { return g / z })
		}
		if want[1] {
			grad(1, sb, func(g, x, z, _ float32) float32 { return -g * x / (z * z) })
		}
	case binPow:
		if want[0] {
			grad(0, sa, func(g, x, z, _ float32) float32 {
				if z == 0 {
					return 0
				}
				return g * z * powf(x, z-1)
			})
		}
		if want[1] {
			grad(1, sb, func(g, x, _, y float32) float32 {
				if x <= 0 {
					return 0
				}
				return g * y * float32(math.Log(float64(x)))
			})
		}
	}
	return res, nil
}
