package train

import (
	"fmt"
	"math"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// unaryOp is an elementwise float function y = f(x) with dy/dx = d(x, y).
// fs and ds, when set, do the same over whole slices (the hot activations
// get hand-written loops).
type unaryOp struct {
	f  func(x float32) float32
	d  func(x, y float32) float32
	fs func(y, x []float32)
	ds func(gx, g, x, y []float32)
}

const elemGrain = 1 << 15

func (o *unaryOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	y := c.pool.newFloat(cloneShape(x.shape))
	parallelFor(c.threads, len(x.f), elemGrain, func(lo, hi int) {
		xs, ys := x.f[lo:hi], y.f[lo:hi]
		if o.fs != nil {
			o.fs(ys, xs)
			return
		}
		for i, v := range xs {
			ys[i] = o.f(v)
		}
	})
	return []*tensor{y}, nil
}

func (o *unaryOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	g := gout[0]
	gx := c.pool.newFloat(cloneShape(in[0].shape))
	x, y := in[0].f, out[0].f
	parallelFor(c.threads, len(g.f), elemGrain, func(lo, hi int) {
		var xs, ys []float32
		if x != nil {
			xs = x[lo:hi]
		}
		if y != nil {
			ys = y[lo:hi]
		}
		if o.ds != nil {
			o.ds(gx.f[lo:hi], g.f[lo:hi], xs, ys)
			return
		}
		for i := lo; i < hi; i++ {
			var xv, yv float32
			if x != nil {
				xv = x[i]
			}
			if y != nil {
				yv = y[i]
			}
			gx.f[i] = g.f[i] * o.d(xv, yv)
		}
	})
	return []*tensor{gx}, nil
}

// buildRelu is Relu with the kernels package's slice loops.
func buildRelu(b *buildCtx) (built, error) {
	res, err := unary(simple(func(x float32) float32 { return max(x, 0) }, func(_, y float32) float32 {
		if y > 0 {
			return 1
		}
		return 0
	}), useY)(b)
	if err != nil {
		return res, err
	}
	o := res.op.(*unaryOp)
	o.fs = kernels.Relu
	// y > 0 exactly where x > 0, so y stands in for x.
	o.ds = func(gx, g, _, y []float32) { kernels.ReluBackward(gx, g, y[:len(gx)]) }
	return res, nil
}

const (
	useX = 1 << iota
	useY
)

// unary registers a float elementwise op; uses says whether its derivative
// reads x, y or both.
func unary(mk func(b *buildCtx) (f func(float32) float32, d func(x, y float32) float32, err error), uses int) builder {
	return func(b *buildCtx) (built, error) {
		if err := b.needInputs(1, 1); err != nil {
			return built{}, err
		}
		if err := b.needFloat(0); err != nil {
			return built{}, err
		}
		f, d, err := mk(b)
		if err != nil {
			return built{}, err
		}
		g := gradSpec{diffIn: 1}
		if uses&useX != 0 {
			g.saveIn = 1
		}
		if uses&useY != 0 {
			g.saveOut = 1
		}
		if d == nil {
			g = gradSpec{}
		}
		return built{op: &unaryOp{f: f, d: d}, out: outs(onnxio.Float32, b.nOut), grad: g}, nil
	}
}

func simple(f func(float32) float32, d func(x, y float32) float32) func(*buildCtx) (func(float32) float32, func(x, y float32) float32, error) {
	return func(*buildCtx) (func(float32) float32, func(x, y float32) float32, error) { return f, d, nil }
}

func f64(f func(float64) float64) func(float32) float32 {
	return func(x float32) float32 { return float32(f(float64(x))) }
}

func sigmoid(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

const sqrt2OverPi = 0.7978845608028654

func zeroGrad(_, _ float32) float32 { return 0 }

func init() {
	for name, build := range map[string]builder{
		"Relu": buildRelu,
		"LeakyRelu": unary(func(b *buildCtx) (func(float32) float32, func(x, y float32) float32, error) {
			a := b.attrFloat("alpha", 0.01)
			return func(x float32) float32 {
					if x >= 0 {
						return x
					}
					return a * x
				}, func(x, _ float32) float32 {
					if x > 0 {
						return 1
					}
					return a
				}, nil
		}, useX),
		"Sigmoid": unary(simple(sigmoid, func(_, y float32) float32 { return y * (1 - y) }), useY),
		"Tanh":    unary(simple(f64(math.Tanh), func(_, y float32) float32 { return 1 - y*y }), useY),
		"Erf": unary(simple(f64(math.Erf), func(x, _ float32) float32 {
			return float32(2 / math.SqrtPi * math.Exp(-float64(x)*float64(x)))
		}), useX),
		"Gelu": unary(func(b *buildCtx) (func(float32) float32, func(x, y float32) float32, error) {
			switch b.attrString("approximate", "none") {
			case "none":
				return func(x float32) float32 {
						v := float64(x)
						return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
					}, func(x, _ float32) float32 {
						v := float64(x)
						return float32(0.5*(1+math.Erf(v/math.Sqrt2)) + v*math.Exp(-v*v/2)/math.Sqrt(2*math.Pi))
					}, nil
			case "tanh":
				return func(x float32) float32 {
						v := float64(x)
						return float32(0.5 * v * (1 + math.Tanh(sqrt2OverPi*(v+0.044715*v*v*v))))
					}, func(x, _ float32) float32 {
						v := float64(x)
						t := math.Tanh(sqrt2OverPi * (v + 0.044715*v*v*v))
						return float32(0.5*(1+t) + 0.5*v*(1-t*t)*sqrt2OverPi*(1+3*0.044715*v*v))
					}, nil
			}
			return nil, nil, b.unsupported("approximate=%q", b.attrString("approximate", ""))
		}, useX),
		"HardSigmoid": unary(func(b *buildCtx) (func(float32) float32, func(x, y float32) float32, error) {
			a, c := b.attrFloat("alpha", 0.2), b.attrFloat("beta", 0.5)
			return func(x float32) float32 { return max(0, min(1, a*x+c)) },
				func(x, _ float32) float32 {
					if v := a*x + c; v > 0 && v < 1 {
						return a
					}
					return 0
				}, nil
		}, useX),
		"HardSwish": unary(simple(func(x float32) float32 { return x * max(0, min(1, x/6+0.5)) },
			func(x, _ float32) float32 {
				switch {
				case x < -3:
					return 0
				case x > 3:
					return 1
				}
				return x/3 + 0.5
			}), useX),
		"Sqrt": unary(simple(f64(math.Sqrt), func(_, y float32) float32 { return 0.5 / y }), useY),
		"Exp":  unary(simple(f64(math.Exp), func(_, y float32) float32 { return y }), useY),
		"Log":  unary(simple(f64(math.Log), func(x, _ float32) float32 { return 1 / x }), useX),
		"Abs": unary(simple(func(x float32) float32 { return float32(math.Abs(float64(x))) },
			func(x, _ float32) float32 {
				switch {
				case x > 0:
					return 1
				case x < 0:
					return -1
				}
				return 0
			}), useX),
		"Reciprocal": unary(simple(func(x float32) float32 { return 1 / x }, func(_, y float32) float32 { return -y * y }), useY),
		"Softplus": unary(simple(func(x float32) float32 {
			v := float64(x)
			if v > 0 {
				return float32(v + math.Log1p(math.Exp(-v)))
			}
			return float32(math.Log1p(math.Exp(v)))
		}, func(x, _ float32) float32 { return sigmoid(x) }), useX),
		"Softsign": unary(simple(func(x float32) float32 { return x / (1 + float32(math.Abs(float64(x)))) },
			func(x, _ float32) float32 {
				d := 1 + float32(math.Abs(float64(x)))
				return 1 / (d * d)
			}), useX),
		"Elu": unary(func(b *buildCtx) (func(float32) float32, func(x, y float32) float32, error) {
			a := b.attrFloat("alpha", 1)
			return func(x float32) float32 {
					if x >= 0 {
						return x
					}
					return a * float32(math.Expm1(float64(x)))
				}, func(x, y float32) float32 {
					if x > 0 {
						return 1
					}
					return y + a
				}, nil
		}, useX|useY),
		"Selu": unary(func(b *buildCtx) (func(float32) float32, func(x, y float32) float32, error) {
			a := b.attrFloat("alpha", 1.67326319217681884765625)
			g := b.attrFloat("gamma", 1.05070102214813232421875)
			return func(x float32) float32 {
					if x > 0 {
						return g * x
					}
					return g * a * float32(math.Expm1(float64(x)))
				}, func(x, y float32) float32 {
					if x > 0 {
						return g
					}
					return y + g*a
				}, nil
		}, useX|useY),
		"Sin": unary(simple(f64(math.Sin), func(x, _ float32) float32 { return float32(math.Cos(float64(x))) }), useX),
		"Cos": unary(simple(f64(math.Cos), func(x, _ float32) float32 { return -float32(math.Sin(float64(x))) }), useX),
		// Piecewise-constant functions: zero gradient almost everywhere.
		"Floor": unary(simple(f64(math.Floor), zeroGrad), 0),
		"Ceil":  unary(simple(f64(math.Ceil), zeroGrad), 0),
		"Round": unary(simple(f64(math.RoundToEven), zeroGrad), 0),
		"Sign": unary(simple(func(x float32) float32 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return 0
		}, zeroGrad), 0),
		"Neg":      buildNeg,
		"Identity": buildIdentity,
		"Clip":     buildClip,
	} {
		register(name, build)
	}
}

// Neg works on floats (with a gradient) and on integers.
type negOp struct{}

func buildNeg(b *buildCtx) (built, error) {
	if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	d := b.input(0)
	if d == onnxio.Bool || (d != onnxio.Float32 && !isIntType(d)) {
		return built{}, b.unsupported("input is %s", d)
	}
	g := gradSpec{}
	if d == onnxio.Float32 {
		g.diffIn = 1
	}
	return built{op: negOp{}, out: []onnxio.DType{d}, grad: g}, nil
}

func (negOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	y := c.pool.newLike(x, cloneShape(x.shape))
	if x.isFloat() {
		for i, v := range x.f {
			y.f[i] = -v
		}
	} else {
		for i, v := range x.i {
			y.i[i] = -v
		}
		wrapInts(x.dtype, y.i)
	}
	return []*tensor{y}, nil
}

func (negOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	g := gout[0]
	gx := c.pool.newFloat(cloneShape(in[0].shape))
	for i, v := range g.f {
		gx.f[i] = -v
	}
	return []*tensor{gx}, nil
}

// Identity copies its input (any type); its gradient passes through.
type identityOp struct{}

func buildIdentity(b *buildCtx) (built, error) {
	if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	d := b.input(0)
	g := gradSpec{}
	if d == onnxio.Float32 {
		g.diffIn = 1
	}
	return built{op: identityOp{}, out: []onnxio.DType{d}, grad: g}, nil
}

func (identityOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	return []*tensor{copyTensor(c.pool, in[0], cloneShape(in[0].shape))}, nil
}

func (identityOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	return []*tensor{aliasGrad(gout[0], in[0].shape)}, nil
}

// clipOp bounds x to [min, max]; opset < 11 takes the bounds as attributes,
// later opsets as optional scalar inputs.
type clipOp struct {
	attrs  bool
	lo, hi float32
}

func buildClip(b *buildCtx) (built, error) {
	o := &clipOp{}
	if b.opset < 11 {
		if err := b.needInputs(1, 1); err != nil {
			return built{}, err
		}
		o.attrs = true
		o.lo = b.attrFloat("min", -math.MaxFloat32)
		o.hi = b.attrFloat("max", math.MaxFloat32)
	} else if err := b.needInputs(1, 3); err != nil {
		return built{}, err
	}
	d := b.input(0)
	if d != onnxio.Float32 && !isIntType(d) {
		return built{}, b.unsupported("input is %s", d)
	}
	for k := 1; k < 3; k++ {
		if t := b.input(k); t != onnxio.Undefined && t != d {
			return built{}, b.errorf("bound %d is %s, input is %s", k, t, d)
		}
	}
	g := gradSpec{}
	if d == onnxio.Float32 {
		g = gradSpec{diffIn: 1, saveIn: 0b111}
	}
	return built{op: o, out: []onnxio.DType{d}, grad: g}, nil
}

func (o *clipOp) bounds(in []*tensor) (lo, hi float64, err error) {
	if o.attrs {
		return float64(o.lo), float64(o.hi), nil
	}
	lo, hi = math.Inf(-1), math.Inf(1)
	if in[0].isFloat() {
		lo, hi = -math.MaxFloat32, math.MaxFloat32
	}
	for k, p := range []*float64{&lo, &hi} {
		if k+1 < len(in) && in[k+1] != nil {
			t := in[k+1]
			if t.size() != 1 {
				return 0, 0, fmt.Errorf("clip bound has shape %v, want a scalar", t.shape)
			}
			if t.isFloat() {
				*p = float64(t.f[0])
			} else {
				*p = float64(t.i[0])
			}
		}
	}
	return lo, hi, nil
}

func (o *clipOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	lo, hi, err := o.bounds(in)
	if err != nil {
		return nil, err
	}
	x := in[0]
	y := c.pool.newLike(x, cloneShape(x.shape))
	if x.isFloat() {
		l, h := float32(lo), float32(hi)
		for i, v := range x.f {
			y.f[i] = min(max(v, l), h)
		}
	} else {
		for i, v := range x.i {
			fv := float64(v)
			switch {
			case fv < lo:
				y.i[i] = int64(lo)
			case fv > hi:
				y.i[i] = int64(hi)
			default:
				y.i[i] = v
			}
		}
	}
	return []*tensor{y}, nil
}

func (o *clipOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	lo, hi, err := o.bounds(in)
	if err != nil {
		return nil, err
	}
	l, h := float32(lo), float32(hi)
	x, g := in[0], gout[0]
	gx := c.pool.newFloat(cloneShape(x.shape))
	for i, v := range x.f {
		if v >= l && v <= h {
			gx.f[i] = g.f[i]
		} else {
			gx.f[i] = 0
		}
	}
	res := make([]*tensor, len(in))
	res[0] = gx
	return res, nil
}
