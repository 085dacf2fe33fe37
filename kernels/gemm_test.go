package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm computes alpha*op(A)*op(B) + beta*C in float64 and, for each
// element, a bound on the float32 rounding error of any summation order.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, bound []float64) {
	want = make([]float64, m*n)
	bound = make([]float64, m*n)
	const eps = 1.0 / (1 << 23)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, mag float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				mag += math.Abs(float64(av) * float64(bv))
			}
			w := float64(alpha) * s
			mg := math.Abs(float64(alpha)) * mag
			if beta != 0 {
				cv := float64(c[i*ldc+j])
				w += float64(beta) * cv
				mg += math.Abs(float64(beta) * cv)
			}
			want[i*n+j] = w
			bound[i*n+j] = float64(2*k+8)*eps*mg + 1e-30
		}
	}
	return want, bound
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	padA, padB     int // extra leading-dimension columns
	padC           int
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v pads=%d,%d,%d",
		tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC)
}

const cGuard = 7777

// checkGemm runs one case through im with the given thread count and
// checks the result against the float64 reference and the guards.
func checkGemm(t *testing.T, im *impl, threads int, tc gemmCase, r *rand.Rand) {
	t.Helper()
	checkGemmWith(t, tc, r, func(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) ([]float64, []float64) {
		return refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	}, func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
		im.sgemm(threads, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	})
}

// checkGemmWith draws the operands of tc (NaN in the leading-dimension
// padding of A and B, and in C when beta is zero), runs it and checks C
// against ref and the guards around it.
func checkGemmWith(t *testing.T, tc gemmCase, r *rand.Rand,
	ref func(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) ([]float64, []float64),
	run func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int)) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := max(1, ac)+tc.padA, max(1, bc)+tc.padB, max(1, tc.n)+tc.padC
	a := make([]float32, ar*lda)
	b := make([]float32, br*ldb)
	randF32(r, a, 1)
	randF32(r, b, 1)
	// Values in the padding of A and B must not be used: make them poison.
	for i := 0; i < ar; i++ {
		for j := ac; j < lda; j++ {
			a[i*lda+j] = float32(math.NaN())
		}
	}
	for i := 0; i < br; i++ {
		for j := bc; j < ldb; j++ {
			b[i*ldb+j] = float32(math.NaN())
		}
	}
	const off = 3
	cbuf := make([]float32, off+tc.m*ldc+guardLen)
	for i := range cbuf {
		cbuf[i] = cGuard
	}
	c := cbuf[off:]
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			if tc.beta == 0 {
				c[i*ldc+j] = float32(math.NaN()) // must not be read
			} else {
				c[i*ldc+j] = float32(r.NormFloat64())
			}
		}
	}
	want, bound := ref(tc, a, lda, b, ldb, c, ldc)
	run(a, lda, b, ldb, c[:max(0, (tc.m-1)*ldc+tc.n)], ldc)
	for i := range cbuf {
		ci := i - off
		row, col := ci/max(1, ldc), ci%max(1, ldc)
		if ci >= 0 && row < tc.m && col < tc.n {
			got := float64(cbuf[i])
			if w := want[row*tc.n+col]; !within(got, w, bound[row*tc.n+col]) {
				t.Fatalf("%v: C[%d,%d] = %v, want %v ± %v", tc, row, col, got, w, bound[row*tc.n+col])
			}
			continue
		}
		if !sameFloat(float64(cbuf[i]), cGuard, 0) {
			t.Fatalf("%v: guard at C offset %d changed to %v", tc, ci, cbuf[i])
		}
	}
}

var transCombos = [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}

func TestSgemmSweep(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(1)
		for _, tr := range transCombos {
			// Sweep each dimension over 0..70 with the others odd.
			for d := 0; d <= 70; d++ {
				for _, tc := range []gemmCase{
					{m: d, n: 37, k: 29},
					{m: 19, n: d, k: 23},
					{m: 15, n: 33, k: d},
				} {
					tc.transA, tc.transB = tr[0], tr[1]
					tc.alpha, tc.beta = 1, 0
					tc.padA, tc.padB, tc.padC = d%3, (d+1)%4, d%2*5
					checkGemm(t, im, 1, tc, r)
				}
			}
			// Random shapes with alpha/beta combinations.
			for range 60 {
				tc := gemmCase{
					transA: tr[0], transB: tr[1],
					m: r.IntN(71), n: r.IntN(71), k: r.IntN(71),
					alpha: []float32{1, -0.5, 2, 0}[r.IntN(4)],
					beta:  []float32{0, 1, -1.5, 0.25}[r.IntN(4)],
					padA:  r.IntN(4), padB: r.IntN(4), padC: r.IntN(4),
				}
				checkGemm(t, im, 1+r.IntN(3), tc, r)
			}
		}
	})
}

