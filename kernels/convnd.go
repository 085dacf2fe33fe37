package kernels

import (
	"fmt"
	"math/bits"
)

// ConvGeomND is the geometry of a convolution with 1 to 3 spatial
// dimensions over one image in channels-first layout (Channels×In[0]×…),
// as ONNX Conv describes it. ConvGeom is its 2-D special case
// (ConvGeom.ND converts).
//
// Zero sizes are allowed where the result is still defined: no channels
// (an empty column matrix) or an empty spatial input (every tap reads
// padding).
type ConvGeomND struct {
	Channels int   // input channels, ≥ 0
	In       []int // spatial input size, 1 to 3 entries, each ≥ 0
	Kernel   []int // kernel size per dimension, each ≥ 1
	Stride   []int // nil means all 1; an entry of 0 means 1
	Dilation []int // nil means all 1; an entry of 0 means 1
	PadBegin []int // pads before each dimension; nil means 0
	PadEnd   []int // pads after each dimension; nil means 0
	// Out is the output size per dimension. Nil means the ONNX formula
	// (In + PadBegin + PadEnd - Dilation*(Kernel-1) - 1)/Stride + 1; a
	// transposed convolution may give any positive size instead (output
	// positions whose taps fall outside the input read zeros).
	Out []int
}

// geom3 is a resolved ConvGeomND seen as 3-D: missing leading dimensions
// have size 1, kernel 1, stride 1, dilation 1 and no pads.
type geom3 struct {
	c                   int
	in, out, k, s, d, p [3]int // p: pads before
	is, os, kk          int    // input and output positions, kernel taps
}

// resolve validates g and returns it as 3-D.
func (g ConvGeomND) resolve() (geom3, error) {
	var r geom3
	n := len(g.In)
	if n < 1 || n > 3 {
		return r, fmt.Errorf("kernels: convolution with %d spatial dimensions (1 to 3 supported)", n)
	}
	if len(g.Kernel) != n {
		return r, fmt.Errorf("kernels: convolution kernel %v for %d spatial dimensions", g.Kernel, n)
	}
	for _, v := range [][]int{g.Stride, g.Dilation, g.PadBegin, g.PadEnd, g.Out} {
		if v != nil && len(v) != n {
			return r, fmt.Errorf("kernels: convolution attribute %v for %d spatial dimensions", v, n)
		}
	}
	at := func(v []int, i, def int) int {
		if v == nil || v[i] == 0 {
			return def
		}
		return v[i]
	}
	if g.Channels < 0 {
		return r, fmt.Errorf("kernels: convolution with %d channels", g.Channels)
	}
	r.c = g.Channels
	for j := range 3 {
		r.in[j], r.out[j], r.k[j], r.s[j], r.d[j] = 1, 1, 1, 1, 1
	}
	for i := range n {
		j := 3 - n + i
		in, k, s, d := g.In[i], g.Kernel[i], at(g.Stride, i, 1), at(g.Dilation, i, 1)
		pb, pe := at(g.PadBegin, i, 0), at(g.PadEnd, i, 0)
		if in < 0 || k < 1 || s < 1 || d < 1 || pb < 0 || pe < 0 {
			return r, fmt.Errorf("kernels: convolution input %v, kernel %v, strides %v, dilations %v, pads %v+%v: sizes must not be negative, kernel, strides and dilations must be positive",
				g.In, g.Kernel, g.Stride, g.Dilation, g.PadBegin, g.PadEnd)
		}
		out := (in+pb+pe-d*(k-1)-1)/s + 1
		if in+pb+pe-d*(k-1)-1 < 0 {
			out = 0 // Go division truncates toward zero
		}
		if g.Out != nil {
			out = g.Out[i]
		}
		if out < 1 {
			return r, fmt.Errorf("kernels: convolution output would be %d along dimension %d (input %v, kernel %v, dilations %v, pads %v+%v)",
				out, i, g.In, g.Kernel, g.Dilation, g.PadBegin, g.PadEnd)
		}
		r.in[j], r.out[j], r.k[j], r.s[j], r.d[j], r.p[j] = in, out, k, s, d, pb
	}
	r.is = r.in[0] * r.in[1] * r.in[2]
	r.os = r.out[0] * r.out[1] * r.out[2]
	r.kk = r.k[0] * r.k[1] * r.k[2]
	return r, nil
}

