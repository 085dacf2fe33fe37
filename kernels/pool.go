package kernels

import "fmt"

// The pooling kernels below handle the common 2×2 window with stride 2
// and no padding over one h×w plane (row-major); a trailing odd row or
// column belongs to no window. Output planes are (h/2)×(w/2).

func checkPlane(name string, h, w int, lens ...int) {
	if h < 0 || w < 0 {
		panic(fmt.Sprintf("kernels: %s of a %d×%d plane", name, h, w))
	}
	need := []int{h * w, (h / 2) * (w / 2), h * w}
	for i, l := range lens {
		if l < need[i] {
			panic(fmt.Sprintf("kernels: %s of a %d×%d plane: slice %d has %d elements, need %d", name, h, w, i, l, need[i]))
		}
	}
}

// MaxPool2x2 sets dst to the maxima of the 2×2 blocks of the h×w plane src:
//
//	for i := 0; i < h/2; i++ {
//		for j := 0; j < w/2; j++ {
//			r0, r1 := src[2*i*w:], src[(2*i+1)*w:]
//			dst[i*(w/2)+j] = max(max(r0[2*j], r0[2*j+1]), max(r1[2*j], r1[2*j+1]))
//		}
//	}
//
// with Go's max (NaN propagates, +0 is above -0) in every implementation.
// It panics if src is shorter than h*w or dst than (h/2)*(w/2).
func MaxPool2x2(dst, src []float32, h, w int) {
	checkPlane("MaxPool2x2", h, w, len(src), len(dst))
	cur().maxPool2x2(dst, src, h, w)
}

func maxPool2x2Generic(dst, src []float32, h, w int) {
	ho, wo := h/2, w/2
	for i := 0; i < ho; i++ {
		r0, r1 := src[2*i*w:2*i*w+2*wo], src[(2*i+1)*w:(2*i+1)*w+2*wo]
		d := dst[i*wo : (i+1)*wo]
		for j := range d {
			d[j] = max(max(r0[2*j], r0[2*j+1]), max(r1[2*j], r1[2*j+1]))
		}
	}
}

// MaxPool2x2Backward writes the whole h×w plane dx, the gradient of
// MaxPool2x2 at x given the output gradient g: each window's gradient goes
// to the first position of its block (in row-major order) that holds the
// block's maximum, every other position gets 0 (all four when the maximum is
// NaN), and so does a trailing odd row or column:
//
//	for each block (i, j), m := the block's maximum as MaxPool2x2 computes it:
//		for each position p of the block in row-major order:
//			dx[p] = g[i*(w/2)+j] if x[p] == m and no earlier position matched, else 0
//
// No separate zeroing pass is needed. It panics if x or dx is shorter than
// h*w or g than (h/2)*(w/2).
func MaxPool2x2Backward(dx, g, x []float32, h, w int) {
	checkPlane("MaxPool2x2Backward", h, w, len(x), len(g), len(dx))
	cur().maxPool2x2Backward(dx, g, x, h, w)
}

func maxPool2x2BackwardGeneric(dx, g, x []float32, h, w int) {
	ho, wo := h/2, w/2
	for i := 0; i < ho; i++ {
		o0, o1 := 2*i*w, (2*i+1)*w
		for j, gv := range g[i*wo : (i+1)*wo] {
			p := [4]int{o0 + 2*j, o0 + 2*j + 1, o1 + 2*j, o1 + 2*j + 1}
			m := max(max(x[p[0]], x[p[1]]), max(x[p[2]], x[p[3]]))
			hit := false
			for _, q := range p {
				if !hit && x[q] == m {
					dx[q] = gv
					hit = true
				} else {
					dx[q] = 0
				}
			}
		}
	}
	clearOdd(dx, h, w)
}

// clearOdd zeroes the trailing odd column and row of an h×w plane.
func clearOdd(dx []float32, h, w int) {
	if w%2 == 1 {
		for r := 0; r < h-h%2; r++ {
			dx[r*w+w-1] = 0
		}
	}
	if h%2 == 1 {
		clear(dx[(h-1)*w : h*w])
	}
}

// AvgPool2x2 sets dst to the means of the 2×2 blocks of the h×w plane src:
//
//	dst[i*(w/2)+j] = (((r0[2*j] + r0[2*j+1]) + r1[2*j]) + r1[2*j+1]) * 0.25
//
// summed in that order in every implementation (rows as for MaxPool2x2). It
// panics if src is shorter than h*w or dst than (h/2)*(w/2).
func AvgPool2x2(dst, src []float32, h, w int) {
	checkPlane("AvgPool2x2", h, w, len(src), len(dst))
	cur().avgPool2x2(dst, src, h, w)
}

func avgPool2x2Generic(dst, src []float32, h, w int) {
	ho, wo := h/2, w/2
	for i := 0; i < ho; i++ {
		r0, r1 := src[2*i*w:2*i*w+2*wo], src[(2*i+1)*w:(2*i+1)*w+2*wo]
		d := dst[i*wo : (i+1)*wo]
		for j := range d {
			d[j] = (r0[2*j] + r0[2*j+1] + r1[2*j] + r1[2*j+1]) * 0.25
		}
	}
}

// AvgPool2x2Backward writes the whole h×w plane dx, the gradient of
// AvgPool2x2 given the output gradient g: g[i*(w/2)+j]*0.25 at the four
// positions of block (i, j), 0 in a trailing odd row or column. It panics
// if dx is shorter than h*w or g than (h/2)*(w/2).
func AvgPool2x2Backward(dx, g []float32, h, w int) {
	checkPlane("AvgPool2x2Backward", h, w, len(dx), len(g))
	cur().avgPool2x2Backward(dx, g, h, w)
}

func avgPool2x2BackwardGeneric(dx, g []float32, h, w int) {
	ho, wo := h/2, w/2
	for i := 0; i < ho; i++ {
		d0, d1 := dx[2*i*w:2*i*w+2*wo], dx[(2*i+1)*w:(2*i+1)*w+2*wo]
		for j, gv := range g[i*wo : (i+1)*wo] {
			v := gv * 0.25
			d0[2*j], d0[2*j+1], d1[2*j], d1[2*j+1] = v, v, v, v
		}
	}
	clearOdd(dx, h, w)
}
