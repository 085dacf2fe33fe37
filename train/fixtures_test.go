package train

import (
	"math"
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
	loss := func() float64 {
		outs, err := e.Forward(bg, map[string]*onnxio.Tensor{"input": x}, Training)
		if err != nil {
			t.Fatal(err)
		}
		var l float64
		for i, v := range outs[0].Data.([]float32) {
			l += float64(v) * float64(R[i])
		}
		return l
	}
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
		big := 0
		for i, g := range grad {
			if math.Abs(float64(g)) > math.Abs(float64(grad[big])) {
				big = i
			}
		}
		idx = append(idx, big)
		for _, i := range idx {
			v := p.Data[i]
			h := float32(1e-3) * max(1, float32(math.Abs(float64(v))))
			p.Data[i] = v + h
			lp := loss()
			p.Data[i] = v - h
			lm := loss()
			p.Data[i] = v
			// A step that moves a ReLU input across 0 or changes a max
			// pool's winner makes the one-sided slopes disagree: such
			// points are not differentiable at this step size; skip them.
			fwd, bwd := (lp-l0)/float64(h), (l0-lm)/float64(h)
			if math.Abs(fwd-bwd) > 0.03*math.Max(math.Abs(fwd), math.Abs(bwd))+2e-2 {
				kinks++
				continue
			}
			num := (lp - lm) / float64(2*h)
			a := float64(grad[i])
			if math.Abs(a-num) > 3e-2*math.Max(math.Abs(a), math.Abs(num))+1e-2 {
				t.Errorf("d/d %s[%d]: analytic %.6g, numeric %.6g", p.Name, i, a, num)
			}
			checked++
		}
	}
	if checked < 3*(checked+kinks)/4 {
		t.Errorf("only %d of %d entries were smooth enough to check", checked, checked+kinks)
	}
	t.Logf("checked %d gradient entries over %d weights (%d skipped at kinks)", checked, len(e.Params()), kinks)
}