// Validate reports geometry that cannot describe a convolution: a rank
// outside 1..3, attribute lengths that differ from it, negative sizes or
// pads, non-positive kernels, strides or dilations, or an empty output.
func (g ConvGeomND) Validate() error {
	_, err := g.resolve()
	return err
}

// OutSize returns the output size per spatial dimension, or nil for
// invalid geometry.
func (g ConvGeomND) OutSize() []int {
	r, err := g.resolve()
	if err != nil {
		return nil
	}
	return append([]int(nil), r.out[3-len(g.In):]...)
}

// ColSize returns the rows and columns of the im2col matrix:
// Channels*prod(Kernel) rows of prod(OutSize()) values (0, 0 for invalid
// geometry).
func (g ConvGeomND) ColSize() (rows, cols int) {
	r, err := g.resolve()
	if err != nil {
		return 0, 0
	}
	return r.c * r.kk, r.os
}

// check resolves g and checks an image of img values and a column matrix
// of col values with row stride *ld (0 means the column count; set on
// return).
func (g ConvGeomND) check(img, col int, ld *int) (geom3, error) {
	r, err := g.resolve()
	if err != nil {
		return r, err
	}
	if *ld == 0 {
		*ld = r.os
	}
	if *ld < r.os {
		return r, fmt.Errorf("kernels: column matrix row stride %d is below its %d columns", *ld, r.os)
	}
	if n := r.c * r.is; img < n {
		return r, fmt.Errorf("kernels: image has %d values, geometry needs %d", img, n)
	}
	if rows := r.c * r.kk; rows > 0 && col < (rows-1)*(*ld)+r.os {
		return r, fmt.Errorf("kernels: column matrix has %d values, geometry needs %d rows of %d (stride %d)", col, rows, r.os, *ld)
	}
	return r, nil
}

// validRange returns the output positions o in [0, out) along dimension j
// whose input index o*s - p + kk*d lies inside [0, in).
func (r *geom3) validRange(j, kk int) (lo, hi int) {
	s, off, in := r.s[j], kk*r.d[j]-r.p[j], r.in[j]
	if off < 0 { // o*s + off >= 0  ->  o >= ceil(-off/s)
		lo = (-off + s - 1) / s
	}
	if in-1-off < 0 { // o*s + off <= in-1  ->  o <= floor((in-1-off)/s)
		return lo, lo
	}
	hi = min((in-1-off)/s+1, r.out[j])
	return lo, max(hi, lo)
}

// Im2ColND unfolds the image src (Channels×In[0]×…) into the column matrix
// dst: Channels*prod(Kernel) rows of prod(Out) values, row r starting at
// dst[r*ld] (ld 0 means prod(Out); a larger ld lets a caller lay several
// images' columns side by side, and the gaps are not written). With the
// dimensions seen as 3-D (missing leading ones of size 1, see geom3):
//
//	for c, k0, k1, k2, o0, o1, o2:
//		i_j := o_j*Stride_j - PadBegin_j + k_j*Dilation_j
//		row := ((c*K0+k0)*K1+k1)*K2 + k2
//		dst[row*ld + (o0*O1+o1)*O2+o2] = src[((c*I0+i0)*I1+i1)*I2+i2], or 0 if some i_j is outside [0, I_j)
//
// A convolution is then weights (M×rows) times dst, and for a grouped one
// the rows of group g are the contiguous block [g*rows/groups,
// (g+1)*rows/groups). It returns an error, writing nothing, for invalid
// geometry, ld below prod(Out) or short slices.
func Im2ColND(dst []float32, ld int, src []float32, g ConvGeomND) error {
	r, err := g.check(len(src), len(dst), &ld)
	if err != nil {
		return err
	}
	im2col3(dst, ld, src, &r)
	return nil
}

// Col2ImND is the adjoint of Im2ColND: it adds each value of the column
// matrix src (rows of prod(Out) values, row r at src[r*ld], ld 0 meaning
// prod(Out)) back to the image position it came from, accumulating into
// dst (which it does not clear):
//
//	for c, k0, k1, k2, o0, o1, o2 with every i_j inside [0, I_j):
//		dst[((c*I0+i0)*I1+i1)*I2+i2] += src[row*ld + (o0*O1+o1)*O2+o2]
//
// with i_j and row as for Im2ColND. This is the input gradient of a
// convolution and the forward pass of a transposed one. It returns an
// error, writing nothing, for invalid geometry, ld below prod(Out) or short
// slices.
func Col2ImND(dst, src []float32, ld int, g ConvGeomND) error {
	r, err := g.check(len(dst), len(src), &ld)
	if err != nil {
		return err
	}
	col2im3(dst, src, ld, &r)
	return nil
}

