package train

import (
	"fmt"
	"math"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// poolOp is MaxPool or AveragePool over 1 to 3 spatial dimensions.
type poolOp struct {
	max          bool
	attrs        windowAttrs
	includePad   bool
	storageOrder int64
	nOut         int
	// from the last forward pass (MaxPool): the input position of each
	// output's maximum within its plane, -1 for an all-padding window
	argmax []int32
}

func buildPool(isMax bool) builder {
	return func(b *buildCtx) (built, error) {
		if err := b.needInputs(1, 1); err != nil {
			return built{}, err
		}
		if err := b.needFloat(0); err != nil {
			return built{}, err
		}
		a, err := readWindowAttrs(b)
		if err != nil {
			return built{}, err
		}
		if a.kernel == nil {
			return built{}, b.errorf("kernel_shape is required")
		}
		o := &poolOp{max: isMax, attrs: a, includePad: b.attrInt("count_include_pad", 0) != 0,
			storageOrder: b.attrInt("storage_order", 0), nOut: b.nOut}
		if !isMax && b.nOut > 1 {
			return built{}, b.errorf("AveragePool has one output")
		}
		ot := outs(onnxio.Float32, b.nOut)
		if b.nOut > 1 {
			ot[1] = onnxio.Int64
		}
		g := gradSpec{diffIn: 1}
		if isMax {
			// Backward finds each window's maximum again (forward keeps
			// no indices on the common 1-D/2-D path).
			g.saveIn, g.saveOut = 1, 1
		}
		return built{op: o, out: ot, grad: g}, nil
	}
}

func init() {
	register("MaxPool", buildPool(true))
	register("AveragePool", buildPool(false))
	register("GlobalAveragePool", buildGlobalAvgPool)
	register("GlobalMaxPool", buildGlobalMaxPool)
}

func (o *poolOp) geometry(x *tensor) (window, []int, error) {
	if len(x.shape) < 3 {
		return window{}, nil, fmt.Errorf("pooling input of rank %d", len(x.shape))
	}
	k := make([]int, len(o.attrs.kernel))
	for i, v := range o.attrs.kernel {
		k[i] = int(v)
	}
	w, err := o.attrs.geometry(x.shape[2:], k)
	if err != nil {
		return w, nil, err
	}
	r := len(x.shape) - 2
	shape := cloneShape(x.shape)
	copy(shape[2:], w.out[3-r:])
	return w, shape, nil
}

// visit calls fn for every output position of one plane with the valid
// input positions of its window, in order, and the count of positions
// the average divides by.
func (o *poolOp) forPlane(w *window, fn func(op int, taps []int32, count int)) {
	taps := make([]int32, 0, w.k[0]*w.k[1]*w.k[2])
	op := 0
	for od := 0; od < w.out[0]; od++ {
		for oh := 0; oh < w.out[1]; oh++ {
			for ow := 0; ow < w.out[2]; ow++ {
				taps = taps[:0]
				pos := [3]int{od, oh, ow}
				var lo, hi [3]int // window bounds (first index, one past last) for count_include_pad
				for j := 0; j < 3; j++ {
					start := pos[j]*w.s[j] - w.pb[j]
					lo[j] = start
					hi[j] = min(start+(w.k[j]-1)*w.d[j]+1, w.in[j]+w.pe[j])
				}
				count := 1
				if o.includePad {
					for j := 0; j < 3; j++ {
						n := 0
						for t := 0; t < w.k[j]; t++ {
							if i := lo[j] + t*w.d[j]; i < hi[j] {
								n++
							}
						}
						count *= n
					}
				}
				for kd := 0; kd < w.k[0]; kd++ {
					id := lo[0] + kd*w.d[0]
					if id < 0 || id >= w.in[0] {
						continue
					}
					for kh := 0; kh < w.k[1]; kh++ {
						ih := lo[1] + kh*w.d[1]
						if ih < 0 || ih >= w.in[1] {
							continue
						}
						for kw := 0; kw < w.k[2]; kw++ {
							iw := lo[2] + kw*w.d[2]
							if iw < 0 || iw >= w.in[2] {
								continue
							}
							taps = append(taps, int32((id*w.in[1]+ih)*w.in[2]+iw))
						}
					}
				}
				if !o.includePad {
					count = len(taps)
				}
				fn(op, taps, count)
				op++
			}
		}
	}
}

func (o *poolOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	w, shape, err := o.geometry(x)
	if err != nil {
		return nil, err
	}
	planes := x.shape[0] * x.shape[1]
	IS, P := w.inSize(), w.outSize()
	y := c.pool.newFloat(shape)
	o.argmax = o.argmax[:0]
	if w.is2x2() && o.nOut == 1 {
		pool := kernels.AvgPool2x2
		if o.max {
			pool = kernels.MaxPool2x2
		}
		parallelFor(c.threads, planes, max(1, elemGrain/max(IS, 1)), func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				pool(y.f[pl*P:(pl+1)*P], x.f[pl*IS:(pl+1)*IS], w.in[1], w.in[2])
			}
		})
		return []*tensor{y}, nil
	}
	if o.max && w.in[0] == 1 && w.k[0] == 1 && o.nOut == 1 {
		o.maxPool2D(c, &w, x.f, y.f, planes)
	} else if err := o.forwardGeneral(c, &w, x, y, planes); err != nil {
		return nil, err
	}
	res := []*tensor{y}
	if o.nOut > 1 {
		ind := c.pool.newInt(onnxio.Int64, cloneShape(shape))
		for pl := 0; pl < planes; pl++ {
			for op := 0; op < P; op++ {
				a := int(o.argmax[pl*P+op])
				if a < 0 {
					ind.i[pl*P+op] = -1
					continue
				}
				if o.storageOrder == 1 { // column-major position within the plane
					iw := a % w.in[2]
					ih := a / w.in[2] % w.in[1]
					id := a / (w.in[1] * w.in[2])
					a = (iw*w.in[1]+ih)*w.in[0] + id
				}
				ind.i[pl*P+op] = int64(pl*IS + a)
			}
		}
		res = append(res, ind)
	}
	return res, nil
}

