package report

import (
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/validate"
)

// input encodes a document and reads it back as a result file would be.
func input(t *testing.T, path string, doc any) *Input {
	t.Helper()
	b, err := JSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ParseInput(path, b)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// paretoEvaluation is evaluation() plus a model slower and less accurate
// than the baseline, so dominated by it.
func paretoEvaluation() *validate.Evaluation {
	ev := evaluation()
	m := ev.Models[2]
	m.Name, m.Path = "slow.onnx", "models/slow.onnx"
	m.Accuracy = &validate.Accuracy{Metric: validate.Top1, Value: 0.95, Samples: 1e4, Top1Correct: 9500, Top5Correct: 9990, Top1: 0.95, Top5: 0.999}
	m.Latency = &validate.Latency{BatchSize: 64, Threads: 2, Warmup: 5, Runs: 50, MeanMs: 1.3, MinMs: 1.1, MaxMs: 1.6, P50Ms: 1.3, P90Ms: 1.4, P99Ms: 1.5, Throughput: 49230}
	ev.Models = append(ev.Models, m)
	ev.Candidates = append(ev.Candidates, validate.CandidateResult{Fidelity: validate.FidelityResult{Samples: 10000, Agreement: 0.96, Cosine: 0.99, MaxAbsDiff: 0.5, SQNR: 20, KL: 0.01},
		AccuracyDrop: 3.12, Speedup: 0.77, SizeRatio: 0.3})
	return ev
}

func TestMergeParetoFront(t *testing.T) {
	ev := paretoEvaluation()
	cmp := NewCompare(ev, validate.CheckGates(ev, gates), Meta{Tool: "shrink test", Data: "val.npy"})
	d, err := Merge([]*Input{input(t, "c.json", cmp)}, Options{Tool: "shrink test"})
	if err != nil {
		t.Fatal(err)
	}
	// base and same: 98.12% at 1.0 ms (equal: neither dominates the
	// other); int8: faster, less accurate; slow: slower and less accurate
	// than base.
	want := map[string]bool{"base.onnx": true, "same.onnx": true, "int8|v2.onnx": true, "slow.onnx": false}
	if len(d.Models) != 4 {
		t.Fatalf("%d rows", len(d.Models))
	}
	for _, r := range d.Models {
		if r.ParetoFront != want[r.Name] {
			t.Errorf("%s: on the front %v, want %v", r.Name, r.ParetoFront, want[r.Name])
		}
	}
	if d.Pareto == nil || d.Pareto.Metric != "top1" || d.Pareto.BatchSize != 64 || d.Pareto.Models != 4 {
		t.Errorf("pareto %+v", d.Pareto)
	}
	// For an error metric lower is better: the front flips.
	for i := range d.Models {
		d.Models[i].Metric = ptr("mse")
	}
	b := &builder{doc: d}
	b.pareto()
	for _, r := range d.Models {
		if r.ParetoFront != (r.Name == "int8|v2.onnx" || r.Name == "slow.onnx") {
			t.Errorf("mse: %s on the front %v", r.Name, r.ParetoFront)
		}
	}
	// The gates: same.onnx fails min-speedup, int8 the drop, slow both.
	if d.Passed || len(d.Gates) != 6 {
		t.Errorf("passed %v, %d gates", d.Passed, len(d.Gates))
	}
	for _, r := range d.Models {
		if (r.Role == "baseline") != (r.Passed == nil) || (r.Passed != nil && *r.Passed) {
			t.Errorf("%s (%s): passed %v", r.Name, r.Role, r.Passed)
		}
	}
	out, _ := JSON(d)
	if err := schemacheck.Validate("report.schema.json", out); err != nil {
		t.Fatal(err)
	}
}

// TestMergeFirstFigureWins: a model in an eval and a compare result is one
// row; each figure comes from the first measurement; transform results
// fill only what is missing, whatever the order of the files.
func TestMergeFirstFigureWins(t *testing.T) {
	ev := evaluation()
	cmp := NewCompare(ev, nil, Meta{})
	one := evaluation()
	one.Models = one.Models[:1]
	one.Models[0].Latency = nil
	one.Models[0].Accuracy.Value = 0.5 // differs from compare's
	eval := NewEval(one, Meta{})
	q := `{"schema": "shrink.quantize/v1", "input": "models/base.onnx", "output": "models/new.onnx", "input_bytes": 9, "output_bytes": 3,
	  "speed": {"batch": 8, "threads": 1, "float_ms": 5, "int8_ms": 2, "speedup": 2.5}, "nodes": []}`
	qin, err := ParseInput("q.json", []byte(q))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Merge([]*Input{qin, input(t, "e.json", eval), input(t, "c.json", cmp)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Models) != 4 {
		t.Fatalf("%d rows: %+v", len(d.Models), d.Models)
	}
	base := d.Models[0]
	if base.Path != "models/base.onnx" || base.Role != "model" || *base.Accuracy != 0.5 || base.Latency == nil || base.Latency.P50Ms != 1.0 ||
		*base.SizeBytes != 4000 || len(base.Sources) != 3 {
		t.Errorf("base row %+v (latency %+v)", base, base.Latency)
	}
	nw := d.Models[3]
	if nw.Path != "models/new.onnx" || nw.Role != "output" || *nw.SizeBytes != 3 || nw.Latency.P50Ms != 2 || nw.Latency.P99Ms != nil ||
		*nw.Speedup != 2.5 || *nw.Against != "models/base.onnx" || nw.Accuracy != nil || nw.GzipBytes != nil {
		t.Errorf("quantize output row %+v", nw)
	}
	if len(d.Steps) != 1 || !strings.Contains(d.Steps[0].Text, "2.50× faster") || d.Steps[0].Source != 0 {
		t.Errorf("steps %+v", d.Steps)
	}
	// Batches differ (64 from compare, 8 from quantize): the quantize
	// output is left out of the Pareto view, with a note.
	if d.Pareto.BatchSize != 64 || len(d.Notes) != 0 && !strings.Contains(strings.Join(d.Notes, " "), "new.onnx") {
		t.Errorf("pareto %+v notes %v", d.Pareto, d.Notes)
	}
	md := string(d.Markdown(false))
	// Mixed batches: latency cells name theirs; the quantize output has no
	// gzip or parameters: "—", never 0.
	if !strings.Contains(md, "2.000 (b8)") || !strings.Contains(md, "1.000 (b64)") {
		t.Errorf("latency cells:\n%s", md)
	}
	for _, l := range strings.Split(md, "\n") {
		if strings.Contains(l, "`new.onnx`") && (strings.Count(l, "—") < 5 || strings.Contains(l, "| 0 ")) {
			t.Errorf("missing figures: %s", l)
		}
	}
}

func TestHTMLChartsAndCurves(t *testing.T) {
	ev := paretoEvaluation()
	d, err := Merge([]*Input{input(t, "c.json", NewCompare(ev, validate.CheckGates(ev, gates), Meta{}))}, Options{Title: "a <b> title"})
	if err != nil {
		t.Fatal(err)
	}
	y := func(v float64) *float64 { return &v }
	d.Curves = append(d.Curves, Curves{Kind: "distill.loss", Title: "Distillation loss", Model: "models/int8|v2.onnx", X: "epoch", Y: "loss",
		Series: []Series{
			{Name: "train", Points: []Point{{1, y(2.1)}, {2, y(1.2)}, {3, y(0.8)}, {4, y(0.6)}}},
			{Name: "validation", Points: []Point{{1, y(2.3)}, {2, nil}, {3, y(0.9)}, {4, y(math.NaN())}}},
		}})
	d.Tables = append(d.Tables, Table{Kind: "prune.layers", Title: "prune: layers", Model: "models/int8|v2.onnx",
		Columns: []Column{{"layer", ""}, {"channels", "count"}, {"sparsity", ""}, {"kept", ""}}, Rows: [][]any{{"conv1", 64, 0.5, true}, {"fc", nil, 0.25, false}}})
	page, err := d.HTML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{
		`<title>a &lt;b&gt; title</title>`,
		`id="chart-accuracy-size" data-points="4"`, `id="chart-pareto" data-points="4"`, `id="chart-latency" data-points="8"`,
		// The NaN and the null are skipped: 4 + 2 points.
		`id="chart-curves-0" data-points="6"`,
		`data-kind="prune.layers"`, `<td>conv1</td><td class="num">64</td><td class="num">0.5</td><td>yes</td>`, `<td>fc</td><td class="num">—</td>`,
		`<td class="badge fail">failed</td>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("HTML lacks %s", want)
		}
	}
	// Each chart is SVG with a point per model: a circle glyph is a path
	// with arcs, and the point's label is a text element.
	pareto := s[strings.Index(s, `id="chart-pareto"`):]
	pareto = pareto[:strings.Index(pareto, "</figure>")]
	for _, n := range []string{"base.onnx", "same.onnx", "int8|v2.onnx", "slow.onnx"} {
		if !regexp.MustCompile(`<text[^>]*>` + regexp.QuoteMeta(n) + `</text>`).MatchString(pareto) {
			t.Errorf("pareto chart: no label %s", n)
		}
	}
	if strings.Contains(s, "<?xml") || strings.Contains(s, "<script") {
		t.Error("XML prolog or script in the page")
	}
	// The markdown with --details has the table and the curves.
	md := string(d.Markdown(true))
	if !strings.Contains(md, "| conv1 | 64 | 0.5 | yes |") || !strings.Contains(md, "| 2 | 1.2 | — |") {
		t.Errorf("details markdown:\n%s", md)
	}
	if _, err := JSON(d); err == nil {
		t.Error("NaN encoded in JSON")
	}
	d.Curves[0].Series[1].Points[3].Y = nil // JSON has no NaN: null
	out, err := JSON(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemacheck.Validate("report.schema.json", out); err != nil {
		t.Fatal(err)
	}
}

func TestParseInputErrors(t *testing.T) {
	if got := strings.Join(Schemas(), " "); got != "shrink.compare/v1 shrink.eval/v1 shrink.quantize/v1" {
		t.Errorf("schemas %s", got)
	}
	for _, c := range []struct{ body, want string }{
		{`{"schema": "shrink.distill/v9"}`, `r.json: unknown schema "shrink.distill/v9"`},
		{`{"schema": "shrink.eval/v1", "model": {"path": 3}}`, "model.path: want a string, got number"},
		{`{"schema": "shrink.eval/v1", "model": {"path": "a"}, "elapsed_s": }`, "not valid JSON at byte"},
		{`  `, "empty file"},
	} {
		in, err := ParseInput("r.json", []byte(c.body))
		if err == nil {
			_, err = Merge([]*Input{in}, Options{})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "r.json: ") {
			t.Errorf("%s: %v, want %q", c.body, err, c.want)
		}
	}
}
