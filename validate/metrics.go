package validate

import (
	"fmt"
	"math"
)

// Metric names the figure a model is judged by.
type Metric string

// The metrics. Top-1 and top-5 need a classifier output (several scores per
// sample) and integer class labels; MSE and MAE compare the output with the
// labels (a one-value output with the label's value, a wider output with the
// label's one-hot vector).
const (
	Top1 Metric = "top1"
	Top5 Metric = "top5"
	MSE  Metric = "mse"
	MAE  Metric = "mae"
)

// ParseMetric checks a metric name.
func ParseMetric(s string) (Metric, error) {
	switch m := Metric(s); m {
	case Top1, Top5, MSE, MAE, CTC, Boxes:
		return m, nil
	}
	return "", fmt.Errorf("unknown metric %q (want top1, top5, mse, mae, ctc or boxes)", s)
}

// IsClassification reports whether m is a top-k accuracy.
func (m Metric) IsClassification() bool { return m == Top1 || m == Top5 }

// HigherIsBetter reports whether a larger value of m is better.
func (m Metric) HigherIsBetter() bool { return m.IsClassification() || m.IsTask() }

// Classification accumulates top-1 and top-5 accuracy over batches. Its
// memory does not depend on the number of samples.
type Classification struct {
	Samples int64
	Top1    int64 // samples whose highest score is the label's (first maximum wins ties)
	Top5    int64 // samples with fewer than 5 scores strictly above the label's
	// NonFinite counts the samples with a NaN or infinite score: they are
	// counted wrong (their ranking means nothing).
	NonFinite int64
}

// Add scores one batch: scores holds n rows of k = len(scores)/n values,
// labels holds n class indices in [0, k).
func (c *Classification) Add(scores []float32, n int, labels []int64) error {
	k, err := rowWidth(len(scores), n)
	if err != nil {
		return err
	}
	if len(labels) != n {
		return fmt.Errorf("%d labels for a batch of %d samples", len(labels), n)
	}
	for i := 0; i < n; i++ {
		row := scores[i*k : (i+1)*k]
		l := labels[i]
		if l < 0 || l >= int64(k) {
			return fmt.Errorf("label %d at sample %d is outside the output's %d classes", l, c.Samples+int64(i), k)
		}
		if !finite(row) {
			c.NonFinite++
			continue
		}
		if argmax(row) == int(l) {
			c.Top1++
		}
		above := 0
		for _, v := range row {
			if v > row[l] {
				above++
			}
		}
		if above < 5 {
			c.Top5++
		}
	}
	c.Samples += int64(n)
	return nil
}

// finite reports whether every value of x is finite.
func finite(x []float32) bool {
	for _, v := range x {
		if v-v != 0 {
			return false
		}
	}
	return true
}

// Regression accumulates the mean squared and mean absolute error of an
// output against integer labels (see Metric).
type Regression struct {
	Values int64 // compared values (samples × values per sample)
	SumSq  float64
	SumAbs float64
}

// AddLabels compares n rows of out with labels: a one-value row with the
// label, a wider row with the label's one-hot vector.
func (r *Regression) AddLabels(out []float32, n int, labels []int64) error {
	k, err := rowWidth(len(out), n)
	if err != nil {
		return err
	}
	if len(labels) != n {
		return fmt.Errorf("%d labels for a batch of %d samples", len(labels), n)
	}
	for i := 0; i < n; i++ {
		row := out[i*k : (i+1)*k]
		if k == 1 {
			r.add(float64(row[0]) - float64(labels[i]))
			continue
		}
		l := labels[i]
		if l < 0 || l >= int64(k) {
			return fmt.Errorf("label %d at sample %d is outside the output's %d values", l, i, k)
		}
		for j, v := range row {
			t := 0.0
			if int64(j) == l {
				t = 1
			}
			r.add(float64(v) - t)
		}
	}
	return nil
}

func (r *Regression) add(d float64) {
	r.Values++
	r.SumSq += d * d
	r.SumAbs += math.Abs(d)
}

// MSE is the mean squared error (NaN before any value).
func (r *Regression) MSE() float64 { return r.SumSq / float64(r.Values) }

// MAE is the mean absolute error (NaN before any value).
func (r *Regression) MAE() float64 { return r.SumAbs / float64(r.Values) }

