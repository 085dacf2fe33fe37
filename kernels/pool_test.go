package kernels

import (
	"math"
	"testing"
)

// poolSizes are the plane sizes the pooling kernels are checked at: every
// width 0..70 (chunks of 16 outputs, partial and whole, odd widths), a wide
// one, with odd and even heights.
func poolSizes() [][2]int {
	var s [][2]int
	for w := 0; w <= 70; w++ {
		for _, h := range []int{0, 1, 2, 3, 6} {
			s = append(s, [2]int{h, w})
		}
	}
	return append(s, [2]int{26, 26}, [2]int{11, 11}, [2]int{5, 131}, [2]int{9, 64})
}

func sameBitsNaN(t *testing.T, what string, h, w int, got, want []float32) {
	t.Helper()
	for i := range want {
		g, x := got[i], want[i]
		if g != g && x != x {
			continue // NaN payloads may differ
		}
		if math.Float32bits(g) != math.Float32bits(x) {
			t.Fatalf("%s %d×%d: [%d] = %v, want %v", what, h, w, i, g, x)
		}
	}
}

// TestPoolImpls checks the 2×2 pooling kernels of every implementation
// against the generic code bit for bit, on random planes with specials
// (NaN, ±Inf, ±0), on planes of few distinct values (ties in windows) and
// of signed zeros,
// at unaligned offsets, with guard values around every output.
func TestPoolImpls(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(50)
		for _, sz := range poolSizes() {
			h, w := sz[0], sz[1]
			n, no := h*w, (h/2)*(w/2)
			for k := 0; k < 4; k++ {
				off := testOffsets[k%len(testOffsets)]
				x := testInput(r, n, off, 1, k == 1)
				switch k {
				case 2: // ties: values from {-1, 0, 1, 2}
					for i := range x {
						x[i] = float32(r.IntN(4) - 1)
					}
				case 3: // signed zeros: max(-0, +0) is +0
					for i := range x {
						x[i] = []float32{0, float32(math.Copysign(0, -1)), -1}[r.IntN(3)]
					}
				}
				g := testInput(r, no, (off+1)%3, 1, false)
				want, wantDx := make([]float32, no), make([]float32, n)

				buf, dst := guardedF32(no, off, 3)
				maxPool2x2Generic(want, x, h, w)
				im.maxPool2x2(dst, x, h, w)
				sameBitsNaN(t, "maxPool2x2", h, w, dst, want)
				checkGuardsF32(t, buf, off, no, 3)

				buf, dst = guardedF32(no, off, 3)
				avgPool2x2Generic(want, x, h, w)
				im.avgPool2x2(dst, x, h, w)
				sameBitsNaN(t, "avgPool2x2", h, w, dst, want)
				checkGuardsF32(t, buf, off, no, 3)

				dbuf, dx := guardedF32(n, off, 4)
				for i := range dx {
					dx[i] = 99 // every position must be written
				}
				maxPool2x2BackwardGeneric(wantDx, g, x, h, w)
				im.maxPool2x2Backward(dx, g, x, h, w)
				sameBitsNaN(t, "maxPool2x2Backward", h, w, dx, wantDx)
				checkGuardsF32(t, dbuf, off, n, 4)

				for i := range dx {
					dx[i] = 99
				}
				avgPool2x2BackwardGeneric(wantDx, g, h, w)
				im.avgPool2x2Backward(dx, g, h, w)
				sameBitsNaN(t, "avgPool2x2Backward", h, w, dx, wantDx)
				checkGuardsF32(t, dbuf, off, n, 4)
			}
		}
	})
}

// TestPoolReference pins the generic kernels to their doc comments on a
// 3×5 plane: ties go to the first position, the odd row and column get 0.
func TestPoolReference(t *testing.T) {
	nan := float32(math.NaN())
	x := []float32{
		1, 4, 2, 2, 9,
		4, 3, 2, nan, 9,
		7, 7, 7, 7, 7,
	}
	y := make([]float32, 2)
	MaxPool2x2(y, x, 3, 5)
	if y[0] != 4 || y[1] == y[1] {
		t.Fatalf("MaxPool2x2 = %v, want [4 NaN]", y)
	}
	AvgPool2x2(y, x, 3, 5)
	if y[0] != 3 || y[1] == y[1] {
		t.Fatalf("AvgPool2x2 = %v, want [3 NaN]", y)
	}
	dx := make([]float32, 15)
	for i := range dx {
		dx[i] = 99
	}
	MaxPool2x2Backward(dx, []float32{5, 6}, x, 3, 5)
	want := []float32{0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	sameBitsNaN(t, "MaxPool2x2Backward", 3, 5, dx, want)
	AvgPool2x2Backward(dx, []float32{4, 8}, 3, 5)
	want = []float32{1, 1, 2, 2, 0, 1, 1, 2, 2, 0, 0, 0, 0, 0, 0}
	sameBitsNaN(t, "AvgPool2x2Backward", 3, 5, dx, want)
	defer func() {
		if recover() == nil {
			t.Fatal("MaxPool2x2 with a short dst did not panic")
		}
	}()
	MaxPool2x2(y[:1], x, 3, 5)
}

// TestBlockImpls checks the block copy and add under im2col and col2im for
// every implementation against the generic code, over widths 0..70 (whole
// vectors and partial ones), row strides above the width, unaligned
// offsets and guard values.
func TestBlockImpls(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *impl) {
		r := newRand(51)
		for rows := 0; rows <= 4; rows++ {
			for width := 0; width <= 70; width++ {
				for _, off := range testOffsets {
					ldd, lds := width+off, width+2*off+1
					n := max(0, (rows-1)*ldd+width)
					src := testInput(r, max(0, (rows-1)*lds+width), off, 1, true)
					for _, add := range []bool{false, true} {
						buf, dst := guardedF32(n, off, 8)
						randF32(r, dst, 1)
						want := append([]float32(nil), dst...)
						blockGeneric(want, src, rows, width, ldd, lds, add)
						im.block(dst, src, rows, width, ldd, lds, add)
						sameBitsNaN(t, "block", rows, width, dst, want)
						checkGuardsF32(t, buf, off, n, 8)
					}
				}
			}
		}
	})
}
