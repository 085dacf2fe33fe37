package train

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
)

// TestTrainMNISTMLP trains the MNIST MLP fixture's architecture
// (784-800-800-10) from a seeded random initialization for two epochs of
// the 60,000 training images (batch 128, Adam), writes the weights into the
// model, saves it, and requires ≥ 97% test accuracy measured by ONNX
// Runtime on the saved file, whose outputs must match the engine's. Its
// bf16 twin trains the same way with Precision BF16 (same initialization
// and batches) and must land within 0.2 points of the float32 accuracy; on
// a CPU without a bfloat16 unit the twin must report the fallback and
// train exactly like float32.
func TestTrainMNISTMLP(t *testing.T) {
	ortReady(t)
	fp32, _ := trainMLP(t, FP32)
	bf16, e := trainMLP(t, BF16)
	if e.Precision() != BF16 {
		if e.PrecisionNote() == "" {
			t.Fatal("BF16 fell back to FP32 without a note")
		}
		t.Logf("bf16 twin: %s", e.PrecisionNote())
		if bf16 != fp32 {
			t.Fatalf("fallback accuracy %.4f differs from fp32's %.4f", bf16, fp32)
		}
		return
	}
	t.Logf("bf16 twin: %.2f%% vs fp32 %.2f%%", 100*bf16, 100*fp32)
	if d := 100 * (fp32 - bf16); d > 0.2 || d < -0.2 {
		t.Errorf("bf16 test accuracy %.2f%% is %.2f points from fp32's %.2f%% (want within 0.2)", 100*bf16, -d, 100*fp32)
	}
}

