package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

// lossGradCheck compares a loss's gradient with central differences.
func lossGradCheck(t *testing.T, name string, x []float32, f func(x, grad []float32) float32) {
	t.Helper()
	g := make([]float32, len(x))
	f(x, g)
	for i := range x {
		v := x[i]
		h := float32(1e-3)
		x[i] = v + h
		lp := f(x, nil)
		x[i] = v - h
		lm := f(x, nil)
		x[i] = v
		num := float64(lp-lm) / float64(2*h)
		if math.Abs(num-float64(g[i])) > 2e-3*math.Max(1, math.Abs(num)) {
			t.Errorf("%s: d/dx[%d] = %g, numeric %g", name, i, g[i], num)
		}
	}
}

func TestCrossEntropy(t *testing.T) {
	logits := []float32{1, 2, 3, 0, 0, 0}
	loss, err := CrossEntropy(logits, 3, []int64{2, 0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// row 0: log(e+e²+e³) - 3; row 1: log 3.
	want := (math.Log(math.E+math.Exp(2)+math.Exp(3)) - 3 + math.Log(3)) / 2
	if math.Abs(float64(loss)-want) > 1e-6 {
		t.Errorf("loss %g, want %g", loss, want)
	}
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 4*5)
	for i := range x {
		x[i] = 4*r.Float32() - 2
	}
	labels := []int64{0, 4, 2, 2}
	lossGradCheck(t, "CrossEntropy", x, func(x, g []float32) float32 {
		l, err := CrossEntropy(x, 5, labels, g)
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
	if _, err := CrossEntropy(logits, 3, []int64{3, 0}, nil); err == nil {
		t.Error("label out of range accepted")
	}
	if _, err := CrossEntropy(logits, 4, []int64{0, 0}, nil); err == nil {
		t.Error("logits not a whole number of rows accepted")
	}
}

func TestKLDivergence(t *testing.T) {
	s := []float32{1, 0, -1, 0.5, 0.5, 0}
	if l, _ := KLDivergence(s, s, 3, 2, nil); math.Abs(float64(l)) > 1e-7 {
		t.Errorf("KL of identical logits %g", l)
	}
	tch := []float32{2, 0, 0, -1, 1, 0}
	T := 3.0
	var want float64
	for r := 0; r < 2; r++ {
		ps, pt := make([]float64, 3), make([]float64, 3)
		softmax64(s[r*3:r*3+3], T, ps)
		softmax64(tch[r*3:r*3+3], T, pt)
		for i := range ps {
			want += pt[i] * math.Log(pt[i]/ps[i])
		}
	}
	want = want / 2 * T * T
	l, err := KLDivergence(s, tch, 3, float32(T), nil)
	if err != nil || math.Abs(float64(l)-want) > 1e-6 {
		t.Errorf("KL %g (%v), want %g", l, err, want)
	}
	lossGradCheck(t, "KL", append([]float32(nil), s...), func(x, g []float32) float32 {
		l, err := KLDivergence(x, tch, 3, float32(T), g)
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestMSEAndCosine(t *testing.T) {
	a := []float32{1, 2, 3, -1}
	b := []float32{0, 2, 5, 1}
	if l, _ := MSE(a, b, nil); math.Abs(float64(l)-(1+0+4+4)/4.0) > 1e-7 {
		t.Errorf("MSE %g", l)
	}
	lossGradCheck(t, "MSE", append([]float32(nil), a...), func(x, g []float32) float32 {
		l, _ := MSE(x, b, g)
		return l
	})
	// Rows (1,2) vs (0,2): cos = 4/(√5·2); (3,-1) vs (5,1): cos = 14/(√10·√26).
	want := (1 - 4/(math.Sqrt(5)*2) + 1 - 14/(math.Sqrt(10)*math.Sqrt(26))) / 2
	if l, _ := Cosine(a, b, 2, nil); math.Abs(float64(l)-want) > 1e-6 {
		t.Errorf("Cosine %g, want %g", l, want)
	}
	lossGradCheck(t, "Cosine", append([]float32(nil), a...), func(x, g []float32) float32 {
		l, _ := Cosine(x, b, 2, g)
		return l
	})
}
