package quantize

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
)

const backendRoot = "/usr/share/libonnx-testdata/data"

// TestBackendSuitePytorchConverted quantizes every pytorch-converted model
// of the ONNX backend suite that has a Conv, Gemm or MatMul, calibrated on
// its own test_data_set_0 input, runs the result in ORT and reports each
// output's SQNR against the float model.
func TestBackendSuitePytorchConverted(t *testing.T) {
	needORT(t)
	paths, _ := filepath.Glob(filepath.Join(backendRoot, "pytorch-converted", "*", "model.onnx"))
	if len(paths) < 80 {
		t.Fatalf("ONNX backend suite not installed (%d pytorch-converted models; want 82): install Debian's libonnx-testdata", len(paths))
	}
	count := 0
	for _, p := range paths {
		m, err := onnxio.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		has := false
		for _, n := range m.Proto.Graph.Node {
			switch n.GetOpType() {
			case "Conv", "Gemm", "MatMul":
				has = true
			}
		}
		if !has {
			continue
		}
		count++
		name := filepath.Base(filepath.Dir(p))
		t.Run(name, func(t *testing.T) {
			src, err := dataset.Open(filepath.Dir(p), validate.Inputs(m), dataset.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			qm, rep, err := Quantize(context.Background(), m, Options{Calib: src, SpeedAware: false, Env: transform.Env{Threads: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Quantized == 0 {
				t.Fatalf("no node quantized: %s", rep.Table())
			}
			s, err := ort.NewSession(qm, ort.Options{IntraOpThreads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			b, err := firstBatch(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Run(b.Inputs); err != nil {
				t.Fatal(err)
			}
			var sq []string
			for _, o := range rep.Outputs {
				if o.SQNR == nil {
					t.Fatalf("output %s: no SQNR", o.Name)
				}
				sq = append(sq, o.Name+" "+strings.TrimRight(strings.TrimRight(ftoa(*o.SQNR), "0"), "."))
			}
			t.Logf("%-40s %d/%d nodes int8, SQNR dB: %s", name, rep.Quantized, rep.Quantized+rep.Float, strings.Join(sq, ", "))
		})
	}
	t.Logf("%d pytorch-converted models with Conv, Gemm or MatMul quantized and ran in ORT", count)
	_ = os.Stdout
}
