package kernels

import "math"

// SGDStep applies one step of stochastic gradient descent as PyTorch defines
// it to the weights w with gradients g: weight decay wd adds wd·w to the
// gradient and, when momentum is not zero, the buffer buf accumulates it.
//
//	for i := range w {
//		d := g[i] + float32(wd*w[i])
//		if momentum == 0 {
//			w[i] -= lr * d
//			continue
//		}
//		buf[i] = float32(momentum*buf[i]) + d
//		step := buf[i]
//		if nesterov {
//			step = d + float32(momentum*buf[i])
//		}
//		w[i] -= lr * step
//	}
//
// rounded after each operation in every implementation, so all give the
// same weights bit for bit. (PyTorch's first momentum step sets the buffer
// to d; a zeroed buffer gives that value.) buf is not read when momentum is
// zero. It panics if g, or buf with momentum, is shorter than w.
func SGDStep(w, g, buf []float32, lr, momentum, wd float32, nesterov bool) {
	checkLen(len(g), len(w))
	if momentum != 0 {
		checkLen(len(buf), len(w))
		buf = buf[:len(w)]
	}
	cur().sgd(w, g[:len(w)], buf, lr, momentum, wd, nesterov)
}

func sgdGeneric(w, g, buf []float32, lr, momentum, wd float32, nesterov bool) {
	g = g[:len(w)]
	if momentum == 0 {
		for i, gv := range g {
			w[i] -= lr * (gv + float32(wd*w[i]))
		}
		return
	}
	buf = buf[:len(w)]
	for i, gv := range g {
		d := gv + float32(wd*w[i])
		b := float32(momentum*buf[i]) + d
		buf[i] = b
		if nesterov {
			b = d + float32(momentum*b)
		}
		w[i] -= lr * b
	}
}

// AdamCoeffs are the scalars of one Adam step (Kingma & Ba, with PyTorch's
// placement of eps), computed once per parameter and step: the moments'
// decay rates, the L2 weight decay added to the gradient (Adam) or the
// factor applied to the weights (AdamW's 1 − lr·wd), the step size
// lr/(1 − β₁ᵗ) and 1/√(1 − β₂ᵗ).
type AdamCoeffs struct {
	Beta1, Beta2 float32
	L2, Decay    float32
	Step         float32
	InvSqrtC2    float32
	Eps          float32
}

// AdamStep applies one Adam (or AdamW) update to the weights w with
// gradients g and moment buffers m and v:
//
//	for i := range w {
//		wi := w[i] * c.Decay
//		gi := g[i] + float32(c.L2*wi)
//		m[i] = float32(c.Beta1*m[i]) + float32((1-c.Beta1)*gi)
//		v[i] = float32(c.Beta2*v[i]) + float32((1-c.Beta2)*gi)*gi
//		den := float32(sqrt(v[i])*c.InvSqrtC2) + c.Eps
//		w[i] = wi - float32(c.Step*m[i])/den
//	}
//
// with a correctly rounded float32 square root, rounded after each
// operation in every implementation, so all give the same weights bit for
// bit. It panics if g, m or v is shorter than w.
func AdamStep(w, g, m, v []float32, c AdamCoeffs) {
	checkLen(len(g), len(w))
	checkLen(len(m), len(w))
	checkLen(len(v), len(w))
	cur().adam(w, g[:len(w)], m[:len(w)], v[:len(w)], c)
}

func adamGeneric(w, g, m, v []float32, c AdamCoeffs) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	omb1, omb2 := 1-c.Beta1, 1-c.Beta2
	for i, gv := range g {
		wi := w[i] * c.Decay
		gi := gv + float32(c.L2*wi)
		mi := float32(c.Beta1*m[i]) + float32(omb1*gi)
		vi := float32(c.Beta2*v[i]) + float32(omb2*gi)*gi
		m[i], v[i] = mi, vi
		den := float32(float32(math.Sqrt(float64(vi)))*c.InvSqrtC2) + c.Eps
		w[i] = wi - float32(c.Step*mi)/den
	}
}