func im2col3(col []float32, ld int, x []float32, w *geom3) {
	P, IS := w.os, w.is
	OH, OW := w.out[1], w.out[2]
	IH, IW := w.in[1], w.in[2]
	r := 0
	for c := 0; c < w.c; c++ {
		xc := x[c*IS : (c+1)*IS]
		for kd := 0; kd < w.k[0]; kd++ {
			dlo, dhi := w.validRange(0, kd)
			for kh := 0; kh < w.k[1]; kh++ {
				hlo, hhi := w.validRange(1, kh)
				for kw := 0; kw < w.k[2]; kw++ {
					wlo, whi := w.validRange(2, kw)
					row := col[r*ld : r*ld+P]
					r++
					if dlo >= dhi || hlo >= hhi || wlo >= whi {
						clear(row)
						continue
					}
					for od := 0; od < w.out[0]; od++ {
						plane := row[od*OH*OW : (od+1)*OH*OW]
						if od < dlo || od >= dhi {
							clear(plane)
							continue
						}
						id := od*w.s[0] - w.p[0] + kd*w.d[0]
						clear(plane[:hlo*OW])
						clear(plane[hhi*OW:])
						if w.s[2] == 1 {
							// Unit stride along the row: one block of
							// (hhi-hlo) row segments, borders cleared.
							if wlo > 0 || whi < OW {
								for oh := hlo; oh < hhi; oh++ {
									clear(plane[oh*OW : oh*OW+wlo])
									clear(plane[oh*OW+whi : (oh+1)*OW])
								}
							}
							ih := hlo*w.s[1] - w.p[1] + kh*w.d[1]
							iw := wlo - w.p[2] + kw*w.d[2]
							cur().block(plane[hlo*OW+wlo:], xc[(id*IH+ih)*IW+iw:], hhi-hlo, whi-wlo, OW, IW*w.s[1], false)
							continue
						}
						for oh := hlo; oh < hhi; oh++ {
							ih := oh*w.s[1] - w.p[1] + kh*w.d[1]
							dst := plane[oh*OW : (oh+1)*OW]
							src := xc[(id*IH+ih)*IW : (id*IH+ih+1)*IW]
							clear(dst[:wlo])
							clear(dst[whi:])
							iw := wlo*w.s[2] - w.p[2] + kw*w.d[2]
							for ow := wlo; ow < whi; ow++ {
								dst[ow] = src[iw]
								iw += w.s[2]
							}
						}
					}
				}
			}
		}
	}
}

// colTap is one kernel tap of a unit-stride 2-D col2im seen from the image:
// the byte offset of its column row's value for image column 0 at output
// row 0 (ld-strided rows from the channel's first), ph − kh (the output row
// is the image row plus this), and the image columns the tap reaches.
type colTap struct {
	off, dh int64
	mask    uint64
}

// col2imGather is col2im of a 2-D geometry with unit strides and dilations
// and image rows of at most 16 values by the implementation's plane kernel,
// which sums each image row's contributions in registers (same order as the
// block form: by tap) and stores it once. It reports false when the
// geometry does not allow it.
func col2imGather(x, col []float32, ld int, w *geom3) bool {
	im := cur()
	IH, IW, OH, OW := w.in[1], w.in[2], w.out[1], w.out[2]
	KH, KW := w.k[1], w.k[2]
	if w.in[0] != 1 || w.k[0] != 1 || w.out[0] != 1 || w.p[0] != 0 || w.s[1] != 1 || w.s[2] != 1 ||
		w.d[1] != 1 || w.d[2] != 1 || IW > 16 || IW == 0 || IH == 0 || KH*KW > 64 || OH*OW == 0 {
		return false
	}
	var taps [64]colTap
	ph, pw := w.p[1], w.p[2]
	for kh := 0; kh < KH; kh++ {
		for kw := 0; kw < KW; kw++ {
			lo, hi := max(0, kw-pw), min(IW, kw-pw+OW)
			var mask uint64
			if hi > lo {
				mask = (1<<hi - 1) &^ (1<<lo - 1)
			}
			taps[kh*KW+kw] = colTap{off: int64(((kh*KW+kw)*ld + pw - kw) * 4), dh: int64(ph - kh), mask: mask}
		}
	}
	n := KH * KW
	for c := 0; c < w.c; c++ {
		im.col2imPlane(x[c*IH*IW:(c+1)*IH*IW], col[c*n*ld:(c*n+n-1)*ld+OH*OW], taps[:n], IH, IW, OH, OW)
	}
	return true
}

