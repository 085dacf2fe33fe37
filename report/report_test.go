package report

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/validate"
)

// evaluation builds results by hand: a baseline, a candidate identical to
// it, and a worse one; no ORT involved.
func evaluation() *validate.Evaluation {
	size := func(total, gz int64) *validate.Size {
		return &validate.Size{FileBytes: total, TotalBytes: total, GzipBytes: gz, Parameters: 1000, NonZero: 900,
			ByDType: []onnxio.DTypeStats{{DType: "float32", Count: 1000, Bytes: 4000}}}
	}
	lat := func(p50 float64) *validate.Latency {
		return &validate.Latency{BatchSize: 64, Threads: 2, Warmup: 5, Runs: 50, MeanMs: p50, MinMs: p50 / 2, MaxMs: 2 * p50, P50Ms: p50, P90Ms: p50 * 1.2, P99Ms: p50 * 1.5, Throughput: 64 / p50 * 1000}
	}
	acc := func(c int64) *validate.Accuracy {
		return &validate.Accuracy{Metric: validate.Top1, Value: float64(c) / 1e4, Samples: 1e4, Top1Correct: c, Top5Correct: 9990, Top1: float64(c) / 1e4, Top5: 0.999}
	}
	return &validate.Evaluation{
		Samples: 10000, BatchSize: 64, Labels: true, Metric: validate.Top1, Threads: 2, Warmup: 5, Runs: 50,
		Elapsed: 1500 * time.Millisecond,
		Models: []validate.ModelResult{
			{Name: "base.onnx", Path: "models/base.onnx", Output: "logits", Accuracy: acc(9812), Latency: lat(1.0), Size: size(4000, 3700)},
			{Name: "same.onnx", Path: "models/same.onnx", Output: "logits", Accuracy: acc(9812), Latency: lat(1.0), Size: size(4000, 3700)},
			{Name: "int8|v2.onnx", Path: "models/int8|v2.onnx", Output: "logits", Accuracy: acc(9650), Latency: lat(0.9), Size: size(1100, 900)},
		},
		Candidates: []validate.CandidateResult{
			{Fidelity: validate.FidelityResult{Samples: 10000, Agreement: 1, Cosine: 1, MaxAbsDiff: 0, SQNR: math.Inf(1), KL: 0}, AccuracyDrop: 0, Speedup: 1.01, SizeRatio: 1},
			{Fidelity: validate.FidelityResult{Samples: 10000, Agreement: 0.97, Cosine: 0.999, MaxAbsDiff: 0.3, SQNR: 31.5, KL: 0.002, MSE: 0.01, MAE: 0.05}, AccuracyDrop: 1.62, Speedup: 1.1, SizeRatio: 0.275},
		},
	}
}

var gates = []validate.Gate{{Kind: validate.MaxAccuracyDrop, Limit: 1}, {Kind: validate.MinSpeedup, Limit: 1.05}}

func TestCompareJSONMatchesSchema(t *testing.T) {
	ev := evaluation()
	gr := validate.CheckGates(ev, gates)
	doc := NewCompare(ev, gr, Meta{Tool: "shrink test", Data: "val.npy", Labels: "val_labels.npy"})
	b, err := JSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemacheck.Validate("compare.schema.json", b); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["schema"] != "shrink.compare/v1" || back["passed"] != false {
		t.Errorf("schema %v passed %v", back["schema"], back["passed"])
	}
	cands := back["candidates"].([]any)
	same := cands[0].(map[string]any)["fidelity"].(map[string]any)
	if same["sqnr_db"] != nil || same["sqnr_infinite"] != true {
		t.Errorf("infinite SQNR encoded as %v / %v", same["sqnr_db"], same["sqnr_infinite"])
	}
	worse := cands[1].(map[string]any)
	if worse["passed"] != false || cands[0].(map[string]any)["passed"] != false {
		// same.onnx fails min-speedup (1.01 < 1.05), int8 fails the drop.
		t.Errorf("passed flags %v %v", cands[0].(map[string]any)["passed"], worse["passed"])
	}
	if worse["fidelity"].(map[string]any)["sqnr_db"] != 31.5 {
		t.Errorf("finite SQNR %v", worse["fidelity"].(map[string]any)["sqnr_db"])
	}
	if acc := worse["accuracy"].(map[string]any); acc["correct"] != 9650.0 {
		t.Errorf("correct %v", acc["correct"])
	}
	if g := back["gates"].([]any); len(g) != 4 {
		t.Errorf("%d gate results, want 4", len(g))
	}

	// The schema is strict: an unknown field or a wrong type is refused.
	bad := strings.Replace(string(b), `"passed": false`, `"passed": "no"`, 1)
	if schemacheck.Validate("compare.schema.json", []byte(bad)) == nil {
		t.Error("schema accepted a string for passed")
	}
	extra := strings.Replace(string(b), `"schema": "shrink.compare/v1",`, `"schema": "shrink.compare/v1", "surprise": 1,`, 1)
	if schemacheck.Validate("compare.schema.json", []byte(extra)) == nil {
		t.Error("schema accepted an unknown field")
	}
}

