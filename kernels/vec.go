package kernels

// Dot returns the dot product of x and y:
//
//	var s float32
//	for i := range x {
//		s += x[i] * y[i]
//	}
//
// accumulated in a different order (several partial sums, fused
// multiply-add) by the SIMD implementations. It panics if len(y) < len(x).
func Dot(x, y []float32) float32 {
	checkLen(len(y), len(x))
	return cur().dot(x, y[:len(x)])
}

// Axpy adds alpha*x to y:
//
//	for i := range x {
//		y[i] += alpha * x[i]
//	}
//
// (fused multiply-add in the SIMD implementations). It panics if
// len(y) < len(x).
func Axpy(alpha float32, x, y []float32) {
	checkLen(len(y), len(x))
	cur().axpy(alpha, x, y[:len(x)])
}

// Sum returns the sum of x:
//
//	var s float32
//	for _, v := range x {
//		s += v
//	}
//
// accumulated in a different order (several partial sums) by the SIMD
// implementations.
func Sum(x []float32) float32 { return cur().sum(x) }

func dotGeneric(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func sumGeneric(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}
