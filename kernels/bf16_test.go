package kernels

import (
	"math"
	"testing"
)

// TestToBF16 pins the rounding: to nearest, ties to even, NaN quiet,
// overflow to Inf, and the round trip of every bfloat16.
func TestToBF16(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // above the tie
		{0x7f7fffff, 0x7f80}, // max float rounds to Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7f800001, 0x7fc0}, // signalling NaN becomes quiet
		{0xffc12345, 0xffc1}, // quiet NaN keeps its sign and top payload
		{0x80000000, 0x8000}, // -0
		{0x00000001, 0x0000}, // tiny subnormal rounds to 0
	} {
		if got := ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	for h := 0; h < 1<<16; h++ {
		x := FromBF16(uint16(h))
		if x != x {
			continue
		}
		if got := ToBF16(x); got != uint16(h) {
			t.Fatalf("round trip of %#04x gives %#04x", h, got)
		}
	}
}

// refGemmBF16 is refGemm on bfloat16-rounded copies of the operands (the
// products are then exact in float64 and float32 alike).
func refGemmBF16(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) ([]float64, []float64) {
	ra := make([]float32, len(a))
	for i, v := range a {
		ra[i] = roundBF16(v)
	}
	rb := make([]float32, len(b))
	for i, v := range b {
		rb[i] = roundBF16(v)
	}
	return refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, ra, lda, rb, ldb, tc.beta, c, ldc)
}

func refGemmFP32(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) ([]float64, []float64) {
	return refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
}

// TestSgemmBF16 checks SgemmBF16 of every implementation (AMX tiles where
// the CPU has them) against the float64 product of the rounded operands
// (unrounded for the products AMX leaves to Sgemm):
// every transpose combination, sizes around the 32×32 blocks and 32-deep
// steps, alpha/beta combinations, padded leading dimensions, thread counts,
// guard values around C, and NaN in A's and B's padding that must not be
// read.
func TestSgemmBF16(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		t.Logf("bfloat16 unit %q", im.bf16Unit)
		r := newRand(60)
		sizes := [][3]int{{1, 1, 1}, {31, 33, 32}, {32, 32, 31}, {33, 31, 65}, {64, 64, 64}, {5, 70, 3}, {70, 5, 100},
			{97, 130, 47}, {16, 32, 32}, {33, 33, 33}, {47, 65, 97}, {100, 40, 96}, {15, 64, 64}}
		for _, tr := range transCombos {
			for i, sz := range sizes {
				tc := gemmCase{transA: tr[0], transB: tr[1], m: sz[0], n: sz[1], k: sz[2],
					alpha: []float32{1, 1, -0.5}[i%3], beta: []float32{0, 1, 0.25, 0}[i%4],
					padA: i % 3, padB: (i + 1) % 3, padC: i % 2}
				ref := refGemmBF16
				if im.bf16Unit == "amx" && amxSmall(tc.m, tc.n, tc.k) {
					ref = refGemmFP32 // run as Sgemm, unrounded
				}
				checkGemmWith(t, tc, r, ref, func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
					im.sgemmBF16(im, 1+i%3, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
				})
			}
		}
		tc := gemmCase{m: 256, n: 200, k: 300, alpha: 1, beta: 1}
		checkGemmWith(t, tc, r, refGemmBF16, func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
			im.sgemmBF16(im, 2, false, false, tc.m, tc.n, tc.k, 1, a, lda, b, ldb, 1, c, ldc)
		})
	})
}
