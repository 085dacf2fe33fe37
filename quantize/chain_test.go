package quantize

import (
	"context"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
)

// A recipe-like chain built in Go: a "recipe" phase, a "quantize" step
// whose phase is the transform's Env.Progress, then a "validate" step
// comparing the float and int8 models. Every phase nests under the step
// that ran it, in order, and counts its items (samples, timed runs).
func TestRecipeChainProgress(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m := fixture(t, "mnist_mlp.onnx")
	val := mnistSource(t, 0, 300, 100)
	rec := &progress.Recorder{}
	recipe := progress.New(rec).Phase("recipe", 2)

	step := recipe.Phase("quantize", 0)
	qm, rep, err := Quantize(ctx, m, Options{Calib: trainSource(t, 128, 64), SpeedAware: true,
		Env: transform.Env{Threads: 1, Progress: step, Val: val, Budget: []validate.Gate{{Kind: validate.MinAgreement, Limit: 0.9}}}})
	if err != nil {
		t.Fatal(err)
	}
	step.Done()
	recipe.Add(1)
	if !rep.Accuracy.Met || rep.Accuracy.Tries != 1 {
		t.Fatalf("the budget should hold at once: %+v", *rep.Accuracy)
	}

	step = recipe.Phase("validate", 0)
	ev, err := validate.Run(ctx, []validate.Subject{{Name: "float", Model: m}, {Name: "int8", Model: qm}}, val,
		validate.Options{Threads: 1, Warmup: 1, Runs: 5, Progress: step})
	if err != nil {
		t.Fatal(err)
	}
	step.Done()
	recipe.Add(1)
	recipe.Done()

	want := []string{
		"recipe",
		"recipe › quantize",
		"recipe › quantize › calibrating ",
		"recipe › quantize › profiling float and int8 models",
		"recipe › quantize › profiling float and int8 models › latency",
		"recipe › quantize › measuring accuracy",
		"recipe › quantize › measuring accuracy › evaluate",
		"recipe › quantize › measuring output SQNR",
		"recipe › quantize › measuring output SQNR › evaluate",
		"recipe › validate",
		"recipe › validate › evaluate",
		"recipe › validate › latency",
	}
	got := rec.Phases()
	if len(got) != len(want) {
		t.Fatalf("phases:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) || (!strings.HasSuffix(want[i], " ") && got[i] != want[i]) {
			t.Fatalf("phase %d is %q, want %q; all:\n%s", i, got[i], want[i], strings.Join(got, "\n"))
		}
	}
	counts := []struct {
		path        string
		done, total int64
	}{
		{"recipe", 2, 2},
		{got[2], 128, 128},
		{"recipe › quantize › measuring accuracy › evaluate", 300, 300},
		{"recipe › quantize › measuring output SQNR › evaluate", 256, 256},
		{"recipe › validate › evaluate", 300, 300},
		{"recipe › validate › latency", 2 * (1 + 5), 2 * (1 + 5)},
	}
	for _, c := range counts {
		e, ok := rec.Ended(c.path)
		if !ok || e.Done != c.done || e.Total != c.total {
			t.Errorf("%s: ended %v with %d of %d, want %d of %d", c.path, ok, e.Done, e.Total, c.done, c.total)
		}
	}
	if l, ok := rec.Ended("recipe › quantize › profiling float and int8 models › latency"); !ok || l.Done != int64(3*(3+rep.Speed.Runs)) && l.Done != int64(2*(3+rep.Speed.Runs)) {
		t.Errorf("speed timing counted %d rounds×models (%d runs)", l.Done, rep.Speed.Runs)
	}
	if ev.Samples != 300 || rep.OutputsOn.Samples != 256 {
		t.Errorf("validate saw %d samples, the report's SQNR %d", ev.Samples, rep.OutputsOn.Samples)
	}
	// Every phase ended, children before their parents.
	ended := map[string]bool{}
	for _, e := range rec.Events {
		if e.Kind != progress.End {
			continue
		}
		p := progress.JoinPath(e.Path)
		for _, child := range got {
			if strings.HasPrefix(child, p+" › ") && !ended[child] {
				t.Errorf("%q ended before its child %q", p, child)
			}
		}
		ended[p] = true
	}
	for _, p := range got {
		if !ended[p] {
			t.Errorf("phase %q never ended", p)
		}
	}
}
