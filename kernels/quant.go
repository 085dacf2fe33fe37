package kernels

import (
	"errors"
	"fmt"
	"math"
)

// QuantizeU8 quantizes src into dst with ONNX QuantizeLinear semantics for a
// uint8 output, bit for bit what ONNX Runtime's CPU provider computes:
//
//	for i, x := range src {
//		v := x / scale // a float32 division, not a multiplication by 1/scale
//		v = clamp(v, 0-float32(zeroPoint), 255-float32(zeroPoint)) // NaN gives the lower bound
//		dst[i] = uint8(roundHalfToEven(v) + int32(zeroPoint))
//	}
//
// That is y = saturate(round_half_to_even(x/scale) + zeroPoint). NaN inputs
// quantize to 0 (the lowest code, as ORT's x86 kernels give), +Inf to 255 and
// -Inf to 0. A zero scale follows IEEE division (x/0 is ±Inf, 0/0 is NaN).
// It panics if len(dst) < len(src).
func QuantizeU8(dst []uint8, src []float32, scale float32, zeroPoint uint8) {
	checkLen(len(dst), len(src))
	cur().quantizeU8(dst[:len(src)], src, scale, zeroPoint)
}

// QuantizeI8 is QuantizeU8 for an int8 output: values saturate to
// [-128, 127] and NaN quantizes to -128.
//
//	for i, x := range src {
//		v := clamp(x/scale, -128-float32(zeroPoint), 127-float32(zeroPoint))
//		dst[i] = int8(roundHalfToEven(v) + int32(zeroPoint))
//	}
//
// It panics if len(dst) < len(src).
func QuantizeI8(dst []int8, src []float32, scale float32, zeroPoint int8) {
	checkLen(len(dst), len(src))
	cur().quantizeI8(dst[:len(src)], src, scale, zeroPoint)
}

// DequantizeU8 is ONNX DequantizeLinear for uint8 input:
//
//	for i, q := range src {
//		dst[i] = float32(int32(q)-int32(zeroPoint)) * scale
//	}
//
// It panics if len(dst) < len(src).
func DequantizeU8(dst []float32, src []uint8, scale float32, zeroPoint uint8) {
	checkLen(len(dst), len(src))
	cur().dequantizeU8(dst[:len(src)], src, scale, zeroPoint)
}

// DequantizeI8 is ONNX DequantizeLinear for int8 input:
//
//	for i, q := range src {
//		dst[i] = float32(int32(q)-int32(zeroPoint)) * scale
//	}
//
// It panics if len(dst) < len(src).
func DequantizeI8(dst []float32, src []int8, scale float32, zeroPoint int8) {
	checkLen(len(dst), len(src))
	cur().dequantizeI8(dst[:len(src)], src, scale, zeroPoint)
}

// MinMax returns the smallest and largest values of src, ignoring NaN:
//
//	lo, hi = +Inf, -Inf
//	for _, x := range src {
//		if x < lo { lo = x }
//		if x > hi { hi = x }
//	}
//
// For an empty or all-NaN src it returns (+Inf, -Inf), which merges
// correctly with min/max across batches. Which of -0 and +0 is returned when
// both are extremes is unspecified.
func MinMax(src []float32) (lo, hi float32) { return cur().minMax(src) }

// AbsMax returns the largest absolute value in src, ignoring NaN, and 0 for
// an empty or all-NaN src:
//
//	m = 0
//	for _, x := range src {
//		if abs(x) > m { m = abs(x) }
//	}
func AbsMax(src []float32) float32 { return cur().absMax(src) }

// checkLen panics unless an output of length have can hold need values.
func checkLen(have, need int) {
	if have < need {
		panic(fmt.Sprintf("kernels: output has %d elements, need %d", have, need))
	}
}

// checkAxis panics unless src holds outer×channels×inner values and the
// per-channel slices hold at least channels values.
func checkAxis(n, outer, channels, inner int, per ...int) {
	if outer < 0 || channels < 0 || inner < 0 || outer*channels*inner != n {
		panic(fmt.Sprintf("kernels: %d values do not form outer=%d × channels=%d × inner=%d", n, outer, channels, inner))
	}
	for _, l := range per {
		if l < channels {
			panic(fmt.Sprintf("kernels: per-channel slice has %d values for %d channels", l, channels))
		}
	}
}

// eachRun calls f with the channel and offset of each run of inner values
// of an outer×channels×inner array, in memory order.
func eachRun(outer, channels, inner int, f func(c, off int)) {
	for o := 0; o < outer; o++ {
		for c := 0; c < channels; c++ {
			f(c, (o*channels+c)*inner)
		}
	}
}

