package quantize

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
)

// trainSource streams the first n MNIST training images (calibration data
// the test images never see).
func trainSource(t testing.TB, n, batch int) *memSource {
	t.Helper()
	set, err := mnist.TrainSet()
	if err != nil {
		t.Fatal(err)
	}
	s := &memSource{n: n}
	for i := 0; i < n; i += batch {
		k := min(batch, n-i)
		x, err := onnxio.NewTensor("input", []int64{int64(k), 1, mnist.Rows, mnist.Cols}, set.Float32NCHW(i, k))
		if err != nil {
			t.Fatal(err)
		}
		s.batches = append(s.batches, &dataset.Batch{Inputs: map[string]*onnxio.Tensor{"input": x}, Labels: set.Int64Labels(i, k), N: k, Index: i})
	}
	return s
}

// countCorrect runs m over the 10,000 test images in ORT.
func countCorrect(t testing.TB, m *onnxio.Model) int {
	t.Helper()
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	correct := 0
	for i := 0; i < set.N; i += 500 {
		x, _ := onnxio.NewTensor("input", []int64{500, 1, mnist.Rows, mnist.Cols}, set.Float32NCHW(i, 500))
		out, err := s.Run(map[string]*onnxio.Tensor{"input": x})
		if err != nil {
			t.Fatal(err)
		}
		y := out[0].Data.([]float32)
		for j := 0; j < 500; j++ {
			row := y[j*10 : j*10+10]
			best := 0
			for k := range row {
				if row[k] > row[best] {
					best = k
				}
			}
			if best == int(set.Labels[i+j]) {
				correct++
			}
		}
	}
	return correct
}

func fixtureCorrect(t testing.TB, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Correct int }
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	return info.Correct
}

// TestMNISTAcceptance: static quantization with the default options,
// calibrated on 512 training images, loses at most 0.3 points of top-1
// accuracy on the 10,000 test images; ORT fuses the QDQ pairs into integer
// kernels; the MLP file is at least 3.5× smaller; what was done is in
// metadata_props.
func TestMNISTAcceptance(t *testing.T) {
	needORT(t)
	for _, c := range []struct {
		name  string
		fused []string
	}{
		{"mnist_mlp", []string{"com.microsoft:QGemm"}},
		{"mnist_cnn", []string{"QLinearConv", "com.microsoft:QGemm"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := fixture(t, c.name+".onnx")
			floatCorrect := countCorrect(t, m)
			if want := fixtureCorrect(t, c.name); floatCorrect != want {
				t.Fatalf("float model: %d correct in ORT, the fixture says %d", floatCorrect, want)
			}
			// The structural checks below must not depend on timing, so they
			// run on the model quantized without speed-aware selection (which
			// keeps nodes in float when ORT's int8 kernel measures slower, a
			// decision a loaded machine can change). The default, speed-aware
			// model is checked for accuracy at the end.
			qm, rep, err := Quantize(context.Background(), m, Options{Calib: trainSource(t, 512, 64), SpeedAware: false})
			if err != nil {
				t.Fatal(err)
			}
			qCorrect := countCorrect(t, qm)
			drop := float64(floatCorrect-qCorrect) / 100
			t.Logf("%s: float %d/10000, int8 %d/10000 (drop %.2f points); %d int8 nodes; speed %+v; reverted %v", c.name, floatCorrect, qCorrect, drop, rep.Quantized, rep.Speed, rep.Reverted)
			if drop > 0.3 {
				t.Errorf("top-1 drop %.2f points > 0.3", drop)
			}
			fused := ortOptimizedOps(t, qm)
			for _, op := range c.fused {
				if fused[op] == 0 && fused["com.microsoft:"+op] == 0 {
					t.Errorf("ORT's optimized graph has no %s: %v", op, fused)
				}
			}
			fb, _ := m.Marshal()
			qb, _ := qm.Marshal()
			ratio := float64(len(fb)) / float64(len(qb))
			t.Logf("%s: %d bytes → %d bytes (%.2f× smaller)", c.name, len(fb), len(qb), ratio)
			if c.name == "mnist_mlp" && ratio < 3.5 {
				t.Errorf("MLP only %.2f× smaller, want >= 3.5", ratio)
			}
			md := qm.MetadataMap()
			for _, k := range []string{"shrink.quantize.mode", "shrink.quantize.format", "shrink.quantize.calibration", "shrink.quantize.int8_nodes", "shrink.quantize.float_nodes"} {
				if md[k] == "" {
					t.Errorf("metadata %s missing (have %v)", k, md)
				}
			}
			for k := range md {
				if !strings.HasPrefix(k, "shrink.") {
					t.Errorf("metadata key %q without the shrink. prefix", k)
				}
			}
			if rep.MACs.Int8Share == nil || *rep.MACs.Int8Share < 0.9 {
				t.Errorf("int8 MAC share %v", rep.MACs.Int8Share)
			}

			sm, srep, err := Quantize(context.Background(), m, Options{Calib: trainSource(t, 512, 64), SpeedAware: true})
			if err != nil {
				t.Fatal(err)
			}
			sCorrect := countCorrect(t, sm)
			t.Logf("%s, speed-aware (default): int8 %d/10000 (drop %.2f points); %d int8 nodes; reverted %v", c.name, sCorrect, float64(floatCorrect-sCorrect)/100, srep.Quantized, srep.Reverted)
			if d := float64(floatCorrect-sCorrect) / 100; d > 0.3 {
				t.Errorf("speed-aware model: top-1 drop %.2f points > 0.3", d)
			}
			for _, r := range srep.Reverted {
				if r.Stage != "speed" || !strings.Contains(r.Reason, "slower") {
					t.Errorf("speed-aware revert without a speed reason: %+v", r)
				}
			}
		})
	}
}

// The same quantization of the same model gives the same bytes (metadata
// included), so a rerun of a pipeline does not change its output file.
func TestQuantizeDeterministicBytes(t *testing.T) {
	needORT(t)
	var out [2][]byte
	for i := range out {
		m := fixture(t, "mnist_mlp.onnx")
		qm, _, err := Quantize(context.Background(), m, Options{Calib: trainSource(t, 128, 64), SpeedAware: false})
		if err != nil {
			t.Fatal(err)
		}
		if len(qm.Proto.MetadataProps) < 5 {
			t.Fatalf("%d metadata entries", len(qm.Proto.MetadataProps))
		}
		if out[i], err = qm.Marshal(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Error("two identical quantize runs wrote different bytes")
	}
}
