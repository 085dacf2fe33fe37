package train

import "fmt"

// window is the geometry of a convolution or pooling window over up to
// three spatial dimensions. Inputs with fewer spatial dimensions are seen
// as 3-D with leading dimensions of size 1 (kernel 1, stride 1, no pad).
type window struct {
	in, out, k, s, d, pb, pe [3]int
}

// windowAttrs are the ONNX attributes shared by Conv and the pools.
type windowAttrs struct {
	kernel    []int64
	strides   []int64
	dilations []int64
	pads      []int64
	autoPad   string
	ceil      bool
}

func readWindowAttrs(b *buildCtx) (windowAttrs, error) {
	w := windowAttrs{
		kernel:    b.attrInts("kernel_shape", nil),
		strides:   b.attrInts("strides", nil),
		dilations: b.attrInts("dilations", nil),
		pads:      b.attrInts("pads", nil),
		autoPad:   b.attrString("auto_pad", "NOTSET"),
		ceil:      b.attrInt("ceil_mode", 0) != 0,
	}
	switch w.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER", "":
	default:
		return w, b.errorf("auto_pad=%q", w.autoPad)
	}
	return w, nil
}

// geometry resolves the window for an input's spatial shape and a kernel.
func (a windowAttrs) geometry(spatial []int, kernel []int) (window, error) {
	var w window
	r := len(spatial)
	if r < 1 || r > 3 {
		return w, fmt.Errorf("%d spatial dimensions (1 to 3 supported)", r)
	}
	if len(kernel) != r {
		return w, fmt.Errorf("kernel %v for %d spatial dimensions", kernel, r)
	}
	get := func(v []int64, i, def int) (int, error) {
		if v == nil {
			return def, nil
		}
		if len(v) != r {
			return 0, fmt.Errorf("attribute of length %d for %d spatial dimensions", len(v), r)
		}
		return int(v[i]), nil
	}
	if a.pads != nil && len(a.pads) != 2*r {
		return w, fmt.Errorf("pads %v for %d spatial dimensions", a.pads, r)
	}
	off := 3 - r
	for i := 0; i < 3; i++ {
		w.in[i], w.out[i], w.k[i], w.s[i], w.d[i] = 1, 1, 1, 1, 1
	}
	for i := 0; i < r; i++ {
		j := off + i
		var err error
		w.in[j], w.k[j] = spatial[i], kernel[i]
		if w.s[j], err = get(a.strides, i, 1); err != nil {
			return w, err
		}
		if w.d[j], err = get(a.dilations, i, 1); err != nil {
			return w, err
		}
		if w.k[j] < 1 || w.s[j] < 1 || w.d[j] < 1 {
			return w, fmt.Errorf("kernel %v, strides %v, dilations %v must be positive", kernel, a.strides, a.dilations)
		}
		ext := (w.k[j]-1)*w.d[j] + 1
		in, s := w.in[j], w.s[j]
		switch a.autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			out := (in + s - 1) / s
			total := max(0, (out-1)*s+ext-in)
			if a.autoPad == "SAME_UPPER" {
				w.pb[j] = total / 2
			} else {
				w.pb[j] = (total + 1) / 2
			}
			w.pe[j] = total - w.pb[j]
			w.out[j] = out
			continue
		case "VALID":
		default:
			if a.pads != nil {
				w.pb[j], w.pe[j] = int(a.pads[i]), int(a.pads[i+r])
			}
		}
		span := in + w.pb[j] + w.pe[j] - ext
		if span < 0 {
			return w, fmt.Errorf("window of extent %d does not fit input %d with pads %d+%d", ext, in, w.pb[j], w.pe[j])
		}
		out := span/s + 1
		if a.ceil {
			out = (span+s-1)/s + 1
			if (out-1)*s >= in+w.pb[j] {
				out--
			}
		}
		w.out[j] = out
	}
	return w, nil
}

func (w *window) outSize() int { return w.out[0] * w.out[1] * w.out[2] }
func (w *window) inSize() int  { return w.in[0] * w.in[1] * w.in[2] }

