package quantize

import (
	"context"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// within fails the test when f does not return within d (a hang).
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("did not return within %v", d)
	}
}

// An infinity used to double the histogram's range for ever. Now it is
// counted apart, and the finite values keep their bins.
func TestHistogramInfinityDoesNotHang(t *testing.T) {
	h := NewHistogram(256)
	within(t, 10*time.Second, func() {
		h.Add([]float32{1, float32(math.Inf(1)), -2, float32(math.NaN()), float32(math.Inf(-1))})
		h.Add([]float32{float32(math.Inf(1))})
	})
	if h.Inf != 3 || h.NaN != 1 || h.N != 2 || h.Min != -2 || h.Max != 1 {
		t.Fatalf("inf %d nan %d n %d min %g max %g", h.Inf, h.NaN, h.N, h.Min, h.Max)
	}
	var sum int64
	for _, c := range h.Counts {
		sum += c
	}
	if sum != 2 {
		t.Fatalf("%d values in bins, want 2", sum)
	}
}

// Values near float32's limit are binned right (the kernel's bin
// arithmetic on 2R would overflow without scaling) and give finite ranges.
func TestHistogramExtremeValues(t *testing.T) {
	x := []float32{math.MaxFloat32, -math.MaxFloat32, 1, 0, -1e30, 3e38}
	h := NewHistogram(256)
	within(t, 10*time.Second, func() { h.Add(x) })
	if h.N != 6 || h.Min != -math.MaxFloat32 || h.Max != math.MaxFloat32 {
		t.Fatalf("n %d min %g max %g", h.N, h.Min, h.Max)
	}
	pos, neg := h.sides()
	w := h.Width()
	// The two largest magnitudes land in the last bins of their sides.
	if pos[len(pos)-1] != 1 || neg[len(neg)-1] != 1 {
		t.Fatalf("last bins: pos %v neg %v (width %g)", pos[len(pos)-1], neg[len(neg)-1], w)
	}
	var sum float64
	for i := range pos {
		sum += pos[i] + neg[i]
	}
	if sum != 6 {
		t.Fatalf("%g values in bins, want 6", sum)
	}
	for _, m := range []CalibMethod{MinMax, Percentile, Entropy} {
		c, err := NewCalibrator(m, CalibOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.Observe("x", x)
		for _, sym := range []bool{false, true} {
			lo, hi, ok := c.Range("x", sym)
			if !ok || math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) || lo > hi || lo < -math.MaxFloat32 || hi > math.MaxFloat32 {
				t.Errorf("%s symmetric %v: range [%g, %g] ok %v", m, sym, lo, hi, ok)
			}
			if _, err := ActivationParams(lo, hi, onnxio.Uint8); err != nil {
				t.Errorf("%s: %v", m, err)
			}
		}
	}
}

// A model whose activations overflow on finite weights and data is
// refused during calibration, naming the tensor, its node and the sample,
// for every calibration method.
func TestCalibrationRefusesNonFiniteActivations(t *testing.T) {
	needORT(t)
	w := randTensor("W", 1, 1, 4, 3)
	d := w.Data.([]float32)
	d[0], d[3] = 3e38, 3e38 // column 0: x0·3e38 + x1·3e38 overflows for x ≳ 1
	m := mkModel(t, 17, []vi{{"x", []int64{-1, 4}}}, []*onnxio.Tensor{w},
		[]*onnxpb.NodeProto{onnxio.NewNode("MatMul", "mm", []string{"x", "W"}, []string{"y"})}, []string{"y"})
	x := make([]float32, 6*4) // sample 4 overflows
	for i := range x {
		x[i] = 1e-3
	}
	x[4*4], x[4*4+1] = 10, 10
	xt, _ := onnxio.NewTensor("x", []int64{6, 4}, x)
	for _, method := range []CalibMethod{MinMax, Percentile, Entropy} {
		src := &memSource{n: 6, batches: []*dataset.Batch{{Inputs: map[string]*onnxio.Tensor{"x": xt}, N: 6}}}
		var err error
		within(t, 60*time.Second, func() {
			_, _, err = Quantize(context.Background(), m, Options{Calib: src, CalibMethod: method, OpTypes: []string{"MatMul"}})
		})
		if err == nil || !strings.Contains(err.Error(), `activation "y"`) || !strings.Contains(err.Error(), "MatMul") || !strings.Contains(err.Error(), "sample 4") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", method, err)
		}
	}
}

