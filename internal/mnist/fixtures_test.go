package mnist

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
)

// fixtureInfo is the JSON testdata/gen/gen_mnist.py writes beside each model.
type fixtureInfo struct {
	Model    string  `json:"model"`
	Correct  int     `json:"correct"`
	Total    int     `json:"total"`
	Accuracy float64 `json:"accuracy"`
}

// TestFixturesInORT runs each MNIST fixture model in ONNX Runtime over the
// 10,000 test images and checks its count of correct predictions equals,
// exactly, the count PyTorch computed on the exported weights.
func TestFixturesInORT(t *testing.T) {
	if _, err := ort.Init(""); err != nil {
		t.Fatalf("%v (run `make setup` to install ONNX Runtime)", err)
	}
	set, err := TestSet()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		min  int
	}{{"mnist_mlp", 9750}, {"mnist_cnn", 9850}, {"mnist_cnn_bn", 9850}} {
		t.Run(c.name, func(t *testing.T) {
			base := filepath.Join("..", "..", "testdata", c.name)
			var info fixtureInfo
			b, err := os.ReadFile(base + ".json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &info); err != nil {
				t.Fatalf("%s.json: %v", base, err)
			}
			if info.Model != c.name || info.Total != set.N || info.Correct < c.min {
				t.Fatalf("%s.json: %+v (want model %s, total %d, correct >= %d)", base, info, c.name, set.N, c.min)
			}
			m, err := onnxio.Load(base + ".onnx")
			if err != nil {
				t.Fatal(err)
			}
			correct, err := countCorrect(m, set, 500)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: ORT %d/%d correct, PyTorch %d", c.name, correct, set.N, info.Correct)
			if correct != info.Correct {
				t.Errorf("%s: ORT gets %d/%d correct, PyTorch %d", c.name, correct, set.N, info.Correct)
			}
		})
	}
}

func countCorrect(m *onnxio.Model, set *Set, batch int) (int, error) {
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 2})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	if len(s.Inputs) != 1 || s.Inputs[0].Name != "input" || len(s.Outputs) != 1 || s.Outputs[0] != "logits" {
		return 0, fmt.Errorf("model inputs %v, outputs %v: want input -> logits", s.Inputs, s.Outputs)
	}
	correct := 0
	for i := 0; i < set.N; i += batch {
		n := min(batch, set.N-i)
		x, err := onnxio.NewTensor("input", []int64{int64(n), 1, Rows, Cols}, set.Float32NCHW(i, n))
		if err != nil {
			return 0, err
		}
		out, err := s.Run(map[string]*onnxio.Tensor{"input": x})
		if err != nil {
			return 0, err
		}
		logits, ok := out[0].Data.([]float32)
		if !ok || len(logits) != n*Classes {
			return 0, fmt.Errorf("logits %s %v", out[0].DType, out[0].Shape)
		}
		for k := range n {
			row := logits[k*Classes : (k+1)*Classes]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if best == int(set.Labels[i+k]) {
				correct++
			}
		}
	}
	return correct, nil
}
