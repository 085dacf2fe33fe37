package train

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// ErrNoForward is returned by Backward when no Training or EvalGrad
// forward pass is waiting for it.
var ErrNoForward = errors.New("backward needs a forward pass in Training or EvalGrad mode first")

// Backward back-propagates from the given output gradients (d loss /
// d output, by tensor name, each the size of that tensor; the tensor may be
// any kept float tensor: a graph output or one listed in Options.Outputs)
// through the last forward pass, adding the weights' gradients into
// Param.Grad. It consumes that pass: the activations it kept are released.
func (e *Executor) Backward(ctx context.Context, grads map[string][]float32) error {
	if !e.ran {
		return ErrNoForward
	}
	e.ran = false
	c := &runCtx{pool: &e.pool, threads: e.threads, train: e.lastMode == Training, grad: true, rng: e.rng, bf16: e.precision == BF16}
	seeded := false
	names := make([]string, 0, len(grads))
	for name := range grads {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		g := grads[name]
		idx, ok := e.byName[name]
		if !ok {
			e.resetRun()
			return fmt.Errorf("backward: no tensor %q in the graph", name)
		}
		s := e.slots[idx]
		v := e.value(idx)
		if s.dtype != onnxio.Float32 || v == nil {
			e.resetRun()
			return fmt.Errorf("backward: %q is not a float tensor of the last forward pass", name)
		}
		if len(g) != v.size() {
			e.resetRun()
			return fmt.Errorf("backward: gradient for %q has %d elements, the tensor has %d (shape %v)", name, len(g), v.size(), v.shape)
		}
		if !s.rg {
			continue
		}
		seeded = true
		t := e.pool.newFloat(cloneShape(v.shape))
		copy(t.f, g)
		s.grad = t
	}
	if !seeded {
		e.resetRun()
		return fmt.Errorf("backward: none of %v depends on a trainable weight", names)
	}
	gouts := make([]*tensor, 0, 4)
	ins := make([]*tensor, 0, 8)
	outs := make([]*tensor, 0, 4)
	for j := len(e.steps) - 1; j >= 0; j-- {
		st := e.steps[j]
		if err := ctx.Err(); err != nil {
			e.resetRun()
			return err
		}
		if st.active {
			gouts = gouts[:0]
			have := false
			for _, idx := range st.out {
				var g *tensor
				if idx >= 0 {
					g = e.slots[idx].grad
				}
				have = have || g != nil
				gouts = append(gouts, g)
			}
			if have {
				ins, outs = ins[:0], outs[:0]
				for _, idx := range st.in {
					ins = append(ins, e.value(idx))
				}
				for k, idx := range st.out {
					o := e.value(idx)
					outs = append(outs, o)
					if gouts[k] == nil && o != nil && o.dtype == onnxio.Float32 && st.grad.constOut&(1<<k) == 0 {
						gouts[k] = e.pool.zeroFloat(cloneShape(o.shape))
						e.slots[idx].grad = gouts[k]
					}
				}
				c.gradInto = c.gradInto[:0]
				for k, idx := range st.in {
					var dst []float32
					if idx >= 0 && st.want[k] && e.slots[idx].param != nil {
						dst = e.slots[idx].param.Grad
					}
					c.gradInto = append(c.gradInto, dst)
				}
				gins, err := callBackward(st, c, ins, outs, gouts)
				if err != nil {
					e.resetRun()
					return err
				}
				if err := e.accumulate(st, gins, gouts); err != nil {
					e.resetRun()
					return err
				}
			}
			for _, idx := range st.out {
				if idx >= 0 && e.slots[idx].grad != nil {
					e.pool.release(e.slots[idx].grad)
					e.slots[idx].grad = nil
				}
			}
		}
		for _, idx := range e.releaseBack[j] {
			e.pool.release(e.slots[idx].val)
		}
	}
	for _, s := range e.slots {
		if s.grad != nil && s.kind != kindInput {
			e.pool.release(s.grad)
			s.grad = nil
		}
	}
	for _, p := range e.params {
		if p.Mask != nil {
			for i, keep := range p.Mask {
				if !keep {
					p.Grad[i] = 0
				}
			}
		}
	}
	return nil
}

// accumulate adds a step's input gradients into their slots. A gradient
// that shares data with one of the step's output gradients takes that
// buffer over instead of copying it.
func (e *Executor) accumulate(st *step, gins, gouts []*tensor) error {
	claimed := make([]bool, len(gouts))
	for k, g := range gins {
		if g == addedIntoGrad {
			continue
		}
		if g == nil || !st.want[k] {
			if g != nil {
				if sharesAny(g, gouts) < 0 {
					e.pool.release(g)
				}
			}
			continue
		}
		idx := st.in[k]
		s := e.slots[idx]
		if g.size() != e.value(idx).size() {
			return fmt.Errorf("node %q (%s): gradient of input %d has %d elements, the input %d", nodeName(st.node), st.node.GetOpType(), k, g.size(), e.value(idx).size())
		}
		owned := true
		if o := sharesAny(g, gouts); o >= 0 {
			if claimed[o] {
				owned = false
			} else {
				claimed[o] = true
				// The output's gradient buffer now belongs to this input.
				e.slots[st.out[o]].grad = nil
			}
		}
		switch {
		case s.param != nil:
			kernels.Axpy(1, g.f, s.param.Grad)
			if owned {
				e.pool.release(g)
			}
		case s.grad == nil && owned:
			g.shape = cloneShape(e.value(idx).shape)
			g.pooled = true
			s.grad = g
		case s.grad == nil:
			t := e.pool.newFloat(cloneShape(e.value(idx).shape))
			copy(t.f, g.f)
			s.grad = t
		default:
			kernels.Axpy(1, g.f, s.grad.f)
			if owned {
				e.pool.release(g)
			}
		}
	}
	return nil
}

// sharesAny returns the index of the tensor in ts whose data g shares, or -1.
func sharesAny(g *tensor, ts []*tensor) int {
	if len(g.f) == 0 {
		return -1
	}
	for k, t := range ts {
		if t != nil && len(t.f) > 0 && &t.f[0] == &g.f[0] {
			return k
		}
	}
	return -1
}

// InputGrad returns the gradient of a graph input computed by the last
// Backward (Options.InputGrads must be set).
func (e *Executor) InputGrad(name string) ([]float32, error) {
	idx, ok := e.byName[name]
	if !ok || e.slots[idx].kind != kindInput {
		return nil, fmt.Errorf("no graph input %q", name)
	}
	s := e.slots[idx]
	if !s.rg {
		return nil, fmt.Errorf("input %q has no gradient (set Options.InputGrads; float inputs only)", name)
	}
	if s.grad == nil {
		if s.val == nil {
			return nil, fmt.Errorf("input %q: no forward pass", name)
		}
		return make([]float32, s.val.size()), nil
	}
	return s.grad.f, nil
}
