package validate

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// naiveTopK ranks a row by sorting (stable, so earlier indices win ties)
// and reports whether label is among the first k.
func naiveTopK(row []float32, label int64, k int) bool {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
	for _, i := range idx[:min(k, len(idx))] {
		if int64(i) == label {
			return true
		}
	}
	return false
}

func TestClassificationMatchesSorting(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, k = 1000, 10
	scores := randFloats(r, n*k, 3)
	// A few exact ties on the label's score.
	for i := 0; i < n; i += 97 {
		scores[i*k+3] = scores[i*k]
	}
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(r.IntN(k))
	}
	var want1, want5 int64
	for i := 0; i < n; i++ {
		if naiveTopK(scores[i*k:(i+1)*k], labels[i], 1) {
			want1++
		}
		if naiveTopK(scores[i*k:(i+1)*k], labels[i], 5) {
			want5++
		}
	}
	// Streamed in uneven batches.
	var c Classification
	for lo := 0; lo < n; {
		hi := min(lo+1+r.IntN(70), n)
		if err := c.Add(scores[lo*k:hi*k], hi-lo, labels[lo:hi]); err != nil {
			t.Fatal(err)
		}
		lo = hi
	}
	if c.Samples != n || c.Top1 != want1 {
		t.Errorf("top1 %d of %d, want %d of %d", c.Top1, c.Samples, want1, n)
	}
	// The sort puts a tied label after the first maximum, Add counts only
	// strictly larger scores: they can differ on ties, and only upward.
	if c.Top5 < want5 || c.Top5 > want5+int64(n/97+1) {
		t.Errorf("top5 %d, want %d (+ties)", c.Top5, want5)
	}
	if want1 == 0 || want1 == n {
		t.Fatalf("degenerate data: %d correct", want1)
	}
}

func TestClassificationTies(t *testing.T) {
	var c Classification
	// Row 0: all equal, label 0 → top-1 (first maximum); label 2 in row 1
	// ties the maximum at a later index → not top-1, but top-5.
	if err := c.Add([]float32{1, 1, 1, 0, 1, 1, 1, 1}, 2, []int64{0, 2}); err != nil {
		t.Fatal(err)
	}
	if c.Top1 != 1 || c.Top5 != 2 {
		t.Errorf("top1 %d top5 %d, want 1 and 2", c.Top1, c.Top5)
	}
}

func TestClassificationErrors(t *testing.T) {
	var c Classification
	if err := c.Add([]float32{1, 2, 3}, 1, []int64{3}); err == nil {
		t.Error("label outside the classes accepted")
	}
	if err := c.Add([]float32{1, 2, 3, 4}, 2, []int64{0}); err == nil {
		t.Error("wrong label count accepted")
	}
	if err := c.Add([]float32{1, 2, 3}, 2, []int64{0, 1}); err == nil {
		t.Error("ragged rows accepted")
	}
}

func TestRegressionLabels(t *testing.T) {
	var r Regression
	// One value per sample: compared with the label's value.
	if err := r.AddLabels([]float32{1.5, 3, -1}, 3, []int64{1, 3, 1}); err != nil {
		t.Fatal(err)
	}
	if !near(r.MSE(), (0.25+0+4)/3, 1e-12) || !near(r.MAE(), (0.5+0+2)/3, 1e-12) {
		t.Errorf("mse %g mae %g", r.MSE(), r.MAE())
	}
	// Wider: against the one-hot vector.
	var o Regression
	if err := o.AddLabels([]float32{0.5, 0.5, 0, 1}, 2, []int64{0, 0}); err != nil {
		t.Fatal(err)
	}
	if !near(o.MSE(), (0.25+0.25+1+1)/4, 1e-12) {
		t.Errorf("one-hot mse %g", o.MSE())
	}
}

