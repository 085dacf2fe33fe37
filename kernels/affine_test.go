package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// testInputs draws x (with specials sprinkled in when specials is set) at
// offset off of a slightly longer buffer, so that data is unaligned.
func testInput(r *rand.Rand, n, off int, sd float64, specials bool) []float32 {
	buf := make([]float32, off+n)
	randF32(r, buf, sd)
	if specials {
		sprinkle(r, buf)
	}
	return buf[off:]
}

func sameBits(t *testing.T, what string, n, off int, got, want []float32) {
	t.Helper()
	for i := range want {
		if !sameFloat(float64(got[i]), float64(want[i]), 0) || math.Signbit(float64(got[i])) != math.Signbit(float64(want[i])) {
			t.Fatalf("%s n=%d off=%d: [%d] = %v, want %v", what, n, off, i, got[i], want[i])
		}
	}
}

// TestElementwiseImpls checks Relu, ReluBackward, Affine and
// AffineBackward of every implementation against the generic code, which
// they must match bit for bit (NaN, ±Inf, ±0 and subnormals included).
func TestElementwiseImpls(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(40)
		for _, n := range testLengths() {
			for _, off := range testOffsets {
				x := testInput(r, n, off, 2, true)
				g := testInput(r, n, (off+1)%3, 1, true)
				a, b := float32(r.NormFloat64()), float32(r.NormFloat64())
				want := make([]float32, n)
				buf, dst := guardedF32(n, off, 7)

				reluGeneric(want, x)
				im.relu(dst, x)
				sameBits(t, "relu", n, off, dst, want)
				checkGuardsF32(t, buf, off, n, 7)

				reluBackwardGeneric(want, g, x)
				im.reluBackward(dst, g, x)
				sameBits(t, "reluBackward", n, off, dst, want)
				checkGuardsF32(t, buf, off, n, 7)

				for _, relu := range []bool{false, true} {
					affineGeneric(want, x, a, b, relu)
					im.affine(dst, x, a, b, relu)
					sameBits(t, "affine", n, off, dst, want)
					checkGuardsF32(t, buf, off, n, 7)

					c1, c2, c3 := float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64())
					affineBackwardGeneric(want, g, x, a, b, relu, c1, c2, c3)
					im.affineBackward(dst, g, x, a, b, relu, c1, c2, c3)
					sameBits(t, "affineBackward", n, off, dst, want)
					checkGuardsF32(t, buf, off, n, 7)
				}
			}
		}
	})
}

// TestAffineReference pins the generic kernels to their doc comments'
// loops on hand-picked values.
func TestAffineReference(t *testing.T) {
	nan := float32(math.NaN())
	x := []float32{-2, -0.5, 0, 1, 3, nan}
	y := make([]float32, len(x))
	Affine(y, x, 2, 1, true) // 2x+1: -3, 0, 1, 3, 7, NaN
	want := []float32{0, 0, 1, 3, 7, nan}
	sameBits(t, "Affine", len(x), 0, y, want)
	g := []float32{1, 2, 3, 4, 5, 6}
	AffineBackward(y, g, x, 2, 1, true, 10, 100, 1000) // mask: x*2+1 > 0 (false at -0.5: exactly 0)
	want = []float32{-200 + 1000, -50 + 1000, 30 + 0 + 1000, 40 + 100 + 1000, 50 + 300 + 1000, nan}
	sameBits(t, "AffineBackward", len(x), 0, y, want)
	sg, sgx := AffineGradSums(g[:5], x[:5], 2, 1, true, 1)
	// sgx = 3·(0−1) + 4·(1−1) + 5·(3−1)
	if sg != 3+4+5 || sgx != 7 {
		t.Fatalf("AffineGradSums = %v, %v, want 12, 7", sg, sgx)
	}
	s, q := Moments([]float32{1, 2, 3, 6}, 2)
	if s != 4 || q != 1+0+1+16 {
		t.Fatalf("Moments = %v, %v, want 4, 18", s, q)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Affine with a short dst did not panic")
		}
	}()
	Affine(y[:2], x, 1, 0, false)
}

// TestSumKernels checks Moments and AffineGradSums of every implementation
// against float64 sums, within the error of float32 partial sums of 16
// terms added in float64.
func TestSumKernels(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(41)
		for _, n := range testLengths() {
			for _, off := range testOffsets {
				x := testInput(r, n, off, 3, false)
				g := testInput(r, n, (off+2)%3, 1, false)
				shift := float32(r.NormFloat64())
				a, b := float32(r.NormFloat64()), float32(r.NormFloat64())
				// The float32 partial sums have at most 16 terms: allow
				// float32 rounding of 16 terms beside float64's of n.
				var s, q, mag float64
				for _, v := range x {
					d := float64(v - shift)
					s, q, mag = s+d, q+d*d, mag+math.Abs(d)+d*d
				}
				tol := (18*0x1p-24 + float64(n+2)*0x1p-52) * mag
				gs, gq := im.moments(x, shift)
				if !within(gs, s, tol) || !within(gq, q, tol) {
					t.Fatalf("moments n=%d off=%d: %v, %v, want %v, %v", n, off, gs, gq, s, q)
				}
				for _, relu := range []bool{false, true} {
					var sg, sgx, m float64
					for i, v := range x {
						gv := float64(g[i])
						if relu && !(float32(v*a)+b > 0) {
							gv = 0
						}
						d := float64(v - shift)
						sg, sgx, m = sg+gv, sgx+gv*d, m+math.Abs(gv)+math.Abs(gv*d)
					}
					tol := (18*0x1p-24 + float64(n+2)*0x1p-52) * m
					g1, g2 := im.gradSums(g, x, a, b, relu, shift)
					if !within(g1, sg, tol) || !within(g2, sgx, tol) {
						t.Fatalf("gradSums relu=%v n=%d off=%d: %v, %v, want %v, %v", relu, n, off, g1, g2, sg, sgx)
					}
				}
			}
		}
		// Specials propagate: NaN in x makes the sums NaN.
		x := []float32{1, 2, float32(math.NaN()), 4}
		x = append(x, make([]float32, 60)...)
		if s, q := im.moments(x, 0); !math.IsNaN(s) || !math.IsNaN(q) {
			t.Fatalf("moments with NaN = %v, %v", s, q)
		}
	})
}