// Fidelity accumulates how closely a candidate's outputs follow a
// baseline's on the same inputs. All sums are float64; memory does not
// depend on the number of samples.
//
// Top-1 agreement and KL divergence compare class scores. For a
// classifier [N, C] a sample holds one score vector; a sequence output
// [N, T, C] (an OCR recognizer) or a map [N, C, H, W] (a segmenter) holds
// one per position, and comparing the flattened sample would let one
// position's maximum decide for all: they are compared per position along
// the class axis (see ClassAxis), and averaged over every position.
type Fidelity struct {
	// ClassAxis is the output axis holding the classes, the batch axis
	// being 0 (negative: counted from the end); 0 infers it from the
	// output's rank at the first batch (InferClassAxis). Set before the
	// first Add.
	ClassAxis int
	Samples   int64
	Width     int // values per sample (the first batch's)
	// Classes is the size of the class axis and Positions the score
	// vectors compared (samples × positions per sample); Classes is 0
	// when the class axis is not known (one vector per sample).
	Classes   int
	inner     int // elements after the class axis in a sample
	Positions int64
	Agree     int64
	CosSum    float64
	MaxAbs    float64
	// Energy holds Σref² and Σ(ref − cand)² (the SQNR and the MSE).
	Energy SQNRSum
	ErrAbs float64 // Σ |ref − cand|
	KLSum  float64
	Values int64
}

// InferClassAxis is the class axis of an output of the given rank (batch
// axis included) when nothing says otherwise: 1 for [N, C], the last for a
// sequence [N, T, C], 1 for a map [N, C, H, W]; 0 (unknown: the whole
// sample is one vector) for other ranks.
func InferClassAxis(rank int) int {
	switch rank {
	case 2, 4:
		return 1
	case 3:
		return 2
	}
	return 0
}

// Add compares n rows of ref and cand (equal lengths, the same row width
// in every batch), each row one score vector.
func (f *Fidelity) Add(ref, cand []float32, n int) error {
	return f.AddShaped(ref, cand, n, nil)
}

// AddShaped is Add for outputs of the given shape (batch axis first; nil:
// one vector per sample): agreement and KL are taken per position along
// the class axis.
func (f *Fidelity) AddShaped(ref, cand []float32, n int, shape []int64) error {
	if len(ref) != len(cand) {
		return fmt.Errorf("the candidate's output has %d values for %d samples, the baseline's %d", len(cand), n, len(ref))
	}
	k, err := rowWidth(len(ref), n)
	if err != nil {
		return err
	}
	if f.Samples == 0 {
		f.Width = k
		if err := f.setAxis(shape, k); err != nil {
			return err
		}
	} else if k != f.Width {
		return fmt.Errorf("output has %d values per sample in this batch, %d before", k, f.Width)
	}
	f.Energy.Add(ref, cand)
	c, inner := k, 1
	if f.Classes > 0 {
		c, inner = f.Classes, f.inner
	}
	outer := k / (c * inner)
	rv, cv := make([]float32, c), make([]float32, c)
	for i := 0; i < n; i++ {
		r := ref[i*k : (i+1)*k]
		cd := cand[i*k : (i+1)*k]
		var dot, nr, nc float64
		for j := range r {
			a, b := float64(r[j]), float64(cd[j])
			dot += a * b
			nr += a * a
			nc += b * b
			ad := math.Abs(a - b)
			f.ErrAbs += ad
			if ad > f.MaxAbs || math.IsNaN(ad) {
				f.MaxAbs = ad
			}
		}
		f.CosSum += cosine(dot, nr, nc)
		// One score vector per position: c values inner apart.
		for o := 0; o < outer; o++ {
			for in := 0; in < inner; in++ {
				base := o*c*inner + in
				for j := 0; j < c; j++ {
					rv[j], cv[j] = r[base+j*inner], cd[base+j*inner]
				}
				if argmax(rv) == argmax(cv) {
					f.Agree++
				}
				f.KLSum += klSoftmax(rv, cv)
				f.Positions++
			}
		}
	}
	f.Samples += int64(n)
	f.Values += int64(n * k)
	return nil
}

// setAxis resolves the class axis from the first batch's shape (its
// samples k values wide).
func (f *Fidelity) setAxis(shape []int64, k int) error {
	if len(shape) == 0 {
		if f.ClassAxis != 0 {
			return fmt.Errorf("class axis %d: the output's shape is unknown", f.ClassAxis)
		}
		return nil
	}
	ax := f.ClassAxis
	if ax < 0 {
		ax += len(shape)
	}
	if f.ClassAxis == 0 {
		ax = InferClassAxis(len(shape))
		if ax == 0 {
			return nil // one vector per sample
		}
	}
	if ax <= 0 || ax >= len(shape) {
		return fmt.Errorf("class axis %d is not an axis of the output %v after its batch axis", f.ClassAxis, shape)
	}
	inner := 1
	for _, d := range shape[ax+1:] {
		inner *= int(d)
	}
	c := int(shape[ax])
	if c <= 0 || inner <= 0 || k%(c*inner) != 0 {
		return fmt.Errorf("class axis %d: output %v does not split into score vectors", ax, shape)
	}
	f.ClassAxis, f.Classes, f.inner = ax, c, inner
	return nil
}