// TestSgemmNarrow sweeps products of at most 16 columns (the narrow
// kernels: every row count from 2 to 40 covers each combination of 16-,
// 8-, 4-, 2- and 1-row kernels) over depths, transposed B, alpha and beta,
// padded leading dimensions and thread counts.
func TestSgemmNarrow(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(4)
		for n := 1; n <= 16; n++ {
			for m := 2; m <= 40; m += 1 + n%3 {
				for _, k := range []int{1, 3, 4, 9, 64, 257} {
					tc := gemmCase{transB: (m+k)%2 == 0, m: m, n: n, k: k,
						alpha: []float32{1, -0.5}[k%2], beta: []float32{0, 1, -1.5}[m%3],
						padA: m % 3, padB: n % 2, padC: k % 4}
					checkGemm(t, im, 1+m%3, tc, r)
				}
			}
		}
		for _, tb := range []bool{false, true} {
			checkGemm(t, im, 2, gemmCase{transB: tb, m: 128, n: 10, k: 800, alpha: 1, beta: 0.5}, r)
			checkGemm(t, im, 2, gemmCase{transB: tb, m: 131, n: 16, k: 784, alpha: 1}, r)
		}
	})
}

// TestSgemmBlocking shrinks the block sizes so that every blocking loop
// (depth, row and column blocks, edge tiles, several goroutines) runs at
// sizes the reference can check quickly.
func TestSgemmBlocking(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		small := *im
		small.gemm.kc = 7
		small.gemm.nb = 2 * im.gemm.nr
		small.gemm.mc = 3 * im.gemm.mr
		r := newRand(2)
		for _, tr := range transCombos {
			for _, threads := range []int{1, 2, 3} {
				for _, sz := range [][3]int{{50, 90, 33}, {7 * im.gemm.mr, 5*im.gemm.nr + 3, 15}, {3, 200, 40}, {130, 5, 20}} {
					tc := gemmCase{transA: tr[0], transB: tr[1], m: sz[0], n: sz[1], k: sz[2], alpha: 1.5, beta: -1, padA: 1, padB: 2, padC: 3}
					checkGemm(t, &small, threads, tc, r)
					tc.beta = 0
					checkGemm(t, &small, threads, tc, r)
				}
			}
		}
	})
}

func TestSgemmLarge(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(3)
		sizes := [][3]int{{128, 800, 784}, {300, 257, 520}, {97, 1030, 3}}
		if testing.Short() || im.name == "generic" {
			sizes = sizes[1:2]
		}
		for i, sz := range sizes {
			tr := transCombos[i%4]
			tc := gemmCase{transA: tr[0], transB: tr[1], m: sz[0], n: sz[1], k: sz[2], alpha: 1, beta: 0.5, padA: 3, padC: 1}
			checkGemm(t, im, 2, tc, r)
		}
	})
}

func TestSgemmPanics(t *testing.T) {
	a := make([]float32, 6)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative", func() { Sgemm(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2) }},
		{"short lda", func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) }},
		{"short a", func() { Sgemm(false, false, 3, 2, 3, 1, a, 3, a, 2, 0, a, 2) }},
		{"short c", func() { Sgemm(false, false, 2, 3, 1, 1, a, 1, a, 3, 0, a[:5], 3) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

func TestSgemmAlphaZeroKZero(t *testing.T) {
	c := []float32{float32(math.NaN()), 2, 3, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
	for i, v := range c {
		if !sameFloat(float64(v), 0, 0) {
			t.Fatalf("k=0 beta=0: c[%d] = %v, want 0", i, v)
		}
	}
	c = []float32{1, 2, 3, 4}
	a := []float32{float32(math.Inf(1)), 1, 1, 1}
	Sgemm(false, false, 2, 2, 2, 0, a, 2, a, 2, 2, c, 2)
	for i, v := range c {
		if !sameFloat(float64(v), float64(2*(i+1)), 0) {
			t.Fatalf("alpha=0: c[%d] = %v, want %d", i, v, 2*(i+1))
		}
	}
}

func TestThreads(t *testing.T) {
	prev := SetThreads(3)
	defer SetThreads(prev)
	if got := Threads(); got != 3 {
		t.Fatalf("Threads() = %d after SetThreads(3)", got)
	}
	SetThreads(0)
	if Threads() < 1 {
		t.Fatalf("Threads() = %d with the default", Threads())
	}
}