// naiveFidelity computes every figure in one pass over whole arrays, with
// explicit softmax probabilities (not log-softmax).
func naiveFidelity(ref, cand []float32, n int) FidelityResult {
	k := len(ref) / n
	var agree, cos, maxAbs, sig, noise, kl, abs float64
	for i := 0; i < n; i++ {
		r, c := ref[i*k:(i+1)*k], cand[i*k:(i+1)*k]
		ar, ac := 0, 0
		for j := range r {
			if r[j] > r[ar] {
				ar = j
			}
			if c[j] > c[ac] {
				ac = j
			}
		}
		if ar == ac {
			agree++
		}
		var dot, nr, nc float64
		for j := range r {
			dot += float64(r[j]) * float64(c[j])
			nr += float64(r[j]) * float64(r[j])
			nc += float64(c[j]) * float64(c[j])
			d := math.Abs(float64(r[j]) - float64(c[j]))
			maxAbs = math.Max(maxAbs, d)
			noise += d * d
			abs += d
		}
		sig += nr
		cos += dot / math.Sqrt(nr*nc)
		var zr, zc float64
		for j := range r {
			zr += math.Exp(float64(r[j]))
			zc += math.Exp(float64(c[j]))
		}
		for j := range r {
			p := math.Exp(float64(r[j])) / zr
			q := math.Exp(float64(c[j])) / zc
			kl += p * math.Log(p/q)
		}
	}
	return FidelityResult{
		Samples: int64(n), Agreement: agree / float64(n), Cosine: cos / float64(n), MaxAbsDiff: maxAbs,
		SQNR: 10 * math.Log10(sig/noise), KL: kl / float64(n),
		MSE: noise / float64(len(ref)), MAE: abs / float64(len(ref)),
	}
}

func TestFidelityMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, k = 500, 7
	ref := randFloats(r, n*k, 4)
	cand := make([]float32, len(ref))
	for i := range ref {
		cand[i] = ref[i] + float32(r.NormFloat64()*0.3)
	}
	want := naiveFidelity(ref, cand, n)
	var f Fidelity
	for lo := 0; lo < n; {
		hi := min(lo+1+r.IntN(50), n)
		if err := f.Add(ref[lo*k:hi*k], cand[lo*k:hi*k], hi-lo); err != nil {
			t.Fatal(err)
		}
		lo = hi
	}
	got := f.Result()
	if got.Samples != want.Samples {
		t.Errorf("samples %d, want %d", got.Samples, want.Samples)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"agreement", got.Agreement, want.Agreement},
		{"cosine", got.Cosine, want.Cosine},
		{"max abs", got.MaxAbsDiff, want.MaxAbsDiff},
		{"sqnr", got.SQNR, want.SQNR},
		{"kl", got.KL, want.KL},
		{"mse", got.MSE, want.MSE},
		{"mae", got.MAE, want.MAE},
	} {
		if !near(c.got, c.want, 1e-9) {
			t.Errorf("%s = %.12g, want %.12g", c.name, c.got, c.want)
		}
	}
	if want.Agreement == 1 || want.Agreement < 0.5 || want.KL <= 0 {
		t.Fatalf("degenerate data: agreement %g, KL %g", want.Agreement, want.KL)
	}
}

func TestFidelityIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := randFloats(r, 40, 2)
	var f Fidelity
	if err := f.Add(x, append([]float32(nil), x...), 4); err != nil {
		t.Fatal(err)
	}
	got := f.Result()
	if got.Agreement != 1 || !math.IsInf(got.SQNR, 1) || got.MaxAbsDiff != 0 || got.KL != 0 || !near(got.Cosine, 1, 1e-12) {
		t.Errorf("identical outputs: %+v", got)
	}
}

