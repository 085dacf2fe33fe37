package cmd

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/internal/schemacheck"
)

// Quantizing a quantized model is refused (exit 4, "already quantized")
// unless --allow-quantized; it used to exit 0 with 0 int8 nodes.
func TestQuantizeRefusesQuantizedModel(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	calib := calibNpy(t, dir, 64, 1)
	q1 := filepath.Join(dir, "q1.onnx")
	if _, stderr, code := runCLI(t, false, "quantize", model, "-o", q1, "--calib", calib, "--force-int8", "-q"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, stderr, code := runCLI(t, false, "quantize", q1, "-o", filepath.Join(dir, "q2.onnx"), "--calib", calib, "--force-int8", "-q")
	if code != ExitUnsupported || !strings.Contains(stderr, "already quantized") || !strings.Contains(stderr, "QuantizeLinear") || !strings.Contains(stderr, "--allow-quantized") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, stderr, code = runCLI(t, false, "quantize", q1, "-o", filepath.Join(dir, "q2.onnx"), "--calib", calib, "--force-int8", "--allow-quantized", "-q")
	if code != ExitUnsupported || strings.Contains(stderr, "already quantized") || !strings.Contains(stderr, "nothing to quantize") {
		t.Fatalf("--allow-quantized: exit %d: %s", code, stderr)
	}
}

// Without data, the speed is still measured (on random inputs of the
// declared shapes), so that a slower result is warned about; the JSON says
// what it was timed on. (The figure itself is not asserted: timing.)
func TestQuantizeDynamicWithoutDataTimesOnRandomInputs(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_cnn")
	stdout, stderr, code := runCLI(t, false, "quantize", model, "-o", filepath.Join(dir, "q.onnx"), "--mode", "dynamic", "--json", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := schemacheck.Validate("quantize.schema.json", []byte(stdout)); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Speed *struct {
			Inputs  string  `json:"inputs"`
			Batch   int     `json:"batch"`
			Speedup float64 `json:"speedup"`
			Slower  bool    `json:"slower_than_float"`
		} `json:"speed"`
		Warnings []string `json:"warnings"`
		Nothing  bool     `json:"nothing_quantized"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Speed == nil || r.Speed.Inputs != "random" || r.Speed.Batch != 1 || r.Speed.Speedup <= 0 || r.Nothing {
		t.Fatalf("speed %+v", r.Speed)
	}
	warned := false
	for _, w := range r.Warnings {
		warned = warned || strings.Contains(w, "SLOWER THAN THE FLOAT ONE")
	}
	if warned != r.Speed.Slower || warned != strings.Contains(stderr, "SLOWER THAN THE FLOAT ONE") {
		t.Fatalf("slower %v, warnings %v, stderr %q", r.Speed.Slower, r.Warnings, stderr)
	}
}

// With --json, everything on stderr is NDJSON: progress, warnings and the
// error lines (a failed gate here) with their exit code.
func TestJSONStderrIsAllEvents(t *testing.T) {
	model, _ := fixture(t, "mnist_mlp")
	images, labels := mnistNpy(t, t.TempDir())
	_, stderr, code := runCLI(t, false, "compare", model, model, "--data", images, "--labels", labels, "--limit", "256", "--runs", "0", "--max-size-ratio", "0.5", "--json")
	if code != ExitGate {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	gate := false
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var ev struct {
			Event    string `json:"event"`
			Message  string `json:"message"`
			ExitCode *int   `json:"exit_code"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Event == "" {
			t.Fatalf("stderr line is not an event: %q", line)
		}
		gate = gate || ev.Event == "error" && strings.Contains(ev.Message, "gate failed") && ev.ExitCode != nil && *ev.ExitCode == ExitGate
	}
	if !gate {
		t.Fatalf("no gate-failure event: %s", stderr)
	}
}
