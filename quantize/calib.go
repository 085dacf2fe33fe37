package quantize

import (
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/transform"
)

// Calibrator gathers statistics of activation tensors over calibration
// batches and turns them into ranges. Observe is called once per tensor per
// batch; memory must not grow with the number of batches.
type Calibrator interface {
	// Observe folds one batch of tensor name's values into its statistics.
	Observe(name string, data []float32)
	// Range returns the calibrated range of name for a quantized type that
	// is symmetric (int8, zero point 0) or not (uint8). ok is false for a
	// tensor never observed.
	Range(name string, symmetric bool) (lo, hi float32, ok bool)
	// Observed returns the exact minimum and maximum seen.
	Observed(name string) (lo, hi float32, ok bool)
}

// CalibOptions configures a calibrator.
type CalibOptions struct {
	// Percentile in (0, 100] for the percentile method.
	Percentile float64
	// Bins per side of zero for the histogram methods.
	Bins int
}

// CalibratorFactory builds a calibrator.
type CalibratorFactory func(CalibOptions) Calibrator

var (
	calibMu     sync.RWMutex
	calibrators = map[CalibMethod]CalibratorFactory{
		MinMax: func(CalibOptions) Calibrator { return &minMaxCalib{stats: map[string]*[2]float32{}} },
		Percentile: func(o CalibOptions) Calibrator {
			return &histCalib{o: o, method: Percentile, h: map[string]*Histogram{}}
		},
		Entropy: func(o CalibOptions) Calibrator { return &histCalib{o: o, method: Entropy, h: map[string]*Histogram{}} },
	}
)

// RegisterCalibrator adds (or replaces) a calibration method.
func RegisterCalibrator(m CalibMethod, f CalibratorFactory) {
	calibMu.Lock()
	defer calibMu.Unlock()
	calibrators[m] = f
}

// NewCalibrator returns a calibrator for method m.
func NewCalibrator(m CalibMethod, o CalibOptions) (Calibrator, error) {
	calibMu.RLock()
	f, ok := calibrators[m]
	calibMu.RUnlock()
	if !ok {
		return nil, transform.Errorf("CalibMethod", m, "want %s", strings.Join(CalibMethods(), ", "))
	}
	if o.Bins == 0 {
		o.Bins = DefaultHistBins
	}
	o.Bins += o.Bins & 1
	if o.Percentile == 0 {
		o.Percentile = DefaultPercentile
	}
	return f(o), nil
}

// hasCalibrator reports whether method m is registered.
func hasCalibrator(m CalibMethod) bool {
	calibMu.RLock()
	defer calibMu.RUnlock()
	_, ok := calibrators[m]
	return ok
}

// CalibMethods lists the registered methods, sorted.
func CalibMethods() []string {
	calibMu.RLock()
	defer calibMu.RUnlock()
	var out []string
	for m := range calibrators {
		out = append(out, string(m))
	}
	sort.Strings(out)
	return out
}

// minMaxCalib keeps the running minimum and maximum.
type minMaxCalib struct{ stats map[string]*[2]float32 }

func (c *minMaxCalib) Observe(name string, data []float32) {
	if len(data) == 0 {
		return
	}
	lo, hi := kernels.MinMax(data)
	if lo > hi {
		return
	}
	s, ok := c.stats[name]
	if !ok {
		c.stats[name] = &[2]float32{lo, hi}
		return
	}
	s[0], s[1] = min(s[0], lo), max(s[1], hi)
}

func (c *minMaxCalib) Observed(name string) (float32, float32, bool) {
	s, ok := c.stats[name]
	if !ok {
		return 0, 0, false
	}
	return s[0], s[1], true
}

func (c *minMaxCalib) Range(name string, symmetric bool) (float32, float32, bool) {
	lo, hi, ok := c.Observed(name)
	if ok && symmetric {
		a := max(-lo, hi)
		return -a, a, true
	}
	return lo, hi, ok
}

// histCalib keeps one Histogram per tensor.
type histCalib struct {
	o      CalibOptions
	method CalibMethod
	h      map[string]*Histogram
}

func (c *histCalib) Observe(name string, data []float32) {
	h, ok := c.h[name]
	if !ok {
		h = NewHistogram(c.o.Bins)
		c.h[name] = h
	}
	h.Add(data)
}

func (c *histCalib) Observed(name string) (float32, float32, bool) {
	h, ok := c.h[name]
	if !ok || h.N == 0 {
		return 0, 0, false
	}
	return h.Min, h.Max, true
}

