package kernels

import "math"

// Add sets dst to the elementwise sum of x and y:
//
//	for i := range x {
//		dst[i] = x[i] + y[i]
//	}
//
// dst may alias x or y. It panics if y or dst is shorter than x.
func Add(dst, x, y []float32) {
	checkLen(len(y), len(x))
	checkLen(len(dst), len(x))
	y, dst = y[:len(x)], dst[:len(x)]
	for i, v := range x {
		dst[i] = v + y[i]
	}
}

// Mul sets dst to the elementwise product of x and y:
//
//	for i := range x {
//		dst[i] = x[i] * y[i]
//	}
//
// dst may alias x or y. It panics if y or dst is shorter than x.
func Mul(dst, x, y []float32) {
	checkLen(len(y), len(x))
	checkLen(len(dst), len(x))
	y, dst = y[:len(x)], dst[:len(x)]
	for i, v := range x {
		dst[i] = v * y[i]
	}
}

// Scale multiplies x by alpha in place:
//
//	for i := range x {
//		x[i] *= alpha
//	}
func Scale(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// Relu sets dst to the rectified src, keeping NaN so that it is not hidden
// from the training loop:
//
//	for i, v := range src {
//		if v < 0 { dst[i] = 0 } else { dst[i] = v }
//	}
//
// (-0 stays -0; every implementation gives these values bit for bit.) dst
// may alias src. It panics if dst is shorter than src.
func Relu(dst, src []float32) {
	checkLen(len(dst), len(src))
	cur().relu(dst[:len(src)], src)
}

func reluGeneric(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		if v < 0 {
			v = 0
		}
		dst[i] = v
	}
}

// ReluBackward sets dx to the gradient of Relu at x given the output
// gradient dy:
//
//	for i := range x {
//		if x[i] > 0 { dx[i] = dy[i] } else { dx[i] = 0 }
//	}
//
// Since Relu's output is positive exactly where its input is, x may be
// either. dx may alias dy. It panics if dy or dx is shorter than x.
func ReluBackward(dx, dy, x []float32) {
	checkLen(len(dy), len(x))
	checkLen(len(dx), len(x))
	cur().reluBackward(dx[:len(x)], dy[:len(x)], x)
}

func reluBackwardGeneric(dx, dy, x []float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

// SoftmaxRows applies softmax to each of the rows of a rows×cols row-major
// matrix:
//
//	for each row r of src:
//		m := max(r)
//		s := sum over j of exp(r[j] - m)
//		dst[j] = exp(r[j] - m) / s
//
// with the exponentials and sum in float64. A row whose maximum is +Inf or
// NaN, or that is all -Inf, gives NaN. dst may alias src. It panics unless
// len(src) == rows*cols and len(dst) >= rows*cols.
func SoftmaxRows(dst, src []float32, rows, cols int) {
	softmaxRows(dst, src, rows, cols, false)
}

// LogSoftmaxRows applies log-softmax to each row:
//
//	for each row r of src:
//		m := max(r)
//		dst[j] = r[j] - m - log(sum over k of exp(r[k] - m))
//
// computed in float64, so it stays finite where SoftmaxRows would
// underflow to 0. Sizes and aliasing are as for SoftmaxRows.
func LogSoftmaxRows(dst, src []float32, rows, cols int) {
	softmaxRows(dst, src, rows, cols, true)
}

func softmaxRows(dst, src []float32, rows, cols int, log bool) {
	if rows < 0 || cols < 0 || rows*cols != len(src) {
		panic("kernels: softmax: src does not hold rows×cols values")
	}
	checkLen(len(dst), len(src))
	for r := 0; r < rows; r++ {
		row := src[r*cols : (r+1)*cols]
		out := dst[r*cols : (r+1)*cols]
		m := math.Inf(-1)
		for _, v := range row {
			if float64(v) > m || v != v {
				m = float64(v)
			}
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		if log {
			ls := m + math.Log(s)
			for j, v := range row {
				out[j] = float32(float64(v) - ls)
			}
			continue
		}
		for j, v := range row {
			out[j] = float32(math.Exp(float64(v)-m) / s)
		}
	}
}
