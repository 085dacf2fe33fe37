package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/report"
)

// TestCompareSelf compares the MLP with itself: identical outputs, every
// gate at its boundary passes (a drop of 0 against 0, an agreement of 1
// against 1, an infinite SQNR against any), and latency measured for both
// on the same batch with the thread count resolved. The speedup is not
// asserted: a timing in a test flakes on a loaded machine. The mechanism
// behind it (alternating order, paired ratios that cancel a slow spell)
// is tested with a fake clock in validate (TestInterleavedOrderAndPairs)
// and measured in validate's BenchmarkCompareSelfOrder.
func TestCompareSelf(t *testing.T) {
	model, _ := fixture(t, "mnist_mlp")
	images, labels := mnistNpy(t, t.TempDir())
	out, errs, code := runCLI(t, false, "compare", model, model, "--data", images, "--labels", labels,
		"--batch", "64", "--threads", "0", "--runs", "20", "--warmup", "2", "--max-accuracy-drop", "0", "--min-agreement", "1", "--min-sqnr", "300", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if err := schemacheck.Validate("compare.schema.json", []byte(out)); err != nil {
		t.Fatal(err)
	}
	var doc report.Compare
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Candidates) != 1 || !doc.Passed || len(doc.Gates) != 3 {
		t.Fatalf("candidates %d passed %v gates %d", len(doc.Candidates), doc.Passed, len(doc.Gates))
	}
	c := doc.Candidates[0]
	f := c.Fidelity
	if f.Agreement == nil || *f.Agreement != 1 || f.Samples != 10000 || !f.SQNRInfinite {
		t.Errorf("agreement %v over %d samples, SQNR infinite %v; want 1 over 10000, infinite", f.Agreement, f.Samples, f.SQNRInfinite)
	}
	if c.AccuracyDrop == nil || *c.AccuracyDrop != 0 || c.SizeRatio == nil || *c.SizeRatio != 1 {
		t.Errorf("drop %v size ratio %v", c.AccuracyDrop, c.SizeRatio)
	}
	if g := doc.Gates[2]; g.Gate != "min-sqnr" || g.Unit != "dB" || !g.Passed || g.Figure != nil {
		t.Errorf("min-sqnr gate %+v (an infinite figure is null in JSON)", g)
	}
	l := doc.Baseline.Latency
	threads := runtime.NumCPU()
	if l == nil || c.Latency == nil || l.Runs != 20 || c.Latency.Runs != 20 || l.BatchSize != 64 || l.Threads != threads || doc.Settings.Threads != threads {
		t.Fatalf("latency %+v / %+v, settings %+v", l, c.Latency, doc.Settings)
	}
	if c.Speedup == nil || !(*c.Speedup > 0) {
		t.Errorf("speedup %v", c.Speedup)
	}
	t.Logf("self-compare mnist_mlp: speedup median %.4f (p50 %.3f ms / %.3f ms), not asserted", *c.Speedup, l.P50Ms, c.Latency.P50Ms)
}

