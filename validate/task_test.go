package validate

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
)

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"kitten", "sitting", 3}, {"", "abc", 3}, {"abc", "", 3}, {"abc", "abc", 0},
		{"中文", "中国文", 1}, {"flaw", "lawn", 2}, {"", "", 0}, {"ab", "ba", 2},
	} {
		if got := EditDistance(c.a, c.b); got != c.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// steps builds one sample's [T, C] scores whose argmax at step t is
// best[t] (0.9 there, 0.1/(C−1) elsewhere).
func steps(best []int, k int) []float32 {
	x := make([]float32, len(best)*k)
	for t, b := range best {
		for c := 0; c < k; c++ {
			x[t*k+c] = 0.1 / float32(k-1)
		}
		x[t*k+b] = 0.9
	}
	return x
}

func TestCTCDecode(t *testing.T) {
	classes := []string{"", "a", "b", " "}
	// a a _ a b b _ ␣ a: repeats merge, a blank separates the two a's.
	got := CTCDecode(steps([]int{1, 1, 0, 1, 2, 2, 0, 3, 1}, 4), 9, 4, classes)
	if got != "aab a" {
		t.Errorf("decoded %q, want %q", got, "aab a")
	}
	if got := CTCDecode(steps([]int{0, 0, 0}, 4), 3, 4, classes); got != "" {
		t.Errorf("all blanks decoded %q", got)
	}
}

// ctcBatch stacks samples into an [N, T, C] output.
func ctcBatch(t *testing.T, k int, samples ...[]int) *onnxio.Tensor {
	t.Helper()
	var x []float32
	for _, s := range samples {
		x = append(x, steps(s, k)...)
	}
	out, err := onnxio.NewTensor("y", []int64{int64(len(samples)), int64(len(samples[0])), int64(k)}, x)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCTCScorer(t *testing.T) {
	dict := []string{"a", "b", "中"}
	// 5 classes: blank, a, b, 中, and the space.
	texts := []string{"ab", "a 中", "bb", "中"}
	task := NewCTCTask(dict, texts)
	s := task.NewScorer()
	// Sample 0 "ab": right. Sample 1 "a 中" decoded "a中" (spaces are
	// ignored): right. Batch 2: sample 2 "bb" decoded "b" (one deletion),
	// sample 3 "中" decoded "" (the int8 recognizer's blank-only failure).
	if err := s.Add(ctcBatch(t, 5, []int{1, 0, 2, 0}, []int{1, 4, 3, 3}), 0, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctcBatch(t, 5, []int{2, 2, 2, 0}, []int{0, 0, 0, 0}), 2, 2); err != nil {
		t.Fatal(err)
	}
	r := taskResult(t, CTC, s)
	// Σ reference characters without spaces: 2 + 2 + 2 + 1 = 7; edits 0 + 0 + 1 + 1.
	if wantChar := 1 - 2.0/7; math.Abs(r.Value-wantChar) > 1e-12 {
		t.Errorf("char accuracy %v, want %v", r.Value, wantChar)
	}
	if v, _ := r.Find("line_accuracy"); v != 0.5 {
		t.Errorf("line accuracy %v, want 0.5", v)
	}
	if r.Samples != 4 || r.Figures[0].Name != "char_accuracy" {
		t.Errorf("result %+v", r)
	}
	// A sample past the references, and a class count that fits neither
	// blank+dict nor blank+dict+space, are errors.
	if err := s.Add(ctcBatch(t, 5, []int{1}), 4, 1); err == nil || !strings.Contains(err.Error(), "no reference") {
		t.Errorf("sample past the references: %v", err)
	}
	if err := task.NewScorer().Add(ctcBatch(t, 6, []int{1}), 0, 1); err == nil || !strings.Contains(err.Error(), "6 classes") {
		t.Errorf("wrong class count: %v", err)
	}
	// Without the space class (4 = blank + 3), class 3 is 中.
	s4 := NewCTCTask(dict, []string{"中a"}).NewScorer()
	if err := s4.Add(ctcBatch(t, 4, []int{3, 1}), 0, 1); err != nil || taskResult(t, CTC, s4).Value != 1 {
		t.Errorf("4 classes: %v %+v", err, taskResult(t, CTC, s4))
	}
}

// taskResult is a built-in task metric's figures from a scorer's sums.
func taskResult(t *testing.T, m Metric, s Scorer) TaskResult {
	t.Helper()
	r, err := SummarizeTask(m, s.Partial())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIoUAndMatch(t *testing.T) {
	if got := IoU(Box{0, 0, 2, 2}, Box{1, 1, 3, 3}); math.Abs(got-1.0/7) > 1e-15 {
		t.Errorf("IoU = %v, want 1/7", got)
	}
	if got := IoU(Box{0, 0, 1, 1}, Box{2, 2, 3, 3}); got != 0 {
		t.Errorf("disjoint IoU = %v", got)
	}
	// Two predictions over one reference: one match. The better
	// prediction takes the reference, the other matches nothing.
	ref := []Box{{0, 0, 10, 10}, {20, 0, 30, 10}}
	pred := []Box{{0, 0, 10, 9}, {1, 0, 10, 10}, {50, 50, 60, 60}}
	if n := MatchBoxes(pred, ref, 0.5); n != 1 {
		t.Errorf("matched %d, want 1", n)
	}
}

// TestBoxScorer post-processes a hand-drawn 20×30 map: a text region
// (rows 3–6, columns 2–11 at 0.9), a speck (2×2: too small), a faint
// region (0.35: above the 0.3 threshold, below the 0.6 box score), and a
// second region touching the first only diagonally (8-connected: merged).
func TestBoxScorer(t *testing.T) {
	const h, w = 20, 30
	p := make([]float32, h*w)
	fill := func(y0, y1, x0, x1 int, v float32) {
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				p[y*w+x] = v
			}
		}
	}
	fill(3, 6, 2, 11, 0.9)
	fill(15, 16, 25, 26, 0.95)
	fill(12, 17, 2, 12, 0.35)
	out, err := onnxio.NewTensor("map", []int64{1, 1, h, w}, p)
	if err != nil {
		t.Fatal(err)
	}
	task := NewBoxTask([][]Box{{{1, 2, 12, 7}, {20, 10, 28, 18}}}, BoxOptions{})
	s := task.NewScorer().(*boxScorer)
	got := s.boxesOf(p, h, w)
	// Region: 10×4 pixels, box over pixel centres 9×3; unclip distance
	// 9·3·1.5 / (2·(9+3)) = 1.6875.
	want := Box{2 - 1.6875, 3 - 1.6875, 11 + 1.6875, 6 + 1.6875}
	if len(got) != 1 || math.Abs(got[0].X0-want.X0)+math.Abs(got[0].Y0-want.Y0)+math.Abs(got[0].X1-want.X1)+math.Abs(got[0].Y1-want.Y1) > 1e-12 {
		t.Fatalf("boxes %v, want [%v]", got, want)
	}
	if err := s.Add(out, 0, 1); err != nil {
		t.Fatal(err)
	}
	// IoU with the first reference: 55 / (12.375 · 6.375) = 0.697 ≥ 0.5.
	r := taskResult(t, Boxes, s)
	rec, _ := r.Find("recall")
	prec, _ := r.Find("precision")
	if rec != 0.5 || prec != 1 || math.Abs(r.Value-2*0.5/1.5) > 1e-12 {
		t.Errorf("recall %v precision %v hmean %v, want 0.5, 1, 2/3", rec, prec, r.Value)
	}
	// 8-connectivity: a diagonal neighbour joins the region.
	fill(7, 7, 12, 12, 0.9)
	if got := s.boxesOf(p, h, w); len(got) != 1 || got[0].X1 <= want.X1 {
		t.Errorf("diagonal pixel: boxes %v", got)
	}
	bad, _ := onnxio.NewTensor("map", []int64{1, 2, h, w}, append(p, p...))
	if err := task.NewScorer().Add(bad, 0, 1); err == nil || !strings.Contains(err.Error(), "[N, 1, H, W]") {
		t.Errorf("two-channel map: %v", err)
	}
}

func TestReadReferences(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b, err := ReadBoxes(write("ok.jsonl", "[[1,2,3,4],[0,0,5,5]]\n[]\r\n[[0.5,1,2.5,3]]"))
	if err != nil || len(b) != 3 || len(b[0]) != 2 || len(b[1]) != 0 || b[2][0] != (Box{0.5, 1, 2.5, 3}) {
		t.Fatalf("%v %v", b, err)
	}
	for _, c := range []struct{ text, want string }{
		{"[[1,2,3]]", "line 1: box 0"},
		{"[]\n[[3,0,1,1]]", "line 2: box 0"},
		{"[[1,2,3,4]", "line 1: want a JSON array"},
	} {
		if _, err := ReadBoxes(write("bad.jsonl", c.text)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
	if _, err := ReadCTCDict(write("dict.txt", "a\n\nb\n")); err == nil || !strings.Contains(err.Error(), "line 2 is empty") {
		t.Errorf("empty dictionary line: %v", err)
	}
	texts, err := ReadTexts(write("texts.txt", "ab\n\nc d\n"))
	if err != nil || len(texts) != 3 || texts[1] != "" || texts[2] != "c d" {
		t.Errorf("texts %q %v", texts, err)
	}
}

// top1Scorer is a plug-in task metric: top-1 against references held by
// the scorer. Run must give the same figure as its own top-1 on labels.
type top1Scorer struct {
	refs     []int64
	n, right int64
	firsts   []int
}

func (s *top1Scorer) Add(out *onnxio.Tensor, first, n int) error {
	x, _ := out.Float32s()
	k := len(x) / n
	s.firsts = append(s.firsts, first)
	for i := 0; i < n; i++ {
		if int64(argmax(x[i*k:(i+1)*k])) == s.refs[first+i] {
			s.right++
		}
	}
	s.n += int64(n)
	return nil
}

func (s *top1Scorer) Partial() TaskPartial {
	return TaskPartial{Samples: s.n, Sums: []Figure{{"right", float64(s.right)}}}
}

func summarizeTop1(p TaskPartial) TaskResult {
	v := p.Sum("right") / float64(p.Samples)
	return TaskResult{Samples: p.Samples, Value: v, Figures: []Figure{{"top1", v}}}
}

func TestRunWithTask(t *testing.T) {
	const n = 100
	f := newFixture(t, n)
	w2 := append([]float32(nil), f.w...)
	for i := range w2 {
		w2[i] *= -1 // a bad candidate
	}
	cand := Subject{Name: "cand", Model: linearModel(t, w2, f.b, in, classes)}
	var scorers []*top1Scorer
	task := &Task{Metric: "plug-in", References: n, NewScorer: func() Scorer {
		s := &top1Scorer{refs: f.labels}
		scorers = append(scorers, s)
		return s
	}, Summarize: summarizeTop1}
	src := &memSource{x: f.x, width: in, batch: 32}
	ev, err := Run(context.Background(), []Subject{f.base, cand}, src, Options{Task: task})
	if err != nil {
		t.Fatal(err)
	}
	src = &memSource{x: f.x, width: in, batch: 32, labels: f.labels}
	want, err := Run(context.Background(), []Subject{f.base, cand}, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ev.Models {
		got, ref := ev.Models[i].Accuracy, want.Models[i].Accuracy
		if got == nil || got.Task == nil || got.Metric != "plug-in" || got.Value != ref.Top1 || got.Samples != n {
			t.Errorf("model %d: task accuracy %+v, top-1 on labels %v", i, got, ref.Top1)
		}
	}
	if d := ev.Candidates[0].AccuracyDrop; !near(d, want.Candidates[0].AccuracyDrop, 1e-12) || d <= 0 {
		t.Errorf("drop %v, want %v", d, want.Candidates[0].AccuracyDrop)
	}
	if len(scorers) != 2 || len(scorers[0].firsts) != 4 || scorers[0].firsts[3] != 96 {
		t.Errorf("scorers %d, first indices %v", len(scorers), scorers[0].firsts)
	}
	// The references come from the task: a ctc metric without one is an
	// error, and so is another metric with a task.
	if _, err := Run(context.Background(), []Subject{f.base}, src, Options{Metric: CTC}); err == nil || !strings.Contains(err.Error(), "needs its references") {
		t.Errorf("ctc without a task: %v", err)
	}
	if _, err := Run(context.Background(), []Subject{f.base}, src, Options{Metric: Top1, Task: task}); err == nil {
		t.Error("top1 with a task accepted")
	}
}

// TestTaskPartialsMerge: the CTC sums of two halves of a data set, merged,
// give the figures of the whole.
func TestTaskPartialsMerge(t *testing.T) {
	task := NewCTCTask([]string{"a", "b", "中"}, []string{"ab", "a 中", "bb", "中"})
	b0 := ctcBatch(t, 5, []int{1, 0, 2, 0}, []int{1, 4, 3, 3})
	b1 := ctcBatch(t, 5, []int{2, 2, 2, 0}, []int{0, 0, 0, 0})
	whole := task.NewScorer()
	if whole.Add(b0, 0, 2) != nil || whole.Add(b1, 2, 2) != nil {
		t.Fatal("add")
	}
	a, b := task.NewScorer(), task.NewScorer()
	if a.Add(b0, 0, 2) != nil || b.Add(b1, 2, 2) != nil {
		t.Fatal("add")
	}
	merged := a.Partial()
	if err := merged.Merge(TaskPartial{}); err != nil { // an empty part adds nothing
		t.Fatal(err)
	}
	if err := merged.Merge(b.Partial()); err != nil {
		t.Fatal(err)
	}
	got, want := taskResultOf(t, CTC, merged), taskResult(t, CTC, whole)
	if got.Samples != 4 || got.Value != want.Value || len(got.Figures) != len(want.Figures) {
		t.Fatalf("merged %+v, whole %+v", got, want)
	}
	for i := range got.Figures {
		if got.Figures[i] != want.Figures[i] {
			t.Errorf("%+v, want %+v", got.Figures[i], want.Figures[i])
		}
	}
	if err := merged.Merge(TaskPartial{Samples: 1, Sums: []Figure{{"matched", 1}, {"reference_boxes", 1}, {"predicted_boxes", 1}}}); err == nil {
		t.Error("box sums merged into ctc sums")
	}
	if _, err := SummarizeTask("plug-in", merged); err == nil || !strings.Contains(err.Error(), "Task.Summarize") {
		t.Errorf("unknown metric: %v", err)
	}
}

func taskResultOf(t *testing.T, m Metric, p TaskPartial) TaskResult {
	t.Helper()
	r, err := SummarizeTask(m, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
