package kernels

import (
	"math"
	"testing"
)

func TestElementwise(t *testing.T) {
	r := newRand(30)
	for _, n := range testLengths() {
		x := make([]float32, n)
		y := make([]float32, n)
		randF32(r, x, 2)
		randF32(r, y, 2)
		sprinkle(r, x)
		buf, dst := guardedF32(n, 1, 9)
		Add(dst, x, y)
		for i := range x {
			if !sameFloat(float64(dst[i]), float64(x[i]+y[i]), 0) {
				t.Fatalf("Add n=%d: dst[%d] = %v, want %v", n, i, dst[i], x[i]+y[i])
			}
		}
		checkGuardsF32(t, buf, 1, n, 9)
		Mul(dst, x, y)
		for i := range x {
			if !sameFloat(float64(dst[i]), float64(x[i]*y[i]), 0) {
				t.Fatalf("Mul n=%d: dst[%d] = %v, want %v", n, i, dst[i], x[i]*y[i])
			}
		}
		Relu(dst, x)
		for i, v := range x {
			want := float64(v)
			if v < 0 {
				want = 0
			}
			if !sameFloat(float64(dst[i]), want, 0) {
				t.Fatalf("Relu n=%d: dst[%d] = %v for %v", n, i, dst[i], v)
			}
		}
		ReluBackward(dst, y, x)
		for i, v := range x {
			want := 0.0
			if v > 0 {
				want = float64(y[i])
			}
			if !sameFloat(float64(dst[i]), want, 0) {
				t.Fatalf("ReluBackward n=%d: dx[%d] = %v for x=%v dy=%v", n, i, dst[i], v, y[i])
			}
		}
		checkGuardsF32(t, buf, 1, n, 9)
		z := append([]float32(nil), y...)
		Scale(-3, z)
		for i := range z {
			if !sameFloat(float64(z[i]), -3*float64(y[i]), 1e-7) {
				t.Fatalf("Scale n=%d: %v, want %v", n, z[i], -3*y[i])
			}
		}
	}
}

func TestSoftmaxRows(t *testing.T) {
	r := newRand(31)
	for _, sh := range [][2]int{{0, 5}, {1, 1}, {3, 10}, {7, 130}} {
		rows, cols := sh[0], sh[1]
		src := make([]float32, rows*cols)
		randF32(r, src, 5)
		if rows > 1 {
			src[cols] = 80 // large logits must not overflow
		}
		sm := make([]float32, len(src))
		lsm := make([]float32, len(src))
		SoftmaxRows(sm, src, rows, cols)
		LogSoftmaxRows(lsm, src, rows, cols)
		for i := 0; i < rows; i++ {
			var s float64
			for j := 0; j < cols; j++ {
				p := float64(sm[i*cols+j])
				s += p
				if p < 0 || p > 1 {
					t.Fatalf("%v: softmax[%d,%d] = %v out of [0,1]", sh, i, j, p)
				}
				if !sameFloat(math.Exp(float64(lsm[i*cols+j])), p, 1e-5) {
					t.Fatalf("%v: exp(logsoftmax) = %v, softmax = %v", sh, math.Exp(float64(lsm[i*cols+j])), p)
				}
				// Softmax is invariant to shifting the row.
				if j > 0 {
					d := float64(lsm[i*cols+j]) - float64(lsm[i*cols])
					if !sameFloat(d, float64(src[i*cols+j])-float64(src[i*cols]), 1e-5) {
						t.Fatalf("%v: log-ratio %v, want %v", sh, d, src[i*cols+j]-src[i*cols])
					}
				}
			}
			if !sameFloat(s, 1, 1e-5) {
				t.Fatalf("%v: row %d sums to %v", sh, i, s)
			}
		}
	}
	nan := []float32{1, float32(math.NaN()), 2}
	SoftmaxRows(nan, nan, 1, 3)
	for _, v := range nan {
		if !math.IsNaN(float64(v)) {
			t.Fatalf("softmax of a row with NaN = %v, want all NaN", nan)
		}
	}
}
