package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/report"
)

// mnistNpy writes the 10,000 MNIST test images and labels as .npy files
// into dir.
func mnistNpy(t *testing.T, dir string) (images, labels string) {
	t.Helper()
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	images, labels, err = set.WriteNpy(dir)
	if err != nil {
		t.Fatal(err)
	}
	return images, labels
}

// fixture returns testdata/NAME.onnx and the correct count PyTorch
// recorded for it in testdata/NAME.json.
func fixture(t *testing.T, name string) (model string, correct int) {
	t.Helper()
	base := filepath.Join("..", "testdata", name)
	b, err := os.ReadFile(base + ".json")
	if err != nil {
		t.Fatalf("%v (the MNIST fixtures are made by testdata/gen/gen_mnist.py)", err)
	}
	var info struct {
		Correct int `json:"correct"`
		Total   int `json:"total"`
	}
	if err := json.Unmarshal(b, &info); err != nil || info.Total != 10000 || info.Correct < 9000 {
		t.Fatalf("%s.json: %+v %v", base, info, err)
	}
	return base + ".onnx", info.Correct
}

func writeNpy(t *testing.T, path string, tensor *onnxio.Tensor) {
	t.Helper()
	var b bytes.Buffer
	if err := dataset.WriteNpy(&b, tensor); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEvalReproducesPyTorchCounts: shrink eval on each PyTorch fixture
// counts exactly as many correct test images as PyTorch did.
func TestEvalReproducesPyTorchCounts(t *testing.T) {
	images, labels := mnistNpy(t, t.TempDir())
	for _, name := range []string{"mnist_mlp", "mnist_cnn"} {
		t.Run(name, func(t *testing.T) {
			model, want := fixture(t, name)
			out, errs, code := runCLI(t, false, "eval", model, "--data", images, "--labels", labels, "--batch", "500", "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if err := schemacheck.Validate("eval.schema.json", []byte(out)); err != nil {
				t.Fatal(err)
			}
			var doc report.Eval
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			a := doc.Model.Accuracy
			if a == nil || a.Correct == nil || a.Metric != "top1" {
				t.Fatalf("accuracy %+v", a)
			}
			t.Logf("%s: shrink eval %d/%d correct, PyTorch %d", name, *a.Correct, a.Samples, want)
			if *a.Correct != int64(want) || a.Samples != 10000 || doc.Data.Samples != 10000 {
				t.Errorf("%s: %d/%d correct, PyTorch recorded %d/10000", name, *a.Correct, a.Samples, want)
			}
			if doc.Model.Size == nil || doc.Model.Size.Parameters == 0 || doc.Model.Latency != nil {
				t.Errorf("size %+v latency %+v", doc.Model.Size, doc.Model.Latency)
			}
			// With --json, progress on stderr is NDJSON.
			for _, l := range strings.Split(strings.TrimSpace(errs), "\n") {
				var e map[string]any
				if err := json.Unmarshal([]byte(l), &e); err != nil || e["event"] == nil {
					t.Errorf("stderr line is not an NDJSON event: %q", l)
				}
			}
		})
	}
}

func TestEvalHumanOutputWithLatency(t *testing.T) {
	model, _ := fixture(t, "mnist_mlp")
	dir := t.TempDir()
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	x, _ := onnxio.NewTensor("x", []int64{64, 1, 28, 28}, set.Float32NCHW(0, 64))
	y, _ := onnxio.NewTensor("y", []int64{64}, set.Int64Labels(0, 64))
	writeNpy(t, filepath.Join(dir, "x.npy"), x)
	writeNpy(t, filepath.Join(dir, "y.npy"), y)
	out, errs, code := runCLI(t, false, "eval", model, "--data", filepath.Join(dir, "x.npy"), "--labels", filepath.Join(dir, "y.npy"),
		"--batch", "16", "--runs", "5", "--warmup", "1", "--threads", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"data       ", "64 samples, batch 16", "top1       ", "/64)", "latency    p50", "per batch of 16", "1 threads, 5 runs after 1 warm-up", "size       "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A non-terminal stderr gets plain lines (phases this quick print
	// none; progress_test.go covers the lines themselves), never a bar.
	if strings.Contains(errs, "\r") || strings.Contains(errs, "\x1b") || strings.Contains(out, "evaluate:") {
		t.Errorf("stderr:\n%s", errs)
	}
	// -q: nothing on stderr.
	_, errs, code = runCLI(t, false, "eval", "-q", model, "--data", filepath.Join(dir, "x.npy"), "--labels", filepath.Join(dir, "y.npy"))
	if code != 0 || errs != "" {
		t.Errorf("-q: exit %d, stderr %q", code, errs)
	}
}

// TestEvalBadDataOneLineExit1 feeds the CNN fixture bad data: each case
// must fail with exit code 1 and a single line on stderr.
func TestEvalBadDataOneLineExit1(t *testing.T) {
	model, _ := fixture(t, "mnist_cnn")
	dir := t.TempDir()
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.npy")
	x, _ := onnxio.NewTensor("x", []int64{100, 1, 28, 28}, set.Float32NCHW(0, 100))
	writeNpy(t, good, x)
	labels100 := filepath.Join(dir, "labels100.npy")
	l, _ := onnxio.NewTensor("y", []int64{100}, set.Int64Labels(0, 100))
	writeNpy(t, labels100, l)

	shape := filepath.Join(dir, "shape.npy")
	xs, _ := onnxio.NewTensor("x", []int64{100, 1, 27, 28}, set.Float32NCHW(0, 100)[:100*27*28])
	writeNpy(t, shape, xs)

	dtype := filepath.Join(dir, "dtype.npy")
	ints := make([]int32, 100*784)
	for i, p := range set.Images[:100*784] {
		ints[i] = int32(p)
	}
	xi, _ := onnxio.NewTensor("x", []int64{100, 1, 28, 28}, ints)
	writeNpy(t, dtype, xi)

	truncated := filepath.Join(dir, "truncated.npy")
	b, _ := os.ReadFile(good)
	os.WriteFile(truncated, b[:len(b)-1000], 0o644)

	labels99 := filepath.Join(dir, "labels99.npy")
	l99, _ := onnxio.NewTensor("y", []int64{99}, set.Int64Labels(0, 99))
	writeNpy(t, labels99, l99)

	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)

	// Sanity: the good file evaluates.
	if _, errs, code := runCLI(t, false, "eval", model, "--data", good, "--labels", labels100, "-q"); code != 0 {
		t.Fatalf("good data: exit %d: %s", code, errs)
	}
	for _, c := range []struct {
		name string
		args []string
		want string // in the message
	}{
		{"wrong shape", []string{"--data", shape}, "shape.npy"},
		{"wrong dtype", []string{"--data", dtype}, "dtype.npy"},
		{"truncated npy", []string{"--data", truncated}, "truncated.npy"},
		{"labels of the wrong count", []string{"--data", good, "--labels", labels99}, "labels99.npy"},
		{"empty folder", []string{"--data", empty}, "empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := runCLI(t, false, append([]string{"eval", model, "-q"}, c.args...)...)
			if code != 1 {
				t.Errorf("exit %d, want 1 (stderr %q)", code, errs)
			}
			if out != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "shrink: ") || !strings.Contains(errs, c.want) {
				t.Errorf("want one stderr line naming %s; stdout %q stderr %q", c.want, out, errs)
			}
			t.Logf("%s", strings.TrimSpace(errs))
		})
	}
}

