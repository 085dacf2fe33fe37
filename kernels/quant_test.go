package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// quantInput returns n inputs for quantization tests: normal values around
// the code range, values far outside it, exact ties after division (for
// power-of-two scales) and special values.
func quantInput(r *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(4) {
		case 0: // a tie after division: (k + 0.5) * scale, exact for power-of-two scales
			x[i] = (float32(r.IntN(600)-300) + 0.5) * scale
		case 1: // far outside the range: saturates
			x[i] = float32(r.NormFloat64()*1000) * scale
		default:
			x[i] = float32(r.NormFloat64()*100) * scale
		}
	}
	sprinkle(r, x)
	return x
}

var quantParams = []struct {
	scale float32
	zpU   uint8
	zpI   int8
}{
	{0.5, 128, 0},
	{0.25, 0, -128},
	{0.0123, 17, 5},
	{3.7, 255, 127},
	{1e-30, 3, -7}, // division overflows to ±Inf
}

func TestQuantizeU8(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(10)
		for _, qp := range quantParams {
			for _, n := range testLengths() {
				for _, off := range testOffsets {
					src := quantInput(r, n, qp.scale)
					want := make([]uint8, n)
					quantizeU8Generic(want, src, qp.scale, qp.zpU)
					buf, dst := guardedBytes(n, off, 0xA5)
					im.quantizeU8(dst, src, qp.scale, qp.zpU)
					for i := range want {
						if dst[i] != want[i] {
							t.Fatalf("n=%d off=%d scale=%v zp=%d: dst[%d] = %d for %v, want %d", n, off, qp.scale, qp.zpU, i, dst[i], src[i], want[i])
						}
					}
					checkGuardsBytes(t, buf, off, n, 0xA5)
				}
			}
		}
	})
}

func TestQuantizeI8(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(11)
		for _, qp := range quantParams {
			for _, n := range testLengths() {
				for _, off := range testOffsets {
					src := quantInput(r, n, qp.scale)
					want := make([]int8, n)
					quantizeI8Generic(want, src, qp.scale, qp.zpI)
					buf, win := guardedBytes(n, off, 0x5A)
					dst := bytesAsI8(win)
					im.quantizeI8(dst, src, qp.scale, qp.zpI)
					for i := range want {
						if dst[i] != want[i] {
							t.Fatalf("n=%d off=%d scale=%v zp=%d: dst[%d] = %d for %v, want %d", n, off, qp.scale, qp.zpI, i, dst[i], src[i], want[i])
						}
					}
					checkGuardsBytes(t, buf, off, n, 0x5A)
				}
			}
		}
	})
}

func bytesAsI8(b []byte) []int8 {
	if len(b) == 0 {
		return []int8{}
	}
	return unsafe.Slice((*int8)(unsafe.Pointer(&b[0])), len(b))
}

// TestQuantizeSemantics pins the reference to ONNX QuantizeLinear as ONNX
// Runtime's CPU provider computes it: division by the scale, ties to even,
// saturation, NaN to the lowest code.
func TestQuantizeSemantics(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		x, scale float32
		zpU      uint8
		u8       uint8
		zpI      int8
		i8       int8
	}{
		{0.5, 1, 0, 0, 0, 0},         // tie to even: 0
		{1.5, 1, 0, 2, 0, 2},         // tie to even: 2
		{2.5, 1, 0, 2, 0, 2},         // tie to even: 2
		{-0.5, 1, 128, 128, 0, 0},    // -0 + 128
		{-1.5, 1, 128, 126, 0, -2},   // -2
		{-2.5, 1, 10, 8, 10, 8},      // -2 + 10
		{300, 1, 0, 255, 0, 127},     // saturate high
		{-300, 1, 0, 0, 0, -128},     // saturate low
		{100, 1, 200, 255, 100, 127}, // saturate after adding the zero point
		{inf, 1, 7, 255, 7, 127},
		{-inf, 1, 7, 0, 7, -128},
		{nan, 1, 7, 0, 7, -128},
		{1, 0, 3, 255, 3, 127},    // 1/0 = +Inf
		{0, 0, 3, 0, 3, -128},     // 0/0 = NaN
		{1.55, 0.1, 0, 15, 0, 15}, // 1.55f/0.1f = 15.499999; 1.55f*(1/0.1f) would be 15.5 and give 16
		{2.35, 0.1, 0, 23, 0, 23}, // 2.35f/0.1f = 23.499998
	}
	for _, c := range cases {
		u := []uint8{0}
		quantizeU8Generic(u, []float32{c.x}, c.scale, c.zpU)
		if u[0] != c.u8 {
			t.Errorf("QuantizeU8(%v, scale %v, zp %d) = %d, want %d", c.x, c.scale, c.zpU, u[0], c.u8)
		}
		i := []int8{0}
		quantizeI8Generic(i, []float32{c.x}, c.scale, c.zpI)
		if i[0] != c.i8 {
			t.Errorf("QuantizeI8(%v, scale %v, zp %d) = %d, want %d", c.x, c.scale, c.zpI, i[0], c.i8)
		}
	}
}