// cosine of two vectors from their dot product and squared norms: two zero
// vectors are identical (1), one zero vector is orthogonal to anything (0).
func cosine(dot, n1, n2 float64) float64 {
	switch {
	case n1 == 0 && n2 == 0:
		return 1
	case n1 == 0 || n2 == 0:
		return 0
	}
	return dot / (math.Sqrt(n1) * math.Sqrt(n2))
}

// klSoftmax is KL(softmax(p) ‖ softmax(q)) = Σ P (log P − log Q), computed
// with log-softmax in float64.
func klSoftmax(p, q []float32) float64 {
	lp, lq := logSumExp(p), logSumExp(q)
	kl := 0.0
	for j := range p {
		a := float64(p[j]) - lp
		b := float64(q[j]) - lq
		kl += math.Exp(a) * (a - b)
	}
	if kl < 0 { // rounding when the two are (nearly) identical
		kl = 0
	}
	return kl
}

func logSumExp(x []float32) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	if math.IsInf(m, 0) {
		return m
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// FidelityResult is the summary of a Fidelity.
type FidelityResult struct {
	Samples int64
	// ClassAxis is the output axis the classes were read along (0: the
	// whole sample is one vector) and Positions the score vectors per
	// sample.
	ClassAxis, Positions int
	// Agreement is the fraction of score vectors (positions along the
	// class axis, one per sample for a classifier) whose top-1 class is
	// the same; NaN for outputs of one value per position (no classes).
	Agreement float64
	// Cosine is the mean per-sample cosine similarity.
	Cosine float64
	// MaxAbsDiff is the largest absolute difference of any value.
	MaxAbsDiff float64
	// SQNR is 10·log10(Σref² / Σ(ref−cand)²) in dB (see the SQNR function):
	// +Inf when the outputs are identical, -Inf when the candidate's
	// output holds NaN.
	SQNR float64
	// KL is the mean KL divergence of the softmaxed score vectors
	// (baseline ‖ candidate), per position; NaN for one-value outputs.
	KL float64
	// MSE and MAE of the candidate's values against the baseline's.
	MSE, MAE float64
}

// SQNR returns 10·log10(signal / noise) in dB, the signal-to-quantization-
// noise ratio of a candidate against a reference, from Σref² and
// Σ(ref − cand)² (SQNRSum). It is the one definition every verb uses:
// identical values (noise 0, two all-zero outputs included) give +Inf; a
// zero signal with some noise, and a NaN noise (a NaN in either output),
// give -Inf, the worst figure, so that no budget passes on it.
func SQNR(signal, noise float64) float64 {
	switch {
	case math.IsNaN(noise) || math.IsNaN(signal):
		return math.Inf(-1)
	case noise == 0:
		return math.Inf(1)
	}
	return 10 * math.Log10(signal/noise)
}

// SQNRSum accumulates what an SQNR is computed from, in float64: the
// energy of the reference values and of their difference from the
// candidate's. Its memory does not depend on the number of values.
type SQNRSum struct {
	Signal float64 // Σ ref²
	Noise  float64 // Σ (ref − cand)²
}

// Add folds in a reference and a candidate slice of equal length.
func (s *SQNRSum) Add(ref, cand []float32) {
	for i, r := range ref {
		a := float64(r)
		d := a - float64(cand[i])
		s.Signal += a * a
		s.Noise += d * d
	}
}

// DB is the SQNR of the values added so far, in dB (see SQNR).
func (s SQNRSum) DB() float64 { return SQNR(s.Signal, s.Noise) }

// Result summarizes the samples seen so far.
func (f *Fidelity) Result() FidelityResult {
	r := FidelityResult{
		Samples:    f.Samples,
		ClassAxis:  f.ClassAxis,
		Agreement:  float64(f.Agree) / float64(f.Positions),
		Cosine:     f.CosSum / float64(f.Samples),
		MaxAbsDiff: f.MaxAbs,
		SQNR:       f.Energy.DB(),
		KL:         f.KLSum / float64(f.Positions),
		MSE:        f.Energy.Noise / float64(f.Values),
		MAE:        f.ErrAbs / float64(f.Values),
	}
	if f.Samples > 0 {
		r.Positions = int(f.Positions / f.Samples)
	}
	if f.Width <= 1 || f.Classes == 1 {
		r.Agreement, r.KL = math.NaN(), math.NaN()
	}
	return r
}

// argmax returns the index of the first largest value (NaN never wins).
func argmax(x []float32) int {
	best := 0
	for i := 1; i < len(x); i++ {
		if x[i] > x[best] || (x[best] != x[best] && x[i] == x[i]) {
			best = i
		}
	}
	return best
}

func rowWidth(total, n int) (int, error) {
	if n <= 0 {
		return 0, fmt.Errorf("batch of %d samples", n)
	}
	if total == 0 || total%n != 0 {
		return 0, fmt.Errorf("output has %d values, not a whole number per sample for a batch of %d", total, n)
	}
	return total / n, nil
}
