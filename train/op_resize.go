package train

import (
	"fmt"
	"math"

	"github.com/shrinkml/shrink/onnxio"
)

// resizeOp is Resize (and the older Upsample) in nearest or (n-)linear
// mode, applied one axis at a time: along each resized axis, output index o
// reads w0·x[i0] + w1·x[i1] (nearest: i1 unused). Separable passes give
// n-linear interpolation exactly; the gradient applies the passes' adjoints
// in reverse.
type resizeOp struct {
	linear     bool
	coord      string
	nearest    string
	scalesIn   int // input index of scales, -1 if none
	sizesIn    int // input index of sizes, -1 if none
	attrScales []float32
	// the last forward pass's plan
	passes []resizePass
}

type resizePass struct {
	axis   int
	before []int // shape before the pass
	out    int
	i0, i1 []int32
	w0, w1 []float32
}

func buildResize(upsample bool) builder {
	return func(b *buildCtx) (built, error) {
		o := &resizeOp{scalesIn: -1, sizesIn: -1, coord: "half_pixel", nearest: "round_prefer_floor"}
		switch {
		case upsample && b.opset < 9:
			if err := b.needInputs(1, 1); err != nil {
				return built{}, err
			}
			o.attrScales = b.attrFloats("scales", nil)
			if o.attrScales == nil {
				return built{}, b.errorf("scales attribute is required")
			}
		case upsample || b.opset < 11:
			if err := b.needInputs(2, 2); err != nil {
				return built{}, err
			}
			o.scalesIn = 1
		default:
			if err := b.needInputs(1, 4); err != nil {
				return built{}, err
			}
			o.scalesIn, o.sizesIn = 2, 3
		}
		if upsample || b.opset < 11 {
			// Upsample and Resize-10: asymmetric coordinates; nearest
			// rounds down when enlarging and up when shrinking.
			o.coord, o.nearest = "asymmetric", "simple"
		}
		switch mode := b.attrString("mode", "nearest"); mode {
		case "nearest":
		case "linear", "bilinear":
			o.linear = true
		default:
			return built{}, b.unsupported("mode=%q", mode)
		}
		if !upsample && b.opset >= 11 {
			o.coord = b.attrString("coordinate_transformation_mode", o.coord)
			o.nearest = b.attrString("nearest_mode", o.nearest)
		}
		switch o.coord {
		case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric":
		case "tf_half_pixel_for_nn":
			if o.linear {
				return built{}, b.unsupported("coordinate_transformation_mode=%q with linear mode", o.coord)
			}
		default:
			return built{}, b.unsupported("coordinate_transformation_mode=%q", o.coord)
		}
		switch o.nearest {
		case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple":
		default:
			return built{}, b.unsupported("nearest_mode=%q", o.nearest)
		}
		if b.attrInt("antialias", 0) != 0 {
			return built{}, b.unsupported("antialias")
		}
		if b.hasAttr("axes") {
			return built{}, b.unsupported("axes attribute")
		}
		if p := b.attrString("keep_aspect_ratio_policy", "stretch"); p != "stretch" {
			return built{}, b.unsupported("keep_aspect_ratio_policy=%q", p)
		}
		if err := b.needFloat(0); err != nil {
			return built{}, err
		}
		return built{op: o, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 1}}, nil
	}
}

func init() {
	register("Resize", buildResize(false))
	register("Upsample", buildResize(true))
}

// targets returns the output size and scale of every axis.
func (o *resizeOp) targets(in []*tensor) ([]int, []float32, error) {
	x := in[0]
	r := len(x.shape)
	sizes := make([]int, r)
	scales := make([]float32, r)
	arg := func(k int) *tensor {
		if k >= 0 && k < len(in) && in[k] != nil && in[k].size() > 0 {
			return in[k]
		}
		return nil
	}
	switch st, sz := arg(o.scalesIn), arg(o.sizesIn); {
	case o.attrScales != nil || st != nil:
		sc := o.attrScales
		if st != nil {
			if !st.isFloat() {
				return nil, nil, fmt.Errorf("scales must be float")
			}
			sc = st.f
		}
		if len(sc) != r {
			return nil, nil, fmt.Errorf("%d scales for rank %d", len(sc), r)
		}
		for i, s := range sc {
			if !(s > 0) {
				return nil, nil, fmt.Errorf("scale %g must be positive", s)
			}
			scales[i] = s
			sizes[i] = int(math.Floor(float64(float32(x.shape[i]) * s)))
		}
	case sz != nil:
		if sz.isFloat() || len(sz.i) != r {
			return nil, nil, fmt.Errorf("sizes must be %d integers", r)
		}
		for i, v := range sz.i {
			if v < 0 {
				return nil, nil, fmt.Errorf("negative size %d", v)
			}
			sizes[i] = int(v)
			scales[i] = float32(v) / float32(x.shape[i])
		}
	default:
		return nil, nil, fmt.Errorf("neither scales nor sizes given")
	}
	return sizes, scales, nil
}

// source maps output index o of an axis to a fractional input coordinate.
func (o *resizeOp) source(out, in, length int, scale float32) float32 {
	x := float32(out)
	switch o.coord {
	case "half_pixel":
		return (x+0.5)/scale - 0.5
	case "pytorch_half_pixel":
		if length > 1 {
			return (x+0.5)/scale - 0.5
		}
		return 0
	case "align_corners":
		if length == 1 {
			return 0
		}
		return x * float32(in-1) / float32(length-1)
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / scale
	}
	return x / scale // asymmetric
}