func TestSQNRKnown(t *testing.T) {
	ref := []float32{1, 1, 1, 1}
	cand := []float32{1.5, 0.5, 1.5, 0.5}
	var f Fidelity
	if err := f.Add(ref, cand, 1); err != nil {
		t.Fatal(err)
	}
	// Σref² = 4, Σerr² = 1 → 10·log10(4) dB.
	if got := f.Result().SQNR; !near(got, 10*math.Log10(4), 1e-12) {
		t.Errorf("SQNR %g", got)
	}
	if !math.IsInf(SQNR(0, 1), -1) || !math.IsInf(SQNR(0, 0), 1) {
		t.Error("SQNR edge cases")
	}
}

// The one SQNR: two all-zero outputs are identical (+Inf); a NaN in the
// candidate (or the reference) is the worst figure (-Inf), never "not
// measured" and never skipped; the accumulator sums over calls.
func TestSQNRSumEdgeCases(t *testing.T) {
	var zero SQNRSum
	zero.Add([]float32{0, 0}, []float32{0, 0})
	if !math.IsInf(zero.DB(), 1) {
		t.Errorf("all-zero outputs: %g dB", zero.DB())
	}
	var nan SQNRSum
	nan.Add([]float32{1, 2}, []float32{1, float32(math.NaN())})
	if !math.IsInf(nan.DB(), -1) {
		t.Errorf("NaN candidate: %g dB", nan.DB())
	}
	var ref SQNRSum
	ref.Add([]float32{float32(math.NaN())}, []float32{1})
	if !math.IsInf(ref.DB(), -1) {
		t.Errorf("NaN reference: %g dB", ref.DB())
	}
	var s SQNRSum
	s.Add([]float32{1, 1}, []float32{1.5, 0.5})
	s.Add([]float32{1, 1}, []float32{1.5, 0.5})
	if s.Signal != 4 || s.Noise != 1 || !near(s.DB(), 10*math.Log10(4), 1e-12) {
		t.Errorf("sums %+v, %g dB", s, s.DB())
	}
	var f Fidelity
	if err := f.Add([]float32{1, 2}, []float32{1, float32(math.NaN())}, 1); err != nil {
		t.Fatal(err)
	}
	if r := f.Result(); !math.IsInf(r.SQNR, -1) {
		t.Errorf("fidelity of a NaN candidate: SQNR %g", r.SQNR)
	}
}

func TestFidelityOneValueOutputs(t *testing.T) {
	var f Fidelity
	if err := f.Add([]float32{1, 2, 3}, []float32{1, 2, 4}, 3); err != nil {
		t.Fatal(err)
	}
	got := f.Result()
	if !math.IsNaN(got.Agreement) || !math.IsNaN(got.KL) {
		t.Errorf("agreement/KL of a one-value output should be undefined: %+v", got)
	}
	if got.MaxAbsDiff != 1 {
		t.Errorf("max abs %g", got.MaxAbsDiff)
	}
}

