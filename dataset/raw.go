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
	if len(t.Shape) == 0 || lo < 0 || hi > int(t.Shape[0]) || lo > hi {
		return nil, fmt.Errorf("tensor %q: rows [%d,%d) out of shape %v", t.Name, lo, hi, t.Shape)
	}
	per := 1
	for _, d := range t.Shape[1:] {
		per *= int(d)
	}
	a, b := lo*per, hi*per
	var data any
	switch d := t.Data.(type) {
	case []float32:
		data = d[a:b]
	case []float64:
		data = d[a:b]
	case []uint16:
		data = d[a:b]
	case []int16:
		data = d[a:b]
	case []int32:
		data = d[a:b]
	case []uint32:
		data = d[a:b]
	case []int64:
		data = d[a:b]
	case []uint64:
		data = d[a:b]
	case []int8:
		data = d[a:b]
	case []uint8:
		data = d[a:b]
	case []bool:
		data = d[a:b]
	case []string:
		data = d[a:b]
	default:
		return nil, fmt.Errorf("tensor %q: cannot slice %T", t.Name, t.Data)
	}
	shape := append([]int64{int64(hi - lo)}, t.Shape[1:]...)
	return &onnxio.Tensor{Name: t.Name, DType: t.DType, Shape: shape, Data: data}, nil
}
