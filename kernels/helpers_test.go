package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// forEachImpl runs f for every implementation in the table, skipping (with
// the reason) those the CPU lacks.
func forEachImpl(t *testing.T, f func(t *testing.T, im *impl)) {
	t.Helper()
	for _, e := range implTable {
		t.Run(e.impl.name, func(t *testing.T) {
			if !e.available {
				t.Skipf("CPU lacks %s", e.missing)
			}
			f(t, e.impl)
		})
	}
}

// activeEachImpl runs f with each implementation the CPU has made the active
// one (for kernels that dispatch inside, like Im2ColND), skipping the others.
func activeEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	defer SetImpl("")
	forEachImpl(t, func(t *testing.T, im *impl) {
		if err := SetImpl(im.name); err != nil {
			t.Fatal(err)
		}
		f(t)
	})
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// testLengths are the lengths every vector kernel is checked at: all of
// 0..130 and some large ones that are not multiples of a vector.
func testLengths() []int {
	var ns []int
	for n := 0; n <= 130; n++ {
		ns = append(ns, n)
	}
	return append(ns, 255, 1000, 4099, 1<<14+7)
}

// testOffsets are the starting offsets of the slices under test, so that
// data is not only 64-byte aligned.
var testOffsets = []int{0, 1, 3}

const guardLen = 17

// guarded returns a buffer of n values at offset off surrounded by guard
// values, and the n-element window.
func guardedF32(n, off int, guard float32) (buf, win []float32) {
	buf = make([]float32, off+n+guardLen)
	for i := range buf {
		buf[i] = guard
	}
	return buf, buf[off : off+n : off+n]
}

func checkGuardsF32(t *testing.T, buf []float32, off, n int, guard float32) {
	t.Helper()
	for i, v := range buf {
		if i >= off && i < off+n {
			continue
		}
		if math.Float32bits(v) != math.Float32bits(guard) {
			t.Fatalf("guard at %d (window [%d,%d)) changed to %v", i, off, off+n, v)
		}
	}
}

func guardedBytes(n, off int, guard byte) (buf, win []byte) {
	buf = make([]byte, off+n+guardLen)
	for i := range buf {
		buf[i] = guard
	}
	return buf, buf[off : off+n : off+n]
}

func checkGuardsBytes(t *testing.T, buf []byte, off, n int, guard byte) {
	t.Helper()
	for i, v := range buf {
		if i >= off && i < off+n {
			continue
		}
		if v != guard {
			t.Fatalf("guard at %d (window [%d,%d)) changed to %d", i, off, off+n, v)
		}
	}
}

// sameFloat reports whether a and b agree within tol relative to the larger
// magnitude (absolute below 1), treating NaNs as equal to each other and
// infinities as equal only to themselves.
func sameFloat(a, b, tol float64) bool {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return math.IsNaN(a) && math.IsNaN(b)
	case math.IsInf(a, 0) || math.IsInf(b, 0):
		return a == b
	}
	d := math.Abs(a - b)
	return d <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// within reports whether |a-b| <= bound, with NaN only matching NaN.
func within(a, b, bound float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= bound
}

// randF32 fills x with normal values of standard deviation sd.
func randF32(r *rand.Rand, x []float32, sd float64) {
	for i := range x {
		x[i] = float32(r.NormFloat64() * sd)
	}
}

// sprinkle puts NaN, ±Inf, ±0, subnormals and huge values at random places
// of x (about one in eight).
func sprinkle(r *rand.Rand, x []float32) {
	specials := []float32{
		float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, 3e38, -3e38,
	}
	for i := range x {
		if r.IntN(8) == 0 {
			x[i] = specials[r.IntN(len(specials))]
		}
	}
}
