package dataset

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shrinkml/shrink/onnxio"
)

// decodeRaw turns little-endian (or, with big set, big-endian) raw bytes
// into the typed slice onnxio.Tensor holds for dt.
func decodeRaw(dt onnxio.DType, b []byte, big bool) (any, error) {
	var o binary.ByteOrder = binary.LittleEndian
	if big {
		o = binary.BigEndian
	}
	sz := dt.Size()
	if sz == 0 || len(b)%sz != 0 {
		return nil, fmt.Errorf("cannot decode %d bytes as %s", len(b), dt)
	}
	n := len(b) / sz
	switch dt {
	case onnxio.Float32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(o.Uint32(b[4*i:]))
		}
		return out, nil
	case onnxio.Float64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(o.Uint64(b[8*i:]))
		}
		return out, nil
	case onnxio.Float16, onnxio.Uint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = o.Uint16(b[2*i:])
		}
		return out, nil
	case onnxio.Int16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(o.Uint16(b[2*i:]))
		}
		return out, nil
	case onnxio.Int32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(o.Uint32(b[4*i:]))
		}
		return out, nil
	case onnxio.Uint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = o.Uint32(b[4*i:])
		}
		return out, nil
	case onnxio.Int64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(o.Uint64(b[8*i:]))
		}
		return out, nil
	case onnxio.Uint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = o.Uint64(b[8*i:])
		}
		return out, nil
	case onnxio.Int8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(b[i])
		}
		return out, nil
	case onnxio.Uint8:
		return append([]uint8(nil), b...), nil
	case onnxio.Bool:
		out := make([]bool, n)
		for i := range out {
			out[i] = b[i] != 0
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot decode %s data", dt)
}

// rawBytes is the little-endian encoding of t's data.
func rawBytes(t *onnxio.Tensor) ([]byte, error) {
	switch d := t.Data.(type) {
	case []float32:
		b := make([]byte, 0, 4*len(d))
		for _, v := range d {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b, nil
	case []float64:
		b := make([]byte, 0, 8*len(d))
		for _, v := range d {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b, nil
	case []uint16:
		b := make([]byte, 0, 2*len(d))
		for _, v := range d {
			b = binary.LittleEndian.AppendUint16(b, v)
		}
		return b, nil
	case []int16:
		b := make([]byte, 0, 2*len(d))
		for _, v := range d {
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		}
		return b, nil
	case []int32:
		b := make([]byte, 0, 4*len(d))
		for _, v := range d {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
		return b, nil
	case []uint32:
		b := make([]byte, 0, 4*len(d))
		for _, v := range d {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return b, nil
	case []int64:
		b := make([]byte, 0, 8*len(d))
		for _, v := range d {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
		return b, nil
	case []uint64:
		b := make([]byte, 0, 8*len(d))
		for _, v := range d {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		return b, nil
	case []int8:
		b := make([]byte, len(d))
		for i, v := range d {
			b[i] = byte(v)
		}
		return b, nil
	case []uint8:
		return d, nil
	case []bool:
		b := make([]byte, len(d))
		for i, v := range d {
			if v {
				b[i] = 1
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("tensor %q: cannot encode %s data (%T)", t.Name, t.DType, t.Data)
}

// sliceRows returns rows [lo,hi) of t along its first dimension (sharing
// t's data).
func sliceRows(t *onnxio.Tensor, lo, hi int) (*onnxio.Tensor, error) {
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
