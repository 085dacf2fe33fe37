package onnxio

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// DType is an ONNX tensor element type (TensorProto.DataType).
type DType int32

// The element types shrink reads and writes as typed Go tensors, plus the
// others it knows by name.
const (
	Undefined  DType = DType(onnxpb.TensorProto_UNDEFINED)
	Float32    DType = DType(onnxpb.TensorProto_FLOAT)
	Uint8      DType = DType(onnxpb.TensorProto_UINT8)
	Int8       DType = DType(onnxpb.TensorProto_INT8)
	Uint16     DType = DType(onnxpb.TensorProto_UINT16)
	Int16      DType = DType(onnxpb.TensorProto_INT16)
	Int32      DType = DType(onnxpb.TensorProto_INT32)
	Int64      DType = DType(onnxpb.TensorProto_INT64)
	String     DType = DType(onnxpb.TensorProto_STRING)
	Bool       DType = DType(onnxpb.TensorProto_BOOL)
	Float16    DType = DType(onnxpb.TensorProto_FLOAT16)
	Float64    DType = DType(onnxpb.TensorProto_DOUBLE)
	Uint32     DType = DType(onnxpb.TensorProto_UINT32)
	Uint64     DType = DType(onnxpb.TensorProto_UINT64)
	Complex64  DType = DType(onnxpb.TensorProto_COMPLEX64)
	Complex128 DType = DType(onnxpb.TensorProto_COMPLEX128)
	BFloat16   DType = DType(onnxpb.TensorProto_BFLOAT16)
	// Types added after the schema this package is generated from (ONNX 1.12).
	Float8E4M3FN   DType = 17
	Float8E4M3FNUZ DType = 18
	Float8E5M2     DType = 19
	Float8E5M2FNUZ DType = 20
	Uint4          DType = 21
	Int4           DType = 22
)

var dtypeNames = map[DType]string{
	Undefined: "undefined", Float32: "float32", Uint8: "uint8", Int8: "int8",
	Uint16: "uint16", Int16: "int16", Int32: "int32", Int64: "int64",
	String: "string", Bool: "bool", Float16: "float16", Float64: "float64",
	Uint32: "uint32", Uint64: "uint64", Complex64: "complex64",
	Complex128: "complex128", BFloat16: "bfloat16",
	Float8E4M3FN: "float8e4m3fn", Float8E4M3FNUZ: "float8e4m3fnuz",
	Float8E5M2: "float8e5m2", Float8E5M2FNUZ: "float8e5m2fnuz",
	Uint4: "uint4", Int4: "int4",
}

// String returns the lower-case name used in reports ("float32", "int8", …).
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// ParseDType is the inverse of DType.String.
func ParseDType(s string) (DType, error) {
	for d, n := range dtypeNames {
		if n == s {
			return d, nil
		}
	}
	return Undefined, fmt.Errorf("unknown dtype %q", s)
}

// Size is the number of bytes one element occupies in raw_data, or 0 for
// types without a fixed byte size (string, 4-bit types).
func (d DType) Size() int {
	switch d {
	case Float32, Int32, Uint32:
		return 4
	case Uint8, Int8, Bool, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Int64, Float64, Uint64, Complex64:
		return 8
	case Complex128:
		return 16
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	switch d {
	case Float32, Float16, Float64, BFloat16, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ:
		return true
	}
	return false
}

// RawBytes is the size in bytes of n elements of d as stored in raw_data
// (4-bit types pack two per byte). It returns -1 for strings.
func (d DType) RawBytes(n int64) int64 {
	switch d {
	case String, Undefined:
		return -1
	case Uint4, Int4:
		return (n + 1) / 2
	}
	return n * int64(d.Size())
}