func TestEvalUsageErrorsExit2(t *testing.T) {
	model, _ := fixture(t, "mnist_mlp")
	for _, args := range [][]string{
		{"eval", model},
		{"eval", model, "--data", "x.npy", "--metric", "top3"},
		{"eval", model, "--data", "x.npy", "--batch", "-1"},
		{"eval", model, "--data", "x.npy", "--layout", "chwn"},
		{"eval", model, "--data", "x.npy", "--runs", "-2"},
		{"eval", model, "--data", "x.npy", "--latency", "--runs", "0"},
		{"eval", model, "--data", "x.npy", "--resize", "1,2,3"},
		{"eval", model, "--data", "x.npy", "--std", "0"},
		{"eval", model, "--data", "x.npy", "--threads", "x"},
		{"eval", "--data", "x.npy"},
	} {
		_, errs, code := runCLI(t, false, args...)
		if code != 2 || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, want 2 with one line (%q)", args[1:], code, errs)
		}
	}
}

// TestEvalOCRBenchmark scores the float PP-OCRv4 models on the first lines
// and pages of the text-line benchmark (testdata/ocrbench): the recognizer
// by greedy CTC decoding against the rendered text, the detector by its
// boxes against the rendered ones. The float models must read them well;
// a preprocessing or decoding slip (BGR, scale, the blank or space class,
// the unclip) costs tens of points.
func TestEvalOCRBenchmark(t *testing.T) {
	ext := filepath.Join("..", "testdata", "external")
	bench := filepath.Join("..", "testdata", "ocrbench")
	for _, f := range []string{"ch_PP-OCRv4_rec_infer.onnx", "ch_PP-OCRv4_det_infer.onnx", "ppocr_keys_v1.txt"} {
		if _, err := os.Stat(filepath.Join(ext, f)); err != nil {
			t.Fatalf("%s missing: run `sh scripts/fetch-ocr-models.sh` (make test does)", f)
		}
	}
	for _, c := range []struct {
		name  string
		args  []string
		fig   string
		floor float64
	}{
		{"rec", []string{filepath.Join(ext, "ch_PP-OCRv4_rec_infer.onnx"), "--data", filepath.Join(bench, "rec", "eval"), "--mean", "0.5", "--std", "0.5",
			"--metric", "ctc", "--dict", filepath.Join(ext, "ppocr_keys_v1.txt"), "--labels", filepath.Join(bench, "rec", "eval.txt"), "--limit", "48"}, "char_accuracy", 0.97},
		{"det", []string{filepath.Join(ext, "ch_PP-OCRv4_det_infer.onnx"), "--data", filepath.Join(bench, "det", "eval"), "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225",
			"--metric", "boxes", "--labels", filepath.Join(bench, "det", "eval.jsonl"), "--limit", "4", "--batch", "2"}, "recall", 0.95},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := runCLI(t, false, append([]string{"eval", "--json", "--threads", "2"}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if err := schemacheck.Validate("eval.schema.json", []byte(out)); err != nil {
				t.Fatal(err)
			}
			var doc report.Eval
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			a := doc.Model.Accuracy
			if a == nil || a.Figures[c.fig] == nil {
				t.Fatalf("accuracy %+v", a)
			}
			t.Logf("%s: %s %.4f on %d samples", c.name, c.fig, *a.Figures[c.fig], a.Samples)
			if *a.Figures[c.fig] < c.floor {
				t.Errorf("%s %.4f < %.2f", c.fig, *a.Figures[c.fig], c.floor)
			}
		})
	}
	// The references must cover the data: a short labels file is an
	// error naming it.
	short := filepath.Join(t.TempDir(), "short.txt")
	if err := os.WriteFile(short, []byte("一\n二\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := runCLI(t, false, "eval", filepath.Join(ext, "ch_PP-OCRv4_rec_infer.onnx"), "--data", filepath.Join(bench, "rec", "eval"),
		"--metric", "ctc", "--dict", filepath.Join(ext, "ppocr_keys_v1.txt"), "--labels", short)
	if code != 1 || !strings.Contains(errs, "short.txt: 2 references for the 300 samples") {
		t.Errorf("exit %d: %s", code, errs)
	}
}
