package kernels

import (
	"math"
	"testing"
)

func TestDotSum(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(20)
		for _, n := range testLengths() {
			for _, off := range testOffsets {
				xb := make([]float32, off+n)
				yb := make([]float32, n+off+1)
				randF32(r, xb, 1)
				randF32(r, yb, 1)
				x, y := xb[off:], yb[off+1:]
				var dot, sum, mag, smag float64
				for i := range x {
					dot += float64(x[i]) * float64(y[i])
					mag += math.Abs(float64(x[i]) * float64(y[i]))
					sum += float64(x[i])
					smag += math.Abs(float64(x[i]))
				}
				const eps = 1.0 / (1 << 23)
				if got := im.dot(x, y); !within(float64(got), dot, float64(n+2)*eps*mag) {
					t.Fatalf("n=%d off=%d: Dot = %v, want %v", n, off, got, dot)
				}
				if got := im.sum(x); !within(float64(got), sum, float64(n+2)*eps*smag) {
					t.Fatalf("n=%d off=%d: Sum = %v, want %v", n, off, got, sum)
				}
			}
		}
	})
}

func TestAxpy(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(21)
		for _, n := range testLengths() {
			for _, off := range testOffsets {
				x := make([]float32, n)
				randF32(r, x, 1)
				buf, y := guardedF32(n, off, 42)
				randF32(r, y, 1)
				y0 := append([]float32(nil), y...)
				alpha := float32(r.NormFloat64())
				im.axpy(alpha, x, y)
				for i := range y {
					want := float64(y0[i]) + float64(alpha)*float64(x[i])
					bound := 2.0 / (1 << 23) * (math.Abs(float64(y0[i])) + math.Abs(float64(alpha)*float64(x[i])))
					if !within(float64(y[i]), want, bound) {
						t.Fatalf("n=%d off=%d: y[%d] = %v, want %v", n, off, i, y[i], want)
					}
				}
				checkGuardsF32(t, buf, off, n, 42)
			}
		}
	})
}

func TestVecExported(t *testing.T) {
	x := []float32{1, 2, 3}
	y := []float32{4, 5, 6, 7}
	if d := Dot(x, y); !sameFloat(float64(d), 32, 0) {
		t.Fatalf("Dot = %v", d)
	}
	if s := Sum(x); !sameFloat(float64(s), 6, 0) {
		t.Fatalf("Sum = %v", s)
	}
	Axpy(2, x, y)
	if !sameFloat(float64(y[2]), 12, 0) || !sameFloat(float64(y[3]), 7, 0) {
		t.Fatalf("Axpy = %v", y)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Dot with a short y did not panic")
		}
	}()
	Dot(y, x)
}
