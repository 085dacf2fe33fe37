package kernels

// The kernels below serve normalizations (BatchNormalization's per-channel
// y = x·a + b, optionally followed by a Relu that the training engine
// fuses into it) and their gradients. A normalization calls them once per
// plane of a channel.

// Affine sets dst to src·a + b, rectified when relu is set:
//
//	for i, v := range src {
//		y := float32(v*a) + b
//		if relu && y < 0 {
//			y = 0
//		}
//		dst[i] = y
//	}
//
// Each operation is rounded on its own (no fused multiply-add), so every
// implementation gives these values bit for bit, and a gradient kernel that
// recomputes y from src (AffineGradSums, AffineBackward) finds the same
// signs. dst may alias src. It panics if dst is shorter than src.
func Affine(dst, src []float32, a, b float32, relu bool) {
	checkLen(len(dst), len(src))
	cur().affine(dst[:len(src)], src, a, b, relu)
}

func affineGeneric(dst, src []float32, a, b float32, relu bool) {
	dst = dst[:len(src)]
	for i, v := range src {
		y := float32(v*a) + b
		if relu && y < 0 {
			y = 0
		}
		dst[i] = y
	}
}

// Moments returns the sums of d and d² over d = x[i] − shift:
//
//	for _, v := range x {
//		d := float64(v - shift)
//		s += d
//		q += d * d
//	}
//
// with d rounded to float32 and the sums in float64; the SIMD
// implementations add per-lane float32 partial sums of at most 16 terms
// (fused multiply-add for d²) into float64 ones. With shift near the mean
// of x, q/n − (s/n)² is the population variance without cancellation, in
// one pass.
func Moments(x []float32, shift float32) (s, q float64) { return cur().moments(x, shift) }

func momentsGeneric(x []float32, shift float32) (s, q float64) {
	for _, v := range x {
		d := float64(v - shift)
		s += d
		q += d * d
	}
	return s, q
}

// AffineGradSums returns the sums a normalization's backward pass needs
// from the output gradient g and the input x: with g' the gradient that
// reaches the affine map's output (g itself, or with relu only where
// Affine's output was positive),
//
//	for i := range x {
//		gv := g[i]
//		if relu && !(float32(x[i]*a)+b > 0) {
//			gv = 0
//		}
//		sg += float64(gv)
//		sgx += float64(gv) * float64(x[i]-shift)
//	}
//
// with x[i]−shift rounded to float32 and the sums in float64; the SIMD
// implementations add per-lane float32 partial sums of at most 16 terms
// into float64 ones. It panics if g is shorter than x.
func AffineGradSums(g, x []float32, a, b float32, relu bool, shift float32) (sg, sgx float64) {
	checkLen(len(g), len(x))
	return cur().gradSums(g[:len(x)], x, a, b, relu, shift)
}

func gradSumsGeneric(g, x []float32, a, b float32, relu bool, shift float32) (sg, sgx float64) {
	g = g[:len(x)]
	for i, v := range x {
		gv := g[i]
		if relu && !(float32(v*a)+b > 0) {
			gv = 0
		}
		sg += float64(gv)
		sgx += float64(gv) * float64(v-shift)
	}
	return sg, sgx
}

// AffineBackward sets dx to a linear combination of the output gradient
// and the input, the form of a normalization's input gradient:
//
//	for i := range x {
//		gv := g[i]
//		if relu && !(float32(x[i]*a)+b > 0) {
//			gv = 0
//		}
//		dx[i] = float32(float32(c1*gv)+float32(c2*x[i])) + c3
//	}
//
// rounded after each operation in every implementation. dx may alias g or
// x. It panics if g or dx is shorter than x.
func AffineBackward(dx, g, x []float32, a, b float32, relu bool, c1, c2, c3 float32) {
	checkLen(len(g), len(x))
	checkLen(len(dx), len(x))
	cur().affineBackward(dx[:len(x)], g[:len(x)], x, a, b, relu, c1, c2, c3)
}

func affineBackwardGeneric(dx, g, x []float32, a, b float32, relu bool, c1, c2, c3 float32) {
	g, dx = g[:len(x)], dx[:len(x)]
	for i, v := range x {
		gv := g[i]
		if relu && !(float32(v*a)+b > 0) {
			gv = 0
		}
		dx[i] = float32(float32(c1*gv)+float32(c2*v)) + c3
	}
}
