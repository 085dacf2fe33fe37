package report

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

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