// A weight of a compute node that is not finite is refused before
// calibration (which would otherwise run first), naming weight and node.
func TestNonFiniteWeightRefusedFirst(t *testing.T) {
	w := randTensor("W", 1, 1, 4, 3)
	w.Data.([]float32)[5] = float32(math.Inf(1))
	m := mkModel(t, 17, []vi{{"x", []int64{-1, 4}}}, []*onnxio.Tensor{w}, nil, []string{"y"})
	m.Proto.Graph.Node = append(m.Proto.Graph.Node, onnxio.NewNode("MatMul", "mm", []string{"x", "W"}, []string{"y"}))
	// A source that fails if read: the weight check must come first.
	src := &memSource{n: 1}
	_, _, err := Quantize(context.Background(), m, Options{Calib: src, CalibMethod: Entropy})
	if err == nil || !strings.Contains(err.Error(), `weight "W"`) || !strings.Contains(err.Error(), `node "mm"`) || !strings.Contains(err.Error(), "+Inf at flat index 5") {
		t.Fatalf("%v", err)
	}
}

// FuzzCalibrate feeds arbitrary float32 values (NaN, infinities,
// subnormals, values near the float32 limit) through the calibration path
// that graph inputs take (collect → Calibrator, no ONNX Runtime needed)
// with every method: it must return (no hang, no panic), refuse
// non-finite values naming the input and sample, and otherwise give
// finite ranges inside the observed extremes that ActivationParams takes.
func FuzzCalibrate(f *testing.F) {
	seed := func(v ...float32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b
	}
	inf := float32(math.Inf(1))
	f.Add(seed(1, 2, 3, 4), uint8(2))
	f.Add(seed(1, inf, 3, 4), uint8(1))
	f.Add(seed(-inf, 0, 0, 0, 1), uint8(3))
	f.Add(seed(float32(math.NaN()), 1), uint8(1))
	f.Add(seed(math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 0), uint8(2))
	f.Add(seed(0, 0, 0, 0), uint8(4))
	f.Add(seed(1e-45, -1e-45, 3e38, 7), uint8(2))
	m := &onnxio.Model{Proto: mkModel(f, 17, []vi{{"x", []int64{-1}}}, nil, nil, []string{"x"}).Proto}
	f.Fuzz(func(t *testing.T, raw []byte, per uint8) {
		n := len(raw) / 4
		if n == 0 || n > 1<<14 {
			return
		}
		x := make([]float32, n)
		bad := -1
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			if bad < 0 && x[i]-x[i] != 0 {
				bad = i
			}
		}
		bs := max(1, int(per)%8) // samples per batch
		src := &memSource{n: n}
		for i := 0; i < n; i += bs {
			k := min(bs, n-i)
			xt, _ := onnxio.NewTensor("x", []int64{int64(k)}, x[i:i+k])
			src.batches = append(src.batches, &dataset.Batch{Inputs: map[string]*onnxio.Tensor{"x": xt}, N: k, Index: i})
		}
		for _, method := range []CalibMethod{MinMax, Percentile, Entropy} {
			cal, err := NewCalibrator(method, CalibOptions{Bins: 128})
			if err != nil {
				t.Fatal(err)
			}
			st, err := collect(context.Background(), m, src, []string{"x"}, cal, collectOptions{ChunkTensors: 8, ChunkBytes: 1 << 20})
			if bad >= 0 {
				if err == nil || !strings.Contains(err.Error(), `input "x"`) || !strings.Contains(err.Error(), "sample ") {
					t.Fatalf("%s: non-finite value at %d: error %v", method, bad, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			olo, ohi, ok := st.Cal.Observed("x")
			for _, sym := range []bool{false, true} {
				lo, hi, ok2 := st.Cal.Range("x", sym)
				if ok != ok2 {
					t.Fatalf("%s: observed %v, range %v", method, ok, ok2)
				}
				if !ok {
					continue
				}
				if lo-lo != 0 || hi-hi != 0 || lo > hi {
					t.Fatalf("%s sym %v: range [%g, %g]", method, sym, lo, hi)
				}
				bound := float32(math.Max(math.Abs(float64(olo)), math.Abs(float64(ohi))))
				if lo < min(olo, 0, -bound) || hi > max(ohi, 0, bound) {
					t.Fatalf("%s sym %v: range [%g, %g] outside observed [%g, %g]", method, sym, lo, hi, olo, ohi)
				}
				for _, dt := range []onnxio.DType{onnxio.Uint8, onnxio.Int8} {
					if _, err := ActivationParams(lo, hi, dt); err != nil {
						t.Fatalf("%s: %v", method, err)
					}
				}
			}
		}
	})
}

// Values near the smallest subnormal are binned by sign and magnitude
// (the kernel's bin width 1/(hi-lo) would overflow without scaling).
func TestHistogramTinyValues(t *testing.T) {
	h := NewHistogram(128)
	tiny := float32(math.SmallestNonzeroFloat32)
	h.Add([]float32{tiny, -tiny, 0, 2 * tiny})
	pos, neg := h.sides()
	var p, n float64
	for i := range pos {
		p += pos[i]
		n += neg[i]
	}
	// Zero counts on the positive side ([0, w)).
	if p != 3 || n != 1 || pos[0] != 1 {
		t.Fatalf("positive %v negative %v (pos[0] %v), width %g", p, n, pos[0], h.Width())
	}
}
