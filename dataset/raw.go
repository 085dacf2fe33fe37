package dataset

import (
	"fmt"
	"slices"

	"github.com/shrinkml/shrink/onnxio"
)

// decodeRaw turns little-endian (or, with big set, big-endian) raw bytes
// into a new typed slice of the kind onnxio.Tensor holds for dt. Big-endian
// bytes are swapped in place: b is scratch.
func decodeRaw(dt onnxio.DType, b []byte, big bool) (any, error) {
	sz := dt.Size()
	if sz == 0 || len(b)%sz != 0 || dt == onnxio.String {
		return nil, fmt.Errorf("cannot decode %d bytes as %s", len(b), dt)
	}
	if big && sz > 1 {
		for i := 0; i < len(b); i += sz {
			slices.Reverse(b[i : i+sz])
		}
	}
	return onnxio.DecodeRaw(dt, b), nil
}

// SliceRows returns rows [lo,hi) of t along its first (batch) dimension,
// sharing t's data.
func SliceRows(t *onnxio.Tensor, lo, hi int) (*onnxio.Tensor, error) {
	return sliceAxis(t, 0, lo, hi)
}

// sliceAxis returns indices [lo,hi) of t along axis: sharing t's data for
// axis 0, copied otherwise.
func sliceAxis(t *onnxio.Tensor, axis, lo, hi int) (*onnxio.Tensor, error) {
	if axis < 0 || axis >= len(t.Shape) || lo < 0 || hi > int(t.Shape[axis]) || lo > hi {
		return nil, fmt.Errorf("tensor %q: [%d,%d) along axis %d out of shape %v", t.Name, lo, hi, axis, t.Shape)
	}
	outer, inner := 1, 1
	for _, d := range t.Shape[:axis] {
		outer *= int(d)
	}
	for _, d := range t.Shape[axis+1:] {
		inner *= int(d)
	}
	shape := slices.Clone(t.Shape)
	shape[axis] = int64(hi - lo)
	data, err := sliceData(t.Data, outer, int(t.Shape[axis]), inner, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %v", t.Name, err)
	}
	return &onnxio.Tensor{Name: t.Name, DType: t.DType, Shape: shape, Data: data}, nil
}

// sliceData cuts [lo,hi) of the middle dimension of an outer×n×inner
// array.
func sliceData(data any, outer, n, inner, lo, hi int) (any, error) {
	switch d := data.(type) {
	case []float32:
		return cut(d, outer, n, inner, lo, hi), nil
	case []float64:
		return cut(d, outer, n, inner, lo, hi), nil
	case []uint16:
		return cut(d, outer, n, inner, lo, hi), nil
	case []int16:
		return cut(d, outer, n, inner, lo, hi), nil
	case []int32:
		return cut(d, outer, n, inner, lo, hi), nil
	case []uint32:
		return cut(d, outer, n, inner, lo, hi), nil
	case []int64:
		return cut(d, outer, n, inner, lo, hi), nil
	case []uint64:
		return cut(d, outer, n, inner, lo, hi), nil
	case []int8:
		return cut(d, outer, n, inner, lo, hi), nil
	case []uint8:
		return cut(d, outer, n, inner, lo, hi), nil
	case []bool:
		return cut(d, outer, n, inner, lo, hi), nil
	case []string:
		return cut(d, outer, n, inner, lo, hi), nil
	}
	return nil, fmt.Errorf("cannot slice %T", data)
}

func cut[T any](d []T, outer, n, inner, lo, hi int) []T {
	if outer == 1 {
		return d[lo*inner : hi*inner]
	}
	out := make([]T, 0, outer*(hi-lo)*inner)
	for o := 0; o < outer; o++ {
		base := o * n * inner
		out = append(out, d[base+lo*inner:base+hi*inner]...)
	}
	return out
}
