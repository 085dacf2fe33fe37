package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/quantize"
	"github.com/shrinkml/shrink/report"
)

// reportResults runs the verbs on the MNIST fixtures and saves their
// --json results in dir: quantize (with an accuracy budget), compare of
// the float CNN with its int8 version (one gate passes, --max-size-ratio
// 0.1 fails), and eval of the MLP with latency.
func reportResults(t *testing.T, dir string) (quantizeJSON, compareJSON, evalJSON, cnn, cnnInt8, mlp string) {
	t.Helper()
	images, labels := mnistNpy(t, dir)
	calib := calibNpy(t, dir, 256, 1)
	cnn, _ = fixture(t, "mnist_cnn")
	mlp, _ = fixture(t, "mnist_mlp")
	cnnInt8 = filepath.Join(dir, "mnist_cnn.int8.onnx")
	save := func(name string, wantCode int, args ...string) string {
		t.Helper()
		out, errs, code := runCLI(t, false, args...)
		if code != wantCode {
			t.Fatalf("shrink %s: exit %d, want %d: %s", strings.Join(args, " "), code, wantCode, errs)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	quantizeJSON = save("quantize.json", 0, "quantize", cnn, "-o", cnnInt8, "--calib", calib, "--max-accuracy-drop", "1",
		"--val-data", images, "--val-labels", labels, "--json", "-q")
	compareJSON = save("compare.json", ExitGate, "compare", cnn, cnnInt8, "--data", images, "--labels", labels, "--batch", "64",
		"--threads", "1", "--runs", "20", "--warmup", "2", "--max-accuracy-drop", "1", "--max-size-ratio", "0.1", "--json", "-q")
	evalJSON = save("eval.json", 0, "eval", mlp, "--data", images, "--labels", labels, "--batch", "64", "--threads", "1",
		"--runs", "20", "--warmup", "2", "--json", "-q")
	return
}

// TestReportFromRealResults merges real results of quantize, compare and
// eval and checks the JSON (schema and figures against independent
// references: file sizes on disk, PyTorch's correct counts), the Markdown,
// and the HTML as headless Chromium renders it.
func TestReportFromRealResults(t *testing.T) {
	dir := t.TempDir()
	qj, cj, ej, cnn, cnnInt8, mlp := reportResults(t, dir)
	if report.QuantizeSchema != quantize.ReportSchema {
		t.Fatalf("report reads %s, quantize writes %s", report.QuantizeSchema, quantize.ReportSchema)
	}
	htmlOut, mdOut, jsonOut := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.md"), filepath.Join(dir, "r.json")
	stdout, errs, code := runCLI(t, false, "report", qj, cj, ej, "-o", htmlOut, "-o", mdOut, "-o", jsonOut)
	if code != ExitGate {
		t.Fatalf("exit %d, want 3 (a gate failed): %s", code, errs)
	}
	if !strings.Contains(errs, "gate failed: mnist_cnn.int8.onnx: max-size-ratio") || strings.Count(stdout, "wrote ") != 3 {
		t.Errorf("stdout %q stderr %q", stdout, errs)
	}

	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemacheck.Validate("report.schema.json", b); err != nil {
		t.Fatal(err)
	}
	var doc report.Document
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	rows := map[string]report.Row{}
	for _, r := range doc.Models {
		rows[r.Path] = r
	}
	if len(doc.Models) != 3 || len(doc.Sources) != 3 {
		t.Fatalf("%d rows from %d sources, want 3 and 3: %+v", len(doc.Models), len(doc.Sources), doc.Models)
	}
	base, q, m := rows[cnn], rows[cnnInt8], rows[mlp]
	// Sizes: the files on disk.
	for _, c := range []struct {
		r    report.Row
		path string
	}{{base, cnn}, {q, cnnInt8}, {m, mlp}} {
		st, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if c.r.SizeBytes == nil || *c.r.SizeBytes != st.Size() || c.r.GzipBytes == nil || c.r.Parameters == nil {
			t.Errorf("%s: size %v gzip %v parameters %v, file has %d bytes", c.path, c.r.SizeBytes, c.r.GzipBytes, c.r.Parameters, st.Size())
		}
	}
	// Accuracy: PyTorch's count for the float models.
	for _, c := range []struct {
		r    report.Row
		name string
	}{{base, "mnist_cnn"}, {m, "mnist_mlp"}} {
		_, correct := fixture(t, c.name)
		if c.r.Accuracy == nil || *c.r.Accuracy != float64(correct)/10000 || *c.r.Metric != "top1" {
			t.Errorf("%s: accuracy %v, PyTorch counted %d/10000", c.name, c.r.Accuracy, correct)
		}
	}
	// The int8 row's figures come from compare (a measurement) and not
	// from quantize's own speed probe.
	var cmp report.Compare
	cb, _ := os.ReadFile(cj)
	if err := json.Unmarshal(cb, &cmp); err != nil {
		t.Fatal(err)
	}
	cand := cmp.Candidates[0]
	if q.Latency == nil || q.Latency.P50Ms != cand.Latency.P50Ms || q.Latency.P99Ms == nil || *q.Latency.P99Ms != cand.Latency.P99Ms ||
		q.Latency.BatchSize != 64 || q.Speedup == nil || *q.Speedup != *cand.Speedup || q.Against == nil || *q.Against != cnn {
		t.Errorf("int8 row latency %+v speedup %v against %v; compare says %+v, %v", q.Latency, q.Speedup, q.Against, cand.Latency, cand.Speedup)
	}
	if q.Agreement == nil || *q.Agreement < 0.98 || q.AccuracyDrop == nil || *q.AccuracyDrop > 1 {
		t.Errorf("int8 agreement %v drop %v", q.Agreement, q.AccuracyDrop)
	}
	if len(base.Sources) != 2 || len(q.Sources) != 2 || len(m.Sources) != 1 || base.Role != "baseline" || m.Role != "model" {
		t.Errorf("sources %v %v %v roles %s %s", base.Sources, q.Sources, m.Sources, base.Role, m.Role)
	}
	// The MLP was only evaluated: nothing against a baseline.
	if m.Agreement != nil || m.Speedup != nil || m.AccuracyDrop != nil || m.Passed != nil {
		t.Errorf("eval-only row has comparison figures: %+v", m)
	}
	// Gates: compare's two (size fails) and quantize's budget.
	if len(doc.Gates) != 3 || doc.Passed || q.Passed == nil || *q.Passed {
		t.Fatalf("gates %+v passed %v", doc.Gates, doc.Passed)
	}
	failed := 0
	for _, g := range doc.Gates {
		if !g.Passed {
			failed++
			if g.Gate != "max-size-ratio" || g.Model != cnnInt8 {
				t.Errorf("failed gate %+v", g)
			}
		}
	}
	// In the order of the inputs: quantize's first.
	if failed != 1 || doc.Gates[0].Gate != "max-accuracy-drop" || doc.Sources[doc.Gates[0].Source].Schema != "shrink.quantize/v1" {
		t.Errorf("gates %+v", doc.Gates)
	}
	// quantize's nodes table: one row per node of its JSON.
	var qd quantize.Report
	qb, _ := os.ReadFile(qj)
	if err := json.Unmarshal(qb, &qd); err != nil {
		t.Fatal(err)
	}
	if len(doc.Tables) != 1 || doc.Tables[0].Kind != "quantize.nodes" || len(doc.Tables[0].Rows) != len(qd.Nodes) || len(qd.Nodes) == 0 ||
		doc.Tables[0].Rows[0][1] != qd.Nodes[0].Name {
		t.Errorf("tables %+v; quantize has %d nodes", doc.Tables, len(qd.Nodes))
	}
	if doc.Pareto == nil || doc.Pareto.Metric != "top1" || doc.Pareto.BatchSize != 64 || doc.Pareto.Models != 3 {
		t.Errorf("pareto %+v", doc.Pareto)
	}
	front := 0
	for _, r := range doc.Models {
		if r.ParetoFront {
			front++
		}
	}
	if front == 0 {
		t.Error("no model on the Pareto front")
	}

	t.Run("markdown", func(t *testing.T) { checkReportMarkdown(t, mdOut, doc) })
	t.Run("chromium", func(t *testing.T) { checkReportHTML(t, htmlOut, doc) })

	// --details adds the per-layer table; --exit-zero exits 0.
	out, errs, code := runCLI(t, false, "report", qj, cj, ej, "-o", "-", "--details", "--exit-zero")
	if code != 0 || !strings.Contains(out, "<details><summary>quantize: nodes of mnist_cnn.int8.onnx") || !strings.Contains(out, qd.Nodes[0].Name) {
		t.Errorf("--details: exit %d %s\n%s", code, errs, out)
	}
}

func checkReportMarkdown(t *testing.T, path string, doc report.Document) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	var table []string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "|") {
			table = append(table, l)
		}
	}
	// Header, separator, three models; no per-layer table without --details.
	if len(table) != 5 {
		t.Fatalf("%d table lines, want 5:\n%s", len(table), md)
	}
	cells := func(l string) []string { return strings.Split(strings.Trim(l, "| "), " | ") }
	head := cells(table[0])
	for _, l := range table {
		if len(cells(l)) != len(head) {
			t.Errorf("ragged row: %s", l)
		}
	}
	col := func(name string) int {
		for i, h := range head {
			if strings.HasPrefix(h, name) {
				return i
			}
		}
		t.Fatalf("no column %q in %v", name, head)
		return -1
	}
	mlpRow := cells(table[4])
	if !strings.Contains(mlpRow[0], "mnist_mlp.onnx") || mlpRow[col("agreement")] != "—" || mlpRow[col("speedup")] != "—" || mlpRow[col("gates")] != "—" {
		t.Errorf("MLP row: %v", mlpRow)
	}
	if cells(table[3])[col("gates")] != "❌ failed" || !strings.Contains(md, "❌ **1 of 3 gates failed.**") ||
		!strings.Contains(md, "- ✅ `mnist_cnn.int8.onnx` max-accuracy-drop") || strings.Contains(md, "<details>") {
		t.Errorf("markdown:\n%s", md)
	}
	if strings.Contains(md, "| 0 |") || strings.Contains(md, " 0.00% ") {
		t.Errorf("a missing figure printed as 0:\n%s", md)
	}
}

