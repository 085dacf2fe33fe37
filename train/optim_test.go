package train

import (
	"math"
	"testing"
)

// The optimizers are checked against the update rules written out in
// float64, step by step, for a few steps with changing gradients.

func refParam(data, grad []float32) *Param {
	return &Param{Name: "p", Shape: []int64{int64(len(data))}, Data: append([]float32(nil), data...), Grad: append([]float32(nil), grad...)}
}

var (
	p0    = []float64{0.5, -1.5, 2, 0.1}
	grads = [][]float64{{0.1, -0.2, 0.3, 0}, {-0.4, 0.1, 0.2, 0.05}, {0.3, 0.3, -0.1, -0.2}}
)

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func runOpt(opt Optimizer, lr float32) []float32 {
	p := refParam(f32s(p0), nil)
	for _, g := range grads {
		p.Grad = f32s(g)
		opt.Step([]*Param{p}, lr)
	}
	return p.Data
}

func near(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-6*math.Max(1, math.Abs(want[i])) {
			t.Errorf("%s[%d] = %.8g, want %.8g", what, i, got[i], want[i])
		}
	}
}

func TestSGD(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  SGDConfig
	}{{"plain", SGDConfig{}}, {"momentum", SGDConfig{Momentum: 0.9}}, {"nesterov+wd", SGDConfig{Momentum: 0.8, Nesterov: true, WeightDecay: 0.01}}} {
		const lr = 0.1
		p := append([]float64(nil), p0...)
		buf := make([]float64, len(p))
		for s, g := range grads {
			for i := range p {
				d := g[i] + float64(c.cfg.WeightDecay)*p[i]
				mu := float64(c.cfg.Momentum)
				if mu != 0 {
					if s == 0 {
						buf[i] = d
					} else {
						buf[i] = mu*buf[i] + d
					}
					if c.cfg.Nesterov {
						d += mu * buf[i]
					} else {
						d = buf[i]
					}
				}
				p[i] -= lr * d
			}
		}
		near(t, "SGD "+c.name, runOpt(NewSGD(c.cfg), lr), p)
	}
}

func TestAdam(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  Optimizer
		wd   float64
		dec  bool
	}{{"adam", NewAdam(AdamConfig{}), 0, false}, {"adam+l2", NewAdam(AdamConfig{WeightDecay: 0.1}), 0.1, false}, {"adamw", NewAdamW(AdamConfig{}), 0.01, true}} {
		const lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
		p := append([]float64(nil), p0...)
		m := make([]float64, len(p))
		v := make([]float64, len(p))
		for s, g := range grads {
			tt := float64(s + 1)
			for i := range p {
				d := g[i]
				if c.dec {
					p[i] -= lr * c.wd * p[i]
				} else {
					d += c.wd * p[i]
				}
				m[i] = b1*m[i] + (1-b1)*d
				v[i] = b2*v[i] + (1-b2)*d*d
				mh := m[i] / (1 - math.Pow(b1, tt))
				vh := v[i] / (1 - math.Pow(b2, tt))
				p[i] -= lr * mh / (math.Sqrt(vh) + eps)
			}
		}
		near(t, c.name, runOpt(c.opt, lr), p)
	}
}

func TestClipGradNorm(t *testing.T) {
	a := refParam([]float32{0, 0}, []float32{3, 0})
	b := refParam([]float32{0}, []float32{4})
	if n := ClipGradNorm([]*Param{a, b}, 10); n != 5 || a.Grad[0] != 3 {
		t.Fatalf("norm %g, grads %v: clipping below the limit changed something", n, a.Grad)
	}
	n := ClipGradNorm([]*Param{a, b}, 1)
	if n != 5 {
		t.Fatalf("norm %g, want 5", n)
	}
	if math.Abs(float64(a.Grad[0])-0.6) > 1e-5 || math.Abs(float64(b.Grad[0])-0.8) > 1e-5 {
		t.Errorf("clipped grads %v %v, want 0.6 0.8", a.Grad, b.Grad)
	}
}

func TestSchedules(t *testing.T) {
	cases := []struct {
		s    Schedule
		step int
		want float64
	}{
		{ConstantLR(0.1), 1000, 0.1},
		{StepLR{Base: 1, Every: 10, Gamma: 0.5}, 9, 1},
		{StepLR{Base: 1, Every: 10, Gamma: 0.5}, 25, 0.25},
		{CosineLR{Base: 1, Min: 0.1, Steps: 100}, 0, 1},
		{CosineLR{Base: 1, Min: 0.1, Steps: 100}, 50, 0.55},
		{CosineLR{Base: 1, Min: 0.1, Steps: 100}, 100, 0.1},
		{CosineLR{Base: 1, Min: 0.1, Steps: 100}, 500, 0.1},
		{WarmupLR{Steps: 4, Then: ConstantLR(0.8)}, 0, 0.2},
		{WarmupLR{Steps: 4, Then: ConstantLR(0.8)}, 3, 0.8},
		{WarmupLR{Steps: 10, Then: CosineLR{Base: 1, Steps: 100}}, 60, 0.5},
	}
	for i, c := range cases {
		if got := c.s.LR(c.step); math.Abs(float64(got)-c.want) > 1e-6 {
			t.Errorf("case %d (%T step %d): %g, want %g", i, c.s, c.step, got, c.want)
		}
	}
}