// maxPool2D is MaxPool over one or two spatial dimensions with the windows
// walked directly. It records no indices (the branch-free max is several
// times faster than tracking the argmax): backward finds them again.
func (o *poolOp) maxPool2D(c *runCtx, w *window, x, y []float32, planes int) {
	IH, IW, OH, OW := w.in[1], w.in[2], w.out[1], w.out[2]
	IS, P := IH*IW, OH*OW
	parallelFor(c.threads, planes, max(1, elemGrain/max(IS, 1)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xs := x[pl*IS : (pl+1)*IS]
			ys := y[pl*P : (pl+1)*P]
			for oh := 0; oh < OH; oh++ {
				h0 := oh*w.s[1] - w.pb[1]
				for ow := 0; ow < OW; ow++ {
					w0 := ow*w.s[2] - w.pb[2]
					best := float32(math.Inf(-1))
					for kh := 0; kh < w.k[1]; kh++ {
						ih := h0 + kh*w.d[1]
						if ih < 0 || ih >= IH {
							continue
						}
						row := xs[ih*IW : (ih+1)*IW]
						for kw := 0; kw < w.k[2]; kw++ {
							if iw := w0 + kw*w.d[2]; iw >= 0 && iw < IW {
								best = max(best, row[iw])
							}
						}
					}
					ys[oh*OW+ow] = best
				}
			}
		}
	})
}