// TestOptimizerKernels checks SGDStep and AdamStep of every implementation
// against the generic code bit for bit, over every length and offset, with
// guard values around the weights and buffers.
func TestOptimizerKernels(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(42)
		for _, n := range testLengths() {
			for _, off := range testOffsets {
				g := testInput(r, n, off, 1, false)
				w0 := testInput(r, n, 0, 1, false)
				b0 := testInput(r, n, 0, 0.1, false)
				for _, mode := range []struct {
					mu       float32
					nesterov bool
				}{{0, false}, {0.9, false}, {0.9, true}} {
					wb, w := guardedF32(n, off, 5)
					bb, b := guardedF32(n, (off+1)%3, 6)
					copy(w, w0)
					copy(b, b0)
					ww, wbuf := append([]float32(nil), w0...), append([]float32(nil), b0...)
					sgdGeneric(ww, g, wbuf, 0.01, mode.mu, 1e-4, mode.nesterov)
					im.sgd(w, g, b, 0.01, mode.mu, 1e-4, mode.nesterov)
					sameBits(t, "sgd w", n, off, w, ww)
					if mode.mu != 0 {
						sameBits(t, "sgd buf", n, off, b, wbuf)
					}
					checkGuardsF32(t, wb, off, n, 5)
					checkGuardsF32(t, bb, (off+1)%3, n, 6)
				}
				for _, c := range []AdamCoeffs{
					{Beta1: 0.9, Beta2: 0.999, Decay: 1, L2: 1e-2, Step: 1e-3 / 0.1, InvSqrtC2: 31.6, Eps: 1e-8},
					{Beta1: 0.8, Beta2: 0.99, Decay: 1 - 1e-5, Step: 2e-3, InvSqrtC2: 1.2, Eps: 1e-6},
				} {
					wb, w := guardedF32(n, off, 5)
					mb, m := guardedF32(n, 2, 6)
					vb, v := guardedF32(n, 1, 7)
					copy(w, w0)
					copy(m, b0)
					for i := range v {
						v[i] = b0[i] * b0[i]
					}
					ww, wm, wv := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
					adamGeneric(ww, g, wm, wv, c)
					im.adam(w, g, m, v, c)
					sameBits(t, "adam w", n, off, w, ww)
					sameBits(t, "adam m", n, off, m, wm)
					sameBits(t, "adam v", n, off, v, wv)
					checkGuardsF32(t, wb, off, n, 5)
					checkGuardsF32(t, mb, 2, n, 6)
					checkGuardsF32(t, vb, 1, n, 7)
				}
			}
		}
	})
}

// TestOptimizerReference pins the generic updates to PyTorch's rules
// written out in float64 for one element.
func TestOptimizerReference(t *testing.T) {
	w, g, b := []float32{0.5}, []float32{0.2}, []float32{0.1}
	SGDStep(w, g, b, 0.1, 0.9, 0.01, true)
	d := 0.2 + 0.01*0.5
	buf := 0.9*0.1 + d
	if want := 0.5 - 0.1*(d+0.9*buf); !within(float64(w[0]), want, 1e-7) || !within(float64(b[0]), buf, 1e-7) {
		t.Fatalf("SGDStep: w=%v b=%v, want %v %v", w[0], b[0], want, buf)
	}
	w, m, v := []float32{0.5}, []float32{0.1}, []float32{0.04}
	c := AdamCoeffs{Beta1: 0.9, Beta2: 0.999, Decay: 1, Step: 0.01 / (1 - 0.81), InvSqrtC2: float32(1 / math.Sqrt(1-0.998001)), Eps: 1e-8}
	AdamStep(w, g, m, v, c)
	mi, vi := 0.9*0.1+0.1*0.2, 0.999*0.04+0.001*0.04
	want := 0.5 - float64(c.Step)*mi/(math.Sqrt(vi)*float64(c.InvSqrtC2)+1e-8)
	if !within(float64(w[0]), want, 1e-6) || !within(float64(m[0]), mi, 1e-7) || !within(float64(v[0]), vi, 1e-7) {
		t.Fatalf("AdamStep: w=%v m=%v v=%v, want %v %v %v", w[0], m[0], v[0], want, mi, vi)
	}
}
