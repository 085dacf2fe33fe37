package train

import (
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
// Runtime on the saved file, whose outputs must match the engine's.
func TestTrainMNISTMLP(t *testing.T) {
	ortReady(t)
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
	e, err := New(m, Options{Seed: 1})
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
		t.Logf("epoch %d: last batch loss %.4f", ep+1, loss)
	}
	elapsed := time.Since(start)
	t.Logf("%d steps in %v (%.0f samples/s)", step, elapsed.Round(time.Millisecond), float64(epochs*trainSet.N)/elapsed.Seconds())

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
		if err := closeTo(got[0], want[0], 1e-4); err != nil {
			t.Fatalf("images %d..%d: engine vs ORT on the saved model: %v", lo, lo+n, err)
		}
		correct += countArgmax(want[0].Data.([]float32), testSet.Int64Labels(lo, n))
	}
	acc := float64(correct) / float64(testSet.N)
	t.Logf("test accuracy: ORT on the saved model %d/%d = %.2f%%; engine %.2f%%", correct, testSet.N, 100*acc, 100*engineAcc)
	if acc < 0.97 {
		t.Errorf("test accuracy %.4f after %d epochs, want >= 0.97", acc, epochs)
	}
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
