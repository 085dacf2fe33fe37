package kernels_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/shrinkml/shrink/kernels"
)

// withImpl runs f with the named implementation selected, or skips b when
// the CPU lacks it.
func withImpl(b *testing.B, name string, f func()) {
	b.Helper()
	if err := kernels.SetImpl(name); err != nil {
		b.Skip(err)
	}
	defer kernels.SetImpl("")
	f()
}

// benchImpls lists every implementation name the package knows; those the
// CPU lacks skip.
var benchImpls = []string{"generic", "avx2", "avx512"}

var gemmShapes = []struct {
	name    string
	m, n, k int
}{
	{"256x256x256", 256, 256, 256},
	{"512x512x512", 512, 512, 512},
	{"1024x1024x1024", 1024, 1024, 1024},
	{"mlp128x784to800", 128, 800, 784},
	{"mlp128x800to800", 128, 800, 800},
	{"mlp128x800to10", 128, 10, 800},
	{"128x784to16", 128, 16, 784},
}

// BenchmarkSgemm reports GFLOP/s for each shape, thread count and
// implementation, with gonum's pure-Go Sgemm as the baseline.
func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sh := range gemmShapes {
		a := make([]float32, sh.m*sh.k)
		bm := make([]float32, sh.k*sh.n)
		c := make([]float32, sh.m*sh.n)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range bm {
			bm[i] = float32(r.NormFloat64())
		}
		flops := 2 * float64(sh.m) * float64(sh.n) * float64(sh.k)
		for _, threads := range []int{1, 2} {
			report := func(b *testing.B, f func()) {
				f() // warm the pools and caches
				b.ResetTimer()
				for b.Loop() {
					f()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			}
			for _, name := range benchImpls {
				b.Run(fmt.Sprintf("%s/threads=%d/%s", sh.name, threads, name), func(b *testing.B) {
					withImpl(b, name, func() {
						prev := kernels.SetThreads(threads)
						defer kernels.SetThreads(prev)
						report(b, func() {
							kernels.Sgemm(false, false, sh.m, sh.n, sh.k, 1, a, sh.k, bm, sh.n, 0, c, sh.n)
						})
					})
				})
			}
			b.Run(fmt.Sprintf("%s/threads=%d/gonum", sh.name, threads), func(b *testing.B) {
				prev := runtime.GOMAXPROCS(threads)
				defer runtime.GOMAXPROCS(prev)
				var impl gonum.Implementation
				report(b, func() {
					impl.Sgemm(blas.NoTrans, blas.NoTrans, sh.m, sh.n, sh.k, 1, a, sh.k, bm, sh.n, 0, c, sh.n)
				})
			})
		}
	}
}
