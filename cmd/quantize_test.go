package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/quantize"
	"google.golang.org/protobuf/proto"
)

// calibNpy writes n MNIST training images (scaled by f) as a .npy file.
func calibNpy(t *testing.T, dir string, n int, f float32) string {
	t.Helper()
	set, err := mnist.TrainSet()
	if err != nil {
		t.Fatal(err)
	}
	x := set.Float32NCHW(0, n)
	for i := range x {
		x[i] *= f
	}
	tt, err := onnxio.NewTensor("input", []int64{int64(n), 1, 28, 28}, x)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "calib.npy")
	writeNpy(t, p, tt)
	return p
}

func TestQuantizeCLIJSONMatchesSchema(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	calib := calibNpy(t, dir, 512, 1)
	out := filepath.Join(dir, "q.onnx")
	stdout, stderr, code := runCLI(t, false, "quantize", model, "-o", out, "--calib", calib, "--json", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := schemacheck.Validate("quantize.schema.json", []byte(stdout)); err != nil {
		t.Fatal(err)
	}
	var r struct {
		quantize.Report
		Output     string  `json:"output"`
		SizeRatio  float64 `json:"size_ratio"`
		InputBytes int64   `json:"input_bytes"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Output != out || r.SizeRatio < 3.5 || math.Abs(r.SizeRatio-float64(r.InputBytes)/float64(st.Size())) > 1e-9 {
		t.Fatalf("output %s, size ratio %g (file %d bytes)", r.Output, r.SizeRatio, st.Size())
	}
	if r.Quantized != 3 || r.Calibration == nil || r.Calibration.Samples != 512 || r.Speed == nil {
		t.Fatalf("report %+v", r.Report)
	}
	// Output SQNR on the first 256 of the 512 calibration samples.
	if on := r.OutputsOn; on == nil || on.Data != "calibration" || on.Samples != 256 || len(r.Outputs) != 1 || r.Outputs[0].SQNR == nil {
		t.Fatalf("outputs %+v measured on %+v", r.Outputs, on)
	}
	m, err := onnxio.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Metadata("shrink.quantize.int8_nodes"); v != "3" {
		t.Fatalf("metadata int8_nodes %q", v)
	}
}

func TestQuantizeCLIHumanTable(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_cnn")
	out := filepath.Join(dir, "q.onnx")
	stdout, stderr, code := runCLI(t, false, "quantize", model, "-o", out, "--calib", calibNpy(t, dir, 256, 1), "--format", "qoperator", "--calib-method", "percentile")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"wrote", "static, qoperator", "percentile on 256 samples", "of MACs in int8", "speed", "SQNR dB", "(on 256 calibration samples)", "/conv2/Conv", "folded into"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// Progress goes to stderr only (quick phases print nothing at all).
	if strings.Contains(stdout, "calibrating") || strings.Contains(stdout, "profiling") {
		t.Errorf("progress on stdout:\n%s", stdout)
	}
}

func TestQuantizeCLIExistingOutputNeedsForce(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	out := filepath.Join(dir, "q.onnx")
	if err := os.WriteFile(out, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	calib := calibNpy(t, dir, 64, 1)
	_, stderr, code := runCLI(t, false, "quantize", model, "-o", out, "--calib", calib, "-q")
	if code != ExitError || !strings.Contains(stderr, "--force") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep me" {
		t.Fatal("existing output replaced without --force")
	}
	if _, stderr, code := runCLI(t, false, "quantize", model, "-o", out, "--calib", calib, "-q", "--force", "--force-int8"); code != 0 {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	if _, err := onnxio.Load(out); err != nil {
		t.Fatal(err)
	}
}

func TestQuantizeCLIUsageErrors(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	calib := calibNpy(t, dir, 64, 1)
	out := filepath.Join(dir, "q.onnx")
	for _, args := range [][]string{
		{"--calib", calib, "--calib-method", "kl"},
		{},                                      // static without --calib
		{"--calib", calib, "--exclude", "nope"}, // matches no node
		{"--calib", calib, "--activations", "int16"},
		{"--calib", calib, "--min-agreement", "2", "--val-data", calib},
		{"--calib", calib, "--max-accuracy-drop", "1"}, // no --val-data
		{"--calib", calib, "--format", "onnx"},
		{"--calib", calib, "--min-sqnr", "-3", "--val-data", calib},
		{"--calib", calib, "--min-sqnr", "20", "--min-agreement", "0.9", "--val-data", calib},
		{"--calib", calib, "--min-sqnr", "20"}, // no --val-data
		{"--calib", calib, "--warn-sqnr", "-1"},
		{"--calib", calib, "--bogus-flag"},
	} {
		_, stderr, code := runCLI(t, false, append([]string{"quantize", model, "-o", out, "-q"}, args...)...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want 2: %s", args, code, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: output written on a usage error", args)
		}
	}
}

// An accuracy budget that cannot be met exits 3 and still writes the best
// model found.
func TestQuantizeCLIGateFailureWritesModel(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_cnn")
	images, labels := mnistNpy(t, dir)
	out := filepath.Join(dir, "q.onnx")
	stdout, stderr, code := runCLI(t, false, "quantize", model, "-o", out, "--calib", calibNpy(t, dir, 64, 0.02),
		"--op-types", "Conv", "--keep-first", "--max-accuracy-drop", "0.1", "--val-data", images, "--val-labels", labels, "--json", "-q")
	if code != ExitGate {
		t.Fatalf("exit %d, want 3: %s", code, stderr)
	}
	if !strings.Contains(stderr, "gate failed: accuracy drop") {
		t.Errorf("stderr: %s", stderr)
	}
	if _, err := onnxio.Load(out); err != nil {
		t.Fatalf("model not written: %v", err)
	}
	if err := schemacheck.Validate("quantize.schema.json", []byte(stdout)); err != nil {
		t.Fatal(err)
	}
}

func TestQuantizeCLINaNWeightNamesTensor(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	m, err := onnxio.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	w, err := m.Graph().Weight("fc2.weight")
	if err != nil {
		t.Fatal(err)
	}
	w.Data.([]float32)[7] = float32(math.NaN())
	if err := m.Graph().SetWeight("fc2.weight", w); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "nan.onnx")
	if err := m.Save(bad, onnxio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "q.onnx")
	_, stderr, code := runCLI(t, false, "quantize", bad, "-o", out, "--calib", calibNpy(t, dir, 64, 1), "-q")
	if code != ExitError || !strings.Contains(stderr, `"fc2.weight"`) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("output written after an error")
	}
}

// An opset-8 model with an op that cannot be upgraded is unsupported (4).
func TestQuantizeCLIUnsupportedModel(t *testing.T) {
	dir := t.TempDir()
	w, _ := onnxio.NewTensor("W", []int64{1, 2, 1, 1}, []float32{1, 2})
	wp, _ := w.ToProto()
	up := onnxio.NewNode("Upsample", "up", []string{"c"}, []string{"y"})
	up.Attribute = append(up.Attribute, &onnxpb.AttributeProto{Name: proto.String("scales"), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: []float32{1, 1, 2, 2}})
	g := &onnxpb.GraphProto{Name: proto.String("g"), Initializer: []*onnxpb.TensorProto{wp},
		Node:   []*onnxpb.NodeProto{onnxio.NewNode("Conv", "conv", []string{"x", "W"}, []string{"c"}), up},
		Input:  []*onnxpb.ValueInfoProto{{Name: proto.String("x"), Type: onnxio.TensorType(onnxio.Float32, []int64{1, 2, 4, 4})}},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y")}}}
	m := &onnxio.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(4), Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(8)}}}}
	p := filepath.Join(dir, "old.onnx")
	if err := m.Save(p, onnxio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, false, "quantize", p, "-o", filepath.Join(dir, "q.onnx"), "--mode", "dynamic", "-q")
	if code != ExitUnsupported || !strings.Contains(stderr, "Upsample") || !strings.Contains(stderr, `"up"`) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// An interrupted run exits 130 and leaves no output behind.
func TestQuantizeCLIInterrupted(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	out := filepath.Join(dir, "q.onnx")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var o, e strings.Builder
	code := Run(ctx, &IOStreams{In: strings.NewReader(""), Out: &o, ErrOut: &e}, []string{"quantize", model, "-o", out, "--calib", calibNpy(t, dir, 64, 1), "-q"})
	if code != ExitInterrupted {
		t.Fatalf("exit %d: %s", code, e.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("output left behind")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(m) > 0 {
		t.Fatalf("temporary files left: %v", m)
	}
}

func TestQuantizeCLIDynamicNeedsNoCalibration(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	out := filepath.Join(dir, "q.onnx")
	stdout, stderr, code := runCLI(t, false, "quantize", model, "-o", out, "--mode", "dynamic", "--json", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := schemacheck.Validate("quantize.schema.json", []byte(stdout)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, `"outputs_measured_on": null`) {
		t.Errorf("output SQNR measured without data: %s", stdout)
	}
	m, err := onnxio.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range m.Graph().OpHistogram() {
		if c.Op == "com.microsoft:DynamicQuantizeMatMul" {
			n = c.Count
		}
	}
	if n != 3 {
		t.Fatalf("%d DynamicQuantizeMatMul: %v", n, m.Graph().OpHistogram())
	}
}

// --min-sqnr returns sensitive nodes to float until the logits' SQNR on
// unlabeled validation data reaches the budget; an unreachable budget exits
// 3 and still writes the best model found.
func TestQuantizeCLIMinSQNR(t *testing.T) {
	dir, vdir := t.TempDir(), t.TempDir()
	model, _ := fixture(t, "mnist_cnn")
	calib := calibNpy(t, dir, 128, 0.7) // under-estimated ranges
	val := calibNpy(t, vdir, 1000, 1)
	out := filepath.Join(dir, "q.onnx")
	stdout, stderr, code := runCLI(t, false, "quantize", model, "-o", out, "--calib", calib, "--min-sqnr", "25", "--val-data", val, "--json", "-q", "--force-int8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := schemacheck.Validate("quantize.schema.json", []byte(stdout)); err != nil {
		t.Fatal(err)
	}
	var r quantize.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	a := r.Accuracy
	if a == nil || a.Metric != "sqnr" || !a.Met || a.SQNR == nil || *a.SQNR < 25 || a.AllInt8 >= 25 || a.Samples != 1000 || len(r.Reverted) == 0 {
		t.Fatalf("accuracy %+v, reverted %v", a, r.Reverted)
	}
	// The report's output SQNR comes from (up to 256 samples of) the
	// validation data, not the dimmed calibration images.
	if on := r.OutputsOn; on == nil || on.Data != "validation" || on.Samples != 256 {
		t.Fatalf("outputs measured on %+v", on)
	}
	for _, rv := range r.Reverted {
		if rv.Stage != "accuracy" || !strings.HasPrefix(rv.Reason, "output SQNR budget") {
			t.Errorf("revert %+v", rv)
		}
	}

	out2 := filepath.Join(dir, "q2.onnx")
	stdout, stderr, code = runCLI(t, false, "quantize", model, "-o", out2, "--calib", calib, "--min-sqnr", "150", "--val-data", val, "--force-int8")
	if code != ExitGate {
		t.Fatalf("exit %d, want 3: %s", code, stderr)
	}
	if !strings.Contains(stderr, "gate failed: output logits SQNR") || !strings.Contains(stdout, "budget 150 dB: NOT MET") || !strings.Contains(stdout, "(on 256 validation samples)") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if _, err := onnxio.Load(out2); err != nil {
		t.Fatalf("model not written: %v", err)
	}
}

// An output whose SQNR is below --warn-sqnr (default 20 dB) is warned about
// on stderr even with -q (an NDJSON event with --json), and in the JSON's
// warnings; --warn-sqnr 0 turns it off.
func TestQuantizeCLILowSQNRWarning(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	calib := calibNpy(t, dir, 128, 1)
	for _, c := range []struct {
		args []string
		warn bool
		thr  any
	}{
		{[]string{"--percentile", "60"}, true, 20.0}, // a deliberately bad calibration
		{[]string{"--percentile", "60", "--warn-sqnr", "0"}, false, nil},
		{nil, false, 20.0},
	} {
		out := filepath.Join(dir, "q.onnx")
		args := append([]string{"quantize", model, "-o", out, "--calib", calib, "--json", "-q", "--force", "--force-int8"}, c.args...)
		stdout, stderr, code := runCLI(t, false, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, stderr)
		}
		if err := schemacheck.Validate("quantize.schema.json", []byte(stdout)); err != nil {
			t.Fatal(err)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		ws := r["warnings"].([]any)
		// With --json, stderr is NDJSON: the warning is an event.
		got := strings.Contains(stderr, `{"event":"warning","message":"output \"logits\" keeps only`)
		if got != c.warn || (len(ws) > 0) != c.warn || r["warn_sqnr_db"] != c.thr {
			t.Fatalf("%v: stderr %q, warnings %v, threshold %v", c.args, stderr, ws, r["warn_sqnr_db"])
		}
		if c.warn {
			for _, s := range []string{"dB SQNR", "--min-sqnr", "--exclude", "shrink compare"} {
				if !strings.Contains(stderr, s) || !strings.Contains(ws[0].(string), s) {
					t.Errorf("warning lacks %q: %s", s, stderr)
				}
			}
		}
	}
}

// A test_data_set folder carries no labels: --max-accuracy-drop on it is
// a usage error naming --val-data, raised before calibration (the library
// checks the validation data first), and nothing is written.
func TestQuantizeCLIUnlabelledFolder(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	val := filepath.Join(dir, "val")
	for i := 0; i < 2; i++ {
		sub := filepath.Join(val, fmt.Sprintf("test_data_set_%d", i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		x, err := onnxio.NewTensor("input", []int64{4, 1, 28, 28}, set.Float32NCHW(4*i, 4))
		if err != nil {
			t.Fatal(err)
		}
		if err := onnxio.WriteTensorFile(filepath.Join(sub, "input_0.pb"), x, false); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "q.onnx")
	_, stderr, code := runCLI(t, false, "quantize", model, "-o", out, "--calib", calibNpy(t, dir, 64, 1), "--max-accuracy-drop", "1", "--val-data", val, "-q")
	if code != ExitUsage || !strings.Contains(stderr, "--val-data: has no labels") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("output written")
	}
	// With agreement, which needs no labels, the same folder is fine.
	if _, stderr, code := runCLI(t, false, "quantize", model, "-o", out, "--calib", calibNpy(t, dir, 64, 1), "--min-agreement", "0.5", "--val-data", val, "-q", "--force-int8"); code != 0 {
		t.Fatalf("--min-agreement: exit %d: %s", code, stderr)
	}
}
