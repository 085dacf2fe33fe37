package report

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/validate"
)

// TestPartialDocRoundTrip: a Partial written as JSON and read back is the
// same Partial, non-finite sums and task sums included.
func TestPartialDocRoundTrip(t *testing.T) {
	tenth := 0.1
	sum := tenth + 0.2 // 0.30000000000000004 at run time (constants are exact)
	p := &validate.Partial{Samples: 7, BatchSize: 4, Labels: true, Metric: validate.CTC, Tensors: []string{"y", "h"},
		Models: []validate.ModelPartial{
			{Name: "a", Path: "m/a.onnx", Output: "y", Task: &validate.TaskPartial{Samples: 7, Sums: []validate.Figure{{Name: "edit_distance", Value: 3}, {Name: "chars", Value: 20}, {Name: "lines_correct", Value: 5}}}},
			{Name: "b", Path: "m/b.onnx", Output: "y", NonFinite: 2, Class: validate.Classification{Samples: 7, Top1: 5, Top5: 7, NonFinite: 2},
				Reg: validate.Regression{Values: 70, SumSq: sum, SumAbs: math.Inf(1)}, Task: &validate.TaskPartial{Samples: 7, Sums: []validate.Figure{{Name: "edit_distance", Value: 9}, {Name: "chars", Value: 20}, {Name: "lines_correct", Value: 1}}}},
		},
		Candidates: []validate.CandidatePartial{{
			Fidelity: validate.Fidelity{ClassAxis: 2, Samples: 7, Width: 60, Classes: 6, Positions: 70, Agree: 61, CosSum: 6.5, MaxAbs: math.NaN(),
				Energy: validate.SQNRSum{Signal: 12.25, Noise: math.NaN()}, ErrAbs: 1e-300, KLSum: math.Inf(-1), Values: 420},
			Tensors: []validate.TensorPartial{{Sum: validate.SQNRSum{Signal: 1, Noise: 1.0 / 3}, Comparable: true}, {Comparable: false}},
		}},
		Timings: []validate.TimingPartial{{BatchSize: 4, Threads: 2, Warmup: 1, Times: [][]time.Duration{{3, 5, 7}, {2, 4, 9}}}},
	}
	b, err := json.Marshal(newPartialDoc(p))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"max_abs":"NaN"`, `"sum_abs":"Infinity"`, `"kl_sum":"-Infinity"`, `"sum_sq":0.30000000000000004`, `"times_ns":[[3,5,7],[2,4,9]]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	var d PartialDoc
	if err := decode(b, &d); err != nil {
		t.Fatal(err)
	}
	q, err := d.partial()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(newPartialDoc(q))
	if string(a) != string(b) {
		t.Errorf("round trip:\n%s\n%s", a, b)
	}
	if q.Models[1].Reg.SumSq != sum || !math.IsNaN(q.Candidates[0].Fidelity.MaxAbs) || !math.IsInf(q.Candidates[0].Fidelity.KLSum, -1) {
		t.Errorf("sums %+v %+v", q.Models[1].Reg, q.Candidates[0].Fidelity)
	}
	// The figures from the read-back Partial are the original's.
	r1, err1 := p.Result()
	r2, err2 := q.Result()
	if err1 != nil || err2 != nil || r1.Models[1].Accuracy.Value != r2.Models[1].Accuracy.Value || r1.Candidates[0].Speedup != r2.Candidates[0].Speedup ||
		r2.Models[0].Accuracy.Value != 1-3.0/20 {
		t.Errorf("results %+v / %+v (%v %v)", r1.Models[1].Accuracy, r2.Models[1].Accuracy, err1, err2)
	}
	for _, c := range []struct{ doc, want string }{
		{`{"models": []}`, "partial.models: no models"},
		{`{"models": [{"sum_sq": "lots"}]}`, `models.sum_sq: want a number, got string "lots"`},
		{`{"models": [{"sum_abs": true}]}`, `models.sum_abs: want a number, got true`},
		{`{"models": [{"name": "a"}], "timings": [{"times_ns": []}]}`, "partial.timings[0].times_ns: 0 series for 1 models"},
	} {
		var d PartialDoc
		err := decode([]byte(c.doc), &d)
		if err == nil {
			_, err = d.partial()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.doc, err, c.want)
		}
	}
}

