package train

import (
	"fmt"
	"sync"

	"github.com/shrinkml/shrink/kernels"
)

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

// convGeom returns the window as the kernels geometry of a convolution
// over C channels and the window's r trailing spatial dimensions, with the
// output size given explicitly (a transposed convolution's may exceed the
// ONNX formula's).
func (w *window) convGeom(C, r int) kernels.ConvGeomND {
	o := 3 - r
	return kernels.ConvGeomND{
		Channels: C,
		In:       w.in[o:],
		Kernel:   w.k[o:],
		Stride:   w.s[o:],
		Dilation: w.d[o:],
		PadBegin: w.pb[o:],
		PadEnd:   w.pe[o:],
		Out:      w.out[o:],
	}
}

// parallelImages runs fn(j) for j in [0, n) on up to threads goroutines
// and returns the first error.
func parallelImages(threads, n int, fn func(j int) error) error {
	var mu sync.Mutex
	var first error
	parallelFor(threads, n, 1, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			if err := fn(j); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				return
			}
		}
	})
	return first
}

// forWorkers splits [0, n) into t contiguous ranges, worker w taking
// [w·n/t, (w+1)·n/t), runs fn on each (worker 0 on the calling goroutine)
// and returns the error of the lowest-numbered worker that failed. The
// split depends only on t, so per-worker sums added in worker order are
// deterministic. A panic in a worker is raised again on the calling
// goroutine once every worker has stopped, so that the caller's recover
// never runs while workers still use its buffers.
func forWorkers(t, n int, fn func(w, lo, hi int) error) error {
	t = max(1, min(t, n))
	errs := make([]error, t)
	panics := make([]any, t)
	run := func(w int) {
		defer func() { panics[w] = recover() }()
		errs[w] = fn(w, w*n/t, (w+1)*n/t)
	}
	var wg sync.WaitGroup
	for w := 1; w < t; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(w)
		}()
	}
	run(0)
	wg.Wait()
	for _, p := range panics {
		if p != nil {
			panic(p)
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
