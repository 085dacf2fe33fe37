package train

import (
	"math/rand/v2"
	"testing"

	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
)

// TestFixturesMatchORT runs the MNIST fixtures over the first 1,000 test
// images in the engine (Inference mode) and in ONNX Runtime.
func TestFixturesMatchORT(t *testing.T) {
	ortReady(t)
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mnist_mlp.onnx", "mnist_cnn.onnx", "mnist_cnn_bn.onnx"} {
		t.Run(name, func(t *testing.T) {
			m, err := onnxio.Load(testdataPath(t, name))
			if err != nil {
				t.Fatal(err)
			}
			e, err := New(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			x := &onnxio.Tensor{Name: "input", DType: onnxio.Float32, Shape: []int64{1000, 1, mnist.Rows, mnist.Cols}, Data: set.Float32NCHW(0, 1000)}
			got, err := e.Forward(bg, map[string]*onnxio.Tensor{"input": x}, Inference)
			if err != nil {
				t.Fatal(err)
			}
			want, err := runORT(m, map[string]*onnxio.Tensor{"input": x})
			if err != nil {
				t.Fatal(err)
			}
			if err := closeTo(got[0], want[0], 1e-4); err != nil {
				t.Errorf("logits: %v", err)
			}
			if c := countArgmax(got[0].Data.([]float32), set.Int64Labels(0, 1000)); c < 970 {
				t.Errorf("engine gets %d/1000 right with the trained weights", c)
			}
		})
	}
}

// TestCNNGradients checks the gradients of every weight of the BatchNorm
// CNN fixture, in Training mode (batch statistics), against finite
// differences of L = Σ R·logits on a batch of 4 real images.
func TestCNNGradients(t *testing.T) {
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnxio.Load(testdataPath(t, "mnist_cnn_bn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Params()) != 12 {
		t.Fatalf("%d params, want 12 (running statistics are not trainable)", len(e.Params()))
	}
	x := &onnxio.Tensor{Name: "input", DType: onnxio.Float32, Shape: []int64{4, 1, mnist.Rows, mnist.Cols}, Data: set.Float32NCHW(0, 4)}
	rng := rand.New(rand.NewPCG(3, 3))
	R := make([]float32, 4*mnist.Classes)
	for i := range R {
		R[i] = 2*rng.Float32() - 1
	}
	loss := weightedLoss(t, e, map[string]*onnxio.Tensor{"input": x}, Training, R)
	l0 := loss()
	e.ZeroGrad()
	if err := e.Backward(bg, map[string][]float32{"logits": R}); err != nil {
		t.Fatal(err)
	}
	checked, kinks := 0, 0
	for _, p := range e.Params() {
		grad := append([]float32(nil), p.Grad...)
		// The entry with the largest gradient, and a few random ones.
		idx := rng.Perm(len(p.Data))[:min(4, len(p.Data))]
		idx = append(idx, argmaxAbs(grad))
		for _, i := range idx {
			if fdEntry(t, p, i, float64(grad[i]), l0, loss, 1e-2) {
				checked++
			} else {
				kinks++
			}
		}
	}
	if checked < 3*(checked+kinks)/4 {
		t.Errorf("only %d of %d entries were smooth enough to check", checked, checked+kinks)
	}
	t.Logf("checked %d gradient entries over %d weights (%d skipped at kinks)", checked, len(e.Params()), kinks)
}
