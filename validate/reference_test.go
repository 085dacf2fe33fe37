package validate

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// multiOutput is linearModel with two more graph outputs: the MatMul's
// result "xw" (float) and "cls", the argmax of y (int64, no SQNR).
func multiOutput(t *testing.T, w, b []float32) *onnxio.Model {
	m := linearModel(t, w, b, in, classes)
	g := m.Proto.Graph
	am := onnxio.NewNode("ArgMax", "am", []string{"y"}, []string{"cls"})
	onnxio.SetAttrInt(am, "axis", 1)
	g.Node = append(g.Node, am)
	g.Output = append(g.Output,
		&onnxpb.ValueInfoProto{Name: proto.String("xw"), Type: onnxio.TensorType(onnxio.Float32, nil)},
		&onnxpb.ValueInfoProto{Name: proto.String("cls"), Type: onnxio.TensorType(onnxio.Int64, nil)})
	return m
}

// naiveSQNR is 10·log10(Σa² / Σ(a−b)²), computed here in float64.
func naiveSQNR(a, b []float32) float64 {
	var sig, noise float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		sig += float64(a[i]) * float64(a[i])
		noise += d * d
	}
	return 10 * math.Log10(sig/noise)
}

// A Reference gives, over cached or recomputed baseline outputs, the very
// figures Run gives for the same models; every float output gets its SQNR
// (an int64 output none), matching a float64 forward pass.
func TestReferenceMatchesRun(t *testing.T) {
	const n = 200
	f := newFixture(t, n)
	r := rand.New(rand.NewPCG(3, 4))
	w2 := append([]float32(nil), f.w...)
	for i := range w2 {
		w2[i] += float32(r.NormFloat64() * 0.1)
	}
	base := Subject{Name: "base", Model: multiOutput(t, f.w, f.b)}
	cand := Subject{Name: "cand", Model: multiOutput(t, w2, f.b)}
	src := &memSource{x: f.x, width: in, labels: f.labels, batch: 32}
	ev, err := Run(context.Background(), []Subject{base, cand}, src, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := ev.Candidates[0]
	if len(want.Outputs) != 3 || want.Outputs[0].Name != "y" || want.Outputs[1].Name != "xw" || want.Outputs[2].Name != "cls" || !math.IsNaN(want.Outputs[2].SQNR) {
		t.Fatalf("outputs %+v", want.Outputs)
	}
	yb, yc := forward(f.x, f.w, f.b, in, classes), forward(f.x, w2, f.b, in, classes)
	zero := make([]float32, classes)
	xb, xc := forward(f.x, f.w, zero, in, classes), forward(f.x, w2, zero, in, classes)
	if !near(want.Outputs[0].SQNR, naiveSQNR(yb, yc), 1e-3) || !near(want.Outputs[1].SQNR, naiveSQNR(xb, xc), 1e-3) {
		t.Errorf("SQNRs %+v, want %g and %g", want.Outputs, naiveSQNR(yb, yc), naiveSQNR(xb, xc))
	}
	if want.MinSQNR != min(want.Outputs[0].SQNR, want.Outputs[1].SQNR) || want.Outputs[0].SQNR != want.Fidelity.SQNR {
		t.Errorf("min %g, outputs %+v, fidelity SQNR %g", want.MinSQNR, want.Outputs, want.Fidelity.SQNR)
	}
	for _, cache := range []int64{0, -1, 1000} { // all cached, none, too small
		ref, err := NewReference(base, src, Options{Threads: 1, CacheBytes: cache})
		if err != nil {
			t.Fatal(err)
		}
		for try := 0; try < 2; try++ {
			src.pos = 17 // Evaluate reads from the start whatever the position
			rec := &progress.Recorder{}
			got, err := ref.Evaluate(context.Background(), progress.New(rec), cand)
			if err != nil {
				t.Fatal(err)
			}
			c := got.Candidates[0]
			if got.Samples != n || c.MinSQNR != want.MinSQNR || c.Outputs[0] != want.Outputs[0] || c.Outputs[1] != want.Outputs[1] ||
				c.Fidelity != want.Fidelity || c.AccuracyDrop != want.AccuracyDrop || *got.Models[0].Accuracy != *ev.Models[0].Accuracy {
				t.Errorf("cache %d, pass %d: %+v, want %+v", cache, try, c, want)
			}
			if e, ok := rec.Ended("evaluate"); !ok || e.Done != n {
				t.Errorf("evaluate phase %+v", e)
			}
		}
		sq, err := NewReference(base, src, Options{Threads: 1, CacheBytes: cache, SQNROnly: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := sq.Evaluate(context.Background(), nil, cand)
		sq.Close()
		if err != nil {
			t.Fatal(err)
		}
		if c := got.Candidates[0]; got.Labels || got.Models[0].Accuracy != nil || c.MinSQNR != want.MinSQNR || c.Outputs[1] != want.Outputs[1] || !math.IsNaN(c.Outputs[2].SQNR) {
			t.Errorf("SQNR only: %+v", got)
		}
		if ref.Cached() != (cache == 0) {
			t.Errorf("cache bound %d: cached %v", cache, ref.Cached())
		}
		ref.Close()
	}
}

// Limit cuts the last batch of a model with a dynamic batch dimension and
// takes only whole batches (at least one) of a fixed one.
func TestReferenceLimit(t *testing.T) {
	f := newFixture(t, 100)
	fixed := linearModel(t, f.w, f.b, in, classes)
	dim := fixed.Proto.Graph.Input[0].GetType().GetTensorType().GetShape().Dim
	dim[0] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 20}}
	for _, c := range []struct {
		m           *onnxio.Model
		limit, want int
	}{{f.base.Model, 50, 50}, {f.base.Model, 0, 100}, {fixed, 50, 40}, {fixed, 10, 20}, {fixed, 60, 60}} {
		src := &memSource{x: f.x, width: in, batch: 20}
		ref, err := NewReference(Subject{Name: "b", Model: c.m}, src, Options{Limit: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := ref.Evaluate(context.Background(), nil, Subject{Name: "c", Model: c.m})
		ref.Close()
		if err != nil {
			t.Fatalf("limit %d: %v", c.limit, err)
		}
		if ev.Samples != c.want || ev.Candidates[0].Fidelity.Samples != int64(c.want) {
			t.Errorf("fixed %v, limit %d: %d samples, want %d", c.m != f.base.Model, c.limit, ev.Samples, c.want)
		}
	}
}

// Named tensors (an intermediate one here) are compared by name; a
// candidate whose outputs carry other names is paired by position; a NaN
// output is the worst SQNR and fails min-sqnr, the very gate compare uses.
func TestReferenceTensorsAndNaN(t *testing.T) {
	f := newFixture(t, 40)
	src := &memSource{x: f.x, width: in, batch: 8}
	ref, err := NewReference(f.base, src, Options{Tensors: []string{"xw"}})
	if err != nil {
		t.Fatal(err)
	}
	w2 := append([]float32(nil), f.w...)
	w2[0] += 0.5
	ev, err := ref.Evaluate(context.Background(), nil, Subject{Name: "c", Model: linearModel(t, w2, f.b, in, classes)})
	ref.Close()
	if err != nil {
		t.Fatal(err)
	}
	zero := make([]float32, classes)
	want := naiveSQNR(forward(f.x, f.w, zero, in, classes), forward(f.x, w2, zero, in, classes))
	if o := ev.Candidates[0].Outputs; len(o) != 1 || o[0].Name != "xw" || !near(o[0].SQNR, want, 1e-3) {
		t.Errorf("outputs %+v, want xw at %g dB", o, want)
	}

	renamed := linearModel(t, f.w, f.b, in, classes)
	renamed.Proto.Graph.Node[1].Output[0] = "logits"
	renamed.Proto.Graph.Output[0].Name = proto.String("logits")
	nan := append([]float32(nil), f.b...)
	nan[2] = float32(math.NaN())
	ref, err = NewReference(f.base, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ev, err = ref.Evaluate(context.Background(), nil, Subject{Name: "renamed", Model: renamed}, Subject{Name: "nan", Model: linearModel(t, f.w, nan, in, classes)})
	if err != nil {
		t.Fatal(err)
	}
	if c := ev.Candidates[0]; !math.IsInf(c.MinSQNR, 1) || c.Outputs[0].Name != "y" {
		t.Errorf("renamed output: %+v", c.Outputs)
	}
	if c := ev.Candidates[1]; !math.IsInf(c.MinSQNR, -1) {
		t.Errorf("NaN output: min SQNR %g", c.MinSQNR)
	}
	rs := CheckGates(ev, []Gate{{MinSQNR, 40}})
	if !rs[0].Passed || rs[1].Passed || !strings.Contains(rs[1].String(), "nan: min-sqnr: -Inf dB < limit 40 dB") {
		t.Errorf("gates %v", rs)
	}
}

// TimeModels sizes the run count to the budget (at least 7 rounds) and
// times every model in every round.
func TestTimeModelsSizesRuns(t *testing.T) {
	f := newFixture(t, 8)
	x, err := onnxio.NewTensor("x", []int64{8, in}, f.x)
	if err != nil {
		t.Fatal(err)
	}
	rec := &progress.Recorder{}
	tm, err := TimeModels(context.Background(), []*onnxio.Model{f.base.Model, f.base.Model}, map[string]*onnxio.Tensor{"x": x},
		TimingOptions{Budget: time.Nanosecond, Threads: 1, Progress: progress.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	if tm.Runs != 7 || tm.Warmup != 3 || len(tm.Times) != 2 || len(tm.Times[0]) != 7 || len(tm.Times[1]) != 7 {
		t.Fatalf("timing %+v", tm)
	}
	if !(tm.MedianMs(0) > 0) || !(tm.Speedup(1) > 0) {
		t.Errorf("median %g ms, speedup %g", tm.MedianMs(0), tm.Speedup(1))
	}
	if e, ok := rec.Ended("latency"); !ok || e.Done != 20 {
		t.Errorf("latency phase %+v", e)
	}
}
