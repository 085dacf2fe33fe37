package validate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/shrinkml/shrink/internal/progress"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
)

const in, classes = 6, 5

type fixture struct {
	w, b     []float32
	x        []float32
	labels   []int64
	basePath string
	base     Subject
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	f := &fixture{w: randFloats(r, in*classes, 1), b: randFloats(r, classes, 0.5), x: randFloats(r, n*in, 2)}
	y := forward(f.x, f.w, f.b, in, classes)
	f.labels = make([]int64, n)
	for i := range f.labels {
		// Mostly the reference's argmax, sometimes another class, so
		// accuracy is neither 0 nor 1.
		f.labels[i] = int64(argmax(y[i*classes : (i+1)*classes]))
		if r.IntN(4) == 0 {
			f.labels[i] = int64(r.IntN(classes))
		}
	}
	m := linearModel(t, f.w, f.b, in, classes)
	f.basePath = saveModel(t, m, "base.onnx")
	f.base = Subject{Name: "base.onnx", Path: f.basePath, Model: m}
	return f
}

func TestRunAgainstReference(t *testing.T) {
	const n = 300
	f := newFixture(t, n)
	r := rand.New(rand.NewPCG(9, 10))
	// The candidate: W perturbed, and 80% of its weights zeroed for the
	// size figures.
	w2 := append([]float32(nil), f.w...)
	for i := range w2 {
		w2[i] += float32(r.NormFloat64() * 0.2)
	}
	sparse := append([]float32(nil), w2...)
	zeros := 0
	for i := range sparse {
		if i%5 != 0 {
			sparse[i] = 0
			zeros++
		}
	}
	cm := linearModel(t, sparse, f.b, in, classes)
	candPath := saveModel(t, cm, "cand.onnx")
	src := &memSource{x: f.x, width: in, labels: f.labels, batch: 32}
	rec := &progress.Recorder{}
	rep := progress.New(rec)
	ev, err := Run(context.Background(), []Subject{f.base, {Name: "cand.onnx", Path: candPath, Model: cm}}, src,
		Options{Threads: 1, Warmup: 2, Runs: 7, Progress: rep})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Samples != n || ev.BatchSize != 32 || !ev.Labels || ev.Metric != Top1 {
		t.Fatalf("evaluation %+v", ev)
	}
	if src.nexts != (n+31)/32 {
		t.Errorf("data read %d batches, want one pass of %d", src.nexts, (n+31)/32)
	}

	// Reference figures from the Go forward pass.
	yb := forward(f.x, f.w, f.b, in, classes)
	yc := forward(f.x, sparse, f.b, in, classes)
	var cb, cc Classification
	if err := cb.Add(yb, n, f.labels); err != nil {
		t.Fatal(err)
	}
	if err := cc.Add(yc, n, f.labels); err != nil {
		t.Fatal(err)
	}
	ab, ac := ev.Models[0].Accuracy, ev.Models[1].Accuracy
	if ab.Top1Correct != cb.Top1 || ac.Top1Correct != cc.Top1 || ab.Top5Correct != cb.Top5 || ab.Samples != n {
		t.Errorf("correct counts base %d/%d cand %d, want %d/%d %d", ab.Top1Correct, ab.Top5Correct, ac.Top1Correct, cb.Top1, cb.Top5, cc.Top1)
	}
	if cb.Top1 == n || cc.Top1 == cb.Top1 {
		t.Fatalf("degenerate fixture: base %d, candidate %d correct", cb.Top1, cc.Top1)
	}
	if !near(ab.Value, float64(cb.Top1)/n, 1e-12) {
		t.Errorf("accuracy value %g", ab.Value)
	}
	c := ev.Candidates[0]
	wantDrop := 100 * (float64(cb.Top1) - float64(cc.Top1)) / n
	if !near(c.AccuracyDrop, wantDrop, 1e-9) {
		t.Errorf("accuracy drop %g, want %g", c.AccuracyDrop, wantDrop)
	}
	want := naiveFidelity(yb, yc, n)
	if !near(c.Fidelity.Agreement, want.Agreement, 1e-12) {
		t.Errorf("agreement %g, want %g", c.Fidelity.Agreement, want.Agreement)
	}
	// ORT's float32 GEMM against a float64 reference: loose tolerances.
	if !near(c.Fidelity.SQNR, want.SQNR, 1e-3) || !near(c.Fidelity.KL, want.KL, 1e-3) || !near(c.Fidelity.Cosine, want.Cosine, 1e-5) || !near(c.Fidelity.MaxAbsDiff, want.MaxAbsDiff, 1e-4) {
		t.Errorf("fidelity %+v, want %+v", c.Fidelity, want)
	}

	// Latency: 7 timed runs each, batch 32, a finite speedup.
	for _, m := range ev.Models {
		l := m.Latency
		if l == nil || l.Runs != 7 || l.Warmup != 2 || l.BatchSize != 32 || l.Threads != 1 || !(l.P50Ms > 0) || !(l.P99Ms >= l.P50Ms) || !(l.Throughput > 0) {
			t.Errorf("%s latency %+v", m.Name, l)
		}
	}
	if math.IsNaN(c.Speedup) || c.Speedup <= 0 {
		t.Errorf("speedup %g", c.Speedup)
	}

	// Size: file bytes as on disk, parameters, non-zeros; the sparse
	// candidate is about as big on disk but compresses much better.
	sb, sc := ev.Models[0].Size, ev.Models[1].Size
	st, _ := os.Stat(f.basePath)
	if sb.FileBytes != st.Size() || sb.TotalBytes != st.Size() || sb.ExternalBytes != 0 {
		t.Errorf("base size %+v, file is %d bytes", sb, st.Size())
	}
	if sb.Parameters != in*classes+classes || sc.NonZero != sb.Parameters-int64(zeros) {
		t.Errorf("parameters %d, candidate non-zero %d (zeroed %d)", sb.Parameters, sc.NonZero, zeros)
	}
	if sc.GzipBytes >= sb.GzipBytes || sc.GzipBytes <= 0 {
		t.Errorf("gzip bytes: sparse %d, dense %d", sc.GzipBytes, sb.GzipBytes)
	}
	if !near(c.SizeRatio, float64(sc.TotalBytes)/float64(sb.TotalBytes), 1e-12) {
		t.Errorf("size ratio %g", c.SizeRatio)
	}
	// One pass over the data, then latency, then the two sizes, each a
	// phase that counted its items.
	if got := strings.Join(rec.Phases(), "; "); !strings.HasPrefix(got, "evaluate; latency; size ") {
		t.Errorf("phases: %s", got)
	}
	if e, ok := rec.Ended("evaluate"); !ok || e.Done != int64(ev.Samples) {
		t.Errorf("evaluate phase counted %d of %d samples", e.Done, ev.Samples)
	}
}