// maxPool2DBackward routes each output's gradient to the first position of
// its window holding the maximum (the element a strict > scan keeps).
func (o *poolOp) maxPool2DBackward(c *runCtx, w *window, x, y, g, dx []float32, planes int) {
	IH, IW, OH, OW := w.in[1], w.in[2], w.out[1], w.out[2]
	IS, P := IH*IW, OH*OW
	parallelFor(c.threads, planes, max(1, elemGrain/max(IS, 1)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xs, ds := x[pl*IS:(pl+1)*IS], dx[pl*IS:(pl+1)*IS]
			ys, gs := y[pl*P:(pl+1)*P], g[pl*P:(pl+1)*P]
			for oh := 0; oh < OH; oh++ {
				h0 := oh*w.s[1] - w.pb[1]
				for ow := 0; ow < OW; ow++ {
					w0 := ow*w.s[2] - w.pb[2]
					best := ys[oh*OW+ow]
				search:
					for kh := 0; kh < w.k[1]; kh++ {
						ih := h0 + kh*w.d[1]
						if ih < 0 || ih >= IH {
							continue
						}
						for kw := 0; kw < w.k[2]; kw++ {
							if iw := w0 + kw*w.d[2]; iw >= 0 && iw < IW && xs[ih*IW+iw] == best {
								ds[ih*IW+iw] += gs[oh*OW+ow]
								break search
							}
						}
					}
				}
			}
		}
	})
}

// is2x2 reports a 2×2 window with stride 2, no padding or dilation, over
// one plane of two spatial dimensions: the kernels' MaxPool2x2 and
// AvgPool2x2 and their gradients.
func (w *window) is2x2() bool {
	return w.k == [3]int{1, 2, 2} && w.s == [3]int{1, 2, 2} && w.d == [3]int{1, 1, 1} &&
		w.pb == [3]int{} && w.pe == [3]int{} && w.in[0] == 1 &&
		w.out[1] == w.in[1]/2 && w.out[2] == w.in[2]/2 // not ceil_mode past the input
}

func (o *poolOp) forwardGeneral(c *runCtx, w *window, x, y *tensor, planes int) error {
	IS, P := w.inSize(), w.outSize()
	if o.max {
		if cap(o.argmax) < planes*P {
			o.argmax = make([]int32, planes*P)
		}
		o.argmax = o.argmax[:planes*P]
	}
	// The windows are the same for every plane: list them once.
	type win struct {
		taps  []int32
		count int
	}
	wins := make([]win, P)
	o.forPlane(w, func(op int, taps []int32, count int) {
		wins[op] = win{append([]int32(nil), taps...), count}
	})
	parallelFor(c.threads, planes, max(1, elemGrain/max(IS, 1)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xs := x.f[pl*IS : (pl+1)*IS]
			ys := y.f[pl*P : (pl+1)*P]
			for op, wn := range wins {
				if o.max {
					best, arg := float32(math.Inf(-1)), int32(-1)
					for _, t := range wn.taps {
						if v := xs[t]; v > best || arg < 0 {
							best, arg = v, t
						}
					}
					ys[op] = best
					o.argmax[pl*P+op] = arg
					continue
				}
				var s float32
				for _, t := range wn.taps {
					s += xs[t]
				}
				if wn.count > 0 {
					ys[op] = s / float32(wn.count)
				} else {
					ys[op] = 0
				}
			}
		}
	})
	return nil
}

