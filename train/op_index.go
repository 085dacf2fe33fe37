package train

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
)

// indexPass gathers along one axis: output index k reads input index
// src[k], or the fill value where src[k] is -1. Pad and Tile are sequences
// of such passes; their gradient is the passes' adjoints in reverse.
type indexPass struct {
	axis   int
	before []int
	src    []int32
}

func (p *indexPass) after() []int {
	s := cloneShape(p.before)
	s[p.axis] = len(p.src)
	return s
}

func runPasses[T float32 | int64](c *runCtx, passes []indexPass, x []T, fill T, alloc func([]int) []T) []T {
	cur := x
	for _, p := range passes {
		outer := prod(p.before[:p.axis])
		n := p.before[p.axis]
		inner := prod(p.before[p.axis+1:])
		m := len(p.src)
		next := alloc(p.after())
		for r := 0; r < outer; r++ {
			for k, s := range p.src {
				d := next[(r*m+k)*inner : (r*m+k+1)*inner]
				if s < 0 {
					for i := range d {
						d[i] = fill
					}
					continue
				}
				copy(d, cur[(r*n+int(s))*inner:(r*n+int(s)+1)*inner])
			}
		}
		cur = next
	}
	return cur
}

// adjointPasses returns the gradient of the input of passes given the
// gradient of their output.
func adjointPasses(c *runCtx, passes []indexPass, g *tensor) *tensor {
	cur := g
	for q := len(passes) - 1; q >= 0; q-- {
		p := passes[q]
		outer := prod(p.before[:p.axis])
		n := p.before[p.axis]
		inner := prod(p.before[p.axis+1:])
		m := len(p.src)
		prev := c.pool.zeroFloat(cloneShape(p.before))
		for r := 0; r < outer; r++ {
			for k, s := range p.src {
				if s < 0 {
					continue
				}
				d := prev.f[(r*n+int(s))*inner : (r*n+int(s)+1)*inner]
				for i, v := range cur.f[(r*m+k)*inner : (r*m+k+1)*inner] {
					d[i] += v
				}
			}
		}
		if cur != g {
			c.pool.release(cur)
		}
		cur = prev
	}
	return cur
}

// passOp runs index passes planned from its inputs.
type passOp struct {
	plan   func(in []*tensor) ([]indexPass, float32, int64, error)
	passes []indexPass
}

func (o *passOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	passes, ff, fi, err := o.plan(in)
	if err != nil {
		return nil, err
	}
	o.passes = passes
	shape := cloneShape(x.shape)
	if len(passes) > 0 {
		shape = passes[len(passes)-1].after()
	}
	var intermediates []*tensor
	if x.isFloat() {
		out := runPasses(c, passes, x.f, ff, func(s []int) []float32 {
			t := c.pool.newFloat(s)
			intermediates = append(intermediates, t)
			return t.f
		})
		y := c.pool.newFloat(shape)
		copy(y.f, out)
		for _, t := range intermediates {
			c.pool.release(t)
		}
		return []*tensor{y}, nil
	}
	out := runPasses(c, passes, x.i, fi, func(s []int) []int64 {
		t := c.pool.newInt(x.dtype, s)
		intermediates = append(intermediates, t)
		return t.i
	})
	y := c.pool.newInt(x.dtype, shape)
	copy(y.i, out)
	for _, t := range intermediates {
		c.pool.release(t)
	}
	return []*tensor{y}, nil
}

func (o *passOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	res := make([]*tensor, len(in))
	if len(o.passes) == 0 {
		res[0] = aliasGrad(gout[0], in[0].shape)
		return res, nil
	}
	res[0] = adjointPasses(c, o.passes, gout[0])
	return res, nil
}

