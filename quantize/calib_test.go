package quantize

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shrinkml/shrink/kernels"
)

func normals(seed uint64, n int, sigma float64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(sigma * r.NormFloat64())
	}
	return x
}

// Adding batches one at a time (the range doubling as they grow) gives the
// same histogram as adding them all at once, and the counts add up.
func TestHistogramMergesAcrossBatches(t *testing.T) {
	var all []float32
	h := NewHistogram(256)
	for b := 0; b < 6; b++ {
		x := normals(uint64(b), 1000, math.Pow(3, float64(b))) // growing spread forces regrowth
		h.Add(x)
		all = append(all, x...)
	}
	one := NewHistogram(256)
	one.Add(all)
	if h.Exp != one.Exp || !slices.Equal(h.Counts, one.Counts) {
		t.Fatalf("incremental histogram (exp %d) differs from one-shot (exp %d)", h.Exp, one.Exp)
	}
	var sum int64
	for _, c := range h.Counts {
		sum += c
	}
	if sum != int64(len(all)) || h.N != int64(len(all)) {
		t.Fatalf("counts sum %d, N %d, want %d", sum, h.N, len(all))
	}
	lo, hi := kernels.MinMax(all)
	if h.Min != lo || h.Max != hi {
		t.Fatalf("min/max %g %g want %g %g", h.Min, h.Max, lo, hi)
	}
	// Merge of two halves equals the whole.
	a, b := NewHistogram(256), NewHistogram(256)
	a.Add(all[:3000])
	b.Add(all[3000:])
	a.Merge(b)
	if a.Exp != one.Exp || !slices.Equal(a.Counts, one.Counts) {
		t.Fatal("merged histogram differs")
	}
	// Memory does not depend on the number of values.
	if len(h.Counts) != 512 {
		t.Fatalf("%d bins", len(h.Counts))
	}
}

// Signs stay apart: positive values land right of zero, negative left.
func TestHistogramKeepsSigns(t *testing.T) {
	h := NewHistogram(128)
	h.Add([]float32{0, 0, 1, 2, 3})
	pos, neg := h.sides()
	var p, n float64
	for i := range pos {
		p += pos[i]
		n += neg[i]
	}
	if p != 5 || n != 0 {
		t.Fatalf("pos %g neg %g", p, n)
	}
	h.Add([]float32{-5, -0.5, float32(math.NaN())})
	pos, neg = h.sides()
	p, n = 0, 0
	for i := range pos {
		p += pos[i]
		n += neg[i]
	}
	if p != 5 || n != 2 || h.NaN != 1 {
		t.Fatalf("pos %g neg %g nan %d", p, n, h.NaN)
	}
	// All-zero batches before the range is known are kept as zeros.
	z := NewHistogram(128)
	z.Add([]float32{0, 0})
	z.Add([]float32{1})
	if pos, _ := z.sides(); pos[0] != 2 {
		t.Fatalf("zeros lost: %v", pos[:4])
	}
}

