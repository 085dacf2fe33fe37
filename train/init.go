package train

import (
	"math"
	"math/rand/v2"

	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/opinfo"
)

type initKind int

const (
	initKeep initKind = iota
	initUniform
	initOnes
	initZeros
)

// ResetParams re-initializes the trainable weights from a generator seeded
// with seed, as PyTorch initializes fresh layers: the weight and bias of a
// Gemm, MatMul (with the bias Add after it) or Conv node are drawn from
// U(−1/√fanIn, 1/√fanIn), where fanIn is the number of inputs each output
// sums over (ConvTranspose: PyTorch's fan-in of its weight);
// Batch-, Layer- and InstanceNormalization scales become 1 and their biases
// 0. Other parameters keep their values. Masks are applied and
// gradients cleared.
func (e *Executor) ResetParams(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	done := map[*Param]bool{}
	for i, st := range e.steps {
		for k, idx := range st.in {
			if idx < 0 || e.slots[idx].param == nil {
				continue
			}
			p := e.slots[idx].param
			if done[p] {
				continue
			}
			kind, fanIn := e.paramInit(i, k)
			switch kind {
			case initKeep:
				continue
			case initUniform:
				bound := float32(1 / math.Sqrt(float64(max(fanIn, 1))))
				for j := range p.Data {
					p.Data[j] = (2*rng.Float32() - 1) * bound
				}
			case initOnes:
				for j := range p.Data {
					p.Data[j] = 1
				}
			case initZeros:
				clear(p.Data)
			}
			done[p] = true
			applyMask(p)
		}
	}
	e.ZeroGrad()
}

// paramInit says how input k of step i is initialized, from the op facts
// in onnxio/opinfo: a compute op's weight and bias are drawn with the
// fan-in of its weight, a normalization's scale is 1 and its bias 0.
func (e *Executor) paramInit(i, k int) (initKind, int) {
	st := e.steps[i]
	shapeOf := func(k int) []int64 {
		if k < 0 || k >= len(st.in) || st.in[k] < 0 {
			return nil
		}
		if w := e.slots[st.in[k]].weight; w != nil {
			return int64s(w.shape)
		}
		return nil
	}
	o, ok := opinfo.ForNode(st.node)
	if !ok {
		return initKeep, 0
	}
	in, ok := o.Input(k)
	if !ok {
		return initKeep, 0
	}
	switch o.Family {
	case opinfo.Compute:
		if in.Role != opinfo.Weight && in.Role != opinfo.Bias {
			return initKeep, 0
		}
		if fan, ok := torchFanIn(st.node, shapeOf(o.Find(opinfo.Weight))); ok {
			return initUniform, fan
		}
	case opinfo.Normalization:
		switch in.Role {
		case opinfo.Scale:
			return initOnes, 0
		case opinfo.Bias:
			return initZeros, 0
		}
	case opinfo.Arithmetic:
		// The bias Add after a MatMul: fan-in of that MatMul's weight.
		if st.node.GetOpType() != "Add" || len(st.in) != 2 {
			return initKeep, 0
		}
		other := st.in[1-k]
		if other < 0 || e.slots[other].kind != kindActivation {
			return initKeep, 0
		}
		prev := e.steps[e.slots[other].producer]
		if prev.node.GetOpType() == "MatMul" && len(prev.in) == 2 && prev.in[1] >= 0 {
			if pw := e.slots[prev.in[1]].weight; pw != nil && len(pw.shape) >= 2 {
				if fan, ok := torchFanIn(prev.node, int64s(pw.shape)); ok {
					return initUniform, fan
				}
			}
		}
	}
	return initKeep, 0
}

// torchFanIn is the fan-in PyTorch initializes a layer with: opinfo's
// (the weight's input channels per group times its kernel), except for
// ConvTranspose, whose weight [C_in, C_out/g, k…] PyTorch treats like a
// Conv weight: its axis 1 (opinfo's Out axis) times the kernel.
func torchFanIn(n *onnxpb.NodeProto, w []int64) (int, bool) {
	if n.GetOpType() == "ConvTranspose" {
		a, ok := opinfo.WeightAxes(n, w)
		if !ok {
			return 0, false
		}
		return int(w[a.Out] * opinfo.Receptive(n, w)), true
	}
	fan, ok := opinfo.FanIn(n, w)
	return int(fan), ok
}

func int64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}
