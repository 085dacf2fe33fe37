package quantize

import (
	"fmt"
	"math"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// Params are the quantization parameters of one tensor: real = (q - Zero) *
// Scale. Per-tensor parameters have one Scale and Zero and Axis -1;
// per-channel ones have one per index of Axis.
type Params struct {
	DType onnxio.DType // Uint8, Int8 or Int32
	Scale []float32
	Zero  []int32
	Axis  int
}

// PerChannel reports whether p has one scale per channel.
func (p Params) PerChannel() bool { return p.Axis >= 0 }

// minScale is the smallest scale written: below it x/scale overflows
// float32 for ordinary activations and ORT's requantization multipliers
// lose meaning.
const minScale = 1e-30

// ActivationParams derives activation parameters from a calibrated range.
// The range is first widened to include 0, so that zero (padding, ReLU) is
// represented exactly. uint8 is asymmetric: scale = (hi-lo)/255, zero point
// round(-lo/scale) clamped to [0, 255]. int8 is symmetric: scale =
// max(|lo|, |hi|)/127, zero point 0. An empty or all-zero range gives scale
// 1 (any scale represents zero exactly).
func ActivationParams(lo, hi float32, dt onnxio.DType) (Params, error) {
	if math.IsNaN(float64(lo)) || math.IsNaN(float64(hi)) || math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
		return Params{}, fmt.Errorf("range [%g, %g] is not finite", lo, hi)
	}
	l, h := math.Min(float64(lo), 0), math.Max(float64(hi), 0)
	p := Params{DType: dt, Axis: -1}
	switch dt {
	case onnxio.Uint8:
		s := (h - l) / 255
		if s < minScale {
			return Params{DType: dt, Scale: []float32{1}, Zero: []int32{0}, Axis: -1}, nil
		}
		zp := math.RoundToEven(-l / s)
		zp = math.Max(0, math.Min(255, zp))
		p.Scale, p.Zero = []float32{float32(s)}, []int32{int32(zp)}
	case onnxio.Int8:
		a := math.Max(-l, h)
		s := a / 127
		if s < minScale {
			s = 1
		}
		p.Scale, p.Zero = []float32{float32(s)}, []int32{0}
	default:
		return Params{}, fmt.Errorf("activation type %s: want uint8 or int8", dt)
	}
	return p, nil
}

// checkFinite fails, naming the tensor, if w holds a NaN or an infinity.
func checkFinite(name string, w []float32) error {
	for i, x := range w {
		if x != x || math.IsInf(float64(x), 0) {
			return fmt.Errorf("weight %q has a non-finite value (%g at flat index %d): quantization needs finite weights", name, x, i)
		}
	}
	return nil
}

// splitAxis returns the outer×channels×inner view of shape around axis.
func splitAxis(shape []int64, axis int) (outer, channels, inner int) {
	outer, channels, inner = 1, 1, 1
	for i, d := range shape {
		switch {
		case i < axis:
			outer *= int(d)
		case i == axis:
			channels = int(d)
		default:
			inner *= int(d)
		}
	}
	return
}

// WeightParams computes symmetric int8 parameters for weight w (scale =
// max|w|/127 per channel of axis, or per tensor when axis < 0; zero point 0).
// A channel of zeros gets scale 1. Non-finite weights are an error naming
// the tensor.
func WeightParams(w *onnxio.Tensor, axis int) (Params, error) {
	data, err := w.Float32s()
	if err != nil {
		return Params{}, err
	}
	if err := checkFinite(w.Name, data); err != nil {
		return Params{}, err
	}
	p := Params{DType: onnxio.Int8, Axis: axis}
	if axis < 0 {
		m := kernels.AbsMax(data)
		p.Scale, p.Zero = []float32{weightScale(m)}, []int32{0}
		return p, nil
	}
	if axis >= len(w.Shape) {
		return Params{}, fmt.Errorf("weight %q: channel axis %d out of range for shape %v", w.Name, axis, w.Shape)
	}
	outer, ch, inner := splitAxis(w.Shape, axis)
	am := make([]float32, ch)
	kernels.AbsMaxPerChannel(am, data, outer, ch, inner)
	p.Scale, p.Zero = make([]float32, ch), make([]int32, ch)
	for c, m := range am {
		p.Scale[c] = weightScale(m)
	}
	return p, nil
}

func weightScale(absMax float32) float32 {
	s := float32(float64(absMax) / 127)
	if !(s >= minScale) {
		return 1
	}
	return s
}

// QuantizeWeight quantizes w to int8 with p (round half to even,
// saturating), returning a tensor of the same shape named name.
func QuantizeWeight(name string, w *onnxio.Tensor, p Params) (*onnxio.Tensor, error) {
	data, err := w.Float32s()
	if err != nil {
		return nil, err
	}
	q := make([]int8, len(data))
	if p.Axis < 0 {
		kernels.QuantizeI8(q, data, p.Scale[0], int8(p.Zero[0]))
	} else {
		outer, ch, inner := splitAxis(w.Shape, p.Axis)
		zp := make([]int8, ch)
		for i, z := range p.Zero {
			zp[i] = int8(z)
		}
		kernels.QuantizeI8PerChannel(q, data, outer, ch, inner, p.Scale, zp)
	}
	return onnxio.NewTensor(name, w.Shape, q)
}