func TestQuantizeExported(t *testing.T) {
	src := []float32{-1, 0, 1, 2}
	u := make([]uint8, 4)
	QuantizeU8(u, src, 0.5, 10)
	if u[0] != 8 || u[1] != 10 || u[2] != 12 || u[3] != 14 {
		t.Fatalf("QuantizeU8 = %v", u)
	}
	f := make([]float32, 4)
	DequantizeU8(f, u, 0.5, 10)
	for i := range f {
		if !sameFloat(float64(f[i]), float64(src[i]), 0) {
			t.Fatalf("round trip %v -> %v", src, f)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("QuantizeU8 with a short dst did not panic")
		}
	}()
	QuantizeU8(u[:2], src, 1, 0)
}

func TestDequantize(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(12)
		for _, qp := range quantParams {
			for _, n := range testLengths() {
				for _, off := range testOffsets {
					src := make([]byte, n)
					for i := range src {
						src[i] = byte(r.IntN(256))
					}
					want := make([]float32, n)
					dequantizeU8Generic(want, src, qp.scale, qp.zpU)
					buf, dst := guardedF32(n, off, -99)
					im.dequantizeU8(dst, src, qp.scale, qp.zpU)
					for i := range want {
						if !sameFloat(float64(dst[i]), float64(want[i]), 0) {
							t.Fatalf("U8 n=%d off=%d: dst[%d] = %v, want %v", n, off, i, dst[i], want[i])
						}
					}
					checkGuardsF32(t, buf, off, n, -99)

					srcI := bytesAsI8(src)
					dequantizeI8Generic(want, srcI, qp.scale, qp.zpI)
					buf, dst = guardedF32(n, off, -99)
					im.dequantizeI8(dst, srcI, qp.scale, qp.zpI)
					for i := range want {
						if !sameFloat(float64(dst[i]), float64(want[i]), 0) {
							t.Fatalf("I8 n=%d off=%d: dst[%d] = %v, want %v", n, off, i, dst[i], want[i])
						}
					}
					checkGuardsF32(t, buf, off, n, -99)
				}
			}
		}
	})
}

func TestMinMaxAbsMax(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(13)
		for _, n := range testLengths() {
			for _, off := range testOffsets {
				for _, special := range []bool{false, true} {
					buf := make([]float32, off+n+guardLen)
					randF32(r, buf, 10)
					// Guards hold extremes that must not be seen.
					for i := range buf {
						if i < off || i >= off+n {
							buf[i] = 1e30 * float32(1-2*(i%2))
						}
					}
					src := buf[off : off+n]
					if special {
						sprinkle(r, src)
					}
					wlo, whi := minMaxGeneric(src)
					lo, hi := im.minMax(src)
					if !sameFloat(float64(lo), float64(wlo), 0) || !sameFloat(float64(hi), float64(whi), 0) {
						t.Fatalf("n=%d off=%d special=%v: MinMax = %v, %v, want %v, %v", n, off, special, lo, hi, wlo, whi)
					}
					wabs := absMaxGeneric(src)
					if got := im.absMax(src); !sameFloat(float64(got), float64(wabs), 0) {
						t.Fatalf("n=%d off=%d special=%v: AbsMax = %v, want %v", n, off, special, got, wabs)
					}
				}
			}
		}
	})
}