func TestRunSelf(t *testing.T) {
	f := newFixture(t, 100)
	src := &memSource{x: f.x, width: in, labels: f.labels, batch: 16}
	ev, err := Run(context.Background(), []Subject{f.base, f.base}, src, Options{Metric: Top5})
	if err != nil {
		t.Fatal(err)
	}
	c := ev.Candidates[0]
	if c.Fidelity.Agreement != 1 || !math.IsInf(c.Fidelity.SQNR, 1) || c.Fidelity.MaxAbsDiff != 0 || c.AccuracyDrop != 0 || c.SizeRatio != 1 {
		t.Errorf("self comparison %+v", c)
	}
	if !math.IsNaN(c.Speedup) || ev.Models[0].Latency != nil {
		t.Error("latency measured with Runs 0")
	}
	if a := ev.Models[0].Accuracy; a.Metric != Top5 || a.Value != a.Top5 {
		t.Errorf("top5 accuracy %+v", a)
	}
}

func TestRunRegressionAndNoLabels(t *testing.T) {
	f := newFixture(t, 50)
	src := &memSource{x: f.x, width: in, labels: f.labels, batch: 50}
	ev, err := Run(context.Background(), []Subject{f.base}, src, Options{Metric: MSE})
	if err != nil {
		t.Fatal(err)
	}
	var reg Regression
	if err := reg.AddLabels(forward(f.x, f.w, f.b, in, classes), 50, f.labels); err != nil {
		t.Fatal(err)
	}
	if a := ev.Models[0].Accuracy; a.Metric != MSE || !near(a.Value, reg.MSE(), 1e-5) || a.Samples != 50 {
		t.Errorf("mse accuracy %+v, want %g", a, reg.MSE())
	}

	nolab := &memSource{x: f.x, width: in, batch: 10}
	ev, err = Run(context.Background(), []Subject{{Name: "mem", Model: f.base.Model}}, nolab, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Labels || ev.Models[0].Accuracy != nil || ev.Models[0].Size != nil || ev.Metric != "" {
		t.Errorf("no labels, no file: %+v", ev.Models[0])
	}
	nolab.Reset()
	if _, err := Run(context.Background(), []Subject{f.base}, nolab, Options{Metric: Top1}); err == nil || !strings.Contains(err.Error(), "needs labels") {
		t.Errorf("top1 without labels: %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	f := newFixture(t, 20)
	bad := append([]int64(nil), f.labels...)
	bad[7] = classes
	if _, err := Run(context.Background(), []Subject{f.base}, &memSource{x: f.x, width: in, labels: bad, batch: 4}, Options{}); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("label outside the classes: %v", err)
	}
	// A candidate with a different input name.
	other := linearModel(t, f.w, f.b, in, classes)
	other.Proto.Graph.Input[0].Name = ptr("z")
	other.Proto.Graph.Node[0].Input[0] = "z"
	if _, err := Run(context.Background(), []Subject{f.base, {Name: "z.onnx", Model: other}}, &memSource{x: f.x, width: in, batch: 4}, Options{}); err == nil || !strings.Contains(err.Error(), "takes inputs") {
		t.Errorf("mismatched inputs: %v", err)
	}
	// One output value per sample cannot be scored top-1.
	one := linearModel(t, f.w[:in], f.b[:1], in, 1)
	if _, err := Run(context.Background(), []Subject{{Name: "one", Model: one}}, &memSource{x: f.x, width: in, labels: f.labels, batch: 4}, Options{}); err == nil || !strings.Contains(err.Error(), "classifier") {
		t.Errorf("top1 of a one-value output: %v", err)
	}
	// Empty data.
	if _, err := Run(context.Background(), []Subject{f.base}, &memSource{width: in, batch: 4}, Options{}); err == nil {
		t.Error("empty data accepted")
	}
	// Cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, []Subject{f.base}, &memSource{x: f.x, width: in, batch: 4}, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestMeasureSizeWithExternalData(t *testing.T) {
	f := newFixture(t, 1)
	p := filepath.Join(t.TempDir(), "ext.onnx")
	if err := f.base.Model.Save(p, onnxio.SaveOptions{ExternalThreshold: 1}); err != nil {
		t.Fatal(err)
	}
	m, err := onnxio.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ExternalFiles) != 1 {
		t.Fatalf("external files %v", m.ExternalFiles)
	}
	s, err := MeasureSize(context.Background(), p, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	main, _ := os.Stat(p)
	ext, _ := os.Stat(filepath.Join(filepath.Dir(p), m.ExternalFiles[0]))
	if s.FileBytes != main.Size() || s.ExternalBytes != ext.Size() || s.TotalBytes != main.Size()+ext.Size() {
		t.Errorf("size %+v, files %d + %d bytes", s, main.Size(), ext.Size())
	}
	if ext.Size() < int64(4*(in*classes+classes)) || s.GzipBytes <= 0 || s.Parameters != in*classes+classes {
		t.Errorf("size %+v", s)
	}
	// The hash covers the file, then its external data.
	a, _ := os.ReadFile(p)
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(p), m.ExternalFiles[0]))
	if want := fmt.Sprintf("sha256:%x", sha256.Sum256(append(a, b...))); s.SHA256 != want {
		t.Errorf("hash %s, want %s", s.SHA256, want)
	}
}
