package quantize

import (
	"math"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
)

func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func TestActivationParams(t *testing.T) {
	cases := []struct {
		lo, hi float32
		dt     onnxio.DType
		scale  float64
		zero   int32
	}{
		{-1, 3, onnxio.Uint8, 4.0 / 255, 64},   // zp = round(1/(4/255)) = round(63.75)
		{0, 6, onnxio.Uint8, 6.0 / 255, 0},     // ReLU6: zero point 0
		{0.5, 2, onnxio.Uint8, 2.0 / 255, 0},   // widened to include 0
		{-3, -1, onnxio.Uint8, 3.0 / 255, 255}, // all negative
		{-2, 5, onnxio.Int8, 5.0 / 127, 0},
		{-7, 1, onnxio.Int8, 7.0 / 127, 0},
		{0, 0, onnxio.Uint8, 1, 0}, // nothing seen: scale 1
		{0, 0, onnxio.Int8, 1, 0},
	}
	for _, c := range cases {
		p, err := ActivationParams(c.lo, c.hi, c.dt)
		if err != nil {
			t.Fatal(err)
		}
		if !near(float64(p.Scale[0]), c.scale, 1e-6) || p.Zero[0] != c.zero || p.DType != c.dt || p.Axis != -1 {
			t.Errorf("ActivationParams(%g, %g, %s) = scale %g zp %d, want %g %d", c.lo, c.hi, c.dt, p.Scale[0], p.Zero[0], c.scale, c.zero)
		}
	}
	if _, err := ActivationParams(float32(math.NaN()), 1, onnxio.Uint8); err == nil {
		t.Error("NaN range accepted")
	}
	if _, err := ActivationParams(0, float32(math.Inf(1)), onnxio.Uint8); err == nil {
		t.Error("infinite range accepted")
	}
	if _, err := ActivationParams(0, 1, onnxio.Int32); err == nil {
		t.Error("int32 activations accepted")
	}
}