func TestEvalJSONMatchesSchema(t *testing.T) {
	ev := evaluation()
	ev.Models = ev.Models[:1]
	ev.Candidates = nil
	b, err := JSON(NewEval(ev, Meta{Tool: "shrink test", Data: "val.npy"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := schemacheck.Validate("eval.schema.json", b); err != nil {
		t.Fatal(err)
	}
	// Without labels, latency or file: nulls, still valid.
	ev.Labels, ev.Metric = false, ""
	ev.Models[0].Accuracy, ev.Models[0].Latency, ev.Models[0].Size = nil, nil, nil
	b, _ = JSON(NewEval(ev, Meta{}))
	if err := schemacheck.Validate("eval.schema.json", b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"accuracy": null`) || !strings.Contains(string(b), `"latency": null`) {
		t.Errorf("nulls missing:\n%s", b)
	}
	// An mse accuracy carries mse/mae, not correct counts.
	ev.Labels, ev.Metric = true, validate.MSE
	ev.Models[0].Accuracy = &validate.Accuracy{Metric: validate.MSE, Value: 0.25, Samples: 10, MSE: 0.25, MAE: math.NaN()}
	b, _ = JSON(NewEval(ev, Meta{}))
	if err := schemacheck.Validate("eval.schema.json", b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"correct": null`) || !strings.Contains(string(b), `"mae": null`) {
		t.Errorf("mse accuracy:\n%s", b)
	}
}

func TestMarkdown(t *testing.T) {
	ev := evaluation()
	md := string(NewCompare(ev, validate.CheckGates(ev, gates), Meta{Data: "val.npy", Labels: "val_labels.npy"}).Markdown())
	lines := strings.Split(md, "\n")
	var table []string
	for _, l := range lines {
		if strings.HasPrefix(l, "|") {
			table = append(table, l)
		}
	}
	// Header, separator, baseline, two candidates: one table.
	if len(table) != 5 {
		t.Fatalf("%d table lines, want 5:\n%s", len(table), md)
	}
	cells := func(l string) int { return strings.Count(strings.ReplaceAll(l, `\|`, ""), "|") - 1 }
	for _, l := range table {
		if cells(l) != cells(table[0]) {
			t.Errorf("ragged row (%d cells, header %d): %s", cells(l), cells(table[0]), l)
		}
	}
	for _, want := range []string{"baseline `base.onnx`", "98.12%", "96.50%", "+1.62", "∞", "31.5", "1.10×", "`int8\\|v2.onnx`",
		"❌ max-accuracy-drop 1.62 (≤ 1)", "✅ min-speedup 1.1 (≥ 1.05)", "❌ min-speedup 1.01 (≥ 1.05)", "❌ **2 of 4 gates failed:**"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	ev2 := evaluation()
	md2 := string(NewCompare(ev2, validate.CheckGates(ev2, []validate.Gate{{Kind: validate.MaxSizeRatio, Limit: 1}}), Meta{}).Markdown())
	if !strings.Contains(md2, "✅ **All 2 gates passed.**") || strings.Contains(md2, "❌") {
		t.Errorf("all passed:\n%s", md2)
	}
}

func TestJUnit(t *testing.T) {
	ev := evaluation()
	b, err := NewCompare(ev, validate.CheckGates(ev, gates), Meta{Data: "val.npy"}).JUnit()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if doc.Tests != 4 || doc.Failures != 2 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 4 {
		t.Fatalf("tests %d failures %d:\n%s", doc.Tests, doc.Failures, b)
	}
	c := doc.Suites[0].Cases
	if c[0].Name != "max-accuracy-drop" || c[0].Classname != "compare.same.onnx" || c[0].Failure != nil {
		t.Errorf("case 0: %+v", c[0])
	}
	f := c[2].Failure
	if f == nil || c[2].Classname != "compare.int8|v2.onnx" || !strings.Contains(f.Message, "1.62 points > limit 1 points") ||
		!strings.Contains(f.Text, "figure: 1.62 points") || !strings.Contains(f.Text, "limit: at most 1") {
		t.Errorf("case 2: %+v", c[2])
	}
	if c[1].Failure == nil || !strings.Contains(c[1].Failure.Text, "limit: at least 1.05") {
		t.Errorf("case 1: %+v", c[1])
	}
}

func TestWriteFileRefusesOverwrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.md")
	if err := WriteFile(p, []byte("one"), false); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), false); !errors.Is(err, onnxio.ErrExists) {
		t.Errorf("overwrite without force: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Errorf("file changed to %q", b)
	}
	if err := WriteFile(p, []byte("three"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "three" {
		t.Errorf("forced write gave %q", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// The min-sqnr gate: an identical candidate's infinite figure is null in
// JSON (which has no infinity) yet reads ∞ in Markdown and JUnit, and a
// NaN output's -∞ fails; the document still matches the schema.
func TestMinSQNRGateInfiniteFigures(t *testing.T) {
	ev := evaluation()
	ev.Candidates[0].MinSQNR = math.Inf(1)
	ev.Candidates[1].MinSQNR = math.Inf(-1)
	d := NewCompare(ev, validate.CheckGates(ev, []validate.Gate{{Kind: validate.MinSQNR, Limit: 30}}), Meta{Data: "val.npy"})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemacheck.Validate("compare.schema.json", b); err != nil {
		t.Fatal(err)
	}
	if g := d.Gates; g[0].Figure != nil || !g[0].Passed || g[0].Unit != "dB" || g[1].Passed {
		t.Errorf("gates %+v", g)
	}
	md := string(d.Markdown())
	if !strings.Contains(md, "✅ min-sqnr ∞ (≥ 30)") || !strings.Contains(md, "❌ min-sqnr -∞ (≥ 30)") {
		t.Errorf("markdown:\n%s", md)
	}
	x, err := d.JUnit()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(x), "figure: -∞ dB") {
		t.Errorf("junit:\n%s", x)
	}
}
