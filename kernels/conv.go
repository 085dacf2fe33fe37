package kernels

import "fmt"

// ConvGeom is the geometry of a 2-D convolution over one image in NCHW
// layout, as ONNX Conv describes it: the 2-D case of ConvGeomND, with the
// same loops behind Im2Col/Col2Im and Im2ColND/Col2ImND.
type ConvGeom struct {
	Channels, Height, Width int // input channels and spatial size
	KernelH, KernelW        int
	StrideH, StrideW        int // 0 means 1
	DilationH, DilationW    int // 0 means 1
	PadTop, PadLeft         int
	PadBottom, PadRight     int
}

func one(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// OutSize returns the output height and width:
// (in + padBefore + padAfter - dilation*(kernel-1) - 1)/stride + 1.
func (g ConvGeom) OutSize() (oh, ow int) {
	oh = (g.Height+g.PadTop+g.PadBottom-one(g.DilationH)*(g.KernelH-1)-1)/one(g.StrideH) + 1
	ow = (g.Width+g.PadLeft+g.PadRight-one(g.DilationW)*(g.KernelW-1)-1)/one(g.StrideW) + 1
	return oh, ow
}

// ColSize returns the rows and columns of the im2col matrix:
// Channels*KernelH*KernelW rows of OH*OW values.
func (g ConvGeom) ColSize() (rows, cols int) {
	oh, ow := g.OutSize()
	return g.Channels * g.KernelH * g.KernelW, oh * ow
}

// Validate reports geometry that cannot describe a convolution: negative
// or zero sizes, negative strides, dilations or pads, or an empty output.
func (g ConvGeom) Validate() error {
	if g.Channels <= 0 || g.Height <= 0 || g.Width <= 0 || g.KernelH <= 0 || g.KernelW <= 0 {
		return fmt.Errorf("kernels: convolution sizes must be positive: %+v", g)
	}
	if g.StrideH < 0 || g.StrideW < 0 || g.DilationH < 0 || g.DilationW < 0 ||
		g.PadTop < 0 || g.PadLeft < 0 || g.PadBottom < 0 || g.PadRight < 0 {
		return fmt.Errorf("kernels: convolution strides, dilations and pads must not be negative: %+v", g)
	}
	if oh, ow := g.OutSize(); oh <= 0 || ow <= 0 {
		return fmt.Errorf("kernels: convolution output would be %d×%d: %+v", oh, ow, g)
	}
	return nil
}

func (g ConvGeom) check(img, col int) error {
	if err := g.Validate(); err != nil {
		return err
	}
	rows, cols := g.ColSize()
	if n := g.Channels * g.Height * g.Width; img < n {
		return fmt.Errorf("kernels: image has %d values, geometry needs %d", img, n)
	}
	if col < rows*cols {
		return fmt.Errorf("kernels: column matrix has %d values, geometry needs %d×%d", col, rows, cols)
	}
	return nil
}

// Im2Col unfolds the image src (Channels×Height×Width) into the column
// matrix dst (Channels*KernelH*KernelW rows of OH*OW values), so that a
// convolution becomes one GEMM, weights (M×rows) times dst:
//
//	for c, kh, kw, oh, ow:
//		ih := oh*StrideH - PadTop + kh*DilationH
//		iw := ow*StrideW - PadLeft + kw*DilationW
//		row := (c*KernelH+kh)*KernelW + kw
//		dst[row*OH*OW + oh*OW + ow] = src[(c*Height+ih)*Width+iw], or 0 outside the image
//
// For a grouped convolution the rows of group g are the contiguous block
// [g*rows/groups, (g+1)*rows/groups), so one call serves all groups. It
// returns an error, writing nothing, for invalid geometry or short slices.
func Im2Col(dst, src []float32, g ConvGeom) error {
	if err := g.check(len(src), len(dst)); err != nil {
		return err
	}
	r := g.geom3()
	im2col3(dst, r.os, src, &r)
	return nil
}

// Col2Im is the adjoint of Im2Col: it adds each value of the column matrix
// src back to the image position it came from, accumulating into dst
// (which it does not clear), as the input gradient of a convolution needs:
//
//	for c, kh, kw, oh, ow with (ih, iw) inside the image:
//		dst[(c*Height+ih)*Width+iw] += src[row*OH*OW + oh*OW + ow]
//
// with ih, iw and row as for Im2Col. It returns an error, writing nothing,
// for invalid geometry or short slices.
func Col2Im(dst, src []float32, g ConvGeom) error {
	if err := g.check(len(dst), len(src)); err != nil {
		return err
	}
	r := g.geom3()
	col2im3(dst, src, r.os, &r)
	return nil
}

// ND returns g as a ConvGeomND with two spatial dimensions.
func (g ConvGeom) ND() ConvGeomND {
	return ConvGeomND{
		Channels: g.Channels,
		In:       []int{g.Height, g.Width},
		Kernel:   []int{g.KernelH, g.KernelW},
		Stride:   []int{g.StrideH, g.StrideW},
		Dilation: []int{g.DilationH, g.DilationW},
		PadBegin: []int{g.PadTop, g.PadLeft},
		PadEnd:   []int{g.PadBottom, g.PadRight},
	}
}

// geom3 returns validated 2-D geometry in the form the shared N-d loops
// (convnd.go) take, without allocating.
func (g ConvGeom) geom3() geom3 {
	oh, ow := g.OutSize()
	r := geom3{c: g.Channels,
		in:  [3]int{1, g.Height, g.Width},
		out: [3]int{1, oh, ow},
		k:   [3]int{1, g.KernelH, g.KernelW},
		s:   [3]int{1, one(g.StrideH), one(g.StrideW)},
		d:   [3]int{1, one(g.DilationH), one(g.DilationW)},
		p:   [3]int{0, g.PadTop, g.PadLeft},
	}
	r.is, r.os, r.kk = g.Height*g.Width, oh*ow, g.KernelH*g.KernelW
	return r
}
