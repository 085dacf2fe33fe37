package onnxio

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Tensor is a dense tensor held as a typed Go slice. Data holds, by DType:
// Float32 []float32; Float64 []float64; Float16 and BFloat16 []uint16 (the
// raw bits); Int8 []int8; Uint8 []uint8; Int16 []int16; Uint16 []uint16;
// Int32 []int32; Int64 []int64; Uint32 []uint32; Uint64 []uint64; Bool
// []bool; String []string; any other type []byte (its raw little-endian
// bytes). Shape is row-major; a scalar has an empty shape.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64
	Data  any
}

// NumElements is the product of the shape's dimensions (1 for a scalar).
func NumElements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v overflows int64", shape)
		}
		n *= d
	}
	return n, nil
}

// Len is the number of elements of t.
func (t *Tensor) Len() int64 {
	n, _ := NumElements(t.Shape)
	return n
}

// NewTensor builds a tensor from a typed slice, inferring the DType
// ([]uint16 is taken as Uint16; set DType to Float16 afterwards for halves).
func NewTensor(name string, shape []int64, data any) (*Tensor, error) {
	var dt DType
	switch data.(type) {
	case []float32:
		dt = Float32
	case []float64:
		dt = Float64
	case []int8:
		dt = Int8
	case []uint8:
		dt = Uint8
	case []int16:
		dt = Int16
	case []uint16:
		dt = Uint16
	case []int32:
		dt = Int32
	case []int64:
		dt = Int64
	case []uint32:
		dt = Uint32
	case []uint64:
		dt = Uint64
	case []bool:
		dt = Bool
	case []string:
		dt = String
	default:
		return nil, fmt.Errorf("tensor %q: unsupported Go type %T", name, data)
	}
	t := &Tensor{Name: name, DType: dt, Shape: append([]int64(nil), shape...), Data: data}
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

func sliceLen(data any) int {
	switch d := data.(type) {
	case []float32:
		return len(d)
	case []float64:
		return len(d)
	case []int8:
		return len(d)
	case []uint8:
		return len(d)
	case []int16:
		return len(d)
	case []uint16:
		return len(d)
	case []int32:
		return len(d)
	case []int64:
		return len(d)
	case []uint32:
		return len(d)
	case []uint64:
		return len(d)
	case []bool:
		return len(d)
	case []string:
		return len(d)
	}
	return -1
}

func (t *Tensor) check() error {
	n, err := NumElements(t.Shape)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if b, ok := t.Data.([]byte); ok && t.DType != Uint8 {
		if want := t.DType.RawBytes(n); want >= 0 && int64(len(b)) != want {
			return fmt.Errorf("tensor %q: %d bytes of %s data for shape %v (want %d)", t.Name, len(b), t.DType, t.Shape, want)
		}
		return nil
	}
	if l := sliceLen(t.Data); int64(l) != n {
		return fmt.Errorf("tensor %q: %d elements for shape %v (want %d)", t.Name, l, t.Shape, n)
	}
	return nil
}

// Float32s returns the data as float32, converting from float16, bfloat16,
// float64 and integer types. For Float32 tensors it returns Data itself.
func (t *Tensor) Float32s() ([]float32, error) {
	switch d := t.Data.(type) {
	case []float32:
		return d, nil
	case []uint16:
		out := make([]float32, len(d))
		switch t.DType {
		case Float16:
			for i, v := range d {
				out[i] = Float16ToFloat32(v)
			}
		case BFloat16:
			for i, v := range d {
				out[i] = math.Float32frombits(uint32(v) << 16)
			}
		default:
			for i, v := range d {
				out[i] = float32(v)
			}
		}
		return out, nil
	case []float64:
		return convert[float64](d), nil
	case []int8:
		return convert[int8](d), nil
	case []uint8:
		if t.DType != Uint8 {
			break
		}
		return convert[uint8](d), nil
	case []int16:
		return convert[int16](d), nil
	case []int32:
		return convert[int32](d), nil
	case []int64:
		return convert[int64](d), nil
	case []uint32:
		return convert[uint32](d), nil
	case []uint64:
		return convert[uint64](d), nil
	case []bool:
		out := make([]float32, len(d))
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %q: cannot convert %s to float32", t.Name, t.DType)
}

type number interface {
	~float64 | ~int8 | ~uint8 | ~int16 | ~int32 | ~int64 | ~uint32 | ~uint64
}

func convert[T number](d []T) []float32 {
	out := make([]float32, len(d))
	for i, v := range d {
		out[i] = float32(v)
	}
	return out
}

// Int64s returns integer data widened to int64.
func (t *Tensor) Int64s() ([]int64, error) {
	switch d := t.Data.(type) {
	case []int64:
		return d, nil
	case []int32:
		return widen(d), nil
	case []int8:
		return widen(d), nil
	case []uint8:
		return widen(d), nil
	case []int16:
		return widen(d), nil
	case []uint32:
		return widen(d), nil
	case []uint64:
		return widen(d), nil
	}
	return nil, fmt.Errorf("tensor %q: %s is not an integer type", t.Name, t.DType)
}

func widen[T int8 | uint8 | int16 | int32 | uint32 | uint64](d []T) []int64 {
	out := make([]int64, len(d))
	for i, v := range d {
		out[i] = int64(v)
	}
	return out
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{Name: t.Name, DType: t.DType, Shape: append([]int64(nil), t.Shape...)}
	switch d := t.Data.(type) {
	case []float32:
		c.Data = append([]float32(nil), d...)
	case []float64:
		c.Data = append([]float64(nil), d...)
	case []int8:
		c.Data = append([]int8(nil), d...)
	case []uint8:
		c.Data = append([]uint8(nil), d...)
	case []int16:
		c.Data = append([]int16(nil), d...)
	case []uint16:
		c.Data = append([]uint16(nil), d...)
	case []int32:
		c.Data = append([]int32(nil), d...)
	case []int64:
		c.Data = append([]int64(nil), d...)
	case []uint32:
		c.Data = append([]uint32(nil), d...)
	case []uint64:
		c.Data = append([]uint64(nil), d...)
	case []bool:
		c.Data = append([]bool(nil), d...)
	case []string:
		c.Data = append([]string(nil), d...)
	}
	return c
}

// RawBytes returns the tensor's data in ONNX raw_data layout (little-endian).
// It fails for string tensors.
func (t *Tensor) RawBytes() ([]byte, error) {
	switch d := t.Data.(type) {
	case []float32:
		b := make([]byte, 4*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b, nil
	case []float64:
		b := make([]byte, 8*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
		}
		return b, nil
	case []int8:
		b := make([]byte, len(d))
		for i, v := range d {
			b[i] = byte(v)
		}
		return b, nil
	case []uint8:
		return append([]byte(nil), d...), nil
	case []int16:
		b := make([]byte, 2*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		}
		return b, nil
	case []uint16:
		b := make([]byte, 2*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint16(b[2*i:], v)
		}
		return b, nil
	case []int32:
		b := make([]byte, 4*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
		}
		return b, nil
	case []uint32:
		b := make([]byte, 4*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint32(b[4*i:], v)
		}
		return b, nil
	case []int64:
		b := make([]byte, 8*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
		}
		return b, nil
	case []uint64:
		b := make([]byte, 8*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint64(b[8*i:], v)
		}
		return b, nil
	case []bool:
		b := make([]byte, len(d))
		for i, v := range d {
			if v {
				b[i] = 1
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("tensor %q: %s has no raw byte layout", t.Name, t.DType)
}

// ToProto encodes t as a TensorProto with raw_data (string_data for strings).
func (t *Tensor) ToProto() (*onnxpb.TensorProto, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	tp := &onnxpb.TensorProto{
		Dims:     append([]int64(nil), t.Shape...),
		DataType: proto.Int32(int32(t.DType)),
	}
	if t.Name != "" {
		tp.Name = proto.String(t.Name)
	}
	if s, ok := t.Data.([]string); ok {
		for _, v := range s {
			tp.StringData = append(tp.StringData, []byte(v))
		}
		return tp, nil
	}
	if b, ok := t.Data.([]byte); ok && t.DType != Uint8 {
		tp.RawData = append([]byte(nil), b...)
		return tp, nil
	}
	raw, err := t.RawBytes()
	if err != nil {
		return nil, err
	}
	tp.RawData = raw
	return tp, nil
}

// TensorFromProto decodes a TensorProto whose data is inline (raw_data or
// the typed fields). External data must have been resolved first (Load does
// that). Element counts are checked against the shape before any slice is
// allocated, so a corrupt proto cannot cause a huge allocation.
func TensorFromProto(tp *onnxpb.TensorProto) (*Tensor, error) {
	name := tp.GetName()
	dt := DType(tp.GetDataType())
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return nil, fmt.Errorf("tensor %q: external data not loaded", name)
	}
	if tp.Segment != nil {
		return nil, fmt.Errorf("tensor %q: segmented tensors are not supported", name)
	}
	n, err := NumElements(tp.Dims)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	t := &Tensor{Name: name, DType: dt, Shape: append([]int64(nil), tp.Dims...)}
	if dt == String {
		if int64(len(tp.StringData)) != n {
			return nil, fmt.Errorf("tensor %q: %d strings for shape %v", name, len(tp.StringData), tp.Dims)
		}
		s := make([]string, n)
		for i, b := range tp.StringData {
			s[i] = string(b)
		}
		t.Data = s
		return t, nil
	}
	if tp.RawData != nil || n == 0 && typedLen(tp, dt) == 0 {
		want := dt.RawBytes(n)
		if want < 0 {
			return nil, fmt.Errorf("tensor %q: unsupported data type %s", name, dt)
		}
		if int64(len(tp.RawData)) != want {
			return nil, fmt.Errorf("tensor %q: raw_data has %d bytes, shape %v of %s needs %d", name, len(tp.RawData), tp.Dims, dt, want)
		}
		t.Data = decodeRaw(dt, tp.RawData)
		return t, nil
	}
	if l := typedLen(tp, dt); int64(l) != n {
		if dt == Complex64 || dt == Complex128 {
			if int64(l) != 2*n {
				return nil, fmt.Errorf("tensor %q: %d values for shape %v of %s", name, l, tp.Dims, dt)
			}
		} else if !(dt == Uint4 || dt == Int4) {
			return nil, fmt.Errorf("tensor %q: %d values for shape %v of %s", name, l, tp.Dims, dt)
		}
	}
	switch dt {
	case Float32:
		t.Data = append([]float32(nil), tp.FloatData...)
	case Float64:
		t.Data = append([]float64(nil), tp.DoubleData...)
	case Int64:
		t.Data = append([]int64(nil), tp.Int64Data...)
	case Int32:
		t.Data = append([]int32(nil), tp.Int32Data...)
	case Int8:
		t.Data = narrow[int8](tp.Int32Data)
	case Uint8:
		t.Data = narrow[uint8](tp.Int32Data)
	case Int16:
		t.Data = narrow[int16](tp.Int32Data)
	case Uint16, Float16, BFloat16:
		t.Data = narrow[uint16](tp.Int32Data)
	case Bool:
		b := make([]bool, len(tp.Int32Data))
		for i, v := range tp.Int32Data {
			b[i] = v != 0
		}
		t.Data = b
	case Uint32:
		u := make([]uint32, len(tp.Uint64Data))
		for i, v := range tp.Uint64Data {
			u[i] = uint32(v)
		}
		t.Data = u
	case Uint64:
		t.Data = append([]uint64(nil), tp.Uint64Data...)
	case Complex64:
		raw := make([]byte, 4*len(tp.FloatData))
		for i, v := range tp.FloatData {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		t.Data = raw
	case Complex128:
		raw := make([]byte, 8*len(tp.DoubleData))
		for i, v := range tp.DoubleData {
			binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
		}
		t.Data = raw
	default:
		raw := make([]byte, len(tp.Int32Data))
		for i, v := range tp.Int32Data {
			raw[i] = byte(v)
		}
		t.Data = raw
	}
	return t, nil
}

func narrow[T int8 | uint8 | int16 | uint16](src []int32) []T {
	out := make([]T, len(src))
	for i, v := range src {
		out[i] = T(v)
	}
	return out
}

func typedLen(tp *onnxpb.TensorProto, dt DType) int {
	switch dt {
	case Float32, Complex64:
		return len(tp.FloatData)
	case Float64, Complex128:
		return len(tp.DoubleData)
	case Int64:
		return len(tp.Int64Data)
	case Uint32, Uint64:
		return len(tp.Uint64Data)
	case String:
		return len(tp.StringData)
	}
	return len(tp.Int32Data)
}

// DecodeRaw turns little-endian raw bytes (raw_data layout) into the typed
// slice a Tensor holds for dt. len(raw) must be a multiple of dt.Size();
// types without a Go slice type come back as a copy of the bytes.
func DecodeRaw(dt DType, raw []byte) any { return decodeRaw(dt, raw) }

func decodeRaw(dt DType, raw []byte) any {
	le := binary.LittleEndian
	switch dt {
	case Float32:
		out := make([]float32, len(raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out
	case Float64:
		out := make([]float64, len(raw)/8)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return out
	case Int8:
		out := make([]int8, len(raw))
		for i := range out {
			out[i] = int8(raw[i])
		}
		return out
	case Uint8:
		return append([]uint8(nil), raw...)
	case Int16:
		out := make([]int16, len(raw)/2)
		for i := range out {
			out[i] = int16(le.Uint16(raw[2*i:]))
		}
		return out
	case Uint16, Float16, BFloat16:
		out := make([]uint16, len(raw)/2)
		for i := range out {
			out[i] = le.Uint16(raw[2*i:])
		}
		return out
	case Int32:
		out := make([]int32, len(raw)/4)
		for i := range out {
			out[i] = int32(le.Uint32(raw[4*i:]))
		}
		return out
	case Uint32:
		out := make([]uint32, len(raw)/4)
		for i := range out {
			out[i] = le.Uint32(raw[4*i:])
		}
		return out
	case Int64:
		out := make([]int64, len(raw)/8)
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
		return out
	case Uint64:
		out := make([]uint64, len(raw)/8)
		for i := range out {
			out[i] = le.Uint64(raw[8*i:])
		}
		return out
	case Bool:
		out := make([]bool, len(raw))
		for i := range out {
			out[i] = raw[i] != 0
		}
		return out
	}
	return append([]byte(nil), raw...)
}

// Float16ToFloat32 converts IEEE 754 half-precision bits to float32.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value = mant * 2^-24
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// Float32ToFloat16 converts to IEEE 754 half precision, rounding to nearest
// even, overflowing to infinity and keeping NaN a NaN.
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || rem == half && r&1 == 1 {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && r&1 == 1 {
		r++
	}
	return sign | uint16(r)
}