func buildPad(b *buildCtx) (built, error) {
	mode := b.attrString("mode", "constant")
	switch mode {
	case "constant", "reflect", "edge":
	default:
		return built{}, b.unsupported("mode=%q", mode)
	}
	fromInput := b.opset >= 11
	if fromInput {
		if err := b.needInputs(2, 3); err != nil {
			return built{}, err
		}
		if len(b.in) > 3 && b.in[3] != onnxio.Undefined {
			return built{}, b.unsupported("axes input")
		}
		if err := b.needInt(1); err != nil {
			return built{}, err
		}
	} else if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	attrPads := b.attrInts("pads", b.attrInts("paddings", nil))
	attrValue := b.attrFloat("value", 0)
	d := b.input(0)
	if d != onnxio.Float32 && !isIntType(d) {
		return built{}, b.unsupported("input is %s", d)
	}
	o := &passOp{plan: func(in []*tensor) ([]indexPass, float32, int64, error) {
		x := in[0]
		pads := attrPads
		var ff float32 = attrValue
		var fi int64
		if fromInput {
			var err error
			if pads, err = intsOf(in[1]); err != nil {
				return nil, 0, 0, err
			}
			if len(in) > 2 && in[2] != nil && in[2].size() > 0 {
				if in[2].isFloat() {
					ff = in[2].f[0]
				} else {
					fi = in[2].i[0]
				}
			}
		}
		r := len(x.shape)
		if len(pads) != 2*r {
			return nil, 0, 0, fmt.Errorf("pads %v for rank %d", pads, r)
		}
		var passes []indexPass
		shape := cloneShape(x.shape)
		for ax := 0; ax < r; ax++ {
			pb, pe := int(pads[ax]), int(pads[ax+r])
			if pb == 0 && pe == 0 {
				continue
			}
			n := shape[ax]
			m := n + pb + pe
			if m < 0 {
				return nil, 0, 0, fmt.Errorf("pads %v crop axis %d of %v below zero", pads, ax, x.shape)
			}
			if mode != "constant" && n == 0 && m > 0 {
				return nil, 0, 0, fmt.Errorf("%s padding of an empty axis", mode)
			}
			src := make([]int32, m)
			for k := range src {
				i := k - pb
				switch {
				case i >= 0 && i < n:
				case mode == "constant":
					i = -1
				case mode == "edge":
					i = min(max(i, 0), n-1)
				default: // reflect, without repeating the edge
					if n == 1 {
						i = 0
						break
					}
					period := 2 * (n - 1)
					i = ((i % period) + period) % period
					if i >= n {
						i = period - i
					}
				}
				src[k] = int32(i)
			}
			passes = append(passes, indexPass{axis: ax, before: cloneShape(shape), src: src})
			shape[ax] = m
		}
		return passes, ff, fi, nil
	}}
	return built{op: o, out: []onnxio.DType{d}, grad: floatGrad(d, gradSpec{diffIn: 1})}, nil
}

func buildTile(b *buildCtx) (built, error) {
	if err := b.needInputs(2, 2); err != nil {
		return built{}, err
	}
	if err := b.needInt(1); err != nil {
		return built{}, err
	}
	d := b.input(0)
	o := &passOp{plan: func(in []*tensor) ([]indexPass, float32, int64, error) {
		x := in[0]
		reps, err := intsOf(in[1])
		if err != nil {
			return nil, 0, 0, err
		}
		if len(reps) != len(x.shape) {
			return nil, 0, 0, fmt.Errorf("repeats %v for rank %d", reps, len(x.shape))
		}
		var passes []indexPass
		shape := cloneShape(x.shape)
		for ax, rep := range reps {
			if rep < 0 {
				return nil, 0, 0, fmt.Errorf("negative repeat %d", rep)
			}
			if rep == 1 {
				continue
			}
			n := shape[ax]
			src := make([]int32, n*int(rep))
			for k := range src {
				src[k] = int32(k % max(n, 1))
			}
			passes = append(passes, indexPass{axis: ax, before: cloneShape(shape), src: src})
			shape[ax] = len(src)
		}
		return passes, 0, 0, nil
	}}
	return built{op: o, out: []onnxio.DType{d}, grad: floatGrad(d, gradSpec{diffIn: 1})}, nil
}

func init() {
	register("Pad", buildPad)
	register("Tile", buildTile)
}
