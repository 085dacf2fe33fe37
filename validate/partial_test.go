package validate

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
)

// batchesOf reads a memSource into a dataset.Batches source (one that can
// be sharded).
func batchesOf(t *testing.T, s *memSource) dataset.Source {
	t.Helper()
	var bs []*dataset.Batch
	for {
		b, err := s.Next(context.Background())
		if err == io.EOF {
			return dataset.Batches(bs...)
		}
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
}

// runShards evaluates every shard of n and merges their Partials in order.
func runShards(t *testing.T, models []Subject, src dataset.Source, o Options, n int) (*Evaluation, []*Evaluation) {
	t.Helper()
	var parts []*Evaluation
	var merged *Partial
	for i := 0; i < n; i++ {
		o.Shard = dataset.Shard{Index: i, Count: n}
		ev, err := Run(context.Background(), models, src, o)
		if err != nil {
			t.Fatalf("shard %d/%d: %v", i, n, err)
		}
		if ev.Shard == nil || ev.Shard.Shard != o.Shard || int(ev.Partial.Samples) != ev.Shard.Samples() || ev.Samples != ev.Shard.Samples() {
			t.Fatalf("shard %d/%d: range %+v, %d samples", i, n, ev.Shard, ev.Samples)
		}
		parts = append(parts, ev)
		if merged == nil {
			merged = ev.Partial.clone(nil)
		} else if err := merged.Merge(ev.Partial); err != nil {
			t.Fatalf("merging shard %d/%d: %v", i, n, err)
		}
	}
	res, err := merged.Result()
	if err != nil {
		t.Fatal(err)
	}
	return res, parts
}

// sameFigures checks a merged evaluation against the unsharded one:
// counts, accuracies, agreement and the largest difference exactly, float
// sums to 1e-12 relative.
func sameFigures(t *testing.T, what string, got, want *Evaluation) {
	t.Helper()
	if got.Samples != want.Samples || got.BatchSize != want.BatchSize || got.Labels != want.Labels || got.Metric != want.Metric {
		t.Fatalf("%s: %d samples (batch %d, labels %v, %s), want %d (batch %d, labels %v, %s)", what,
			got.Samples, got.BatchSize, got.Labels, got.Metric, want.Samples, want.BatchSize, want.Labels, want.Metric)
	}
	for i := range want.Models {
		g, w := got.Models[i], want.Models[i]
		if g.NonFinite != w.NonFinite || (g.Accuracy == nil) != (w.Accuracy == nil) {
			t.Fatalf("%s: model %d: %+v, want %+v", what, i, g, w)
		}
		if a, b := g.Accuracy, w.Accuracy; a != nil {
			if a.Samples != b.Samples || a.Top1Correct != b.Top1Correct || a.Top5Correct != b.Top5Correct || a.Top1 != b.Top1 || a.Top5 != b.Top5 ||
				!near(a.MSE, b.MSE, 1e-12) || !near(a.MAE, b.MAE, 1e-12) || !near(a.Value, b.Value, 1e-12) {
				t.Errorf("%s: model %d accuracy %+v, want %+v", what, i, a, b)
			}
			if b.Task != nil && (a.Task == nil || a.Value != b.Value || len(a.Task.Figures) != len(b.Task.Figures)) {
				t.Errorf("%s: model %d task %+v, want %+v", what, i, a.Task, b.Task)
			}
		}
	}
	for i := range want.Candidates {
		g, w := got.Candidates[i], want.Candidates[i]
		gf, wf := g.Fidelity, w.Fidelity
		if gf.Samples != wf.Samples || gf.Positions != wf.Positions || gf.ClassAxis != wf.ClassAxis || gf.Agreement != wf.Agreement || gf.MaxAbsDiff != wf.MaxAbsDiff {
			t.Errorf("%s: candidate %d fidelity %+v, want %+v", what, i, gf, wf)
		}
		for _, f := range [][2]float64{{gf.Cosine, wf.Cosine}, {gf.SQNR, wf.SQNR}, {gf.KL, wf.KL}, {gf.MSE, wf.MSE}, {gf.MAE, wf.MAE}} {
			if !near(f[0], f[1], 1e-12) {
				t.Errorf("%s: candidate %d fidelity %+v, want %+v (1e-12)", what, i, gf, wf)
				break
			}
		}
		if g.AccuracyDrop != w.AccuracyDrop && !(math.IsNaN(g.AccuracyDrop) && math.IsNaN(w.AccuracyDrop)) {
			t.Errorf("%s: candidate %d drop %v, want %v", what, i, g.AccuracyDrop, w.AccuracyDrop)
		}
		if len(g.Outputs) != len(w.Outputs) || !near(g.MinSQNR, w.MinSQNR, 1e-12) {
			t.Errorf("%s: candidate %d outputs %+v, want %+v", what, i, g.Outputs, w.Outputs)
		}
		for k := range g.Outputs {
			if g.Outputs[k].Name != w.Outputs[k].Name || !near(g.Outputs[k].SQNR, w.Outputs[k].SQNR, 1e-12) {
				t.Errorf("%s: candidate %d output %+v, want %+v", what, i, g.Outputs[k], w.Outputs[k])
			}
		}
	}
}

// TestShardsMergeToTheWholeRun: a baseline and a perturbed candidate over
// 300 samples in 10 batches, sharded 1, 3, 4 and 13 ways (three more
// shards than batches: empty ones); the merged Partials give the
// unsharded run's counts and accuracies exactly and its float figures to
// 1e-12; latency comes from the first shard that timed, the speedup from
// every shard's pairs.
func TestShardsMergeToTheWholeRun(t *testing.T) {
	const n = 300
	f := newFixture(t, n)
	r := rand.New(rand.NewPCG(3, 4))
	w2 := append([]float32(nil), f.w...)
	for i := range w2 {
		w2[i] += float32(r.NormFloat64() * 0.3)
	}
	models := []Subject{f.base, {Name: "cand", Model: linearModel(t, w2, f.b, in, classes)}}
	src := batchesOf(t, &memSource{x: f.x, width: in, labels: f.labels, batch: 32})
	o := Options{Threads: 1, Warmup: 1, Runs: 3}
	whole, err := Run(context.Background(), models, src, o)
	if err != nil {
		t.Fatal(err)
	}
	if a := whole.Models[1].Accuracy; a.Top1Correct == whole.Models[0].Accuracy.Top1Correct || whole.Candidates[0].Fidelity.Agreement == 1 {
		t.Fatalf("the candidate should differ: %+v", a)
	}
	for _, shards := range []int{1, 3, 4, 13} {
		merged, parts := runShards(t, models, src, o, shards)
		sameFigures(t, "top1", merged, whole)
		empty := 0
		for i, p := range parts {
			if p.Shard.Empty() {
				empty++
				if p.Samples != 0 || p.Models[0].Latency != nil || p.Models[0].Accuracy != nil {
					t.Errorf("%d/%d: empty shard %+v", i, shards, p.Models[0])
				}
			}
		}
		if empty != max(0, shards-10) {
			t.Errorf("%d shards: %d empty, want %d", shards, empty, max(0, shards-10))
		}
		first := parts[0]
		for _, p := range parts {
			if !p.Shard.Empty() {
				first = p
				break
			}
		}
		if l := merged.Models[1].Latency; l == nil || *l != *first.Models[1].Latency || len(merged.Partial.Timings) != shards-empty {
			t.Errorf("%d shards: latency %+v, want the first shard's %+v", shards, l, first.Models[1].Latency)
		}
		if s := merged.Candidates[0].Speedup; !(s > 0) {
			t.Errorf("%d shards: speedup %v", shards, s)
		}
	}

	// MSE against the labels, and a plug-in task metric, merge the same way.
	o.Metric, o.Runs = MSE, 0
	src.Reset() // Run reads from the current position
	whole, err = Run(context.Background(), models, src, o)
	if err != nil {
		t.Fatal(err)
	}
	merged, _ := runShards(t, models, src, o, 4)
	sameFigures(t, "mse", merged, whole)
	if merged.Models[0].Latency != nil || !(whole.Models[0].Accuracy.MSE > 0) {
		t.Errorf("mse: latency %+v, mse %v", merged.Models[0].Latency, whole.Models[0].Accuracy.MSE)
	}
	task := &Task{Metric: "plug-in", References: n, NewScorer: func() Scorer { return &top1Scorer{refs: f.labels} }, Summarize: summarizeTop1}
	o = Options{Task: task}
	nolabels := batchesOf(t, &memSource{x: f.x, width: in, batch: 32})
	whole, err = Run(context.Background(), models, nolabels, o)
	if err != nil {
		t.Fatal(err)
	}
	merged, _ = runShards(t, models, nolabels, o, 3)
	sameFigures(t, "task", merged, whole)
}

func TestPartialMergeRefusesOtherRuns(t *testing.T) {
	f := newFixture(t, 64)
	src := batchesOf(t, &memSource{x: f.x, width: in, labels: f.labels, batch: 16})
	run := func(o Options, models ...Subject) *Partial {
		ev, err := Run(context.Background(), models, src, o)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Partial
	}
	base := run(Options{Shard: dataset.Shard{Index: 0, Count: 2}}, f.base, f.base)
	for _, c := range []struct {
		other *Partial
		want  string
	}{
		{run(Options{Shard: dataset.Shard{Index: 1, Count: 2}}, f.base), "1 models here, 2 in the other part"},
		{run(Options{Shard: dataset.Shard{Index: 1, Count: 2}}, f.base, Subject{Name: "other", Model: f.base.Model}), "model 1 is other"},
		{run(Options{Shard: dataset.Shard{Index: 1, Count: 2}, Metric: MSE}, f.base, f.base), `metric "mse"`},
		{run(Options{Shard: dataset.Shard{Index: 1, Count: 2}, Tensors: []string{"y", "xw"}}, f.base, f.base), "compared tensors"},
	} {
		if err := base.clone(nil).Merge(c.other); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("merge: %v, want %q", err, c.want)
		}
	}
	// The largest difference of the parts is the larger one; NaN wins.
	a, b := &Fidelity{Samples: 1, Width: 2, MaxAbs: 1}, &Fidelity{Samples: 1, Width: 2, MaxAbs: 3}
	if err := a.Merge(b); err != nil || a.MaxAbs != 3 || a.Samples != 2 {
		t.Errorf("max abs %v (%v)", a.MaxAbs, err)
	}
	b.MaxAbs = math.NaN()
	if a.Merge(b); !math.IsNaN(a.MaxAbs) {
		t.Errorf("max abs %v, want NaN", a.MaxAbs)
	}
	if a.Merge(&Fidelity{Samples: 1, Width: 2, MaxAbs: 9}); !math.IsNaN(a.MaxAbs) {
		t.Errorf("max abs %v after NaN, want NaN", a.MaxAbs)
	}
	if err := a.Merge(&Fidelity{Samples: 1, Width: 3}); err == nil || !strings.Contains(err.Error(), "3 values per sample") {
		t.Errorf("other width: %v", err)
	}
}