func TestFidelityWidthChange(t *testing.T) {
	var f Fidelity
	if err := f.Add([]float32{1, 2}, []float32{1, 2}, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Add([]float32{1, 2, 3}, []float32{1, 2, 3}, 1); err == nil {
		t.Error("a change of width between batches was accepted")
	}
	if err := f.Add([]float32{1, 2}, []float32{1}, 1); err == nil {
		t.Error("outputs of different lengths were accepted")
	}
}

func TestKLStable(t *testing.T) {
	// Large logits overflow exp in a naive softmax; log-softmax must not.
	p := []float32{1000, 0, -1000}
	q := []float32{999, 0, -1000}
	kl := klSoftmax(p, q)
	if math.IsNaN(kl) || math.IsInf(kl, 0) || kl < 0 {
		t.Errorf("KL of large logits = %g", kl)
	}
	if kl := klSoftmax([]float32{1, 2, 3}, []float32{1, 2, 3}); kl != 0 {
		t.Errorf("KL of identical rows = %g", kl)
	}
}

func TestParseMetric(t *testing.T) {
	for _, s := range []string{"top1", "top5", "mse", "mae"} {
		if _, err := ParseMetric(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseMetric("top3"); err == nil {
		t.Error("top3 accepted")
	}
}

// A row with a NaN or an infinite score counts wrong for top-1 and
// top-5 (a NaN score was "not above" every other and so always top-5).
func TestClassificationNonFiniteRowsWrong(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	var c Classification
	scores := []float32{
		nan, 1, 0, // label 1 would win without the NaN
		0, inf, 0, // +Inf at the label
		0, 2, 1, // finite: right
	}
	if err := c.Add(scores, 3, []int64{1, 1, 1}); err != nil {
		t.Fatal(err)
	}
	if c.Samples != 3 || c.Top1 != 1 || c.Top5 != 1 || c.NonFinite != 2 {
		t.Fatalf("%+v", c)
	}
}

// Agreement and KL of a sequence [N, T, C] or a map [N, C, H, W] are taken
// per position along the class axis: one position's maximum no longer
// decides for the whole sample.
func TestFidelityPerPosition(t *testing.T) {
	// [1, 4, 3]: the candidate agrees at 3 positions of 4, but the
	// flattened sample's argmax (position 3's 9) is the same in both.
	ref := []float32{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 9}
	cand := []float32{1, 0, 0, 0, 1, 0, 0, 2, 1, 0, 0, 9}
	var flat Fidelity
	if err := flat.Add(ref, cand, 1); err != nil {
		t.Fatal(err)
	}
	var seq Fidelity
	if err := seq.AddShaped(ref, cand, 1, []int64{1, 4, 3}); err != nil {
		t.Fatal(err)
	}
	fr, sr := flat.Result(), seq.Result()
	if fr.Agreement != 1 || sr.Agreement != 0.75 || sr.ClassAxis != 2 || sr.Positions != 4 {
		t.Fatalf("flat %+v, per position %+v", fr, sr)
	}
	// The mean KL over positions: only position 2 differs.
	want := klSoftmax([]float32{0, 0, 1}, []float32{0, 2, 1}) / 4
	if !near(sr.KL, want, 1e-12) {
		t.Fatalf("KL %g, want %g", sr.KL, want)
	}
	// A map [1, 3, 2, 2], classes on axis 1 (strided): position (h, w)
	// reads elements h*2+w, 4+h*2+w, 8+h*2+w.
	mref := []float32{
		5, 0, 0, 0, // class 0
		0, 5, 0, 0, // class 1
		0, 0, 5, 5, // class 2
	}
	mcand := append([]float32(nil), mref...)
	mcand[4+3] = 9 // position (1,1): class 1 wins now
	var mp Fidelity
	if err := mp.AddShaped(mref, mcand, 1, []int64{1, 3, 2, 2}); err != nil {
		t.Fatal(err)
	}
	if r := mp.Result(); r.Agreement != 0.75 || r.ClassAxis != 1 || r.Positions != 4 {
		t.Fatalf("map %+v", r)
	}
	// The class axis given: the same map read along its last axis has 6
	// positions of 2 classes.
	ax := Fidelity{ClassAxis: -1}
	if err := ax.AddShaped(mref, mcand, 1, []int64{1, 3, 2, 2}); err != nil {
		t.Fatal(err)
	}
	if r := ax.Result(); r.ClassAxis != 3 || r.Positions != 6 {
		t.Fatalf("axis -1: %+v", r)
	}
	bad := Fidelity{ClassAxis: 4}
	if err := bad.AddShaped(mref, mcand, 1, []int64{1, 3, 2, 2}); err == nil {
		t.Fatal("class axis 4 of a rank-4 output accepted")
	}
	// A one-channel map has no classes: agreement and KL are NaN.
	one := Fidelity{}
	if err := one.AddShaped([]float32{1, 2, 3, 4}, []float32{1, 2, 3, 5}, 1, []int64{1, 1, 2, 2}); err != nil {
		t.Fatal(err)
	}
	if r := one.Result(); !math.IsNaN(r.Agreement) || !math.IsNaN(r.KL) {
		t.Fatalf("one channel: %+v", r)
	}
}
