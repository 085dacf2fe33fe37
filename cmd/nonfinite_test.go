package cmd

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/report"
)

// runWithin runs the CLI and fails the test when it does not return
// within d: the non-finite cases used to hang for good.
func runWithin(t *testing.T, d time.Duration, ctx context.Context, errOut *syncBuffer, args ...string) (stderr string, code int) {
	t.Helper()
	done := make(chan int, 1)
	if errOut == nil {
		errOut = &syncBuffer{}
	}
	go func() {
		done <- Run(ctx, &IOStreams{In: strings.NewReader(""), Out: &strings.Builder{}, ErrOut: errOut}, args)
	}()
	select {
	case code = <-done:
		return errOut.String(), code
	case <-time.After(d):
		t.Fatalf("%v: still running after %v", args, d)
	}
	return "", 0
}

// syncBuffer is a stderr a test can watch while the CLI writes to it:
// when it sees trigger, it calls onTrigger once.
type syncBuffer struct {
	mu        sync.Mutex
	b         strings.Builder
	trigger   string
	onTrigger func()
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	if s.onTrigger != nil && strings.Contains(s.b.String(), s.trigger) {
		f := s.onTrigger
		s.onTrigger = nil
		f()
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// withWeight saves a copy of the MLP fixture with weight name's elements
// from i on set to v (n of them; 1 when n is 0).
func withWeight(t *testing.T, dir, name string, i int, v float32, n ...int) string {
	t.Helper()
	model, _ := fixture(t, "mnist_mlp")
	m, err := onnxio.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	w, err := m.Graph().Weight(name)
	if err != nil {
		t.Fatal(err)
	}
	count := 1
	if len(n) > 0 {
		count = n[0]
	}
	for k := i; k < i+count; k++ {
		w.Data.([]float32)[k] = v
	}
	if err := m.Graph().SetWeight(name, w); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "bad.onnx")
	if err := m.Save(p, onnxio.SaveOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	return p
}

// A +Inf weight hung the percentile and entropy calibrators for good
// (minmax failed cleanly): every method now ends at once with one line
// naming the weight and its node, and writes nothing.
func TestQuantizeInfiniteWeightEndsWithError(t *testing.T) {
	dir := t.TempDir()
	bad := withWeight(t, dir, "fc1.weight", 3, float32(math.Inf(1)))
	calib := calibNpy(t, dir, 64, 1)
	out := filepath.Join(dir, "q.onnx")
	for _, method := range []string{"percentile", "entropy", "minmax"} {
		stderr, code := runWithin(t, 2*time.Minute, context.Background(), nil, "quantize", bad, "-o", out, "--calib", calib, "--calib-method", method, "-q")
		if code != ExitError || !strings.Contains(stderr, `weight "fc1.weight"`) || !strings.Contains(stderr, "+Inf") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d: %s", method, code, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: output written", method)
		}
	}
}

// A +Inf in the calibration data hung the same way: now one line naming
// the file, the input and the sample.
func TestQuantizeInfiniteCalibrationDataEndsWithError(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	set, err := mnist.TrainSet()
	if err != nil {
		t.Fatal(err)
	}
	x := set.Float32NCHW(0, 64)
	x[5*784+100] = float32(math.Inf(1))
	tt, _ := onnxio.NewTensor("input", []int64{64, 1, 28, 28}, x)
	calib := filepath.Join(dir, "inf.npy")
	writeNpy(t, calib, tt)
	for _, method := range []string{"percentile", "entropy"} {
		stderr, code := runWithin(t, 2*time.Minute, context.Background(), nil, "quantize", model, "-o", filepath.Join(dir, "q.onnx"), "--calib", calib, "--calib-method", method, "-q")
		if code != ExitError || !strings.Contains(stderr, "inf.npy") || !strings.Contains(stderr, `input "input", sample 5`) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d: %s", method, code, stderr)
		}
	}
}

// Activations that overflow (finite but huge weights) are named with
// their node and sample; SIGINT during calibration exits 130.
func TestQuantizeOverflowingActivationsAndInterrupt(t *testing.T) {
	dir := t.TempDir()
	bad := withWeight(t, dir, "fc1.weight", 0, 3e38, 784) // unit 0 overflows on any digit
	calib := calibNpy(t, dir, 64, 1)
	out := filepath.Join(dir, "q.onnx")
	stderr, code := runWithin(t, 2*time.Minute, context.Background(), nil, "quantize", bad, "-o", out, "--calib", calib, "--calib-method", "entropy", "-q")
	if code != ExitError || !strings.Contains(stderr, "activation ") || !strings.Contains(stderr, "fc1") || !strings.Contains(stderr, "calibration sample") {
		t.Errorf("overflow: exit %d: %s", code, stderr)
	}
	// Ctrl-C as soon as calibration starts.
	model, _ := fixture(t, "mnist_mlp")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := &syncBuffer{trigger: "calibrating", onTrigger: cancel}
	stderr, code = runWithin(t, 2*time.Minute, ctx, watch, "quantize", model, "-o", filepath.Join(dir, "q2.onnx"), "--calib", calibNpy(t, dir, 512, 1), "--json")
	if code != ExitInterrupted {
		t.Fatalf("interrupt: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "q2.onnx")); err == nil {
		t.Fatal("output left behind")
	}
}

// eval counts samples with non-finite outputs as wrong and warns; they
// used to pass as "top5 100%".
func TestEvalNonFiniteOutputsCountWrong(t *testing.T) {
	dir := t.TempDir()
	bad := withWeight(t, dir, "fc3.bias", 2, float32(math.NaN()))
	images, labels := mnistNpy(t, dir)
	out, stderr, code := runCLI(t, false, "eval", bad, "--data", images, "--labels", labels, "--limit", "500", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := schemacheck.Validate("eval.schema.json", []byte(out)); err != nil {
		t.Fatal(err)
	}
	var doc report.Eval
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	a := doc.Model.Accuracy
	if doc.Model.NonFinite != 500 || a == nil || *a.Top1Correct != 0 || *a.Top5Correct != 0 {
		t.Fatalf("non-finite %d, accuracy %+v", doc.Model.NonFinite, a)
	}
	// With --json the warning is an NDJSON event on stderr.
	var ev struct{ Event, Message string }
	found := false
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stderr line is not JSON: %q", line)
		}
		found = found || ev.Event == "warning" && strings.Contains(ev.Message, "500 of 500 samples give non-finite outputs")
	}
	if !found {
		t.Fatalf("no warning event: %s", stderr)
	}
	_, stderr, _ = runCLI(t, false, "eval", bad, "--data", images, "--labels", labels, "--limit", "100", "-q")
	if !strings.HasPrefix(stderr, "warning: ") || !strings.Contains(stderr, "count as wrong") {
		t.Fatalf("stderr %q", stderr)
	}
}