// chromium finds headless Chromium: $SHRINK_CHROMIUM, else chromium or
// chromium-browser on PATH. make test's set-up and .ci/run install it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SHRINK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: apt-get install chromium (make test's set-up and .ci/run install it)")
	return ""
}

// runChromium runs headless Chromium on a file with no network: in a
// fresh network namespace where unshare allows it, and with every host
// name unresolvable in any case.
func runChromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := chromium(t)
	ud := t.TempDir()
	full := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--host-resolver-rules=MAP * ~NOTFOUND", "--user-data-dir=" + ud}, args...)
	name := bin
	if exec.Command("unshare", "-n", "true").Run() == nil {
		name, full = "unshare", append([]string{"-n", bin}, full...)
	}
	var out, errb bytes.Buffer
	c := exec.Command(name, full...)
	c.Stdout, c.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v\n%s", bin, err, tail(errb.String(), 2000))
		}
	case <-time.After(90 * time.Second):
		c.Process.Kill()
		t.Fatalf("%s did not finish in 90 s", bin)
	}
	return out.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func checkReportHTML(t *testing.T, path string, doc report.Document) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	// Self-contained: no script, stylesheet, image, font or frame from
	// anywhere; the only URLs are the SVG namespaces.
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "@import", "url(", "src="} {
		if strings.Contains(page, bad) {
			t.Errorf("the HTML has %q", bad)
		}
	}
	for _, u := range regexp.MustCompile(`https?://[^"'\s)]+`).FindAllString(page, -1) {
		if u != "http://www.w3.org/2000/svg" && u != "http://www.w3.org/1999/xlink" {
			t.Errorf("the HTML refers to %s", u)
		}
	}
	abs, _ := filepath.Abs(path)
	dom := string(runChromium(t, "--dump-dom", "file://"+abs))
	models := section(t, dom, `<table id="models">`, `</table>`)
	if n := strings.Count(models, "<tr"); n != 1+len(doc.Models) {
		t.Errorf("rendered models table has %d rows, want %d", n, 1+len(doc.Models))
	}
	for _, r := range doc.Models {
		if !strings.Contains(models, ">"+r.Name) {
			t.Errorf("rendered table lacks %s", r.Name)
		}
	}
	for _, id := range []string{"accuracy-size", "pareto", "latency"} {
		fig := section(t, dom, `<figure class="chart" id="chart-`+id+`"`, `</figure>`)
		if !strings.Contains(fig, "<svg") || strings.Count(fig, "<path") < 10 {
			t.Errorf("chart %s: no SVG or too few paths:\n%.300s", id, fig)
		}
		if id == "latency" {
			continue
		}
		// Every model is a labelled point of the accuracy charts.
		for _, r := range doc.Models {
			if !regexp.MustCompile(`<text[^>]*>` + regexp.QuoteMeta(r.Name) + `</text>`).MatchString(fig) {
				t.Errorf("chart %s has no point labelled %s", id, r.Name)
			}
		}
	}

	shot := filepath.Join(t.TempDir(), "report.png")
	const w, h = 1280, 1500
	runChromium(t, "--screenshot="+shot, fmt.Sprintf("--window-size=%d,%d", w, h), "--hide-scrollbars", "file://"+abs)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Fatalf("screenshot is %v, want %dx%d", img.Bounds(), w, h)
	}
	white, red, blue, orange := countPixels(img)
	total := w * h
	t.Logf("screenshot %s: %dx%d, %.1f%% non-white, %d Pareto-front red, %d blue, %d orange pixels", shot, w, h, 100*float64(total-white)/float64(total), red, blue, orange)
	if white > total*98/100 {
		t.Errorf("screenshot is blank: %d of %d pixels white", white, total)
	}
	// The charts are drawn: front points in red, points and p50 bars in
	// blue, p99 bars in orange.
	if red < 50 || blue < 200 || orange < 200 {
		t.Errorf("chart colours missing from the screenshot: red %d blue %d orange %d", red, blue, orange)
	}
	if dst := os.Getenv("SHRINK_REPORT_SCREENSHOT"); dst != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(dst, b, 0o644)
	}
}

