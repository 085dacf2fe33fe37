package cmd

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/report"
)

// writeResult runs shrink with --json and keeps stdout in dir/name,
// checked against the schema.
func writeResult(t *testing.T, dir, name, schema string, args ...string) (string, string) {
	t.Helper()
	out, errs, code := runCLI(t, false, append(args, "--json", "-q")...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	if err := schemacheck.Validate(schema, []byte(out)); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, out
}

// relNear reports whether two optional figures agree to rel relative
// (both null counts as agreeing).
func relNear(a, b *float64, rel float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) <= rel*math.Max(math.Abs(*a), math.Abs(*b))
}

func same[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// TestShardedCompareMergesExactly: the CNN against the MLP on the 10,000
// MNIST test images, compared whole and as 4 shards merged by shrink
// report. The merged counts, accuracies, agreement, largest difference,
// accuracy drop and gates equal the unsharded run's exactly (and the
// PyTorch counts); the SQNR, cosine, KL, MSE and MAE agree to 1e-12.
func TestShardedCompareMergesExactly(t *testing.T) {
	cnn, cnnCorrect := fixture(t, "mnist_cnn")
	mlp, mlpCorrect := fixture(t, "mnist_mlp")
	dir := t.TempDir()
	images, labels := mnistNpy(t, dir)
	args := []string{"compare", cnn, mlp, "--data", images, "--labels", labels, "--batch", "250", "--runs", "3", "--warmup", "1",
		"--max-accuracy-drop", "1", "--min-agreement", "0.95", "--min-sqnr", "1"}
	_, out := writeResult(t, dir, "whole.json", "compare.schema.json", args...)
	var whole report.Compare
	if err := json.Unmarshal([]byte(out), &whole); err != nil {
		t.Fatal(err)
	}
	if whole.Shard != nil || whole.Partial != nil || strings.Contains(out, `"partial"`) {
		t.Error("an unsharded result carries shard fields")
	}
	var shards []string
	for i := 0; i < 4; i++ {
		p, out := writeResult(t, dir, fmt.Sprintf("s%d.json", i), "compare.schema.json", append(args, "--shard", fmt.Sprintf("%d/4", i))...)
		var d report.Compare
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		// 40 batches of 250: 10 per shard.
		if s := d.Shard; s == nil || s.Index != i || s.Count != 4 || s.FirstBatch != 10*i || s.EndBatch != 10*i+10 || s.FirstSample != 2500*i ||
			s.TotalSamples != 10000 || s.Empty || !strings.HasPrefix(s.Fingerprint, "sha256:") || d.Data.Samples != 2500 || d.Partial == nil {
			t.Fatalf("shard %d: %+v, %d samples", i, d.Shard, d.Data.Samples)
		}
		shards = append(shards, p)
	}
	merged := filepath.Join(dir, "merged.json")
	_, errs, code := runCLI(t, false, append([]string{"report", "-o", merged}, shards...)...)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, errs)
	}
	raw, err := os.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemacheck.Validate("report.schema.json", raw); err != nil {
		t.Fatal(err)
	}
	var doc report.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Shards) != 1 || doc.Shards[0].Count != 4 || doc.Shards[0].Samples != 10000 || len(doc.Shards[0].Sources) != 4 || len(doc.Models) != 2 {
		t.Fatalf("shards %+v, %d rows", doc.Shards, len(doc.Models))
	}
	if err := schemacheck.Validate("compare.schema.json", doc.Shards[0].Result); err != nil {
		t.Fatal(err)
	}
	var got report.Compare
	if err := json.Unmarshal(doc.Shards[0].Result, &got); err != nil {
		t.Fatal(err)
	}
	for i, pair := range [][2]report.Model{{got.Baseline, whole.Baseline}, {got.Candidates[0].Model, whole.Candidates[0].Model}} {
		g, w := pair[0].Accuracy, pair[1].Accuracy
		if g == nil || w == nil || g.Samples != 10000 || g.Samples != w.Samples || !same(g.Top1Correct, w.Top1Correct) || !same(g.Top5Correct, w.Top5Correct) ||
			!same(g.Value, w.Value) || !same(g.Top1, w.Top1) || !same(g.Top5, w.Top5) {
			t.Errorf("model %d: merged accuracy %+v, unsharded %+v", i, g, w)
		}
		if want := []int{cnnCorrect, mlpCorrect}[i]; *g.Top1Correct != int64(want) {
			t.Errorf("model %d: %d correct, PyTorch %d", i, *g.Top1Correct, want)
		}
		if pair[0].Size == nil || pair[0].Size.SHA256 != pair[1].Size.SHA256 || pair[0].Size.TotalBytes != pair[1].Size.TotalBytes {
			t.Errorf("model %d: size %+v", i, pair[0].Size)
		}
	}
	gc, wc := got.Candidates[0], whole.Candidates[0]
	gf, wf := gc.Fidelity, wc.Fidelity
	t.Logf("merged: agreement %v, SQNR %v dB (unsharded %v), KL %v", *gf.Agreement, *gf.SQNRdB, *wf.SQNRdB, *gf.KL)
	if gf.Samples != wf.Samples || gf.Positions != wf.Positions || !same(gf.Agreement, wf.Agreement) || !same(gf.MaxAbsDiff, wf.MaxAbsDiff) ||
		!same(gc.AccuracyDrop, wc.AccuracyDrop) || !same(gc.SizeRatio, wc.SizeRatio) || *gf.Agreement >= 1 || gf.SQNRInfinite {
		t.Errorf("fidelity %+v drop %v, unsharded %+v drop %v", gf, *gc.AccuracyDrop, wf, *wc.AccuracyDrop)
	}
	for _, f := range [][2]*float64{{gf.SQNRdB, wf.SQNRdB}, {gf.Cosine, wf.Cosine}, {gf.KL, wf.KL}, {gf.MSE, wf.MSE}, {gf.MAE, wf.MAE}} {
		if !relNear(f[0], f[1], 1e-12) {
			t.Errorf("float figure %v, unsharded %v (1e-12 relative)", *f[0], *f[1])
		}
	}
	if len(got.Gates) != 3 || got.Passed != whole.Passed {
		t.Fatalf("gates %+v", got.Gates)
	}
	for i, g := range got.Gates {
		if w := whole.Gates[i]; g.Gate != w.Gate || g.Passed != w.Passed || (g.Gate != "min-sqnr" && !same(g.Figure, w.Figure)) || !relNear(g.Figure, w.Figure, 1e-12) {
			t.Errorf("gate %+v, unsharded %+v", g, w)
		}
	}
	// The report's rows: the merged accuracy and agreement; latency from
	// shard 0, every shard's in the shards.latency table.
	base := doc.Models[0]
	if *base.Accuracy != *whole.Baseline.Accuracy.Value || *doc.Models[1].Agreement != *wf.Agreement || base.Latency == nil ||
		base.Latency.Source != doc.Shards[0].Sources[0] || len(base.Sources) != 4 {
		t.Errorf("row %+v", base)
	}
	var lat *report.Table
	for i := range doc.Tables {
		if doc.Tables[i].Kind == "shards.latency" {
			lat = &doc.Tables[i]
		}
	}
	if lat == nil || len(lat.Rows) != 8 {
		t.Fatalf("latency table %+v", lat)
	}

	// What does not merge: one line naming the file, exit 1, no output.
	tamper := func(name string, edit func(d map[string]any)) string {
		var d map[string]any
		b, _ := os.ReadFile(shards[1])
		json.Unmarshal(b, &d)
		edit(d)
		b, _ = json.Marshal(d)
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	other := tamper("other-data.json", func(d map[string]any) { d["shard"].(map[string]any)["data_fingerprint"] = "sha256:0123" })
	five := tamper("five.json", func(d map[string]any) { d["shard"].(map[string]any)["count"] = 5.0 })
	model := tamper("model.json", func(d map[string]any) {
		d["candidates"].([]any)[0].(map[string]any)["size"].(map[string]any)["sha256"] = "sha256:" + strings.Repeat("0", 64)
	})
	dup := tamper("dup.json", func(map[string]any) {})
	for _, c := range []struct {
		files []string
		want  string
	}{
		{[]string{shards[0], shards[1], shards[3]}, shards[0] + ": shard 2 of 4 missing"},
		{[]string{shards[0], shards[1], dup, shards[2], shards[3]}, dup + ": shard 1/4 again (also " + shards[1] + ")"},
		{[]string{shards[0], other, shards[2], shards[3]}, other + ": shard 1/4 is of other data than " + shards[0]},
		{[]string{shards[0], five, shards[2], shards[3]}, five + ": shard 1/5, but " + shards[0] + " is shard 0/4"},
		{[]string{shards[0], model, shards[2], shards[3]}, model + ": shard 1/4 measured another " + mlp},
	} {
		out := filepath.Join(dir, "bad.md")
		_, errs, code := runCLI(t, false, append([]string{"report", "-o", out}, c.files...)...)
		if code != 1 || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, c.want) {
			t.Errorf("exit %d, stderr %q; want 1 and %q", code, errs, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s written", out)
		}
	}
}