// QuantizeConst quantizes a constant (a non-weight operand of an
// elementwise op) as an activation: its own range, the activation type.
func QuantizeConst(name string, w *onnxio.Tensor, dt onnxio.DType) (*onnxio.Tensor, Params, error) {
	data, err := w.Float32s()
	if err != nil {
		return nil, Params{}, err
	}
	if err := checkFinite(w.Name, data); err != nil {
		return nil, Params{}, err
	}
	lo, hi := kernels.MinMax(data)
	if len(data) == 0 {
		lo, hi = 0, 0
	}
	p, err := ActivationParams(lo, hi, dt)
	if err != nil {
		return nil, Params{}, err
	}
	var t *onnxio.Tensor
	if dt == onnxio.Uint8 {
		q := make([]uint8, len(data))
		kernels.QuantizeU8(q, data, p.Scale[0], uint8(p.Zero[0]))
		t, err = onnxio.NewTensor(name, w.Shape, q)
	} else {
		q := make([]int8, len(data))
		kernels.QuantizeI8(q, data, p.Scale[0], int8(p.Zero[0]))
		t, err = onnxio.NewTensor(name, w.Shape, q)
	}
	return t, p, err
}

// BiasResult is a quantized bias and what the overflow guard did.
type BiasResult struct {
	Q      *onnxio.Tensor // int32
	Params Params         // scale s_input·s_weight[c], zero point 0
	// Widened lists the channels whose weight scale had to grow so that
	// the bias fits in int32; WeightParams was updated in place.
	Widened []int
}

// QuantizeBias quantizes a 1-D bias of len(channels) to int32 with scale
// sIn·sW[c] (sW of length 1 for per-tensor weights). When a bias value
// would overflow int32, the weight scale of its channel is widened to
// |b|/(sIn·(2^31-1)) (rounded up), the smallest scale that fits; wp is
// updated in place and the channel listed in Widened, so the caller
// quantizes the weight with the widened scale. Widening only happens for
// channels whose weights are tiny compared to their bias; for a per-tensor
// weight it widens the single scale.
func QuantizeBias(name string, b *onnxio.Tensor, sIn float32, wp *Params) (*BiasResult, error) {
	data, err := b.Float32s()
	if err != nil {
		return nil, err
	}
	if err := checkFinite(b.Name, data); err != nil {
		return nil, err
	}
	n := len(data)
	if len(wp.Scale) != 1 && len(wp.Scale) != n {
		return nil, fmt.Errorf("bias %q has %d values for %d weight scales", b.Name, n, len(wp.Scale))
	}
	res := &BiasResult{}
	const lim = math.MaxInt32
	sw := func(c int) *float32 {
		if len(wp.Scale) == 1 {
			return &wp.Scale[0]
		}
		return &wp.Scale[c]
	}
	for c, v := range data {
		s := float64(sIn) * float64(*sw(c))
		if math.Abs(float64(v))/s > lim {
			need := math.Abs(float64(v)) / (float64(sIn) * lim)
			ns := float32(need)
			for float64(sIn)*float64(ns)*lim < math.Abs(float64(v)) {
				ns = math.Nextafter32(ns, float32(math.Inf(1)))
			}
			*sw(c) = ns
			res.Widened = append(res.Widened, c)
		}
	}
	// TODO(kernels): an int32 QuantizeLinear kernel (QuantizeI32PerChannel)
	// would replace this scalar loop; biases are small, so it is not hot.
	q := make([]int32, n)
	scales := make([]float32, n)
	for c, v := range data {
		s := float32(float64(sIn) * float64(*sw(c)))
		scales[c] = s
		r := math.RoundToEven(float64(v) / float64(s))
		r = math.Max(math.MinInt32, math.Min(lim, r))
		q[c] = int32(r)
	}
	t, err := onnxio.NewTensor(name, b.Shape, q)
	if err != nil {
		return nil, err
	}
	res.Q = t
	res.Params = Params{DType: onnxio.Int32, Scale: scales, Zero: make([]int32, n), Axis: 0}
	if len(wp.Scale) == 1 {
		res.Params.Scale = []float32{float32(float64(sIn) * float64(wp.Scale[0]))}
		res.Params.Zero = []int32{0}
		res.Params.Axis = -1
	}
	return res, nil
}

// scaleTensor and zeroTensor build the scale and zero-point initializers of
// p: scalars per tensor, 1-D per channel.
func scaleTensor(name string, p Params) *onnxio.Tensor {
	if p.Axis < 0 {
		return &onnxio.Tensor{Name: name, DType: onnxio.Float32, Data: []float32{p.Scale[0]}}
	}
	return &onnxio.Tensor{Name: name, DType: onnxio.Float32, Shape: []int64{int64(len(p.Scale))}, Data: append([]float32(nil), p.Scale...)}
}

func zeroTensor(name string, p Params) *onnxio.Tensor {
	var shape []int64
	if p.Axis >= 0 {
		shape = []int64{int64(len(p.Zero))}
	}
	t := &onnxio.Tensor{Name: name, DType: p.DType, Shape: shape}
	switch p.DType {
	case onnxio.Uint8:
		d := make([]uint8, len(p.Zero))
		for i, z := range p.Zero {
			d[i] = uint8(z)
		}
		t.Data = d
	case onnxio.Int8:
		d := make([]int8, len(p.Zero))
		for i, z := range p.Zero {
			d[i] = int8(z)
		}
		t.Data = d
	default:
		t.Data = append([]int32(nil), p.Zero...)
	}
	if p.Axis < 0 {
		t.Shape = nil
		switch d := t.Data.(type) {
		case []uint8:
			t.Data = d[:1]
		case []int8:
			t.Data = d[:1]
		case []int32:
			t.Data = d[:1]
		}
	}
	return t
}
