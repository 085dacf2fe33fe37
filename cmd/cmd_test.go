package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/onnxio"
)

const backendRoot = "/usr/share/libonnx-testdata/data"

// runCLI runs shrink with args on in-memory streams.
func runCLI(t *testing.T, tty bool, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	ios := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errb, StdoutTTY: tty, StderrTTY: tty}
	code = Run(context.Background(), ios, args)
	return out.String(), errb.String(), code
}

func TestInspectJSONMatchesSchemaAndCounts(t *testing.T) {
	path := filepath.Join(backendRoot, "pytorch-converted", "test_Conv2d", "model.onnx")
	out, errs, code := runCLI(t, false, "inspect", "--json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if err := schemacheck.Validate("inspect.schema.json", []byte(out)); err != nil {
		t.Fatal(err)
	}
	var r InspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	// Independent count: sum the initializers' dims straight from the proto.
	m, err := onnxio.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, init := range m.Proto.Graph.Initializer {
		n := int64(1)
		for _, d := range init.Dims {
			n *= d
		}
		want += n
	}
	if r.Parameters.Count != want || r.Nodes != 1 || r.Ops[0].Op != "Conv" {
		t.Fatalf("parameters %d (want %d), nodes %d, ops %v", r.Parameters.Count, want, r.Nodes, r.Ops)
	}
	if r.Inputs[0].Shape == nil || len(r.Inputs[0].Shape) != 4 {
		t.Fatalf("input shape %v", r.Inputs[0].Shape)
	}
}

func TestInspectEveryBackendSuiteModelMatchesSchema(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(backendRoot, "*", "*", "model.onnx"))
	if len(paths) < 1000 {
		t.Fatalf("backend suite not installed (%d models); run .ci/run's set-up", len(paths))
	}
	for i, p := range paths {
		if i%7 != 0 { // a spread of ~150 models keeps this quick
			continue
		}
		out, errs, code := runCLI(t, false, "inspect", "--json", p)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", p, code, errs)
		}
		if err := schemacheck.Validate("inspect.schema.json", []byte(out)); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
}

func TestInspectHumanOutput(t *testing.T) {
	path := filepath.Join(backendRoot, "pytorch-converted", "test_Conv2d", "model.onnx")
	m, err := onnxio.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var want int64 // counted straight from the protobuf
	for _, init := range m.Proto.Graph.Initializer {
		n := int64(1)
		for _, d := range init.Dims {
			n *= d
		}
		want += n
	}
	out, _, code := runCLI(t, true, "inspect", path)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("parameters   %d ", want)) || !strings.Contains(out, "Conv") {
		t.Fatalf("exit %d, want %d parameters, output:\n%s", code, want, out)
	}
}

func TestBadModelFilesGiveOneLineExit1(t *testing.T) {
	dir := t.TempDir()
	good, _ := os.ReadFile(filepath.Join(backendRoot, "pytorch-converted", "test_Conv2d", "model.onnx"))
	r := rand.New(rand.NewPCG(7, 8))
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(r.IntN(256))
	}
	files := map[string][]byte{
		"truncated.onnx": good[:len(good)*2/3],
		"random.onnx":    junk,
		"empty.onnx":     {},
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, errs, code := runCLI(t, false, "inspect", p)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", name, code)
		}
		if out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, p) {
			t.Errorf("%s: want one stderr line naming the file, got stdout %q stderr %q", name, out, errs)
		}
	}
	_, errs, code := runCLI(t, false, "inspect", filepath.Join(dir, "missing.onnx"))
	if code != 1 || !strings.Contains(errs, "missing.onnx") {
		t.Errorf("missing file: exit %d, %q", code, errs)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"inspect"},
		{"inspect", "--no-such-flag", "x.onnx"},
		{"inspect", "a.onnx", "b.onnx"},
		{"no-such-verb"},
	} {
		_, errs, code := runCLI(t, false, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs)
		}
		if strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: stderr is not one line: %q", args, errs)
		}
	}
}

