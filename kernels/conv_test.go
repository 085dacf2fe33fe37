package kernels

import (
	"math"
	"testing"
)

var convGeoms = []ConvGeom{
	{Channels: 1, Height: 5, Width: 5, KernelH: 3, KernelW: 3},
	{Channels: 3, Height: 7, Width: 6, KernelH: 3, KernelW: 2, StrideH: 2, StrideW: 1, PadTop: 1, PadLeft: 2, PadBottom: 0, PadRight: 1},
	{Channels: 2, Height: 9, Width: 8, KernelH: 2, KernelW: 3, DilationH: 2, DilationW: 3, PadTop: 2, PadLeft: 1, PadBottom: 3, PadRight: 2, StrideH: 3, StrideW: 2},
	{Channels: 4, Height: 1, Width: 13, KernelH: 1, KernelW: 5, PadLeft: 4, PadRight: 4},
	{Channels: 2, Height: 3, Width: 3, KernelH: 3, KernelW: 3, PadTop: 5, PadLeft: 5, PadBottom: 5, PadRight: 5, StrideH: 4, StrideW: 4},
}

// TestIm2ColConv checks that weights times Im2Col is the directly computed
// convolution, including a grouped one.
func TestIm2ColConv(t *testing.T) {
	r := newRand(40)
	for _, g := range convGeoms {
		for _, groups := range []int{1, 2} {
			if g.Channels%groups != 0 {
				continue
			}
			cg := g.Channels / groups
			const mPerGroup = 3
			x := make([]float32, g.Channels*g.Height*g.Width)
			w := make([]float32, groups*mPerGroup*cg*g.KernelH*g.KernelW)
			randF32(r, x, 1)
			randF32(r, w, 1)
			rows, cols := g.ColSize()
			col := make([]float32, rows*cols+1)
			col[rows*cols] = 123 // guard
			if err := Im2Col(col, x, g); err != nil {
				t.Fatal(err)
			}
			if !sameFloat(float64(col[rows*cols]), 123, 0) {
				t.Fatalf("%+v: guard overwritten", g)
			}
			oh, ow := g.OutSize()
			kk := cg * g.KernelH * g.KernelW
			out := make([]float32, groups*mPerGroup*cols)
			for gi := 0; gi < groups; gi++ {
				Sgemm(false, false, mPerGroup, cols, kk, 1, w[gi*mPerGroup*kk:], kk, col[gi*kk*cols:], cols, 0, out[gi*mPerGroup*cols:], cols)
			}
			for gi := 0; gi < groups; gi++ {
				for m := 0; m < mPerGroup; m++ {
					for y := 0; y < oh; y++ {
						for xo := 0; xo < ow; xo++ {
							var s, mag float64
							for c := 0; c < cg; c++ {
								for kh := 0; kh < g.KernelH; kh++ {
									for kw := 0; kw < g.KernelW; kw++ {
										ih := y*one(g.StrideH) - g.PadTop + kh*one(g.DilationH)
										iw := xo*one(g.StrideW) - g.PadLeft + kw*one(g.DilationW)
										if ih < 0 || ih >= g.Height || iw < 0 || iw >= g.Width {
											continue
										}
										wv := float64(w[((gi*mPerGroup+m)*cg+c)*g.KernelH*g.KernelW+kh*g.KernelW+kw])
										xv := float64(x[((gi*cg+c)*g.Height+ih)*g.Width+iw])
										s += wv * xv
										mag += math.Abs(wv * xv)
									}
								}
							}
							got := float64(out[(gi*mPerGroup+m)*cols+y*ow+xo])
							if !within(got, s, 1e-5*(mag+1)) {
								t.Fatalf("%+v groups=%d: out[%d,%d,%d] = %v, want %v", g, groups, gi*mPerGroup+m, y, xo, got, s)
							}
						}
					}
				}
			}
		}
	}
}

// TestCol2ImAdjoint checks <Im2Col(x), y> == <x, Col2Im(y)> and that
// Col2Im accumulates.
func TestCol2ImAdjoint(t *testing.T) {
	r := newRand(41)
	for _, g := range convGeoms {
		rows, cols := g.ColSize()
		x := make([]float32, g.Channels*g.Height*g.Width)
		y := make([]float32, rows*cols)
		randF32(r, x, 1)
		randF32(r, y, 1)
		col := make([]float32, rows*cols)
		if err := Im2Col(col, x, g); err != nil {
			t.Fatal(err)
		}
		img := make([]float32, len(x))
		for i := range img {
			img[i] = 1
		}
		if err := Col2Im(img, y, g); err != nil {
			t.Fatal(err)
		}
		var lhs, rhs, mag float64
		for i := range col {
			lhs += float64(col[i]) * float64(y[i])
			mag += math.Abs(float64(col[i]) * float64(y[i]))
		}
		for i := range x {
			rhs += float64(x[i]) * float64(img[i]-1)
		}
		if !within(lhs, rhs, 1e-5*(mag+1)) {
			t.Fatalf("%+v: <Im2Col x, y> = %v, <x, Col2Im y> = %v", g, lhs, rhs)
		}
	}
}

func TestConvGeomErrors(t *testing.T) {
	good := ConvGeom{Channels: 1, Height: 4, Width: 4, KernelH: 3, KernelW: 3}
	for _, g := range []ConvGeom{
		{Channels: 0, Height: 4, Width: 4, KernelH: 3, KernelW: 3},
		{Channels: 1, Height: 2, Width: 4, KernelH: 3, KernelW: 3},
		{Channels: 1, Height: 4, Width: 4, KernelH: 3, KernelW: 3, StrideH: -1},
		{Channels: 1, Height: 4, Width: 4, KernelH: 3, KernelW: 3, PadLeft: -1},
	} {
		if err := Im2Col(make([]float32, 100), make([]float32, 100), g); err == nil {
			t.Errorf("Im2Col accepted %+v", g)
		}
	}
	if err := Im2Col(make([]float32, 35), make([]float32, 16), good); err == nil {
		t.Error("Im2Col accepted a short column matrix")
	}
	if err := Col2Im(make([]float32, 15), make([]float32, 36), good); err == nil {
		t.Error("Col2Im accepted a short image")
	}
}