// trainMLP runs the training of TestTrainMNISTMLP with the given precision
// and returns the test accuracy ONNX Runtime measures on the saved model.
func trainMLP(t *testing.T, prec Precision) (float64, *Executor) {
	t.Helper()
	m, err := onnxio.Load(testdataPath(t, "mnist_mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	trainSet, err := mnist.TrainSet()
	if err != nil {
		t.Fatal(err)
	}
	testSet, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(m, Options{Seed: 1, Precision: prec})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Params()) != 6 {
		t.Fatalf("%d trainable weights, want 6 (three Gemm weights and biases)", len(e.Params()))
	}
	e.ResetParams(20240601)
	if acc := engineAccuracy(t, e, testSet); acc > 0.3 {
		t.Fatalf("accuracy %.3f right after ResetParams: the fixture's trained weights were not replaced", acc)
	}

	const batch, epochs = 128, 2
	images := trainSet.Float32NCHW(0, trainSet.N)
	labels := trainSet.Int64Labels(0, trainSet.N)
	steps := epochs * ((trainSet.N + batch - 1) / batch)
	opt := NewAdam(AdamConfig{})
	sched := WarmupLR{Steps: 100, Then: CosineLR{Base: 2e-3, Min: 1e-4, Steps: steps - 100}}
	rng := rand.New(rand.NewPCG(7, 7))
	xb := make([]float32, batch*mnist.Pixels)
	yb := make([]int64, batch)
	grad := make([]float32, batch*mnist.Classes)
	start := time.Now()
	step := 0
	var loss float32
	for ep := 0; ep < epochs; ep++ {
		perm := rng.Perm(trainSet.N)
		for lo := 0; lo < trainSet.N; lo += batch {
			n := min(batch, trainSet.N-lo) // the last batch is smaller
			for i := 0; i < n; i++ {
				k := perm[lo+i]
				copy(xb[i*mnist.Pixels:(i+1)*mnist.Pixels], images[k*mnist.Pixels:(k+1)*mnist.Pixels])
				yb[i] = labels[k]
			}
			x := &onnxio.Tensor{Name: "input", DType: onnxio.Float32, Shape: []int64{int64(n), 1, mnist.Rows, mnist.Cols}, Data: xb[:n*mnist.Pixels]}
			outs, err := e.Forward(bg, map[string]*onnxio.Tensor{"input": x}, Training)
			if err != nil {
				t.Fatal(err)
			}
			loss, err = CrossEntropy(outs[0].Data.([]float32), mnist.Classes, yb[:n], grad[:n*mnist.Classes])
			if err != nil {
				t.Fatal(err)
			}
			e.ZeroGrad()
			if err := e.Backward(bg, map[string][]float32{"logits": grad[:n*mnist.Classes]}); err != nil {
				t.Fatal(err)
			}
			opt.Step(e.Params(), sched.LR(step))
			step++
		}
		t.Logf("%v epoch %d: last batch loss %.4f", prec, ep+1, loss)
	}
	elapsed := time.Since(start)
	t.Logf("%v: %d steps in %v (%.0f samples/s)", prec, step, elapsed.Round(time.Millisecond), float64(epochs*trainSet.N)/elapsed.Seconds())

	engineAcc := engineAccuracy(t, e, testSet)
	if err := e.WriteWeights(m); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mlp_trained.onnx")
	if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	saved, err := onnxio.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(saved, ort.Options{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The engine in bf16 rounds the products' operands: compare it with
	// ORT's float32 at bfloat16's precision, relative to the logits' scale.
	worst := 0.0
	correct := 0
	for lo := 0; lo < testSet.N; lo += 500 {
		n := min(500, testSet.N-lo)
		x := &onnxio.Tensor{Name: "input", DType: onnxio.Float32, Shape: []int64{int64(n), 1, mnist.Rows, mnist.Cols}, Data: testSet.Float32NCHW(lo, n)}
		want, err := s.Run(map[string]*onnxio.Tensor{"input": x})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Forward(bg, map[string]*onnxio.Tensor{"input": x}, Inference)
		if err != nil {
			t.Fatal(err)
		}
		if e.Precision() == BF16 {
			worst = max(worst, relDiff(got[0].Data.([]float32), want[0].Data.([]float32)))
		} else if err := closeTo(got[0], want[0], 1e-4); err != nil {
			t.Fatalf("%v: images %d..%d: engine vs ORT on the saved model: %v", prec, lo, lo+n, err)
		}
		correct += countArgmax(want[0].Data.([]float32), testSet.Int64Labels(lo, n))
	}
	if worst > 1e-2 {
		t.Errorf("%v: engine vs ORT on the saved model: largest difference %.3g of the logits' scale, want ≤ 1e-2", prec, worst)
	}
	acc := float64(correct) / float64(testSet.N)
	t.Logf("%v test accuracy: ORT on the saved model %d/%d = %.2f%%; engine %.2f%%", prec, correct, testSet.N, 100*acc, 100*engineAcc)
	if acc < 0.97 {
		t.Errorf("%v: test accuracy %.4f after %d epochs, want >= 0.97", prec, acc, epochs)
	}
	return acc, e
}

// relDiff is the largest |got−want| relative to the largest |want|.
func relDiff(got, want []float32) float64 {
	var d, scale float64
	for i, w := range want {
		d = max(d, math.Abs(float64(got[i])-float64(w)))
		scale = max(scale, math.Abs(float64(w)))
	}
	return d / max(scale, 1e-30)
}

func countArgmax(logits []float32, labels []int64) int {
	correct := 0
	for i, l := range labels {
		row := logits[i*mnist.Classes : (i+1)*mnist.Classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if int64(best) == l {
			correct++
		}
	}
	return correct
}

func engineAccuracy(t *testing.T, e *Executor, set *mnist.Set) float64 {
	t.Helper()
	correct := 0
	for lo := 0; lo < set.N; lo += 1000 {
		n := min(1000, set.N-lo)
		x := &onnxio.Tensor{Name: "input", DType: onnxio.Float32, Shape: []int64{int64(n), 1, mnist.Rows, mnist.Cols}, Data: set.Float32NCHW(lo, n)}
		outs, err := e.Forward(bg, map[string]*onnxio.Tensor{"input": x}, Inference)
		if err != nil {
			t.Fatal(err)
		}
		correct += countArgmax(outs[0].Data.([]float32), set.Int64Labels(lo, n))
	}
	return float64(correct) / float64(set.N)
}
