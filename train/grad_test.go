package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
)

// caseInputs draws a case's inputs.
func caseInputs(c opCase, seed uint64) map[string]*onnxio.Tensor {
	rng := rand.New(rand.NewPCG(seed, 99))
	m := map[string]*onnxio.Tensor{}
	for _, t := range c.ins {
		gen := t.gen
		if gen == nil {
			gen = uniformAway(-2, 2)
		}
		x := randTensor(rng, t.name, t.shape, gen)
		if c.distinct {
			d := x.Data.([]float32)
			perm := rng.Perm(len(d))
			for i := range d {
				d[i] = float32(perm[i])*0.05 - float32(len(d))*0.025
			}
		}
		m[t.name] = x
	}
	return m
}

func (c opCase) model() *onnxio.Model {
	b := newGB(c.opset)
	for _, t := range c.ins {
		b.input(t.name, onnxio.Float32, t.shape...)
	}
	c.build(b)
	return b.model()
}

// TestOpsMatchORT runs each op case forward in Inference mode and compares
// the outputs with ONNX Runtime's.
func TestOpsMatchORT(t *testing.T) {
	ortReady(t)
	for _, c := range opCases() {
		if c.noORT {
			continue // training-mode behaviour: ORT runs inference only; the gradient check covers it
		}
		t.Run(c.name, func(t *testing.T) {
			m := c.model()
			e, err := New(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ins := caseInputs(c, 1)
			got, err := e.Forward(bg, ins, Inference)
			if err != nil {
				t.Fatal(err)
			}
			want, err := runORT(m, ins)
			if err != nil {
				t.Fatalf("ORT: %v", err)
			}
			for i := range want {
				if err := closeTo(got[i], want[i], 1e-5); err != nil {
					t.Errorf("output %s: %v", e.OutputNames()[i], err)
				}
			}
		})
	}
}

// TestGradients checks every op case's gradients (with respect to the
// float inputs and the trainable initializers) against central finite
// differences of L = Σ R·y, R a fixed random projection of the outputs.
func TestGradients(t *testing.T) {
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			checkGradients(t, c)
		})
	}
}

func checkGradients(t *testing.T, c opCase) {
	t.Helper()
	mode := c.mode
	if mode == Inference {
		mode = EvalGrad
	}
	rtol := c.rtol
	if rtol == 0 {
		rtol = 1e-2
	}
	e, err := New(c.model(), Options{InputGrads: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ins := caseInputs(c, 2)
	rng := rand.New(rand.NewPCG(5, 5))
	var proj [][]float32
	loss := func() float64 {
		e.SetSeed(11)
		outs, err := e.Forward(bg, ins, mode)
		if err != nil {
			t.Fatal(err)
		}
		if proj == nil {
			for _, o := range outs {
				var r []float32
				if f, ok := o.Data.([]float32); ok {
					r = make([]float32, len(f))
					for i := range r {
						r[i] = 2*rng.Float32() - 1
					}
				}
				proj = append(proj, r)
			}
		}
		var l float64
		for k, o := range outs {
			if f, ok := o.Data.([]float32); ok {
				for i, v := range f {
					l += float64(v) * float64(proj[k][i])
				}
			}
		}
		return l
	}
	loss()
	seeds := map[string][]float32{}
	for k, name := range e.OutputNames() {
		if proj[k] != nil {
			seeds[name] = proj[k]
		}
	}
	if err := e.Backward(bg, seeds); err != nil {
		t.Fatal(err)
	}
	type target struct {
		name     string
		data     []float32
		analytic []float32
	}
	var targets []target
	for _, tin := range c.ins {
		g, err := e.InputGrad(tin.name)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, target{tin.name, ins[tin.name].Data.([]float32), slices.Clone(g)})
	}
	for _, p := range e.Params() {
		targets = append(targets, target{p.Name, p.Data, slices.Clone(p.Grad)})
	}
	if len(targets) == 0 {
		t.Fatal("nothing to check")
	}
	pick := rand.New(rand.NewPCG(9, 9))
	checked := 0
	for _, tg := range targets {
		idx := make([]int, len(tg.data))
		for i := range idx {
			idx[i] = i
		}
		if len(idx) > 48 {
			pick.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			idx = idx[:48]
		}
		for _, i := range idx {
			x := tg.data[i]
			h := float32(4e-3) * max(1, float32(math.Abs(float64(x))))
			tg.data[i] = x + h
			lp := loss()
			tg.data[i] = x - h
			lm := loss()
			tg.data[i] = x
			num := (lp - lm) / float64(2*h)
			a := float64(tg.analytic[i])
			if d := math.Abs(a - num); d > rtol*math.Max(math.Abs(a), math.Abs(num))+2e-3 {
				t.Errorf("d/d %s[%d]: analytic %.6g, numeric %.6g", tg.name, i, a, num)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no gradient entries checked")
	}
}

// TestGradientCoverage makes sure every op the engine can differentiate has
// a gradient case.
func TestGradientCoverage(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range opCases() {
		for _, n := range c.model().Proto.Graph.Node {
			covered[n.GetOpType()] = true
		}
	}
	var missing []string
	for _, op := range SupportedOps() {
		if !covered[op] {
			missing = append(missing, op)
		}
	}
	if len(missing) > 0 {
		t.Errorf("ops without a test case: %v", missing)
	}
}
