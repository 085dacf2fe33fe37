package kernels_test

import (
	"math/rand/v2"
	"testing"

	"github.com/shrinkml/shrink/kernels"
)

// benchN is the vector length of the quantization benchmarks: 64Ki floats
// (256 KiB), resident in L2.
const benchN = 1 << 16

func benchData() []float32 {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, benchN)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// eachImpl runs f as a sub-benchmark per implementation, skipping those the
// CPU lacks.
func eachImpl(b *testing.B, f func(b *testing.B)) {
	for _, name := range benchImpls {
		b.Run(name, func(b *testing.B) { withImpl(b, name, func() { f(b) }) })
	}
}

func BenchmarkQuantizeU8(b *testing.B) {
	x := benchData()
	dst := make([]uint8, len(x))
	eachImpl(b, func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			kernels.QuantizeU8(dst, x, 0.02, 128)
		}
	})
}

func BenchmarkQuantizeI8(b *testing.B) {
	x := benchData()
	dst := make([]int8, len(x))
	eachImpl(b, func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			kernels.QuantizeI8(dst, x, 0.02, 0)
		}
	})
}

func BenchmarkDequantizeU8(b *testing.B) {
	q := make([]uint8, benchN)
	for i := range q {
		q[i] = uint8(i * 7)
	}
	dst := make([]float32, len(q))
	eachImpl(b, func(b *testing.B) {
		b.SetBytes(int64(len(q)))
		for b.Loop() {
			kernels.DequantizeU8(dst, q, 0.02, 128)
		}
	})
}

func BenchmarkMinMax(b *testing.B) {
	x := benchData()
	eachImpl(b, func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			kernels.MinMax(x)
		}
	})
}

func BenchmarkAbsMax(b *testing.B) {
	x := benchData()
	eachImpl(b, func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			kernels.AbsMax(x)
		}
	})
}

func BenchmarkDot(b *testing.B) {
	x := benchData()
	y := benchData()
	eachImpl(b, func(b *testing.B) {
		b.SetBytes(int64(8 * len(x)))
		for b.Loop() {
			kernels.Dot(x, y)
		}
	})
}

// BenchmarkHistogram: "spread" is normal data over 2048 bins, "onebin" the
// worst case of every value in one bin (each increment waits for the last).
func BenchmarkHistogram(b *testing.B) {
	x := benchData()
	same := make([]float32, len(x))
	for _, c := range []struct {
		name string
		data []float32
	}{{"spread", x}, {"onebin", same}} {
		b.Run(c.name, func(b *testing.B) {
			eachImpl(b, func(b *testing.B) {
				counts := make([]int64, 2048)
				b.SetBytes(int64(4 * len(c.data)))
				for b.Loop() {
					kernels.Histogram(counts, c.data, -4, 4)
				}
			})
		})
	}
}