func TestDoctorJSON(t *testing.T) {
	out, errs, code := runCLI(t, false, "doctor", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if err := schemacheck.Validate("doctor.schema.json", []byte(out)); err != nil {
		t.Fatal(err)
	}
	var r DoctorReport
	json.Unmarshal([]byte(out), &r)
	if !r.ORT.OK || r.ORT.Version != "1.29.0" || len(r.ORT.Providers) == 0 || r.ORT.Providers[0] != "cpu" {
		t.Fatalf("doctor: %+v", r.ORT)
	}
}

func TestDoctorMissingLibrary(t *testing.T) {
	// A flag naming a missing file is reported, and doctor exits 1. (The
	// library is loaded once per process, so this runs in a child.)
	if os.Getenv("SHRINK_DOCTOR_CHILD") == "1" {
		os.Exit(Run(context.Background(), SystemIO(), []string{"doctor", "--ort-lib", "/nonexistent/libonnxruntime.so"}))
	}
	exe, _ := os.Executable()
	var out, errb bytes.Buffer
	cmd := exec.Command(exe, "-test.run=^TestDoctorMissingLibrary$")
	cmd.Env = append(os.Environ(), "SHRINK_DOCTOR_CHILD=1")
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err == nil || code != 1 {
		t.Fatalf("exit %d (%v); stderr %s", code, err, errb.String())
	}
	if !strings.Contains(out.String(), "NOT FOUND") || !strings.Contains(errb.String(), "/nonexistent/libonnxruntime.so") {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
}

// TestInspectPPOCRConstantWeights: PP-OCRv4 det stores its weights as
// Constant nodes; inspect's count must equal the sum over every Constant
// value and initializer, counted here straight from the protobuf.
func TestInspectPPOCRConstantWeights(t *testing.T) {
	path := filepath.Join("..", "testdata", "external", "ch_PP-OCRv4_det_infer.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s missing: run `sh scripts/fetch-ocr-models.sh` (make test does)", path)
	}
	out, errs, code := runCLI(t, false, "inspect", "--json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r InspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	m, err := onnxio.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	constants := 0
	for _, init := range m.Proto.Graph.Initializer {
		n := int64(1)
		for _, d := range init.Dims {
			n *= d
		}
		want += n
	}
	for _, n := range m.Proto.Graph.Node {
		if n.GetOpType() != "Constant" {
			continue
		}
		for _, a := range n.Attribute {
			switch a.GetName() {
			case "value":
				c := int64(1)
				for _, d := range a.T.Dims {
					c *= d
				}
				want += c
				constants++
			case "value_floats":
				want += int64(len(a.Floats))
				constants++
			case "value_ints":
				want += int64(len(a.Ints))
				constants++
			case "value_float", "value_int":
				want++
				constants++
			}
		}
	}
	if r.Parameters.Count != want || r.Parameters.Constants != constants || want < 1_000_000 {
		t.Fatalf("inspect counts %d parameters in %d constants; the protobuf holds %d in %d", r.Parameters.Count, r.Parameters.Constants, want, constants)
	}
	t.Logf("PP-OCRv4 det: %d parameters in %d Constant nodes and %d initializers", r.Parameters.Count, r.Parameters.Constants, r.Parameters.Initializers)
}

func TestProviderSelection(t *testing.T) {
	dir := t.TempDir()
	x, _ := onnxio.NewTensor("x", []int64{4, 1, 28, 28}, make([]float32, 4*28*28))
	p := filepath.Join(dir, "x.npy")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := dataset.WriteNpy(f, x); err != nil {
		t.Fatal(err)
	}
	f.Close()
	model := filepath.Join("..", "testdata", "mnist_cnn.onnx")
	// The CPU library from npm has no CUDA provider: a clear one-line error.
	_, errs, code := runCLI(t, false, "eval", model, "--data", p, "--provider", "cuda")
	if code != 1 || !strings.Contains(errs, "no cuda provider") || strings.Count(errs, "\n") != 1 {
		t.Errorf("--provider cuda: exit %d, %q", code, errs)
	}
	_, errs, code = runCLI(t, false, "eval", model, "--data", p, "--provider", "gpu")
	if code != 2 || !strings.Contains(errs, "--provider") {
		t.Errorf("--provider gpu: exit %d, %q", code, errs)
	}
	if _, errs, code = runCLI(t, false, "eval", model, "--data", p, "--provider", "cpu"); code != 0 {
		t.Errorf("--provider cpu: exit %d, %q", code, errs)
	}
}

// inspect reports NaN and infinite weights alike: counts in JSON, the
// tensors named, and a warning on stderr.
func TestInspectReportsNonFiniteWeights(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	m, err := onnxio.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]float64{"fc1.weight": math.Inf(1), "fc2.weight": math.NaN(), "fc3.bias": math.Inf(-1)} {
		w, err := m.Graph().Weight(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Data.([]float32)[1] = float32(v)
		if err := m.Graph().SetWeight(name, w); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "bad.onnx")
	if err := m.Save(p, onnxio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runCLI(t, false, "inspect", "--json", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if err := schemacheck.Validate("inspect.schema.json", []byte(out)); err != nil {
		t.Fatal(err)
	}
	var r InspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.NaNWeights != 1 || r.InfWeights != 2 || len(r.NonFinite) != 3 {
		t.Fatalf("nan %d inf %d tensors %+v", r.NaNWeights, r.InfWeights, r.NonFinite)
	}
	_, errs, code = runCLI(t, false, "inspect", p)
	if code != 0 || !strings.Contains(errs, "1 NaN, 2 infinite") || !strings.Contains(errs, `"fc1.weight"`) || !strings.Contains(errs, "3 tensors") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}
