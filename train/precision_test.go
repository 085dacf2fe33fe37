package train

import (
	"math"
	"slices"
	"testing"

	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// TestBF16MatchesFP32 runs a training step of the BN CNN in BF16 and in
// FP32 and checks that the logits agree at bfloat16's precision and every
// parameter gradient points the same way, that the master weights stay float32 (the forward
// and backward passes leave them bit for bit unchanged), and that without a
// bfloat16 unit (the avx2 kernels have none) the executor reports the
// fallback and computes FP32 exactly.
func TestBF16MatchesFP32(t *testing.T) {
	for _, impl := range []string{"auto", "avx2"} {
		t.Run(impl, func(t *testing.T) {
			if err := kernels.SetImpl(impl); err != nil {
				t.Skip(err) // a CPU without AVX2 runs the fallback under "auto"
			}
			defer kernels.SetImpl("auto")
			checkBF16MatchesFP32(t)
		})
	}
}

func checkBF16MatchesFP32(t *testing.T) {
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	const batch = 32
	x := &onnxio.Tensor{Name: "input", DType: onnxio.Float32, Shape: []int64{batch, 1, mnist.Rows, mnist.Cols}, Data: set.Float32NCHW(0, batch)}
	labels := set.Int64Labels(0, batch)
	run := func(prec Precision) (*Executor, []float32, [][]float32, [][]float32) {
		m, err := onnxio.Load(testdataPath(t, "mnist_cnn_bn.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(m, Options{Seed: 1, Precision: prec})
		if err != nil {
			t.Fatal(err)
		}
		var before [][]float32
		for _, p := range e.Params() {
			before = append(before, slices.Clone(p.Data))
		}
		outs, err := e.Forward(bg, map[string]*onnxio.Tensor{"input": x}, Training)
		if err != nil {
			t.Fatal(err)
		}
		logits := slices.Clone(outs[0].Data.([]float32))
		grad := make([]float32, batch*mnist.Classes)
		if _, err := CrossEntropy(logits, mnist.Classes, labels, grad); err != nil {
			t.Fatal(err)
		}
		if err := e.Backward(bg, map[string][]float32{"logits": grad}); err != nil {
			t.Fatal(err)
		}
		var grads [][]float32
		for _, p := range e.Params() {
			grads = append(grads, slices.Clone(p.Grad))
		}
		return e, logits, grads, before
	}
	ef, lf, gf, _ := run(FP32)
	eh, lh, gh, before := run(BF16)
	for i, p := range eh.Params() {
		sameBitsF32(t, "master weight "+p.Name, p.Data, before[i])
	}
	if eh.Precision() != BF16 {
		if eh.PrecisionNote() == "" || kernels.BF16() != "" {
			t.Fatalf("BF16 fell back to %v (kernels.BF16() = %q) with note %q", eh.Precision(), kernels.BF16(), eh.PrecisionNote())
		}
		t.Logf("fallback: %s", eh.PrecisionNote())
		sameBitsF32(t, "logits", lh, lf)
		return
	}
	if d := relDiff(lh, lf); d > 1e-2 || d == 0 {
		t.Errorf("bf16 logits differ from fp32 by %.3g of their scale, want (0, 1e-2]", d)
	}
	// Gradients point the same way (cosine ≥ 0.98), except those that are
	// zero in exact arithmetic (a convolution's bias before a
	// BatchNormalization): both precisions must leave those negligible.
	var largest float64
	for i := range gf {
		largest = max(largest, norm(gf[i]))
	}
	for i, p := range ef.Params() {
		nf, nh := norm(gf[i]), norm(gh[i])
		if nf < 1e-5*largest {
			if nh > 1e-3*largest {
				t.Errorf("gradient of %s: fp32 norm %.3g is negligible, bf16's %.3g is not (largest %.3g)", p.Name, nf, nh, largest)
			}
			continue
		}
		if c := cosine(gh[i], gf[i]); c < 0.98 {
			t.Errorf("gradient of %s: cosine %.4f between bf16 and fp32, want ≥ 0.98", p.Name, c)
		}
	}
}

func norm(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

func cosine(a, b []float32) float64 {
	var ab float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
	}
	return ab / (norm(a) * norm(b))
}

func TestParsePrecision(t *testing.T) {
	for _, p := range []Precision{FP32, BF16} {
		got, err := ParsePrecision(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePrecision(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParsePrecision("fp16"); err == nil {
		t.Error("ParsePrecision(fp16) succeeded")
	}
	if _, err := New(mlpModel(3, 4, 2, 1), Options{Precision: 7}); err == nil {
		t.Error("New accepted Precision(7)")
	}
}

// TestDeterministicCNN trains the BN CNN twice for two steps on two
// threads, in each precision, and requires bit-identical weights: the
// convolutions' per-worker sums and the bf16 products' blocks are split by
// the thread count only.
func TestDeterministicCNN(t *testing.T) {
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	const batch = 40
	x := &onnxio.Tensor{Name: "input", DType: onnxio.Float32, Shape: []int64{batch, 1, mnist.Rows, mnist.Cols}, Data: set.Float32NCHW(0, batch)}
	labels := set.Int64Labels(0, batch)
	for _, prec := range []Precision{FP32, BF16} {
		var runs [2][]*Param
		for r := range runs {
			m, err := onnxio.Load(testdataPath(t, "mnist_cnn_bn.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			e, err := New(m, Options{Seed: 1, Threads: 2, Precision: prec})
			if err != nil {
				t.Fatal(err)
			}
			opt := NewAdam(AdamConfig{})
			grad := make([]float32, batch*mnist.Classes)
			for step := 0; step < 2; step++ {
				outs, err := e.Forward(bg, map[string]*onnxio.Tensor{"input": x}, Training)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := CrossEntropy(outs[0].Data.([]float32), mnist.Classes, labels, grad); err != nil {
					t.Fatal(err)
				}
				e.ZeroGrad()
				if err := e.Backward(bg, map[string][]float32{"logits": grad}); err != nil {
					t.Fatal(err)
				}
				opt.Step(e.Params(), 1e-3)
			}
			runs[r] = e.Params()
		}
		for i, p := range runs[0] {
			sameBitsF32(t, prec.String()+" "+p.Name, p.Data, runs[1][i].Data)
		}
	}
}
