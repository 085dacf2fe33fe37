package train

// View ops: Reshape, Flatten, Squeeze and Unsqueeze change a tensor's shape,
// not its elements.

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
)

func init() {
	register("Reshape", buildReshape)
	register("Flatten", buildFlatten)
	register("Squeeze", buildSqueeze)
	register("Unsqueeze", buildUnsqueeze)
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

// axesFrom returns the axes of Squeeze/Unsqueeze: the axes attribute
// (before opset 13), or optional input k when fromInput. given is false when
// the attribute or the input is absent (Squeeze then drops every dimension
// of size 1).
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