func TestMinMaxNaN(t *testing.T) {
	nan := float32(math.NaN())
	forEachImpl(t, func(t *testing.T, im *impl) {
		for _, n := range []int{0, 1, 7, 16, 33, 100} {
			src := make([]float32, n)
			for i := range src {
				src[i] = nan
			}
			lo, hi := im.minMax(src)
			if !math.IsInf(float64(lo), 1) || !math.IsInf(float64(hi), -1) {
				t.Fatalf("all-NaN n=%d: MinMax = %v, %v, want +Inf, -Inf", n, lo, hi)
			}
			if m := im.absMax(src); !sameFloat(float64(m), 0, 0) {
				t.Fatalf("all-NaN n=%d: AbsMax = %v, want 0", n, m)
			}
			if n > 3 {
				src[n/2], src[n-1] = -2, 5
				lo, hi = im.minMax(src)
				if !sameFloat(float64(lo), -2, 0) || !sameFloat(float64(hi), 5, 0) {
					t.Fatalf("NaN-laced n=%d: MinMax = %v, %v, want -2, 5", n, lo, hi)
				}
				if m := im.absMax(src); !sameFloat(float64(m), 5, 0) {
					t.Fatalf("NaN-laced n=%d: AbsMax = %v, want 5", n, m)
				}
			}
		}
	})
}