func TestCalibratorsOnNormalData(t *testing.T) {
	for _, m := range []CalibMethod{MinMax, Percentile, Entropy} {
		c, err := NewCalibrator(m, CalibOptions{Percentile: 99.9, Bins: 2048})
		if err != nil {
			t.Fatal(err)
		}
		var lo0, hi0 float32 = 0, 0
		for b := 0; b < 5; b++ {
			x := normals(uint64(10+b), 20000, 1)
			c.Observe("x", x)
			l, h := kernels.MinMax(x)
			lo0, hi0 = min(lo0, l), max(hi0, h)
			relu := make([]float32, len(x))
			for i, v := range x {
				relu[i] = max(v, 0)
			}
			c.Observe("relu", relu)
		}
		lo, hi, ok := c.Range("x", false)
		if !ok {
			t.Fatal("no range")
		}
		olo, ohi, _ := c.Observed("x")
		if olo != lo0 || ohi != hi0 {
			t.Errorf("%s: observed %g %g want %g %g", m, olo, ohi, lo0, hi0)
		}
		slo, shi, _ := c.Range("x", true)
		rlo, rhi, _ := c.Range("relu", false)
		if slo != -shi {
			t.Errorf("%s: symmetric range %g %g", m, slo, shi)
		}
		if rlo != 0 {
			t.Errorf("%s: ReLU range starts at %g", m, rlo)
		}
		switch m {
		case MinMax:
			if lo != lo0 || hi != hi0 {
				t.Errorf("minmax %g %g", lo, hi)
			}
		case Percentile:
			// Each side keeps 99.9% of its own mass: the half-normal's
			// 99.9th percentile, 3.29, as for |x| (symmetric); the ReLU
			// output's positive side holds the zeros too, so it is cut at
			// the half-normal's 99.8th percentile, 3.09.
			if !near(float64(hi), 3.29, 0.05) || !near(float64(-lo), 3.29, 0.05) || !near(float64(shi), 3.29, 0.05) || !near(float64(rhi), 3.09, 0.05) {
				t.Errorf("percentile: [%g, %g], symmetric %g, relu %g", lo, hi, shi, rhi)
			}
		case Entropy:
			// The KL-optimal clip of a Gaussian at 128 levels is well
			// inside the observed range and well outside one sigma.
			if !(shi > 2.5 && shi < float32(max(-lo0, hi0))) || !(rhi > 2.5 && rhi <= hi0) {
				t.Errorf("entropy: symmetric %g, relu %g (observed max %g)", shi, rhi, hi0)
			}
		}
	}
}

func TestCalibratorFactory(t *testing.T) {
	if _, err := NewCalibrator("bogus", CalibOptions{}); err == nil {
		t.Fatal("unknown method accepted")
	}
	RegisterCalibrator("fixed", func(CalibOptions) Calibrator { return fixedCalib{} })
	defer func() {
		calibMu.Lock()
		delete(calibrators, "fixed")
		calibMu.Unlock()
	}()
	c, err := NewCalibrator("fixed", CalibOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi, _ := c.Range("t", false); lo != -1 || hi != 2 {
		t.Fatal("registered calibrator not used")
	}
	if !slices.Contains(CalibMethods(), "fixed") {
		t.Fatal("not listed")
	}
}

type fixedCalib struct{}

func (fixedCalib) Observe(string, []float32)                   {}
func (fixedCalib) Range(string, bool) (float32, float32, bool) { return -1, 2, true }
func (fixedCalib) Observed(string) (float32, float32, bool)    { return -1, 2, true }

func TestEntropyThresholdPrefersClippingOutliers(t *testing.T) {
	// A half-Gaussian bulk over the first ~200 of 2000 bins plus one far
	// outlier: the threshold stays near the bulk.
	c := make([]float64, 2000)
	for i := 0; i < 250; i++ {
		x := float64(i) / 60
		c[i] = math.Round(1e5 * math.Exp(-x*x/2))
	}
	c[1999] = 1
	th := entropyThreshold(c, 1, 128)
	if th < 128 || th > 300 {
		t.Fatalf("threshold %g, want near the bulk (~180-250)", th)
	}
	// A uniform histogram is best kept whole.
	u := make([]float64, 1000)
	for i := range u {
		u[i] = 10
	}
	if th := entropyThreshold(u, 0.5, 128); th < 450 {
		t.Fatalf("uniform threshold %g, want ~500", th)
	}
}

// Option checks read the calibrator registry under its lock, so methods
// can be registered while other goroutines quantize (`go test -race`
// reports the unlocked read this replaced).
func TestCalibratorRegistryConcurrent(t *testing.T) {
	done := make(chan bool)
	go func() {
		for i := 0; i < 200; i++ {
			RegisterCalibrator(CalibMethod(fmt.Sprintf("concurrent-%d", i%4)), func(CalibOptions) Calibrator { return fixedCalib{} })
		}
		close(done)
	}()
	src := &memSource{}
	for i := 0; i < 200; i++ {
		if _, err := (Options{Calib: src, CalibMethod: MinMax}).withDefaults(); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if _, err := (Options{Calib: src, CalibMethod: "concurrent-3"}).withDefaults(); err != nil {
		t.Errorf("a registered method refused: %v", err)
	}
}