// validRange returns the output positions o in [0, out) along dimension j
// whose input index o*s - pb + kk*d lies inside [0, in).
func (w *window) validRange(j, kk int) (lo, hi int) {
	s, off, in := w.s[j], kk*w.d[j]-w.pb[j], w.in[j]
	// o*s + off >= 0  ->  o >= ceil(-off/s)
	lo = 0
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	// o*s + off <= in-1  ->  o <= floor((in-1-off)/s)
	if in-1-off < 0 {
		return lo, lo
	}
	hi = min((in-1-off)/s+1, w.out[j])
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// im2col writes the columns of one image's channels [0, C) (x holds them
// contiguously) into col: row (c, kd, kh, kw) holds, for each output
// position, the input value the kernel tap sees there (0 in padding). Rows
// have stride ld; this image's columns start at colOff.
func (w *window) im2col(x []float32, C int, col []float32, ld, colOff int) {
	P := w.outSize()
	IS := w.inSize()
	OH, OW := w.out[1], w.out[2]
	IH, IW := w.in[1], w.in[2]
	r := 0
	for c := 0; c < C; c++ {
		xc := x[c*IS : (c+1)*IS]
		for kd := 0; kd < w.k[0]; kd++ {
			dlo, dhi := w.validRange(0, kd)
			for kh := 0; kh < w.k[1]; kh++ {
				hlo, hhi := w.validRange(1, kh)
				for kw := 0; kw < w.k[2]; kw++ {
					wlo, whi := w.validRange(2, kw)
					row := col[r*ld+colOff : r*ld+colOff+P]
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
						id := od*w.s[0] - w.pb[0] + kd*w.d[0]
						clear(plane[:hlo*OW])
						clear(plane[hhi*OW:])
						for oh := hlo; oh < hhi; oh++ {
							ih := oh*w.s[1] - w.pb[1] + kh*w.d[1]
							dst := plane[oh*OW : (oh+1)*OW]
							src := xc[(id*IH+ih)*IW : (id*IH+ih+1)*IW]
							clear(dst[:wlo])
							clear(dst[whi:])
							iw := wlo*w.s[2] - w.pb[2] + kw*w.d[2]
							if w.s[2] == 1 {
								copy(dst[wlo:whi], src[iw:iw+whi-wlo])
							} else {
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
}

// col2im is the adjoint of im2col: it adds each column entry into the
// input position it was read from.
func (w *window) col2im(col []float32, ld, colOff int, x []float32, C int) {
	P := w.outSize()
	IS := w.inSize()
	OH, OW := w.out[1], w.out[2]
	IH, IW := w.in[1], w.in[2]
	r := 0
	for c := 0; c < C; c++ {
		xc := x[c*IS : (c+1)*IS]
		for kd := 0; kd < w.k[0]; kd++ {
			dlo, dhi := w.validRange(0, kd)
			for kh := 0; kh < w.k[1]; kh++ {
				hlo, hhi := w.validRange(1, kh)
				for kw := 0; kw < w.k[2]; kw++ {
					wlo, whi := w.validRange(2, kw)
					row := col[r*ld+colOff : r*ld+colOff+P]
					r++
					for od := dlo; od < dhi; od++ {
						id := od*w.s[0] - w.pb[0] + kd*w.d[0]
						plane := row[od*OH*OW : (od+1)*OH*OW]
						for oh := hlo; oh < hhi; oh++ {
							ih := oh*w.s[1] - w.pb[1] + kh*w.d[1]
							src := plane[oh*OW : (oh+1)*OW]
							dst := xc[(id*IH+ih)*IW : (id*IH+ih+1)*IW]
							iw := wlo*w.s[2] - w.pb[2] + kw*w.d[2]
							for ow := wlo; ow < whi; ow++ {
								dst[iw] += src[ow]
								iw += w.s[2]
							}
						}
					}
				}
			}
		}
	}
}