func (o *resizeOp) round(v, scale float32) int {
	switch o.nearest {
	case "round_prefer_ceil":
		return int(math.Floor(float64(v) + 0.5))
	case "floor":
		return int(math.Floor(float64(v)))
	case "ceil":
		return int(math.Ceil(float64(v)))
	case "simple":
		if scale < 1 {
			return int(math.Ceil(float64(v)))
		}
		return int(v)
	}
	// round_prefer_floor: halves go down
	if v == float32(math.Floor(float64(v)))+0.5 {
		return int(math.Floor(float64(v)))
	}
	return int(math.Round(float64(v)))
}

func (o *resizeOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	sizes, scales, err := o.targets(in)
	if err != nil {
		return nil, err
	}
	o.passes = o.passes[:0]
	shape := cloneShape(x.shape)
	for ax := range shape {
		n, length := shape[ax], sizes[ax]
		if n == length && scales[ax] == 1 {
			continue
		}
		p := resizePass{axis: ax, before: cloneShape(shape), out: length,
			i0: make([]int32, length), w0: make([]float32, length)}
		if o.linear {
			p.i1, p.w1 = make([]int32, length), make([]float32, length)
		}
		for k := 0; k < length; k++ {
			s := o.source(k, n, length, scales[ax])
			if !o.linear {
				p.i0[k] = int32(min(max(o.round(s, scales[ax]), 0), n-1))
				p.w0[k] = 1
				continue
			}
			s = min(max(s, 0), float32(n-1))
			i0 := min(int(s), n-1)
			i1 := min(i0+1, n-1)
			f := s - float32(i0)
			p.i0[k], p.i1[k] = int32(i0), int32(i1)
			p.w0[k], p.w1[k] = 1-f, f
		}
		if n == 0 && length > 0 {
			return nil, fmt.Errorf("cannot resize an empty axis to %d", length)
		}
		o.passes = append(o.passes, p)
		shape[ax] = length
	}
	cur := x
	for _, p := range o.passes {
		next := c.pool.newFloat(afterPass(p))
		p.apply(next.f, cur.f)
		if cur != x {
			c.pool.release(cur)
		}
		cur = next
	}
	if cur == x {
		cur = copyTensor(c.pool, x, cloneShape(x.shape))
	}
	return []*tensor{cur}, nil
}

func afterPass(p resizePass) []int {
	s := cloneShape(p.before)
	s[p.axis] = p.out
	return s
}

// apply runs one pass: dst[outer, k, inner] = w0·src[outer, i0, inner] +
// w1·src[outer, i1, inner].
func (p *resizePass) apply(dst, src []float32) {
	outer := prod(p.before[:p.axis])
	n := p.before[p.axis]
	inner := prod(p.before[p.axis+1:])
	for r := 0; r < outer; r++ {
		s := src[r*n*inner : (r+1)*n*inner]
		d := dst[r*p.out*inner : (r+1)*p.out*inner]
		for k := 0; k < p.out; k++ {
			row := d[k*inner : (k+1)*inner]
			a := s[int(p.i0[k])*inner : (int(p.i0[k])+1)*inner]
			if p.i1 == nil {
				copy(row, a)
				continue
			}
			b := s[int(p.i1[k])*inner : (int(p.i1[k])+1)*inner]
			w0, w1 := p.w0[k], p.w1[k]
			for i := range row {
				row[i] = w0*a[i] + w1*b[i]
			}
		}
	}
}

// adjoint adds the pass's transpose: dsrc[outer, i0] += w0·ddst[outer, k]
// (and i1, w1); dsrc must be zeroed by the caller.
func (p *resizePass) adjoint(dsrc, ddst []float32) {
	outer := prod(p.before[:p.axis])
	n := p.before[p.axis]
	inner := prod(p.before[p.axis+1:])
	for r := 0; r < outer; r++ {
		s := dsrc[r*n*inner : (r+1)*n*inner]
		d := ddst[r*p.out*inner : (r+1)*p.out*inner]
		for k := 0; k < p.out; k++ {
			row := d[k*inner : (k+1)*inner]
			a := s[int(p.i0[k])*inner : (int(p.i0[k])+1)*inner]
			w0 := p.w0[k]
			for i, v := range row {
				a[i] += w0 * v
			}
			if p.i1 == nil {
				continue
			}
			b := s[int(p.i1[k])*inner : (int(p.i1[k])+1)*inner]
			w1 := p.w1[k]
			for i, v := range row {
				b[i] += w1 * v
			}
		}
	}
}

func (o *resizeOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	g := gout[0]
	res := make([]*tensor, len(in))
	if len(o.passes) == 0 {
		res[0] = aliasGrad(g, in[0].shape)
		return res, nil
	}
	cur := g
	for k := len(o.passes) - 1; k >= 0; k-- {
		p := o.passes[k]
		prev := c.pool.zeroFloat(cloneShape(p.before))
		p.adjoint(prev.f, cur.f)
		if cur != g {
			c.pool.release(cur)
		}
		cur = prev
	}
	res[0] = cur
	return res, nil
}
