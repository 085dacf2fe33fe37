package train

import (
	"fmt"
	"sync"
)

// stridesOf returns the row-major strides of shape.
func stridesOf(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// broadcastShapes applies numpy's multidirectional broadcasting rule.
func broadcastShapes(shapes ...[]int) ([]int, error) {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make([]int, r)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := r - len(s)
		for i, d := range s {
			o := &out[off+i]
			switch {
			case d == *o || d == 1:
			case *o == 1:
				*o = d
			default:
				return nil, fmt.Errorf("shapes %v are not broadcastable", shapes)
			}
		}
	}
	return out, nil
}

// bcastStrides returns, for a tensor of shape in broadcast to shape out,
// the stride of each of out's dimensions in the input (0 where the input is
// broadcast).
func bcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	src := stridesOf(in)
	off := len(out) - len(in)
	for i, d := range in {
		if d != 1 || out[off+i] == 1 {
			st[off+i] = src[i]
		}
	}
	return st
}

// coalesce merges adjacent dimensions that every operand walks contiguously
// (stride[d] == stride[d+1]*shape[d+1], which also holds for broadcast
// dimensions with stride 0 on both). It drops dimensions of size 1.
// strides[k] are the per-dimension strides of operand k.
func coalesce(shape []int, strides ...[]int) ([]int, [][]int) {
	var sh []int
	st := make([][]int, len(strides))
	for d, n := range shape {
		if n == 1 {
			continue
		}
		if len(sh) > 0 {
			last := len(sh) - 1
			ok := true
			for k := range strides {
				if st[k][last] != strides[k][d]*n {
					ok = false
					break
				}
			}
			if ok {
				sh[last] *= n
				for k := range strides {
					st[k][last] = strides[k][d]
				}
				continue
			}
		}
		sh = append(sh, n)
		for k := range strides {
			st[k] = append(st[k], strides[k][d])
		}
	}
	if len(sh) == 0 {
		sh = []int{1}
		for k := range st {
			st[k] = []int{0}
		}
	}
	return sh, st
}

// forRows walks the index space of shape (coalesced first) row by row. For
// each innermost row it calls fn with the offset of the row's first element
// in each operand (base offsets added), the row length and the operands'
// innermost strides.
func forRows(shape []int, base []int, strides [][]int, fn func(offs []int, n int, inner []int)) {
	if prod(shape) == 0 {
		return
	}
	sh, st := coalesce(shape, strides...)
	r := len(sh)
	k := len(st)
	inner := make([]int, k)
	for j := range st {
		inner[j] = st[j][r-1]
	}
	offs := make([]int, k)
	copy(offs, base)
	idx := make([]int, r-1)
	n := sh[r-1]
	for {
		fn(offs, n, inner)
		d := r - 2
		for ; d >= 0; d-- {
			idx[d]++
			for j := range offs {
				offs[j] += st[j][d]
			}
			if idx[d] < sh[d] {
				break
			}
			for j := range offs {
				offs[j] -= st[j][d] * sh[d]
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// stridedCopy sets dst (contiguous, of the given shape) from src read at
// offset off with the given per-dimension strides (0 to broadcast, negative
// to walk backwards).
func stridedCopy[T any](dst, src []T, shape []int, off int, strides []int) {
	forRows(shape, []int{0, off}, [][]int{stridesOf(shape), strides}, func(o []int, n int, in []int) {
		d := dst[o[0] : o[0]+n]
		s := in[1]
		switch s {
		case 1:
			copy(d, src[o[1]:o[1]+n])
		case 0:
			v := src[o[1]]
			for i := range d {
				d[i] = v
			}
		default:
			p := o[1]
			for i := range d {
				d[i] = src[p]
				p += s
			}
		}
	})
}

// stridedAdd adds src (contiguous, of the given shape) into dst at offset
// off with the given strides; where strides are 0 several elements of src
// accumulate into one of dst, in index order.
func stridedAdd(dst, src []float32, shape []int, off int, strides []int) {
	forRows(shape, []int{0, off}, [][]int{stridesOf(shape), strides}, func(o []int, n int, in []int) {
		s := src[o[0] : o[0]+n]
		st := in[1]
		switch st {
		case 1:
			d := dst[o[1] : o[1]+n]
			for i, v := range s {
				d[i] += v
			}
		case 0:
			acc := dst[o[1]]
			for _, v := range s {
				acc += v
			}
			dst[o[1]] = acc
		default:
			p := o[1]
			for _, v := range s {
				dst[p] += v
				p += st
			}
		}
	})
}

// reduceTo sums src, of shape from, into dst, of shape to, where from is
// to broadcast; dst is overwritten.
func reduceTo(dst, src []float32, from, to []int) {
	clear(dst)
	stridedAdd(dst, src, from, 0, bcastStrides(to, from))
}

// expandTo broadcasts src, of shape from, into dst, of shape to.
func expandTo[T any](dst, src []T, from, to []int) {
	stridedCopy(dst, src, to, 0, bcastStrides(from, to))
}

// parallelFor runs fn over [0, n) split into at most threads contiguous
// chunks of at least grain items, on that many goroutines. The split depends
// only on n, grain and threads, so results are deterministic for a given
// thread count whenever fn writes disjoint outputs per index.
func parallelFor(threads, n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	t := min(threads, (n+grain-1)/grain)
	if t <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + t - 1) / t
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
