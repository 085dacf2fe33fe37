package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/report"
)

// TestCompareSelf compares the MLP with itself: identical outputs, and a
// speedup near 1 thanks to interleaved, paired timing with spinning off —
// the one timing assertion of the suite (DESIGN.md: a self-compare gives
// 0.98–1.04 on the reference machine; the test allows 0.9–1.1).
//
// ONNX Runtime gives each session its own intra-op worker thread. On a
// machine whose cores are busy with other work, the scheduler can leave
// one session's worker on the caller's core (its runs then go serial) for
// a second or more, and a single measurement drifts to 0.8 or 1.2 (seen at
// load 5 on 2 cores; pinned to one core the same runs give 0.98–1.01). So
// the test measures up to three times and needs one result in the band: a
// real bias — broken interleaving, one side timed with extra work — fails
// all three.
func TestCompareSelf(t *testing.T) {
	model, _ := fixture(t, "mnist_mlp")
	images, labels := mnistNpy(t, t.TempDir())
	var speedups []float64
	for attempt := 1; attempt <= 3; attempt++ {
		out, errs, code := runCLI(t, false, "compare", model, model, "--data", images, "--labels", labels,
			"--batch", "64", "--threads", "2", "--runs", "400", "--warmup", "40", "--max-accuracy-drop", "0", "--min-agreement", "1", "--json")
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
		if len(doc.Candidates) != 1 || !doc.Passed || len(doc.Gates) != 2 {
			t.Fatalf("candidates %d passed %v gates %d", len(doc.Candidates), doc.Passed, len(doc.Gates))
		}
		c := doc.Candidates[0]
		f := c.Fidelity
		if f.Agreement == nil || *f.Agreement != 1 || f.Samples != 10000 {
			t.Errorf("agreement %v over %d samples, want 1 over 10000", f.Agreement, f.Samples)
		}
		if !f.SQNRInfinite && (f.SQNRdB == nil || *f.SQNRdB < 100) {
			t.Errorf("SQNR %v dB (infinite %v), want >= 100 or infinite", f.SQNRdB, f.SQNRInfinite)
		}
		if c.AccuracyDrop == nil || *c.AccuracyDrop != 0 || c.SizeRatio == nil || *c.SizeRatio != 1 {
			t.Errorf("drop %v size ratio %v", c.AccuracyDrop, c.SizeRatio)
		}
		l := doc.Baseline.Latency
		if l == nil || c.Latency == nil || l.Runs != 400 || l.BatchSize != 64 || l.Threads != 2 || doc.Settings.Threads != 2 || c.Speedup == nil {
			t.Fatalf("latency %+v, speedup %v", l, c.Speedup)
		}
		sq := "inf"
		if f.SQNRdB != nil {
			sq = fmt.Sprintf("%.1f", *f.SQNRdB)
		}
		t.Logf("attempt %d: self-compare mnist_mlp: agreement %v, SQNR %s dB, speedup median %.4f (p50 %.3f ms / %.3f ms)", attempt, *f.Agreement, sq, *c.Speedup, l.P50Ms, c.Latency.P50Ms)
		speedups = append(speedups, *c.Speedup)
		if *c.Speedup >= 0.9 && *c.Speedup <= 1.1 {
			return
		}
	}
	t.Errorf("self speedups %v: none within 0.9–1.1", speedups)
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
