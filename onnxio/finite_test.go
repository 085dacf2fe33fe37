package onnxio

import (
	"math"
	"testing"
)

func TestNonFiniteEveryFloatType(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	f16 := []uint16{Float32ToFloat16(1), Float32ToFloat16(float32(inf)), 0x7e00, Float32ToFloat16(float32(-inf)), 0x7bff}
	bf16 := []uint16{0x3f80, 0x7f80, 0x7fc0, 0xff80, 0x7f7f}
	for _, c := range []struct {
		t     *Tensor
		first int
		want  NonFinite
	}{
		{&Tensor{DType: Float32, Data: []float32{1, -2, float32(inf), float32(nan), float32(-inf), math.MaxFloat32}}, 2, NonFinite{NaN: 1, Inf: 2}},
		{&Tensor{DType: Float64, Data: []float64{0, nan, -inf, math.MaxFloat64}}, 1, NonFinite{NaN: 1, Inf: 1}},
		{&Tensor{DType: Float16, Data: f16}, 1, NonFinite{NaN: 1, Inf: 2}},
		{&Tensor{DType: BFloat16, Data: bf16}, 1, NonFinite{NaN: 1, Inf: 2}},
		{&Tensor{DType: Uint16, Data: []uint16{0x7c00, 0xffff}}, -1, NonFinite{}},
		{&Tensor{DType: Int64, Data: []int64{math.MaxInt64}}, -1, NonFinite{}},
		{&Tensor{DType: Float32, Data: []float32{}}, -1, NonFinite{}},
	} {
		if got := c.t.CountNonFinite(); got != c.want {
			t.Errorf("%s %v: count %+v, want %+v", c.t.DType, c.t.Data, got, c.want)
		}
		if i, _ := c.t.FirstNonFinite(); i != c.first {
			t.Errorf("%s %v: first %d, want %d", c.t.DType, c.t.Data, i, c.first)
		}
	}
	if i, v := (&Tensor{DType: Float16, Data: f16[3:]}).FirstNonFinite(); i != 0 || !math.IsInf(v, -1) {
		t.Errorf("float16 -Inf: %d %g", i, v)
	}
}