// col2imPlaneGeneric is the plane kernel of col2imGather:
//
//	for ih := 0; ih < rows; ih++ {
//		for _, t := range taps {
//			o := ih + t.dh
//			if o < 0 || o >= oh { continue }
//			for iw := 0; iw < iw; iw++ {
//				if t.mask has bit iw {
//					dst[ih*iw+iw] += col[t.off/4 + o*ow + iw]
//				}
//			}
//		}
//	}
func col2imPlaneGeneric(dst, col []float32, taps []colTap, rows, iw, oh, ow int) {
	for ih := 0; ih < rows; ih++ {
		d := dst[ih*iw : (ih+1)*iw]
		for _, t := range taps {
			o := ih + int(t.dh)
			if o < 0 || o >= oh || t.mask == 0 {
				continue
			}
			lo, hi := bits.TrailingZeros64(t.mask), 64-bits.LeadingZeros64(t.mask)
			base := int(t.off)/4 + o*ow
			for j := lo; j < hi; j++ {
				d[j] += col[base+j]
			}
		}
	}
}

func col2im3(x, col []float32, ld int, w *geom3) {
	if col2imGather(x, col, ld, w) {
		return
	}
	P, IS := w.os, w.is
	OH, OW := w.out[1], w.out[2]
	IH, IW := w.in[1], w.in[2]
	r := 0
	for c := 0; c < w.c; c++ {
		xc := x[c*IS : (c+1)*IS]
		for kd := 0; kd < w.k[0]; kd++ {
			dlo, dhi := w.validRange(0, kd)
			for kh := 0; kh < w.k[1]; kh++ {
				hlo, hhi := w.validRange(1, kh)
				for kw := 0; kw < w.k[2]; kw++ {
					wlo, whi := w.validRange(2, kw)
					row := col[r*ld : r*ld+P]
					r++
					if wlo >= whi {
						continue
					}
					for od := dlo; od < dhi; od++ {
						id := od*w.s[0] - w.p[0] + kd*w.d[0]
						plane := row[od*OH*OW : (od+1)*OH*OW]
						if w.s[2] == 1 {
							if hlo < hhi {
								ih := hlo*w.s[1] - w.p[1] + kh*w.d[1]
								iw := wlo - w.p[2] + kw*w.d[2]
								cur().block(xc[(id*IH+ih)*IW+iw:], plane[hlo*OW+wlo:], hhi-hlo, whi-wlo, IW*w.s[1], OW, true)
							}
							continue
						}
						for oh := hlo; oh < hhi; oh++ {
							ih := oh*w.s[1] - w.p[1] + kh*w.d[1]
							src := plane[oh*OW+wlo : oh*OW+whi]
							dst := xc[(id*IH+ih)*IW : (id*IH+ih+1)*IW]
							iw := wlo*w.s[2] - w.p[2] + kw*w.d[2]
							if w.s[2] == 1 {
								dst = dst[iw : iw+len(src)]
								for i, v := range src {
									dst[i] += v
								}
								continue
							}
							for _, v := range src {
								dst[iw] += v
								iw += w.s[2]
							}
						}
					}
				}
			}
		}
	}
}

// blockGeneric copies (or, with add, adds) a rows×width block between row
// strides ldd and lds:
//
//	for r := 0; r < rows; r++ {
//		for j := 0; j < width; j++ {
//			dst[r*ldd+j] = src[r*lds+j]   // or +=
//		}
//	}
//
// (the row segments of im2col and col2im with unit stride).
func blockGeneric(dst, src []float32, rows, width, ldd, lds int, add bool) {
	for r := 0; r < rows; r++ {
		d, s := dst[r*ldd:r*ldd+width], src[r*lds:r*lds+width]
		if !add {
			copy(d, s)
			continue
		}
		for i, v := range s {
			d[i] += v
		}
	}
}