func section(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("rendered page lacks %s", start)
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		t.Fatalf("rendered page: %s not closed", start)
	}
	return s[i : i+j]
}

// countPixels counts white pixels and those of the charts' colours.
func countPixels(img image.Image) (white, red, blue, orange int) {
	near := func(r, g, b uint32, R, G, B int) bool {
		d := func(a uint32, c int) bool { x := int(a>>8) - c; return x > -12 && x < 12 }
		return d(r, R) && d(g, G) && d(b, B)
	}
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			switch {
			case r>>8 > 250 && g>>8 > 250 && b>>8 > 250:
				white++
			case near(r, g, b, 0xd6, 0x27, 0x28):
				red++
			case near(r, g, b, 0x1f, 0x77, 0xb4):
				blue++
			case near(r, g, b, 0xff, 0x7f, 0x0e):
				orange++
			}
		}
	}
	return
}

// TestReportBadInputs: each bad result is one stderr line naming the file,
// exit 1, and no output file.
func TestReportBadInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"schema": "shrink.eval/v1", "tool": "t", "data": {"path": "x.npy", "labels": "", "has_labels": false, "samples": 1, "batch_size": 1},
 "model": {"name": "a.onnx", "path": "a.onnx", "output": "y", "accuracy": null, "latency": null, "size": null}, "elapsed_s": 0.1}`)
	cases := []struct{ name, body, want string }{
		{"unknown.json", `{"schema": "shrink.nope/v9"}`, `unknown schema "shrink.nope/v9" (shrink report reads shrink.compare/v1, shrink.eval/v1, shrink.quantize/v1)`},
		{"truncated.json", `{"schema": "shrink.compare/v1", "baseline": {"path": "a.onnx", "lat`, "truncated JSON"},
		{"types.json", `{"schema": "shrink.compare/v1", "baseline": {"path": "a.onnx", "latency": {"p50_ms": "fast"}}}`, "baseline.latency.p50_ms: want a number, got string"},
		{"types2.json", `{"schema": "shrink.quantize/v1", "input": "a.onnx", "output": "b.onnx", "nodes": {}}`, "nodes: want an array, got object"},
		{"schematype.json", `{"schema": 7}`, "schema: want a string, got 7"},
		{"noschema.json", `{"models": []}`, `no "schema" field`},
		{"array.json", `[1, 2]`, "not a JSON object"},
		{"empty.json", ``, "empty file"},
		{"garbage.json", `{"schema": "shrink.eval/v1",, }`, "not valid JSON at byte"},
		{"nobase.json", `{"schema": "shrink.compare/v1", "candidates": []}`, "baseline: no path or name"},
		{"badgate.json", `{"schema": "shrink.compare/v1", "baseline": {"path": "a.onnx"}, "candidates": [], "gates": [{"gate": "min-speedup", "candidate_index": 2}]}`, "gates[0].candidate_index: 2"},
	}
	for _, c := range cases {
		p := write(c.name, c.body)
		out := filepath.Join(dir, "out-"+strings.TrimSuffix(c.name, ".json")+".html")
		stdout, errs, code := runCLI(t, false, "report", good, p, "-o", out)
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, p+": ") || !strings.Contains(errs, c.want) || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and one line with %q", c.name, code, stdout, errs, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: output written", c.name)
		}
	}
	missing := filepath.Join(dir, "missing.json")
	if _, errs, code := runCLI(t, false, "report", missing, "-o", filepath.Join(dir, "m.md")); code != 1 || !strings.Contains(errs, missing) {
		t.Errorf("missing file: exit %d %q", code, errs)
	}

	// An existing output is kept without --force (checked before reading),
	// replaced with it.
	out := write("keep.md", "keep")
	if _, errs, code := runCLI(t, false, "report", good, "-o", out); code != 1 || !strings.Contains(errs, "--force") {
		t.Errorf("existing output: exit %d %q", code, errs)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep" {
		t.Errorf("existing output changed to %q", b)
	}
	if _, errs, code := runCLI(t, false, "report", good, "-o", out, "--force"); code != 0 {
		t.Errorf("--force: exit %d %q", code, errs)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "`a.onnx`") {
		t.Errorf("forced output:\n%s", b)
	}
	// Several outputs, one refused: none written.
	fresh := filepath.Join(dir, "fresh.html")
	if _, _, code := runCLI(t, false, "report", good, "-o", fresh, "-o", out); code != 1 {
		t.Errorf("one existing output of two: exit %d", code)
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Error("the other output was written")
	}

	for _, args := range [][]string{
		{"report", good},
		{"report", "-o", "x.md"},
		{"report", good, "-o", filepath.Join(dir, "x.txt")},
		{"report", good, "-o", filepath.Join(dir, "x.md"), "--format", "xml"},
		{"report", good, "-o", filepath.Join(dir, "x.md"), "-o", filepath.Join(dir, "y.md"), "--format", "md"},
		{"report", good, "-o", good, "--force"},
		{"report", good, "-o", "-", "-o", "-"},
	} {
		_, errs, code := runCLI(t, false, args...)
		if code != 2 || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, want 2 (%q)", args, code, errs)
		}
	}
	// -o - writes Markdown to stdout; --format json the merged document.
	out2, _, code := runCLI(t, false, "report", good, "-o", "-", "--format", "json")
	if code != 0 {
		t.Fatalf("-o - --format json: exit %d", code)
	}
	if err := schemacheck.Validate("report.schema.json", []byte(out2)); err != nil {
		t.Error(err)
	}
	if !strings.Contains(out2, `"accuracy": null`) || !strings.Contains(out2, `"latency": null`) {
		t.Errorf("missing figures not null:\n%s", out2)
	}
}
