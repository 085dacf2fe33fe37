package train

import (
	"fmt"
	"math"
	"runtime"

	"github.com/shrinkml/shrink/kernels"
)

// Optimizer updates parameters from their gradients. Step applies one
// update at learning rate lr; entries a parameter's Mask holds at zero stay
// zero (their gradient and optimizer state are dropped).
type Optimizer interface {
	Step(params []*Param, lr float32)
}

// SGDConfig configures stochastic gradient descent as PyTorch defines it:
// with weight decay wd the gradient is g + wd·p; with momentum μ the
// buffer is b = μ·b + g (b = g on the first step) and the step uses b, or
// g + μ·b with Nesterov.
type SGDConfig struct {
	Momentum    float32
	Nesterov    bool
	WeightDecay float32
}

// SGD is stochastic gradient descent with optional momentum.
type SGD struct {
	cfg SGDConfig
	buf map[*Param][]float32
}

// NewSGD returns an SGD optimizer.
func NewSGD(cfg SGDConfig) *SGD { return &SGD{cfg: cfg, buf: map[*Param][]float32{}} }

// Step implements Optimizer.
func (o *SGD) Step(params []*Param, lr float32) {
	mu, wd, nesterov := o.cfg.Momentum, o.cfg.WeightDecay, o.cfg.Nesterov
	for _, p := range params {
		maskGrad(p)
		w, g := p.Data, p.Grad[:len(p.Data)]
		var b []float32
		if mu != 0 {
			// A zeroed buffer makes the first step's buffer the gradient,
			// as PyTorch's is.
			b = o.buf[p]
			if b == nil {
				b = make([]float32, len(w))
				o.buf[p] = b
			}
			b = b[:len(w)]
		}
		chunks(len(w), func(lo, hi int) {
			var bc []float32
			if b != nil {
				bc = b[lo:hi]
			}
			kernels.SGDStep(w[lo:hi], g[lo:hi], bc, lr, mu, wd, nesterov)
		})
		applyMask(p, b)
	}
}

// chunks runs fn over [0, n) in contiguous pieces on up to GOMAXPROCS
// goroutines (elementwise optimizer updates: the split does not change the
// result).
func chunks(n int, fn func(lo, hi int)) {
	parallelFor(runtime.GOMAXPROCS(0), n, 1<<16, fn)
}

// AdamConfig configures Adam (Kingma & Ba) and AdamW (Loshchilov &
// Hutter). Zero values take the defaults Beta1 0.9, Beta2 0.999, Eps 1e-8.
// WeightDecay is added to the gradient (L2) for Adam and applied to the
// weights directly (p −= lr·wd·p) when Decoupled (AdamW).
type AdamConfig struct {
	Beta1, Beta2, Eps float32
	WeightDecay       float32
	Decoupled         bool
}

// Adam is the Adam or AdamW optimizer.
type Adam struct {
	cfg  AdamConfig
	m, v map[*Param][]float32
	t    map[*Param]int
}

// NewAdam returns an Adam optimizer.
func NewAdam(cfg AdamConfig) *Adam {
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	return &Adam{cfg: cfg, m: map[*Param][]float32{}, v: map[*Param][]float32{}, t: map[*Param]int{}}
}

// NewAdamW returns Adam with decoupled weight decay (default 0.01 when
// cfg.WeightDecay is zero).
func NewAdamW(cfg AdamConfig) *Adam {
	cfg.Decoupled = true
	if cfg.WeightDecay == 0 {
		cfg.WeightDecay = 0.01
	}
	return NewAdam(cfg)
}