// smallInner is the inner size below which the per-channel reductions loop
// in Go rather than call a vector kernel per run of inner values.
const smallInner = 16

// AbsMaxPerChannel folds the absolute maxima of src, seen as an
// outer×channels×inner array (the channel axis in the middle), into dst,
// ignoring NaN:
//
//	for o := 0; o < outer; o++ {
//		for c := 0; c < channels; c++ {
//			for i := 0; i < inner; i++ {
//				dst[c] = max(dst[c], abs(src[(o*channels+c)*inner+i]))
//			}
//		}
//	}
//
// Zero dst before the first batch. It panics if len(src) !=
// outer*channels*inner or len(dst) < channels.
func AbsMaxPerChannel(dst, src []float32, outer, channels, inner int) {
	checkAxis(len(src), outer, channels, inner, len(dst))
	if inner < smallInner {
		for j, x := range src {
			c := j / inner % channels
			if a := math.Float32frombits(math.Float32bits(x) &^ (1 << 31)); a > dst[c] {
				dst[c] = a
			}
		}
		return
	}
	absMax := cur().absMax
	eachRun(outer, channels, inner, func(c, off int) {
		if m := absMax(src[off : off+inner]); m > dst[c] {
			dst[c] = m
		}
	})
}

// MinMaxPerChannel folds the per-channel minima and maxima of src, seen as
// an outer×channels×inner array, into lo and hi, ignoring NaN:
//
//	for o, c, i over the array {
//		x := src[(o*channels+c)*inner+i]
//		if x < lo[c] { lo[c] = x }
//		if x > hi[c] { hi[c] = x }
//	}
//
// Set lo to +Inf and hi to -Inf before the first batch. It panics if
// len(src) != outer*channels*inner or lo or hi has fewer than channels
// values.
func MinMaxPerChannel(lo, hi, src []float32, outer, channels, inner int) {
	checkAxis(len(src), outer, channels, inner, len(lo), len(hi))
	if inner < smallInner {
		for j, x := range src {
			c := j / inner % channels
			if x < lo[c] {
				lo[c] = x
			}
			if x > hi[c] {
				hi[c] = x
			}
		}
		return
	}
	minMax := cur().minMax
	eachRun(outer, channels, inner, func(c, off int) {
		l, h := minMax(src[off : off+inner])
		if l < lo[c] {
			lo[c] = l
		}
		if h > hi[c] {
			hi[c] = h
		}
	})
}

// QuantizeU8PerChannel is QuantizeU8 with one scale and zero point per
// channel of src seen as an outer×channels×inner array:
//
//	for o, c, i over the array {
//		j := (o*channels+c)*inner + i
//		dst[j] = QuantizeU8 of src[j] with scale[c], zeroPoint[c]
//	}
//
// It panics if len(src) != outer*channels*inner, len(dst) < len(src) or
// scale or zeroPoint has fewer than channels values.
func QuantizeU8PerChannel(dst []uint8, src []float32, outer, channels, inner int, scale []float32, zeroPoint []uint8) {
	checkAxis(len(src), outer, channels, inner, len(scale), len(zeroPoint))
	checkLen(len(dst), len(src))
	f := cur().quantizeU8
	eachRun(outer, channels, inner, func(c, off int) {
		f(dst[off:off+inner], src[off:off+inner], scale[c], zeroPoint[c])
	})
}

// QuantizeI8PerChannel is QuantizeI8 with one scale and zero point per
// channel, laid out as for QuantizeU8PerChannel.
func QuantizeI8PerChannel(dst []int8, src []float32, outer, channels, inner int, scale []float32, zeroPoint []int8) {
	checkAxis(len(src), outer, channels, inner, len(scale), len(zeroPoint))
	checkLen(len(dst), len(src))
	f := cur().quantizeI8
	eachRun(outer, channels, inner, func(c, off int) {
		f(dst[off:off+inner], src[off:off+inner], scale[c], zeroPoint[c])
	})
}

// DequantizeU8PerChannel is DequantizeU8 with one scale and zero point per
// channel, laid out as for QuantizeU8PerChannel.
func DequantizeU8PerChannel(dst []float32, src []uint8, outer, channels, inner int, scale []float32, zeroPoint []uint8) {
	checkAxis(len(src), outer, channels, inner, len(scale), len(zeroPoint))
	checkLen(len(dst), len(src))
	f := cur().dequantizeU8
	eachRun(outer, channels, inner, func(c, off int) {
		f(dst[off:off+inner], src[off:off+inner], scale[c], zeroPoint[c])
	})
}

