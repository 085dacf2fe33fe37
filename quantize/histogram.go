package quantize

import (
	"math"

	"github.com/shrinkml/shrink/kernels"
)

// Histogram counts values in equal-width bins on both sides of zero, so
// that sign information survives and zero is always a bin edge. The bin
// width is a power of two, 2^Exp, and there are Bins bins on each side:
// the range is [-R, R) with R = Bins·2^Exp. When a batch exceeds the range,
// R doubles (adjacent bins merge pairwise, exactly) until it fits, so
// merging batches costs no memory and no accuracy beyond the bin width.
//
// Counts is laid out for kernels.Histogram over [-R, R]: index Bins+i holds
// [i·w, (i+1)·w) and index Bins-1-i holds (-(i+1)·w, -i·w].
type Histogram struct {
	Bins   int
	Exp    int
	Counts []int64
	// Min and Max are the exact finite extremes seen; N the number of
	// values (NaN and infinities excluded); NaN and Inf the numbers of
	// NaN and infinite values skipped.
	Min, Max    float32
	N, NaN, Inf int64
	zeros       int64 // all-zero batches seen before the range was known
	started     bool
}

// NewHistogram returns an empty histogram with bins bins per side.
func NewHistogram(bins int) *Histogram {
	return &Histogram{Bins: bins, Min: float32(math.Inf(1)), Max: float32(math.Inf(-1))}
}

// Width is the bin width.
func (h *Histogram) Width() float64 { return math.Ldexp(1, h.Exp) }

// Range is R: the histogram covers [-R, R).
func (h *Histogram) Range() float64 { return float64(h.Bins) * h.Width() }

// Add folds a batch of values into the histogram. NaN values are counted
// in NaN and infinities in Inf, outside the bins: neither has a place on a
// finite range (calibration refuses them before they get here; Add only
// makes sure they can neither stall nor corrupt it).
func (h *Histogram) Add(x []float32) {
	if len(x) == 0 {
		return
	}
	lo, hi := kernels.MinMax(x)
	if lo > hi { // all NaN
		h.NaN += int64(len(x))
		return
	}
	if math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
		finite := make([]float32, 0, len(x))
		for _, v := range x {
			if math.IsInf(float64(v), 0) {
				h.Inf++
			} else {
				finite = append(finite, v) // NaN stays: the kernel counts it
			}
		}
		h.Add(finite)
		return
	}
	h.Min = min(h.Min, lo)
	h.Max = max(h.Max, hi)
	m := math.Max(math.Abs(float64(lo)), math.Abs(float64(hi)))
	if !h.started {
		if m == 0 {
			h.zeros += int64(len(x))
			h.N += int64(len(x))
			return
		}
		// Smallest power-of-two width with Bins·w > m.
		e := int(math.Ceil(math.Log2(m / float64(h.Bins))))
		for float64(h.Bins)*math.Ldexp(1, e) <= m {
			e++
		}
		h.Exp = e
		h.Counts = make([]int64, 2*h.Bins)
		h.Counts[h.Bins] = h.zeros
		h.started = true
	}
	for h.Range() <= m { // m is finite: R reaches it within ~280 doublings
		h.grow()
	}
	src, r := x, h.Range()
	if r > maxDirectRange || r < 1/maxDirectRange {
		// The kernel's float32 bin arithmetic (counts/(hi-lo)) would
		// overflow on 2R, or on its inverse: bin the values scaled by
		// 2^-Exp (exact in float64, and the result fits float32) over
		// [-Bins, Bins).
		f := math.Ldexp(1, -h.Exp)
		scaled := make([]float32, len(x))
		for i, v := range x {
			scaled[i] = float32(float64(v) * f)
		}
		src, r = scaled, float64(h.Bins)
	}
	nan, err := kernels.Histogram(h.Counts, src, float32(-r), float32(r))
	if err != nil {
		// The range is finite and non-empty by construction.
		panic(err)
	}
	h.NaN += int64(nan)
	h.N += int64(len(x) - nan)
}

// maxDirectRange bounds the ranges binned without scaling: from
// 1/maxDirectRange to maxDirectRange, 2R and the kernel's bin arithmetic
// stay far from float32's limits.
const maxDirectRange = 0x1p100

// grow doubles the bin width, merging bin pairs outward from zero.
func (h *Histogram) grow() {
	b := h.Bins
	pos := h.Counts[b:]
	neg := h.Counts[:b] // neg[b-1-i] is magnitude bin i
	for i := 0; i < b; i++ {
		var p, n int64
		if 2*i < b {
			p = pos[2*i] + pos[2*i+1]
			n = neg[b-1-2*i] + neg[b-2-2*i]
		}
		pos[i] = p
		neg[b-1-i] = n
	}
	h.Exp++
}

// Merge adds the counts of o (same Bins) into h.
func (h *Histogram) Merge(o *Histogram) {
	if o.N == 0 && o.NaN == 0 && o.Inf == 0 {
		return
	}
	h.Min, h.Max = min(h.Min, o.Min), max(h.Max, o.Max)
	h.NaN += o.NaN
	h.Inf += o.Inf
	if !o.started {
		h.N += o.N
		if h.started {
			h.Counts[h.Bins] += o.zeros
		} else {
			h.zeros += o.zeros
		}
		return
	}
	oc := append([]int64(nil), o.Counts...)
	oe := o.Exp
	if !h.started {
		h.Exp, h.Counts, h.started = oe, make([]int64, 2*h.Bins), true
		h.Counts[h.Bins] = h.zeros
	}
	for h.Exp < oe {
		h.grow()
	}
	tmp := &Histogram{Bins: o.Bins, Exp: oe, Counts: oc}
	for tmp.Exp < h.Exp {
		tmp.grow()
	}
	for i, c := range tmp.Counts {
		h.Counts[i] += c
	}
	h.N += o.N
}

// sides returns the magnitude histograms of the positive and negative
// values (index i covers [i·w, (i+1)·w) in magnitude).
func (h *Histogram) sides() (pos, neg []float64) {
	b := h.Bins
	pos, neg = make([]float64, b), make([]float64, b)
	if !h.started {
		pos[0] = float64(h.zeros)
		return
	}
	for i := 0; i < b; i++ {
		pos[i] = float64(h.Counts[b+i])
		neg[i] = float64(h.Counts[b-1-i])
	}
	return
}

// quantile returns the value below which a fraction q of the mass of the
// magnitude histogram c lies, interpolating linearly inside the bin.
func quantile(c []float64, w, q float64) float64 {
	var total float64
	for _, v := range c {
		total += v
	}
	if total == 0 {
		return 0
	}
	target := q * total
	var cum float64
	for i, v := range c {
		if cum+v >= target && v > 0 {
			return (float64(i) + (target-cum)/v) * w
		}
		cum += v
	}
	return float64(len(c)) * w
}
