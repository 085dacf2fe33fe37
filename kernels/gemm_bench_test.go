package kernels_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

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

// BenchmarkSgemmBF16 times SgemmBF16 (AMX tiles where the CPU has them)
// against the float32 Sgemm on the same square products, alternating the
// two call by call, and reports both GFLOP/s and the median per-iteration
// speed ratio bf16/fp32 ("x-fp32").
//
//	go test ./kernels -run '^$' -bench SgemmBF16 -benchtime 20x
func BenchmarkSgemmBF16(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{256, 512, 1024} {
		a, bm, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
		for i := range a {
			a[i], bm[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		flops := 2 * float64(n) * float64(n) * float64(n)
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%d/threads=%d/%s", n, threads, bf16Name()), func(b *testing.B) {
				fp32 := func() time.Duration {
					t0 := time.Now()
					kernels.SgemmThreads(threads, false, false, n, n, n, 1, a, n, bm, n, 0, c, n)
					return time.Since(t0)
				}
				bf16 := func() time.Duration {
					t0 := time.Now()
					kernels.SgemmBF16(threads, false, false, n, n, n, 1, a, n, bm, n, 0, c, n)
					return time.Since(t0)
				}
				fp32()
				bf16()
				var tf, th time.Duration
				ratios := make([]float64, 0, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					var f, h time.Duration
					if i%2 == 0 {
						f, h = fp32(), bf16()
					} else {
						h, f = bf16(), fp32()
					}
					tf, th = tf+f, th+h
					ratios = append(ratios, f.Seconds()/h.Seconds())
				}
				slices.Sort(ratios)
				b.ReportMetric(flops*float64(b.N)/tf.Seconds()/1e9, "fp32-GFLOP/s")
				b.ReportMetric(flops*float64(b.N)/th.Seconds()/1e9, "bf16-GFLOP/s")
				b.ReportMetric(ratios[len(ratios)/2], "x-fp32")
			})
		}
	}
}

func bf16Name() string {
	if u := kernels.BF16(); u != "" {
		return u
	}
	return "float32-on-rounded"
}

// BenchmarkSgemmTrainShapes runs the products of one BN CNN training step
// image by image (the convolutions' per-image shapes, forward, dW and dX)
// and the fully connected layers at batch 128, on one thread.
//
//	go test ./kernels -run '^$' -bench SgemmTrainShapes -benchtime 200x
func BenchmarkSgemmTrainShapes(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, s := range []struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{
		{"conv1/fwd", false, false, 32, 676, 9},
		{"conv1/dW", false, true, 32, 9, 676},
		{"conv2/fwd", false, false, 64, 121, 288},
		{"conv2/dW", false, true, 64, 288, 121},
		{"conv2/dX", true, false, 288, 121, 64},
		{"fc1/fwd", false, true, 128, 128, 1600},
		{"fc1/dW", true, false, 1600, 128, 128},
		{"fc1/dX", false, false, 128, 1600, 128},
	} {
		a, bm, c := make([]float32, s.m*s.k), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range bm {
			bm[i] = float32(r.NormFloat64())
		}
		lda, ldb := s.k, s.n
		if s.transA {
			lda = s.m
		}
		if s.transB {
			ldb = s.k
		}
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				kernels.SgemmThreads(1, s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
