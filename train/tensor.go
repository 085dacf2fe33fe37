package train

import (
	"fmt"
	"math/bits"

	"github.com/shrinkml/shrink/onnxio"
)

// tensor is a value flowing through the executor. Float32 data lives in f;
// every integer type and bool lives in i as int64 (bool as 0/1), dtype
// remembering what it is. Once released, f and i are nil but the shape stays
// valid (backward needs the shapes of values whose data is gone).
type tensor struct {
	dtype  onnxio.DType
	shape  []int
	f      []float32
	i      []int64
	pooled bool // data came from the pool and goes back to it
}

func (t *tensor) isFloat() bool { return t.dtype == onnxio.Float32 }

func (t *tensor) size() int { return prod(t.shape) }

func prod(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func cloneShape(s []int) []int { return append(make([]int, 0, len(s)), s...) }

func shapeEq(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// supportedDType reports whether the engine can hold values of type d.
func supportedDType(d onnxio.DType) bool {
	switch d {
	case onnxio.Float32, onnxio.Int64, onnxio.Int32, onnxio.Int16, onnxio.Int8,
		onnxio.Uint8, onnxio.Uint16, onnxio.Uint32, onnxio.Uint64, onnxio.Bool:
		return true
	}
	return false
}

func isIntType(d onnxio.DType) bool {
	return d != onnxio.Float32 && d != onnxio.Bool && supportedDType(d)
}

// pool recycles buffers by size class. Buffers keep their class capacity, so
// a buffer returned by put goes back to the list it came from.
type pool struct {
	f map[int][][]float32
	i map[int][][]int64

	live, peak, allocs int64 // bytes handed out, their maximum, fresh allocations
}

func (p *pool) took(bytes int64) {
	p.live += bytes
	p.peak = max(p.peak, p.live)
}

// sizeClass rounds n up to the next of 16, 24, 32, 48, 64, 96, … (powers
// of two and one and a half times powers of two), wasting at most a third.
func sizeClass(n int) int {
	if n <= 16 {
		return 16
	}
	p := 1 << bits.Len(uint(n-1)) // smallest power of two >= n
	if h := p / 4 * 3; n <= h {
		return h
	}
	return p
}

func (p *pool) floats(n int) []float32 { return take(p, p.f, n, 4) }

func (p *pool) putFloats(s []float32) { give(p, &p.f, s, 4) }

func (p *pool) ints(n int) []int64 { return take(p, p.i, n, 8) }

func (p *pool) putInts(s []int64) { give(p, &p.i, s, 8) }

// take returns a buffer of n elements of size bytes each from lists,
// allocating one of n's size class when the list is empty.
func take[T any](p *pool, lists map[int][][]T, n int, size int64) []T {
	c := sizeClass(n)
	p.took(int64(c) * size)
	if l := lists[c]; len(l) > 0 {
		s := l[len(l)-1]
		lists[c] = l[:len(l)-1]
		return s[:n]
	}
	p.allocs++
	return make([]T, n, c)
}

// give hands s back to *lists; buffers not of a size class (not from the
// pool) are dropped.
func give[T any](p *pool, lists *map[int][][]T, s []T, size int64) {
	c := cap(s)
	if c != sizeClass(c) {
		return
	}
	if *lists == nil {
		*lists = map[int][][]T{}
	}
	p.live -= int64(c) * size
	(*lists)[c] = append((*lists)[c], s[:0])
}

// bytes returns how many bytes the pool holds.
func (p *pool) bytes() int64 {
	var n int64
	for c, l := range p.f {
		n += int64(c) * 4 * int64(len(l))
	}
	for c, l := range p.i {
		n += int64(c) * 8 * int64(len(l))
	}
	return n
}

// newFloat returns a pooled float tensor of the given shape; its contents
// are arbitrary.
func (p *pool) newFloat(shape []int) *tensor {
	return &tensor{dtype: onnxio.Float32, shape: shape, f: p.floats(prod(shape)), pooled: true}
}

// zeroFloat returns a pooled float tensor of zeros.
func (p *pool) zeroFloat(shape []int) *tensor {
	t := p.newFloat(shape)
	clear(t.f)
	return t
}

// newInt returns a pooled integer tensor of type d.
func (p *pool) newInt(d onnxio.DType, shape []int) *tensor {
	return &tensor{dtype: d, shape: shape, i: p.ints(prod(shape)), pooled: true}
}

// newLike returns a pooled tensor of t's type and the given shape.
func (p *pool) newLike(t *tensor, shape []int) *tensor {
	if t.isFloat() {
		return p.newFloat(shape)
	}
	return p.newInt(t.dtype, shape)
}

// release drops t's data, handing pooled buffers back.
func (p *pool) release(t *tensor) {
	if t == nil {
		return
	}
	if t.pooled {
		if t.f != nil {
			p.putFloats(t.f)
		}
		if t.i != nil {
			p.putInts(t.i)
		}
	}
	t.f, t.i, t.pooled = nil, nil, false
}

// fromONNX wraps an onnxio tensor. Float32 and Int64 data are used in place
// (the engine never writes into its inputs); other integer types and bool
// are widened to int64.
func fromONNX(t *onnxio.Tensor) (*tensor, error) {
	shape := make([]int, len(t.Shape))
	for i, d := range t.Shape {
		if d < 0 {
			return nil, fmt.Errorf("tensor %q: negative dimension in shape %v", t.Name, t.Shape)
		}
		shape[i] = int(d)
	}
	n := prod(shape)
	out := &tensor{dtype: t.DType, shape: shape}
	switch d := t.Data.(type) {
	case []float32:
		if t.DType != onnxio.Float32 {
			return nil, fmt.Errorf("tensor %q: %s tensor holds []float32", t.Name, t.DType)
		}
		out.f = d
	case []int64:
		out.i = d
	case []uint16:
		if t.DType != onnxio.Uint16 {
			return nil, &onnxio.UnsupportedError{Node: t.Name, Op: "input", Reason: "element type " + t.DType.String()}
		}
		out.i = make([]int64, len(d))
		for k, v := range d {
			out.i[k] = int64(v)
		}
	case []bool:
		out.i = make([]int64, len(d))
		for k, v := range d {
			if v {
				out.i[k] = 1
			}
		}
	default:
		if !isIntType(t.DType) {
			return nil, &onnxio.UnsupportedError{Node: t.Name, Op: "input", Reason: "element type " + t.DType.String()}
		}
		v, err := t.Int64s()
		if err != nil {
			return nil, err
		}
		out.i = v
	}
	if l := max(len(out.f), len(out.i)); l != n {
		return nil, fmt.Errorf("tensor %q: %d elements for shape %v", t.Name, l, t.Shape)
	}
	return out, nil
}

// toONNX converts t for the caller. Float32 and Int64 data are shared, not
// copied.
func toONNX(name string, t *tensor) *onnxio.Tensor {
	shape := make([]int64, len(t.shape))
	for i, d := range t.shape {
		shape[i] = int64(d)
	}
	o := &onnxio.Tensor{Name: name, DType: t.dtype, Shape: shape}
	switch t.dtype {
	case onnxio.Float32:
		o.Data = t.f
	case onnxio.Int64:
		o.Data = t.i
	case onnxio.Bool:
		b := make([]bool, len(t.i))
		for k, v := range t.i {
			b[k] = v != 0
		}
		o.Data = b
	case onnxio.Int32:
		o.Data = narrowInts[int32](t.i)
	case onnxio.Int16:
		o.Data = narrowInts[int16](t.i)
	case onnxio.Int8:
		o.Data = narrowInts[int8](t.i)
	case onnxio.Uint8:
		o.Data = narrowInts[uint8](t.i)
	case onnxio.Uint16:
		o.Data = narrowInts[uint16](t.i)
	case onnxio.Uint32:
		o.Data = narrowInts[uint32](t.i)
	case onnxio.Uint64:
		o.Data = narrowInts[uint64](t.i)
	}
	return o
}

func narrowInts[T int8 | int16 | int32 | uint8 | uint16 | uint32 | uint64](s []int64) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = T(v)
	}
	return out
}

// wrapInts makes int64 values behave like type d (two's complement wrap
// around), as arithmetic in d would.
func wrapInts(d onnxio.DType, s []int64) {
	switch d {
	case onnxio.Int32:
		for i, v := range s {
			s[i] = int64(int32(v))
		}
	case onnxio.Int16:
		for i, v := range s {
			s[i] = int64(int16(v))
		}
	case onnxio.Int8:
		for i, v := range s {
			s[i] = int64(int8(v))
		}
	case onnxio.Uint8:
		for i, v := range s {
			s[i] = int64(uint8(v))
		}
	case onnxio.Uint16:
		for i, v := range s {
			s[i] = int64(uint16(v))
		}
	case onnxio.Uint32:
		for i, v := range s {
			s[i] = int64(uint32(v))
		}
	case onnxio.Bool:
		for i, v := range s {
			if v != 0 {
				s[i] = 1
			}
		}
	}
}