// shardResults builds the eval results of shard 0/2 and 1/2 of a
// 10-sample data set in batches of 4 (batches [0, 1) and [1, 3)) without
// running a model: 3 and 4 of 4 and 6 samples right.
func shardResults(t testing.TB) [2][]byte {
	t.Helper()
	var out [2][]byte
	for i, c := range []struct{ first, end, right int }{{0, 4, 3}, {4, 10, 4}} {
		n := int64(c.end - c.first)
		p := &validate.Partial{Samples: n, BatchSize: 4, Labels: true, Metric: validate.Top1, Tensors: []string{},
			Models:  []validate.ModelPartial{{Name: "m.onnx", Path: "m.onnx", Output: "y", Class: validate.Classification{Samples: n, Top1: int64(c.right), Top5: n}}},
			Timings: []validate.TimingPartial{{BatchSize: 4, Threads: 1, Warmup: 1, Times: [][]time.Duration{{time.Millisecond * time.Duration(i+1)}}}}}
		ev, err := p.Result()
		if err != nil {
			t.Fatal(err)
		}
		ev.Shard = &dataset.Range{Shard: dataset.Shard{Index: i, Count: 2}, FirstBatch: i, EndBatch: 1 + 2*i, FirstSample: c.first, EndSample: c.end,
			TotalBatches: 3, TotalSamples: 10, BatchSize: 4}
		ev.SetSizes([]*validate.Size{{FileBytes: 9, TotalBytes: 9, SHA256: "sha256:" + strings.Repeat("ab", 32)}})
		b, err := JSON(NewEval(ev, Meta{Tool: "shrink test", Data: "x.npy", DataFingerprint: "sha256:0f"}))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func TestMergeShardResults(t *testing.T) {
	r := shardResults(t)
	d, err := Merge([]*Input{mustParse(t, "b.json", r[1]), mustParse(t, "a.json", r[0])}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got Eval
	if len(d.Shards) != 1 || json.Unmarshal(d.Shards[0].Result, &got) != nil {
		t.Fatalf("shards %+v", d.Shards)
	}
	a := got.Model.Accuracy
	if a == nil || *a.Correct != 7 || a.Samples != 10 || *a.Value != 0.7 || got.Data.Samples != 10 || got.Shard != nil || got.Model.Latency.P50Ms != 1 {
		t.Errorf("merged %+v (latency %+v)", a, got.Model.Latency)
	}
	// Shard 0 is a.json, given second: the sources follow the shard order;
	// the row names both files and its latency is shard 0's.
	if s := d.Shards[0]; s.Sources[0] != 1 || s.Sources[1] != 0 || *s.LatencyFrom != 1 || len(d.Models) != 1 || len(d.Models[0].Sources) != 2 ||
		*d.Models[0].Accuracy != 0.7 || d.Models[0].Latency.Source != 1 {
		t.Errorf("group %+v, row %+v", s, d.Models[0])
	}
	out, _ := JSON(d)
	if err := schemacheck.Validate("report.schema.json", out); err != nil {
		t.Fatal(err)
	}
	for _, b := range r {
		if err := schemacheck.Validate("eval.schema.json", b); err != nil {
			t.Fatal(err)
		}
	}
}

func mustParse(t testing.TB, path string, b []byte) *Input {
	t.Helper()
	in, err := ParseInput(path, b)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// FuzzMergeShards: whatever the second shard's bytes, merging never
// panics, and an error names a file.
func FuzzMergeShards(f *testing.F) {
	r := shardResults(f)
	f.Add(r[1])
	f.Add([]byte(strings.Replace(string(r[1]), `"count": 2`, `"count": 1`, 1)))
	f.Add([]byte(strings.Replace(string(r[1]), `"index": 1`, `"index": 7`, 1)))
	f.Add([]byte(strings.Replace(string(r[1]), `"times_ns": [`, `"times_ns": [[], `, 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		second, err := ParseInput("b.json", b)
		if err != nil {
			return
		}
		first, err := ParseInput("a.json", r[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Merge([]*Input{first, second}, Options{}); err != nil && !strings.HasPrefix(err.Error(), "a.json: ") && !strings.HasPrefix(err.Error(), "b.json: ") {
			t.Errorf("error without a file name: %v", err)
		}
	})
}
