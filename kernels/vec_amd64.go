//go:build !purego

package kernels

import (
	"math"
	"unsafe"
)

// The wrappers below run the assembly over the largest multiple of the
// vector width w and finish the tail with the generic code, which computes
// the same values.

type (
	quantizeAsm   func(dst *byte, src *float32, n int, scale, lo, hi float32, zp int32)
	dequantizeAsm func(dst *float32, src *byte, n int, scale float32, zp int32)
	lanesAsm      func(src *float32, n int, out *float32)
)

func asmQuantizeU8(f quantizeAsm, w int) func([]uint8, []float32, float32, uint8) {
	return func(dst []uint8, src []float32, scale float32, zp uint8) {
		n := len(src) &^ (w - 1)
		if n > 0 {
			_ = dst[n-1]
			f(&dst[0], &src[0], n, scale, float32(-int32(zp)), float32(255-int32(zp)), int32(zp))
		}
		quantizeU8Generic(dst[n:], src[n:], scale, zp)
	}
}

func asmQuantizeI8(f quantizeAsm, w int) func([]int8, []float32, float32, int8) {
	return func(dst []int8, src []float32, scale float32, zp int8) {
		n := len(src) &^ (w - 1)
		if n > 0 {
			_ = dst[n-1]
			f((*byte)(unsafe.Pointer(&dst[0])), &src[0], n, scale, float32(-128-int32(zp)), float32(127-int32(zp)), int32(zp))
		}
		quantizeI8Generic(dst[n:], src[n:], scale, zp)
	}
}

func asmDequantizeU8(f dequantizeAsm, w int) func([]float32, []uint8, float32, uint8) {
	return func(dst []float32, src []uint8, scale float32, zp uint8) {
		n := len(src) &^ (w - 1)
		if n > 0 {
			_ = dst[n-1]
			f(&dst[0], &src[0], n, scale, int32(zp))
		}
		dequantizeU8Generic(dst[n:], src[n:], scale, zp)
	}
}

func asmDequantizeI8(f dequantizeAsm, w int) func([]float32, []int8, float32, int8) {
	return func(dst []float32, src []int8, scale float32, zp int8) {
		n := len(src) &^ (w - 1)
		if n > 0 {
			_ = dst[n-1]
			f(&dst[0], (*byte)(unsafe.Pointer(&src[0])), n, scale, int32(zp))
		}
		dequantizeI8Generic(dst[n:], src[n:], scale, zp)
	}
}

func asmMinMax(f lanesAsm, w int) func([]float32) (float32, float32) {
	return func(src []float32) (float32, float32) {
		n := len(src) &^ (w - 1)
		lo, hi := minMaxGeneric(src[n:])
		if n > 0 {
			var out [32]float32
			f(&src[0], n, &out[0])
			l, _ := minMaxGeneric(out[:w])
			_, h := minMaxGeneric(out[w : 2*w])
			lo, hi = min(lo, l), max(hi, h)
		}
		return lo, hi
	}
}

func asmAbsMax(f lanesAsm, w int) func([]float32) float32 {
	return func(src []float32) float32 {
		n := len(src) &^ (w - 1)
		m := absMaxGeneric(src[n:])
		if n > 0 {
			var out [16]float32
			f(&src[0], n, &out[0])
			m = max(m, absMaxGeneric(out[:w]))
		}
		return m
	}
}

func asmDot(f func(x, y *float32, n int, out *float32), w int) func(x, y []float32) float32 {
	return func(x, y []float32) float32 {
		n := len(x) &^ (w - 1)
		s := dotGeneric(x[n:], y[n:])
		if n > 0 {
			_ = y[n-1]
			var out [16]float32
			f(&x[0], &y[0], n, &out[0])
			s += sumGeneric(out[:w])
		}
		return s
	}
}

func asmAxpy(f func(alpha float32, x, y *float32, n int), w int) func(alpha float32, x, y []float32) {
	return func(alpha float32, x, y []float32) {
		n := len(x) &^ (w - 1)
		if n > 0 {
			_ = y[n-1]
			f(alpha, &x[0], &y[0], n)
		}
		axpyGeneric(alpha, x[n:], y[n:])
	}
}

func asmSum(f lanesAsm, w int) func(x []float32) float32 {
	return func(x []float32) float32 {
		n := len(x) &^ (w - 1)
		s := sumGeneric(x[n:])
		if n > 0 {
			var out [16]float32
			f(&x[0], n, &out[0])
			s += sumGeneric(out[:w])
		}
		return s
	}
}

// asmHistogram computes bin indices a chunk at a time with f (NaN gets bin
// len(counts)) and counts them in Go, which is about three times faster than
// the all-scalar loop; the scatter of increments stays scalar.
func asmHistogram(f func(dst *int32, src *float32, n int, lo, w, top float32, nb int32), w int) func([]int64, []float32, float32, float32) int {
	return func(counts []int64, src []float32, lo, hi float32) (nan int) {
		nb := len(counts)
		if nb > math.MaxInt32-1 {
			return histogramGeneric(counts, src, lo, hi)
		}
		scale := float32(nb) / (hi - lo)
		top := float32(nb - 1)
		var idx [1024]int32
		n := len(src) &^ (w - 1)
		for i := 0; i < n; i += len(idx) {
			m := min(len(idx), n-i)
			f(&idx[0], &src[i], m, lo, scale, top, int32(nb))
			for _, j := range idx[:m] {
				if int(j) < nb {
					counts[j]++
				} else {
					nan++
				}
			}
		}
		return nan + histogramGeneric(counts, src[n:], lo, hi)
	}
}