func TestPerChannel(t *testing.T) {
	r := newRand(14)
	for _, sh := range [][3]int{{1, 4, 37}, {3, 5, 1}, {2, 3, 20}, {0, 3, 4}, {4, 1, 17}} {
		outer, ch, inner := sh[0], sh[1], sh[2]
		src := make([]float32, outer*ch*inner)
		randF32(r, src, 3)
		sprinkle(r, src)
		abs := make([]float32, ch)
		lo := make([]float32, ch)
		hi := make([]float32, ch)
		for c := range lo {
			lo[c], hi[c] = float32(math.Inf(1)), float32(math.Inf(-1))
		}
		AbsMaxPerChannel(abs, src, outer, ch, inner)
		MinMaxPerChannel(lo, hi, src, outer, ch, inner)
		scale := make([]float32, ch)
		zpU := make([]uint8, ch)
		zpI := make([]int8, ch)
		for c := range scale {
			scale[c] = 0.01 * float32(c+1)
			zpU[c] = uint8(10 * c)
			zpI[c] = int8(-3 * c)
		}
		qu := make([]uint8, len(src))
		qi := make([]int8, len(src))
		QuantizeU8PerChannel(qu, src, outer, ch, inner, scale, zpU)
		QuantizeI8PerChannel(qi, src, outer, ch, inner, scale, zpI)
		du := make([]float32, len(src))
		di := make([]float32, len(src))
		DequantizeU8PerChannel(du, qu, outer, ch, inner, scale, zpU)
		DequantizeI8PerChannel(di, qi, outer, ch, inner, scale, zpI)
		for c := 0; c < ch; c++ {
			var wabs float32
			wlo, whi := float32(math.Inf(1)), float32(math.Inf(-1))
			for o := 0; o < outer; o++ {
				for i := 0; i < inner; i++ {
					j := (o*ch+c)*inner + i
					x := src[j]
					if a := float32(math.Abs(float64(x))); a > wabs {
						wabs = a
					}
					if x == x { // the min/max builtins would propagate NaN
						wlo, whi = min(wlo, x), max(whi, x)
					}
					u := []uint8{0}
					quantizeU8Generic(u, src[j:j+1], scale[c], zpU[c])
					s := []int8{0}
					quantizeI8Generic(s, src[j:j+1], scale[c], zpI[c])
					if qu[j] != u[0] || qi[j] != s[0] {
						t.Fatalf("%v: per-channel quantize of %v = %d/%d, want %d/%d", sh, x, qu[j], qi[j], u[0], s[0])
					}
					if wu := float32(int32(u[0])-int32(zpU[c])) * scale[c]; !sameFloat(float64(du[j]), float64(wu), 0) {
						t.Fatalf("%v: per-channel dequantize U8 = %v, want %v", sh, du[j], wu)
					}
					if wi := float32(int32(s[0])-int32(zpI[c])) * scale[c]; !sameFloat(float64(di[j]), float64(wi), 0) {
						t.Fatalf("%v: per-channel dequantize I8 = %v, want %v", sh, di[j], wi)
					}
				}
			}
			if !sameFloat(float64(abs[c]), float64(wabs), 0) {
				t.Fatalf("%v channel %d: AbsMaxPerChannel = %v, want %v", sh, c, abs[c], wabs)
			}
			if outer > 0 && (!sameFloat(float64(lo[c]), float64(wlo), 0) || !sameFloat(float64(hi[c]), float64(whi), 0)) {
				t.Fatalf("%v channel %d: MinMaxPerChannel = %v, %v, want %v, %v", sh, c, lo[c], hi[c], wlo, whi)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("AbsMaxPerChannel with a bad shape did not panic")
		}
	}()
	AbsMaxPerChannel(make([]float32, 2), make([]float32, 5), 1, 2, 2)
}

func TestHistogram(t *testing.T) {
	r := newRand(15)
	for _, nb := range []int{1, 2, 7, 128, 2048} {
		for _, n := range []int{0, 1, 5, 130, 10000} {
			src := make([]float32, n)
			randF32(r, src, 2)
			sprinkle(r, src)
			lo, hi := float32(-3), float32(4.5)
			counts := make([]int64, nb)
			nan, err := Histogram(counts, src, lo, hi)
			if err != nil {
				t.Fatal(err)
			}
			// Independent float64 reference; values within a rounding of a
			// bin edge may land on either side, so compare totals exactly
			// and bins with a slack of edge cases.
			want := make([]int64, nb)
			wantNaN := 0
			edge := 0
			for _, x := range src {
				if math.IsNaN(float64(x)) {
					wantNaN++
					continue
				}
				v := (float64(x) - float64(lo)) * float64(nb) / (float64(hi) - float64(lo))
				b := int(math.Floor(math.Max(0, math.Min(v, float64(nb-1)))))
				if v > 0 && v < float64(nb) && math.Abs(v-math.Round(v)) < 1e-4 {
					edge++
				}
				want[b]++
			}
			if nan != wantNaN {
				t.Fatalf("nb=%d n=%d: %d NaN reported, want %d", nb, n, nan, wantNaN)
			}
			var total, diff int64
			for i := range counts {
				total += counts[i]
				diff += max(counts[i]-want[i], want[i]-counts[i])
			}
			if total != int64(n-wantNaN) {
				t.Fatalf("nb=%d n=%d: %d values counted, want %d", nb, n, total, n-wantNaN)
			}
			if diff > int64(2*edge) {
				t.Fatalf("nb=%d n=%d: counts differ from the reference by %d (%d values near an edge)", nb, n, diff, edge)
			}
			// Counts accumulate across calls.
			if _, err := Histogram(counts, src, lo, hi); err != nil {
				t.Fatal(err)
			}
			total = 0
			for _, c := range counts {
				total += c
			}
			if total != 2*int64(n-wantNaN) {
				t.Fatalf("nb=%d n=%d: second batch gave %d in total, want %d", nb, n, total, 2*(n-wantNaN))
			}
		}
	}
	for _, rg := range [][2]float32{{1, 1}, {2, 1}, {float32(math.NaN()), 1}, {0, float32(math.Inf(1))}} {
		if _, err := Histogram(make([]int64, 4), []float32{1}, rg[0], rg[1]); err != ErrHistogramRange {
			t.Errorf("Histogram range %v: err = %v, want ErrHistogramRange", rg, err)
		}
	}
}

// TestHistogramImpls checks every implementation against the generic one:
// the bin arithmetic is the same float32 operations, so counts must agree
// exactly.
func TestHistogramImpls(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(16)
		for _, nb := range []int{1, 3, 256, 2048} {
			for _, n := range testLengths() {
				for _, off := range testOffsets {
					buf := make([]float32, off+n)
					randF32(r, buf, 2)
					src := buf[off:]
					sprinkle(r, src)
					want := make([]int64, nb)
					wantNaN := histogramGeneric(want, src, -2.5, 3)
					got := make([]int64, nb+2)
					got[0], got[nb+1] = -7, -7 // guards
					nan := im.histogram(got[1:nb+1], src, -2.5, 3)
					if got[0] != -7 || got[nb+1] != -7 {
						t.Fatalf("nb=%d n=%d: guards changed: %d %d", nb, n, got[0], got[nb+1])
					}
					if nan != wantNaN {
						t.Fatalf("nb=%d n=%d off=%d: %d NaN, want %d", nb, n, off, nan, wantNaN)
					}
					for i := range want {
						if got[i+1] != want[i] {
							t.Fatalf("nb=%d n=%d off=%d: bin %d = %d, want %d", nb, n, off, i, got[i+1], want[i])
						}
					}
				}
			}
		}
	})
}
