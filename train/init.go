package train

import (
	"math"
	"math/rand/v2"
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

// paramInit says how input k of step i is initialized.
func (e *Executor) paramInit(i, k int) (initKind, int) {
	st := e.steps[i]
	shapeOf := func(k int) []int {
		if k >= len(st.in) || st.in[k] < 0 {
			return nil
		}
		if w := e.slots[st.in[k]].weight; w != nil {
			return w.shape
		}
		return nil
	}
	w := shapeOf(1)
	switch o := st.op.(type) {
	case *gemmOp:
		if len(w) != 2 {
			return initKeep, 0
		}
		fan := w[0]
		if o.transB {
			fan = w[1]
		}
		if k == 1 || k == 2 {
			return initUniform, fan
		}
	case matMulOp:
		if k == 1 && len(w) >= 1 {
			if len(w) == 1 {
				return initUniform, w[0]
			}
			return initUniform, w[len(w)-2]
		}
	case *convOp:
		if len(w) >= 3 && (k == 1 || k == 2) {
			return initUniform, prod(w[1:])
		}
	case *convTransposeOp:
		// As PyTorch computes it for ConvTranspose weights [Cin, Cout/g, k…].
		if len(w) >= 3 && (k == 1 || k == 2) {
			return initUniform, prod(w[1:])
		}
	case *batchNormOp, *layerNormOp, *instanceNormOp:
		switch k {
		case 1:
			return initOnes, 0
		case 2:
			return initZeros, 0
		}
	case *binaryOp:
		// The bias Add after a MatMul: fan-in of that MatMul's weight.
		if o.kind != binAdd {
			return initKeep, 0
		}
		other := st.in[1-k]
		if other < 0 || e.slots[other].kind != kindActivation {
			return initKeep, 0
		}
		prev := e.steps[e.slots[other].producer]
		if _, ok := prev.op.(matMulOp); ok && len(prev.in) == 2 && prev.in[1] >= 0 {
			if pw := e.slots[prev.in[1]].weight; pw != nil && len(pw.shape) >= 2 {
				return initUniform, pw.shape[len(pw.shape)-2]
			}
		}
	}
	return initKeep, 0
}