// TestShardedEvalEmptyShard: 2 batches in 3 shards leave shard 0 empty:
// flagged, not an error; the merge equals the unsharded count. Bad
// --shard values are usage errors naming the valid range.
func TestShardedEvalEmptyShard(t *testing.T) {
	model, _ := fixture(t, "mnist_mlp")
	dir := t.TempDir()
	images, labels := mnistNpy(t, dir)
	args := []string{"eval", model, "--data", images, "--labels", labels, "--limit", "1000", "--batch", "500"}
	_, out := writeResult(t, dir, "whole.json", "eval.schema.json", args...)
	var whole report.Eval
	json.Unmarshal([]byte(out), &whole)
	var files []string
	for i := 0; i < 3; i++ {
		sh := fmt.Sprintf("%d/3", i)
		if i == 0 {
			stdout, errs, code := runCLI(t, false, append(args, "--shard", sh)...)
			if code != 0 || !strings.Contains(errs, "shard 0/3 has no samples: the data has 2 batches for 3 shards") ||
				!strings.Contains(stdout, "shard      0/3: batches 0..0 of 2, samples 0..0 of 1000") {
				t.Errorf("empty shard: exit %d\n%s\n%s", code, stdout, errs)
			}
		}
		p, out := writeResult(t, dir, fmt.Sprintf("e%d.json", i), "eval.schema.json", append(args, "--shard", sh)...)
		var d report.Eval
		json.Unmarshal([]byte(out), &d)
		if (i == 0) != (d.Shard.Empty && d.Data.Samples == 0) {
			t.Errorf("shard %d: %+v", i, d.Shard)
		}
		files = append(files, p)
	}
	md := filepath.Join(dir, "r.json")
	if _, errs, code := runCLI(t, false, append([]string{"report", "-o", md}, files...)...); code != 0 {
		t.Fatalf("report: exit %d %s", code, errs)
	}
	var doc report.Document
	b, _ := os.ReadFile(md)
	json.Unmarshal(b, &doc)
	var got report.Eval
	json.Unmarshal(doc.Shards[0].Result, &got)
	if a, w := got.Model.Accuracy, whole.Model.Accuracy; !same(a.Correct, w.Correct) || a.Samples != 1000 || len(doc.Shards[0].Empty) != 1 ||
		!strings.Contains(strings.Join(doc.Notes, "\n"), "shard 0/3 has no samples") {
		t.Errorf("merged %+v (unsharded %+v), shards %+v, notes %v", a, w, doc.Shards, doc.Notes)
	}
	for _, c := range []struct{ shard, want string }{
		{"3/3", "the index must be in [0, 3)"},
		{"-1/3", "the index must be in [0, 3)"},
		{"0/0", "the shard count must be >= 1"},
		{"1of4", "want i/N"},
		{"", "want i/N"},
	} {
		_, errs, code := runCLI(t, false, "compare", model, model, "--data", images, "--shard", c.shard)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("--shard %q: exit %d, %q; want 2 and %q", c.shard, code, errs, c.want)
		}
	}
}
