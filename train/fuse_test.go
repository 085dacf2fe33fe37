package train

import (
	"math"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
)

// TestFusion checks that Relus are fused into the Gemm, Conv and
// BatchNormalization nodes before them and that the fused plan computes
// the unfused plan's outputs, parameter gradients and running statistics
// bit for bit, over two training steps.
func TestFusion(t *testing.T) {
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	const batch = 24
	x := &onnxio.Tensor{Name: "input", DType: onnxio.Float32, Shape: []int64{batch, 1, mnist.Rows, mnist.Cols}, Data: set.Float32NCHW(0, batch)}
	labels := set.Int64Labels(0, batch)
	for _, c := range []struct {
		file  string
		relus int
	}{{"mnist_mlp.onnx", 2}, {"mnist_cnn.onnx", 3}, {"mnist_cnn_bn.onnx", 3}} {
		t.Run(c.file, func(t *testing.T) {
			var runs [2]struct {
				e     *Executor
				out   []float32
				grads [][]float32
			}
			for k, noFusion := range []bool{false, true} {
				m, err := onnxio.Load(testdataPath(t, c.file))
				if err != nil {
					t.Fatal(err)
				}
				e, err := New(m, Options{Seed: 3, noFusion: noFusion})
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
					runs[k].out = append(runs[k].out[:0], outs[0].Data.([]float32)...)
					if _, err := CrossEntropy(runs[k].out, mnist.Classes, labels, grad); err != nil {
						t.Fatal(err)
					}
					e.ZeroGrad()
					if err := e.Backward(bg, map[string][]float32{"logits": grad}); err != nil {
						t.Fatal(err)
					}
					opt.Step(e.Params(), 1e-3)
				}
				runs[k].e = e
				for _, p := range e.Params() {
					runs[k].grads = append(runs[k].grads, append(p.Grad[:0:0], p.Grad...))
				}
			}
			fused, plain := runs[0].e, runs[1].e
			if got := len(plain.steps) - len(fused.steps); got != c.relus {
				t.Fatalf("%d steps fused away, want %d (fused plan: %s)", got, c.relus, stepOps(fused))
			}
			for _, st := range fused.steps {
				if st.node.GetOpType() == "Relu" {
					t.Fatalf("a Relu step is left: %s", stepOps(fused))
				}
			}
			sameBitsF32(t, "logits", runs[0].out, runs[1].out)
			for i, p := range fused.Params() {
				sameBitsF32(t, "gradient of "+p.Name, runs[0].grads[i], runs[1].grads[i])
				sameBitsF32(t, p.Name, p.Data, plain.Params()[i].Data)
			}
			for i, s := range fused.slots {
				if s.state {
					sameBitsF32(t, "running statistic "+s.name, s.weight.f, plain.slots[i].weight.f)
				}
			}
		})
	}
}

func stepOps(e *Executor) string {
	var ops []string
	for _, st := range e.steps {
		ops = append(ops, st.node.GetOpType())
	}
	return strings.Join(ops, " ")
}

func sameBitsF32(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}