func (c *histCalib) Range(name string, symmetric bool) (float32, float32, bool) {
	h, ok := c.h[name]
	if !ok || h.N == 0 {
		return 0, 0, false
	}
	pos, neg := h.sides()
	w := h.Width()
	lo, hi := float64(min(h.Min, 0)), float64(max(h.Max, 0))
	switch c.method {
	case Percentile:
		q := c.o.Percentile / 100
		if symmetric {
			t := quantile(addSides(pos, neg), w, q)
			t = math.Min(t, math.Max(-lo, hi))
			return float32(-t), float32(t), true
		}
		// One-sided: the clip on each side keeps the same share of that
		// side's mass.
		hi = math.Min(hi, quantile(pos, w, q))
		lo = math.Max(lo, -quantile(neg, w, q))
		return float32(lo), float32(hi), true
	case Entropy:
		switch {
		case symmetric || (lo < 0 && hi > 0):
			t := entropyThreshold(addSides(pos, neg), w, 128)
			if symmetric {
				t = math.Min(t, math.Max(-lo, hi))
				return float32(-t), float32(t), true
			}
			return float32(math.Max(lo, -t)), float32(math.Min(hi, t)), true
		case hi > 0:
			return 0, float32(math.Min(hi, entropyThreshold(pos, w, 255))), true
		default:
			return float32(math.Max(lo, -entropyThreshold(neg, w, 255))), 0, true
		}
	}
	return float32(lo), float32(hi), true
}

func addSides(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

// entropyThreshold picks the clipping threshold T of a magnitude histogram
// (bin width w) that minimizes the Kullback–Leibler divergence KL(P‖Q)
// between P, the histogram clipped at T with the mass beyond T added to its
// last bin, and Q, the clipped histogram without that mass quantized to
// `levels` levels (each level's count spread evenly over its non-empty
// bins), P and Q each normalized. Q has no share of the clipped mass, so
// clipping costs divergence; coarse levels cost it too. Bins where P has
// mass and Q none get a small floor (smoothing). Candidates are bin edges
// from `levels` bins up to the last non-empty bin, at most
// entropyCandidates of them evenly spaced; histograms with more than
// maxEntropyBins non-empty bins are first coarsened pairwise.
func entropyThreshold(c []float64, w float64, levels int) float64 {
	last := len(c) - 1
	for last >= 0 && c[last] == 0 {
		last--
	}
	if last < 0 {
		return 0
	}
	c = append([]float64(nil), c[:last+1]...)
	// Zero is exact in every quantized type: the spike of zeros (ReLU,
	// padding) in the first bin costs nothing, so it must not steer the
	// search. Flatten it to its neighbour's density.
	if len(c) > 1 && c[0] > c[1] {
		c[0] = c[1]
	}
	for len(c) > maxEntropyBins {
		n := (len(c) + 1) / 2
		m := make([]float64, n)
		for i, v := range c {
			m[i/2] += v
		}
		c, w = m, 2*w
	}
	nb := len(c)
	if nb <= levels {
		return float64(nb) * w
	}
	suffix := make([]float64, nb+1) // suffix[i] = Σ c[i:]
	for i := nb - 1; i >= 0; i-- {
		suffix[i] = suffix[i+1] + c[i]
	}
	best, bestI := math.Inf(1), nb
	q := make([]float64, nb)
	step := max(1, (nb-levels)/entropyCandidates)
	for i := levels; i <= nb; i += step {
		kl := klClipped(c[:i], suffix[i], q[:i], levels)
		if kl < best {
			best, bestI = kl, i
		}
	}
	return float64(bestI) * w
}

// klClipped is KL(P‖Q) for the first len(c) bins with `outliers` folded
// into P's last bin; q is scratch space of len(c).
func klClipped(c []float64, outliers float64, q []float64, levels int) float64 {
	i := len(c)
	var qTotal float64
	for j := 0; j < levels; j++ {
		a, b := j*i/levels, (j+1)*i/levels
		var mass float64
		nz := 0
		for k := a; k < b; k++ {
			mass += c[k]
			if c[k] > 0 {
				nz++
			}
		}
		for k := a; k < b; k++ {
			q[k] = 0
			if c[k] > 0 {
				q[k] = mass / float64(nz)
			}
		}
		qTotal += mass
	}
	pTotal := qTotal + outliers
	if qTotal == 0 {
		return math.Inf(1)
	}
	const floor = 1e-4 // smoothing for bins where Q is empty and P not
	var kl float64
	for k := 0; k < i; k++ {
		p := c[k]
		if k == i-1 {
			p += outliers
		}
		if p == 0 {
			continue
		}
		pn := p / pTotal
		qn := q[k] / qTotal
		if qn == 0 {
			qn = floor / float64(i)
		}
		kl += pn * math.Log(pn/qn)
	}
	return kl
}

const (
	maxEntropyBins    = 4096
	entropyCandidates = 512
)