// Step implements Optimizer.
func (o *Adam) Step(params []*Param, lr float32) {
	b1, b2, eps, wd := o.cfg.Beta1, o.cfg.Beta2, o.cfg.Eps, o.cfg.WeightDecay
	for _, p := range params {
		maskGrad(p)
		m, v := o.m[p], o.v[p]
		if m == nil {
			m, v = make([]float32, len(p.Data)), make([]float32, len(p.Data))
			o.m[p], o.v[p] = m, v
		}
		o.t[p]++
		t := float64(o.t[p])
		c1 := float32(1 - math.Pow(float64(b1), t))
		c2 := float32(1 - math.Pow(float64(b2), t))
		stepSize := lr / c1
		invSqrtC2 := float32(1 / math.Sqrt(float64(c2)))
		w, gr := p.Data, p.Grad[:len(p.Data)]
		m, v = m[:len(w)], v[:len(w)]
		l2, decay := wd, float32(1)
		if o.cfg.Decoupled {
			l2, decay = 0, 1-lr*wd
		}
		c := kernels.AdamCoeffs{Beta1: b1, Beta2: b2, L2: l2, Decay: decay, Step: stepSize, InvSqrtC2: invSqrtC2, Eps: eps}
		chunks(len(w), func(lo, hi int) {
			kernels.AdamStep(w[lo:hi], gr[lo:hi], m[lo:hi], v[lo:hi], c)
		})
		applyMask(p, m, v)
	}
}

func maskGrad(p *Param) {
	if p.Mask == nil {
		return
	}
	for i, keep := range p.Mask {
		if !keep {
			p.Grad[i] = 0
		}
	}
}

// applyMask zeroes masked entries of the weights and of optimizer state.
func applyMask(p *Param, state ...[]float32) {
	if p.Mask == nil {
		return
	}
	for i, keep := range p.Mask {
		if !keep {
			p.Data[i] = 0
			for _, s := range state {
				if s != nil {
					s[i] = 0
				}
			}
		}
	}
}

// SetMask installs a mask on the parameter called name (nil removes it)
// and zeroes the masked weights at once.
func (e *Executor) SetMask(name string, mask []bool) error {
	p := e.Param(name)
	if p == nil {
		return fmt.Errorf("no trainable weight %q", name)
	}
	if mask != nil && len(mask) != len(p.Data) {
		return fmt.Errorf("mask of %d entries for weight %q of %d", len(mask), name, len(p.Data))
	}
	p.Mask = mask
	applyMask(p)
	maskGrad(p)
	return nil
}

// ClipGradNorm scales all gradients down so that their global L2 norm is
// at most maxNorm, and returns the norm before clipping.
func ClipGradNorm(params []*Param, maxNorm float32) float32 {
	var s float64
	for _, p := range params {
		for _, g := range p.Grad {
			s += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(s)
	if maxNorm > 0 && norm > float64(maxNorm) {
		k := float32(float64(maxNorm) / (norm + 1e-6))
		for _, p := range params {
			for i := range p.Grad {
				p.Grad[i] *= k
			}
		}
	}
	return float32(norm)
}

// Schedule gives the learning rate of each optimizer step (counted from 0).
type Schedule interface {
	LR(step int) float32
}

// ConstantLR is a fixed learning rate.
type ConstantLR float32

// LR implements Schedule.
func (c ConstantLR) LR(int) float32 { return float32(c) }

// StepLR multiplies Base by Gamma every Every steps.
type StepLR struct {
	Base  float32
	Every int
	Gamma float32
}

// LR implements Schedule.
func (s StepLR) LR(step int) float32 {
	if s.Every <= 0 {
		return s.Base
	}
	return s.Base * float32(math.Pow(float64(s.Gamma), float64(step/s.Every)))
}

// CosineLR anneals from Base to Min over Steps steps along half a cosine,
// then stays at Min.
type CosineLR struct {
	Base, Min float32
	Steps     int
}

// LR implements Schedule.
func (c CosineLR) LR(step int) float32 {
	if c.Steps <= 0 || step >= c.Steps {
		return c.Min
	}
	f := 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(c.Steps)))
	return c.Min + (c.Base-c.Min)*float32(f)
}

// WarmupLR rises linearly over Steps steps to Then's first rate (step i
// gets (i+1)/Steps of it), then follows Then, restarted at 0.
type WarmupLR struct {
	Steps int
	Then  Schedule
}

// LR implements Schedule.
func (w WarmupLR) LR(step int) float32 {
	if step < w.Steps {
		return w.Then.LR(0) * float32(step+1) / float32(w.Steps)
	}
	return w.Then.LR(step - w.Steps)
}