func (o *poolOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, g := in[0], gout[0]
	w, _, err := o.geometry(x)
	if err != nil {
		return nil, err
	}
	planes := x.shape[0] * x.shape[1]
	IS, P := w.inSize(), w.outSize()
	if w.is2x2() && len(o.argmax) == 0 {
		// The kernels write every position of dx: no zeroing pass.
		dx := c.pool.newFloat(cloneShape(x.shape))
		parallelFor(c.threads, planes, max(1, elemGrain/max(IS, 1)), func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				d, gs := dx.f[pl*IS:(pl+1)*IS], g.f[pl*P:(pl+1)*P]
				if o.max {
					kernels.MaxPool2x2Backward(d, gs, x.f[pl*IS:(pl+1)*IS], w.in[1], w.in[2])
				} else {
					kernels.AvgPool2x2Backward(d, gs, w.in[1], w.in[2])
				}
			}
		})
		return []*tensor{dx}, nil
	}
	dx := c.pool.zeroFloat(cloneShape(x.shape))
	if o.max && len(o.argmax) == 0 {
		o.maxPool2DBackward(c, &w, x.f, out[0].f, g.f, dx.f, planes)
		return []*tensor{dx}, nil
	}
	if o.max {
		parallelFor(c.threads, planes, max(1, elemGrain/max(IS, 1)), func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				ds := dx.f[pl*IS : (pl+1)*IS]
				for op, gv := range g.f[pl*P : (pl+1)*P] {
					if a := o.argmax[pl*P+op]; a >= 0 {
						ds[a] += gv
					}
				}
			}
		})
		return []*tensor{dx}, nil
	}
	type win struct {
		taps  []int32
		count int
	}
	wins := make([]win, P)
	o.forPlane(&w, func(op int, taps []int32, count int) {
		wins[op] = win{append([]int32(nil), taps...), count}
	})
	parallelFor(c.threads, planes, max(1, elemGrain/max(IS, 1)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			ds := dx.f[pl*IS : (pl+1)*IS]
			for op, gv := range g.f[pl*P : (pl+1)*P] {
				wn := wins[op]
				if wn.count == 0 {
					continue
				}
				v := gv / float32(wn.count)
				for _, t := range wn.taps {
					ds[t] += v
				}
			}
		}
	})
	return []*tensor{dx}, nil
}

// globalAvgPoolOp averages each plane.
type globalAvgPoolOp struct{}

func buildGlobalAvgPool(b *buildCtx) (built, error) {
	if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	if err := b.needFloat(0); err != nil {
		return built{}, err
	}
	return built{op: globalAvgPoolOp{}, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 1}}, nil
}

func (globalAvgPoolOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	if len(x.shape) < 3 {
		return nil, fmt.Errorf("input of rank %d", len(x.shape))
	}
	shape := cloneShape(x.shape)
	for i := 2; i < len(shape); i++ {
		shape[i] = 1
	}
	S := prod(x.shape[2:])
	y := c.pool.newFloat(shape)
	for pl := range y.f {
		y.f[pl] = kernels.Sum(x.f[pl*S:(pl+1)*S]) / float32(S)
	}
	return []*tensor{y}, nil
}

func (globalAvgPoolOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, g := in[0], gout[0]
	S := prod(x.shape[2:])
	dx := c.pool.newFloat(cloneShape(x.shape))
	for pl, gv := range g.f {
		v := gv / float32(S)
		ds := dx.f[pl*S : (pl+1)*S]
		for i := range ds {
			ds[i] = v
		}
	}
	return []*tensor{dx}, nil
}

// globalMaxPoolOp takes each plane's maximum; the gradient goes to its
// first occurrence.
type globalMaxPoolOp struct{}

func buildGlobalMaxPool(b *buildCtx) (built, error) {
	if err := b.needInputs(1, 1); err != nil {
		return built{}, err
	}
	if err := b.needFloat(0); err != nil {
		return built{}, err
	}
	return built{op: globalMaxPoolOp{}, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 1, saveIn: 1, saveOut: 1}}, nil
}

func (globalMaxPoolOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	if len(x.shape) < 3 {
		return nil, fmt.Errorf("input of rank %d", len(x.shape))
	}
	shape := cloneShape(x.shape)
	for i := 2; i < len(shape); i++ {
		shape[i] = 1
	}
	S := prod(x.shape[2:])
	if S == 0 {
		return nil, fmt.Errorf("empty planes")
	}
	y := c.pool.newFloat(shape)
	for pl := range y.f {
		m := x.f[pl*S]
		for _, v := range x.f[pl*S : (pl+1)*S] {
			m = max(m, v)
		}
		y.f[pl] = m
	}
	return []*tensor{y}, nil
}

func (globalMaxPoolOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, y, g := in[0], out[0], gout[0]
	S := prod(x.shape[2:])
	dx := c.pool.zeroFloat(cloneShape(x.shape))
	for pl, m := range y.f {
		for i, v := range x.f[pl*S : (pl+1)*S] {
			if v == m {
				dx.f[pl*S+i] = g.f[pl]
				break
			}
		}
	}
	return []*tensor{dx}, nil
}