func TestWeightParamsPerChannelAndTensor(t *testing.T) {
	// Conv weight [3 out, 2 in, 1, 2]: channel maxima 4, 0 (all zero), 127.
	w := &onnxio.Tensor{Name: "w", DType: onnxio.Float32, Shape: []int64{3, 2, 1, 2}, Data: []float32{
		1, -4, 2, 3,
		0, 0, 0, 0,
		-127, 5, 6, 7,
	}}
	p, err := WeightParams(w, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{4.0 / 127, 1, 1}
	if p.DType != onnxio.Int8 || p.Axis != 0 || len(p.Scale) != 3 {
		t.Fatalf("params %+v", p)
	}
	for i := range want {
		if !near(float64(p.Scale[i]), float64(want[i]), 1e-6) || p.Zero[i] != 0 {
			t.Errorf("channel %d: scale %g zp %d, want %g 0", i, p.Scale[i], p.Zero[i], want[i])
		}
	}
	q, err := QuantizeWeight("wq", w, p)
	if err != nil {
		t.Fatal(err)
	}
	got := q.Data.([]int8)
	wantQ := []int8{32, -127, 64, 95, 0, 0, 0, 0, -127, 5, 6, 7}
	for i := range wantQ {
		if got[i] != wantQ[i] {
			t.Fatalf("quantized %v, want %v", got, wantQ)
		}
	}
	// Per tensor: one scale 127/127 = 1.
	pt, err := WeightParams(w, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(pt.Scale) != 1 || pt.Scale[0] != 1 || pt.Axis != -1 {
		t.Fatalf("per-tensor %+v", pt)
	}
	// MatMul weight [K=2, N=3], per column (axis 1).
	m := &onnxio.Tensor{Name: "b", DType: onnxio.Float32, Shape: []int64{2, 3}, Data: []float32{1, -2, 0.5, -3, 1, 0.25}}
	pm, err := WeightParams(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []float32{3, 2, 0.5} {
		if !near(float64(pm.Scale[i]), float64(w/127), 1e-6) {
			t.Errorf("column %d scale %g want %g", i, pm.Scale[i], w/127)
		}
	}
}

func TestQuantizeWeightRoundsHalfToEvenAndSaturates(t *testing.T) {
	w := &onnxio.Tensor{Name: "w", DType: onnxio.Float32, Shape: []int64{8}, Data: []float32{0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 300, -300}}
	q, err := QuantizeWeight("q", w, Params{DType: onnxio.Int8, Scale: []float32{1}, Zero: []int32{0}, Axis: -1})
	if err != nil {
		t.Fatal(err)
	}
	want := []int8{0, 2, 2, 0, -2, -2, 127, -128}
	for i, v := range q.Data.([]int8) {
		if v != want[i] {
			t.Fatalf("got %v, want %v", q.Data, want)
		}
	}
}

func TestNonFiniteWeightsNameTheTensor(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		w := &onnxio.Tensor{Name: "conv1.weight", DType: onnxio.Float32, Shape: []int64{2}, Data: []float32{1, bad}}
		_, err := WeightParams(w, -1)
		if err == nil || !strings.Contains(err.Error(), `"conv1.weight"`) {
			t.Errorf("%g: error %v does not name the tensor", bad, err)
		}
	}
	b := &onnxio.Tensor{Name: "fc.bias", DType: onnxio.Float32, Shape: []int64{1}, Data: []float32{float32(math.NaN())}}
	wp := Params{DType: onnxio.Int8, Scale: []float32{1}, Zero: []int32{0}, Axis: -1}
	if _, err := QuantizeBias("q", b, 1, &wp); err == nil || !strings.Contains(err.Error(), "fc.bias") {
		t.Errorf("NaN bias: %v", err)
	}
}

func TestQuantizeBias(t *testing.T) {
	b := &onnxio.Tensor{Name: "b", DType: onnxio.Float32, Shape: []int64{3}, Data: []float32{0.1, -0.25, 3}}
	wp := Params{DType: onnxio.Int8, Scale: []float32{0.01, 0.02, 0.5}, Zero: []int32{0, 0, 0}, Axis: 0}
	r, err := QuantizeBias("bq", b, 0.05, &wp)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Widened) != 0 || r.Params.Axis != 0 || r.Params.DType != onnxio.Int32 {
		t.Fatalf("%+v", r)
	}
	q := r.Q.Data.([]int32)
	for c, v := range b.Data.([]float32) {
		s := 0.05 * float64(wp.Scale[c])
		if want := int32(math.RoundToEven(float64(v) / s)); q[c] != want {
			t.Errorf("channel %d: %d, want %d", c, q[c], want)
		}
		if !near(float64(r.Params.Scale[c]), s, 1e-6) {
			t.Errorf("channel %d: bias scale %g want %g", c, r.Params.Scale[c], s)
		}
	}
}

// A bias that would overflow int32 widens its channel's weight scale just
// enough; the others are untouched and the dequantized bias is still close.
func TestQuantizeBiasOverflowWidensWeightScale(t *testing.T) {
	b := &onnxio.Tensor{Name: "b", DType: onnxio.Float32, Shape: []int64{2}, Data: []float32{5, 1e-3}}
	wp := Params{DType: onnxio.Int8, Scale: []float32{1e-6, 1e-6}, Zero: []int32{0, 0}, Axis: 0}
	r, err := QuantizeBias("bq", b, 1e-4, &wp)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Widened) != 1 || r.Widened[0] != 0 {
		t.Fatalf("widened %v, want [0]", r.Widened)
	}
	if wp.Scale[1] != 1e-6 {
		t.Errorf("untouched channel changed to %g", wp.Scale[1])
	}
	q := r.Q.Data.([]int32)
	// The widened scale must hold 5 without saturating: the unclamped
	// quotient fits int32 (a scale rounded down to float32 would not).
	if exact := math.RoundToEven(5 / float64(r.Params.Scale[0])); exact > math.MaxInt32 || q[0] < 2147483000 {
		t.Errorf("widened channel quantized to %d (unclamped %.0f), want close to but not past MaxInt32", q[0], exact)
	}
	deq := float64(q[0]) * float64(r.Params.Scale[0])
	if !near(deq, 5, 1e-6) {
		t.Errorf("dequantized bias %g, want 5", deq)
	}
	if got := float64(q[1]) * float64(r.Params.Scale[1]); !near(got, 1e-3, 1e-6) {
		t.Errorf("other channel %g", got)
	}
}

func TestQuantizeConst(t *testing.T) {
	c := &onnxio.Tensor{Name: "c", DType: onnxio.Float32, Shape: []int64{3}, Data: []float32{-1, 0, 3}}
	q, p, err := QuantizeConst("cq", c, onnxio.Uint8)
	if err != nil {
		t.Fatal(err)
	}
	got := q.Data.([]uint8)
	for i, v := range c.Data.([]float32) {
		deq := float32(int32(got[i])-p.Zero[0]) * p.Scale[0]
		if math.Abs(float64(deq-v)) > float64(p.Scale[0])/2+1e-6 {
			t.Errorf("%g → %d → %g", v, got[i], deq)
		}
	}
}