// TestCompareFailingGateStillWritesReports: a size-ratio gate no self
// comparison can meet fails with exit 3, after the Markdown and JUnit
// files are written.
func TestCompareFailingGateStillWritesReports(t *testing.T) {
	model, _ := fixture(t, "mnist_mlp")
	images, labels := mnistNpy(t, t.TempDir())
	dir := t.TempDir()
	md, junit := filepath.Join(dir, "summary.md"), filepath.Join(dir, "gates.xml")
	out, errs, code := runCLI(t, false, "compare", model, model, "--data", images, "--labels", labels, "--limit", "1000",
		"--runs", "5", "--warmup", "1", "--max-size-ratio", "0.5", "--max-accuracy-drop", "0.1", "--markdown", md, "--junit", junit)
	if code != 3 {
		t.Fatalf("exit %d, want 3: %s", code, errs)
	}
	if !strings.Contains(errs, "shrink: gate failed: mnist_mlp.onnx: max-size-ratio: 1× > limit 0.5×") {
		t.Errorf("stderr lacks the failed gate with figure and limit:\n%s", errs)
	}
	if strings.Contains(errs, "max-accuracy-drop") {
		t.Errorf("a passing gate reported as failed:\n%s", errs)
	}
	if !strings.Contains(out, "FAIL  mnist_mlp.onnx: max-size-ratio") || !strings.Contains(out, "pass  mnist_mlp.onnx: max-accuracy-drop") {
		t.Errorf("stdout:\n%s", out)
	}
	mdb, err := os.ReadFile(md)
	if err != nil {
		t.Fatalf("markdown not written: %v", err)
	}
	if !strings.Contains(string(mdb), "❌ max-size-ratio 1 (≤ 0.5)") || !strings.Contains(string(mdb), "✅ max-accuracy-drop 0 (≤ 0.1)") || !strings.Contains(string(mdb), "❌ **1 of 2 gates failed:**") {
		t.Errorf("markdown:\n%s", mdb)
	}
	xb, err := os.ReadFile(junit)
	if err != nil {
		t.Fatalf("junit not written: %v", err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suite    []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(xb, &suites); err != nil {
		t.Fatalf("junit: %v\n%s", err, xb)
	}
	cs := suites.Suite[0].Cases
	if suites.Tests != 2 || suites.Failures != 1 || len(cs) != 2 || cs[1].Name != "max-size-ratio" || cs[1].Failure == nil ||
		!strings.Contains(cs[1].Failure.Text, "figure: 1 ×") || !strings.Contains(cs[1].Failure.Text, "limit: at most 0.5") || cs[0].Failure != nil {
		t.Errorf("junit:\n%s", xb)
	}

	// The files exist now: without --force nothing runs and they stay;
	// with --force they are replaced.
	os.WriteFile(md, []byte("keep"), 0o644)
	_, errs, code = runCLI(t, false, "compare", model, model, "--data", images, "--labels", labels, "--limit", "100", "--runs", "0", "--markdown", md)
	if code != 1 || !strings.Contains(errs, "already exists") || strings.Count(errs, "\n") != 1 {
		t.Errorf("existing markdown without --force: exit %d, %q", code, errs)
	}
	if b, _ := os.ReadFile(md); string(b) != "keep" {
		t.Errorf("markdown replaced without --force")
	}
	_, errs, code = runCLI(t, false, "compare", model, model, "--data", images, "--labels", labels, "--limit", "100", "--runs", "0", "--markdown", md, "--force", "-q")
	if b, _ := os.ReadFile(md); code != 0 || !strings.HasPrefix(string(b), "## shrink compare") {
		t.Errorf("--force: exit %d (%s), file %q", code, errs, b)
	}
}

// TestCompareInterruptedWritesNothing: a cancelled run exits 130 and
// leaves no report behind.
func TestCompareInterruptedWritesNothing(t *testing.T) {
	model, _ := fixture(t, "mnist_mlp")
	images, labels := mnistNpy(t, t.TempDir())
	md := filepath.Join(t.TempDir(), "summary.md")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := Run(ctx, &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errb}, []string{"compare", model, model, "--data", images, "--labels", labels, "--markdown", md, "-q"})
	if code != ExitInterrupted {
		t.Errorf("exit %d, want 130 (%s)", code, errb.String())
	}
	if _, err := os.Stat(md); err == nil {
		t.Error("report written by an interrupted run")
	}
}

func TestCompareUsageErrorsExit2(t *testing.T) {
	model, _ := fixture(t, "mnist_mlp")
	for _, args := range [][]string{
		{"compare", model},
		{"compare", model, model},
		{"compare", model, model, "--data", "x.npy", "--min-agreement", "1.5"},
		{"compare", model, model, "--data", "x.npy", "--min-speedup", "0"},
		{"compare", model, model, "--data", "x.npy", "--min-speedup", "1.2", "--runs", "0"},
		{"compare", model, model, "--data", "x.npy", "--max-accuracy-drop", "1", "--metric", "mse"},
		{"compare", model, model, "--data", "x.npy", "--max-size-ratio", "abc"},
		{"compare", model, model, "--data", "x.npy", "--json", "--markdown", "-"},
		{"compare", model, model, "--data", "x.npy", "--markdown", "a.md", "--junit", "a.md"},
	} {
		_, errs, code := runCLI(t, false, args...)
		if code != 2 || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, want 2 with one line (%q)", args[1:], code, errs)
		}
	}
}
