package train

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
)

// loadExternal loads a downloaded real model (`make test-data` fetches
// them into testdata/external).
func loadExternal(t *testing.T, name string) *onnxio.Model {
	t.Helper()
	p := "../testdata/external/" + name
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %v (run `make test-data` or scripts/fetch-ocr-models.sh)", p, err)
	}
	m, err := onnxio.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPPOCR runs the pretrained PP-OCRv4 models (weights in Constant
// nodes, opsets 9 and 11) forward against ONNX Runtime and checks
// gradients of some of their weights against finite differences.
func TestPPOCR(t *testing.T) {
	ortReady(t)
	for _, c := range []struct {
		file  string
		shape []int64
	}{
		{"ch_PP-OCRv4_rec_infer.onnx", []int64{2, 3, 48, 96}},
		{"ch_PP-OCRv4_det_infer.onnx", []int64{1, 3, 64, 96}},
	} {
		t.Run(c.file, func(t *testing.T) {
			m := loadExternal(t, c.file)
			e, err := New(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Params()) < 50 {
				t.Fatalf("only %d trainable weights found in the Constant nodes", len(e.Params()))
			}
			r := rand.New(rand.NewPCG(1, 1))
			x := randTensor(r, "x", c.shape, uniformAway(-1, 1))
			in := map[string]*onnxio.Tensor{"x": x}
			got, err := e.Forward(bg, in, Inference)
			if err != nil {
				t.Fatal(err)
			}
			want, err := runORT(m, in)
			if err != nil {
				t.Fatal(err)
			}
			if err := closeTo(got[0], want[0], 1e-4); err != nil {
				t.Fatalf("engine vs ORT: %v", err)
			}
			// Gradients of L = Σ R·y in EvalGrad mode.
			R := make([]float32, len(got[0].Data.([]float32)))
			for i := range R {
				R[i] = 2*r.Float32() - 1
			}
			loss := weightedLoss(t, e, in, EvalGrad, R)
			l0 := loss()
			e.ZeroGrad()
			if err := e.Backward(bg, map[string][]float32{e.OutputNames()[0]: R}); err != nil {
				t.Fatal(err)
			}
			params := e.Params()
			checked, kinks := 0, 0
			for _, k := range []int{0, len(params) / 3, len(params) / 2, 2 * len(params) / 3, len(params) - 1} {
				p := params[k]
				for _, i := range []int{argmaxAbs(p.Grad), r.IntN(len(p.Data))} {
					if fdEntry(t, p, i, float64(p.Grad[i]), l0, loss, 2e-2) {
						checked++
					} else {
						kinks++
					}
				}
			}
			if checked < 6 {
				t.Errorf("only %d of %d entries were smooth enough to check", checked, checked+kinks)
			}
			t.Logf("%d weights; %d gradient entries checked, %d at kinks", len(params), checked, kinks)
		})
	}
}