// DequantizeI8PerChannel is DequantizeI8 with one scale and zero point per
// channel, laid out as for QuantizeU8PerChannel.
func DequantizeI8PerChannel(dst []float32, src []int8, outer, channels, inner int, scale []float32, zeroPoint []int8) {
	checkAxis(len(src), outer, channels, inner, len(scale), len(zeroPoint))
	checkLen(len(dst), len(src))
	f := cur().dequantizeI8
	eachRun(outer, channels, inner, func(c, off int) {
		f(dst[off:off+inner], src[off:off+inner], scale[c], zeroPoint[c])
	})
}

// ErrHistogramRange reports a histogram range that is not finite with
// lo < hi.
var ErrHistogramRange = errors.New("kernels: histogram range must be finite with lo < hi")

// Histogram adds the values of src to counts, a histogram of len(counts)
// equal-width bins over [lo, hi]. Values below lo are counted in the first
// bin and values above hi in the last one, so sum(counts) grows by the
// number of non-NaN values; NaN values are skipped and their number is
// returned. Counts accumulate, so one histogram can gather many batches with
// the same range. The reference loop is
//
//	w := float32(len(counts)) / (hi - lo)
//	for _, x := range src {
//		if x != x { nan++; continue }
//		v := (x - lo) * w // float32 arithmetic
//		bin := clamp(int(v), 0, len(counts)-1) // after clamping v in float32
//		counts[bin]++
//	}
//
// It returns ErrHistogramRange, counting nothing, when lo or hi is not
// finite or lo >= hi. An empty counts counts nothing.
func Histogram(counts []int64, src []float32, lo, hi float32) (nan int, err error) {
	if !(lo < hi) || math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
		return 0, ErrHistogramRange
	}
	if len(counts) == 0 {
		return 0, nil
	}
	return cur().histogram(counts, src, lo, hi), nil
}

// Generic implementations: the references.

// roundEven rounds v, |v| <= 2^22, to the nearest integer, ties to even,
// the way VCVTPS2DQ does in the default rounding mode: adding 1.5*2^23 moves
// the value where float32 spacing is 1.
func roundEven(v float32) float32 {
	const magic = 12582912 // 1.5 * 2^23
	return (v + magic) - magic
}

func quantizeU8Generic(dst []uint8, src []float32, scale float32, zp uint8) {
	lo, hi := float32(-int32(zp)), float32(255-int32(zp))
	dst = dst[:len(src)]
	for i, x := range src {
		v := x / scale
		if !(v >= lo) {
			v = lo
		}
		if v > hi {
			v = hi
		}
		dst[i] = uint8(int32(roundEven(v)) + int32(zp))
	}
}

func quantizeI8Generic(dst []int8, src []float32, scale float32, zp int8) {
	lo, hi := float32(-128-int32(zp)), float32(127-int32(zp))
	dst = dst[:len(src)]
	for i, x := range src {
		v := x / scale
		if !(v >= lo) {
			v = lo
		}
		if v > hi {
			v = hi
		}
		dst[i] = int8(int32(roundEven(v)) + int32(zp))
	}
}

func dequantizeU8Generic(dst []float32, src []uint8, scale float32, zp uint8) {
	dst = dst[:len(src)]
	for i, q := range src {
		dst[i] = float32(int32(q)-int32(zp)) * scale
	}
}

func dequantizeI8Generic(dst []float32, src []int8, scale float32, zp int8) {
	dst = dst[:len(src)]
	for i, q := range src {
		dst[i] = float32(int32(q)-int32(zp)) * scale
	}
}

func minMaxGeneric(src []float32) (lo, hi float32) {
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, x := range src {
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
	}
	return lo, hi
}

func absMaxGeneric(src []float32) float32 {
	var m float32
	for _, x := range src {
		a := math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
		if a > m {
			m = a
		}
	}
	return m
}

func histogramGeneric(counts []int64, src []float32, lo, hi float32) (nan int) {
	nb := len(counts)
	w := float32(nb) / (hi - lo)
	top := float32(nb - 1)
	for _, x := range src {
		if x != x {
			nan++
			continue
		}
		v := (x - lo) * w
		if v < 0 {
			v = 0
		}
		if v > top {
			v = top
		}
		counts[int(v)]++
	}
	return nan
}
