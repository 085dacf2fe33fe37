package validate

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCheckGates(t *testing.T) {
	ev := &Evaluation{
		Models: []ModelResult{{Name: "base.onnx"}, {Name: "good.onnx"}, {Name: "bad.onnx"}},
		Candidates: []CandidateResult{
			{AccuracyDrop: 0.5, Fidelity: FidelityResult{Agreement: 0.99}, Speedup: 1.5, SizeRatio: 0.25},
			{AccuracyDrop: 2, Fidelity: FidelityResult{Agreement: 0.9}, Speedup: 0.8, SizeRatio: 1.1},
		},
	}
	gates := []Gate{{MaxAccuracyDrop, 1}, {MinAgreement, 0.95}, {MinSpeedup, 1.2}, {MaxSizeRatio, 0.5}}
	rs := CheckGates(ev, gates)
	if len(rs) != 8 {
		t.Fatalf("%d results, want 8", len(rs))
	}
	for i, r := range rs {
		wantPass := i < 4
		if r.Passed != wantPass {
			t.Errorf("%s: passed %v, want %v", r, r.Passed, wantPass)
		}
		if r.Limit != gates[i%4].Limit || r.Gate != gates[i%4].Kind {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if f := Failed(rs); len(f) != 4 || f[0].Candidate != "bad.onnx" {
		t.Errorf("failed: %v", f)
	}
	if s := rs[4].String(); s != "bad.onnx: max-accuracy-drop: 2 points > limit 1 points" {
		t.Errorf("line %q", s)
	}
	if s := rs[6].String(); s != "bad.onnx: min-speedup: 0.8× < limit 1.2×" {
		t.Errorf("line %q", s)
	}
	if s := rs[1].String(); s != "good.onnx: min-agreement: 0.99 >= limit 0.95" {
		t.Errorf("line %q", s)
	}
}

func TestGateBoundaryAndUnmeasured(t *testing.T) {
	// A drop computed as exactly the limit passes despite rounding.
	drop := 100 * (0.9812 - 0.9712)
	ev := &Evaluation{
		Models:     []ModelResult{{Name: "a"}, {Name: "b"}},
		Candidates: []CandidateResult{{AccuracyDrop: drop, Fidelity: FidelityResult{Agreement: math.NaN()}, Speedup: math.NaN(), SizeRatio: 1}},
	}
	rs := CheckGates(ev, []Gate{{MaxAccuracyDrop, 1}, {MinAgreement, 0.5}, {MinSpeedup, 1}, {MaxSizeRatio, 1}})
	if !rs[0].Passed {
		t.Errorf("drop %.17g at limit 1 failed", drop)
	}
	if rs[1].Passed || rs[2].Passed || !strings.Contains(rs[2].String(), "not measured") {
		t.Errorf("unmeasured figures must fail: %v / %v", rs[1], rs[2])
	}
	if !rs[3].Passed {
		t.Errorf("size ratio equal to the limit failed")
	}
}

func TestValidateGates(t *testing.T) {
	bad := [][]Gate{
		{{MinAgreement, 1.5}},
		{{MinSpeedup, 0}},
		{{MaxSizeRatio, -1}},
		{{MaxAccuracyDrop, math.NaN()}},
		{{GateKind("max-fun"), 1}},
		{{MinSQNR, -3}},
		{{MinSQNR, math.Inf(1)}},
	}
	for _, g := range bad {
		if err := ValidateGates(g, Top1); err == nil {
			t.Errorf("%v accepted", g)
		}
	}
	if err := ValidateGates([]Gate{{MaxAccuracyDrop, 1}}, MSE); err == nil {
		t.Error("accuracy drop with mse accepted")
	}
	if err := ValidateGates([]Gate{{MaxAccuracyDrop, 0}, {MinAgreement, 1}, {MinSpeedup, 0.9}, {MaxSizeRatio, 2}, {MinSQNR, 0}}, Top5); err != nil {
		t.Error(err)
	}
	err := ValidateGates([]Gate{{MinAgreement, 1.5}}, "")
	var le *LimitError
	if !errors.As(err, &le) || le.Gate.Kind != MinAgreement || err.Error() != "min-agreement 1.5: not a fraction in [0, 1]" {
		t.Errorf("error %v", err)
	}
}

// min-sqnr: the lowest output SQNR against the limit, in dB; identical
// outputs (+Inf) pass any limit, a figure at the limit passes, a missing
// one fails as not measured.
func TestMinSQNRGate(t *testing.T) {
	ev := &Evaluation{
		Models:     []ModelResult{{Name: "a"}, {Name: "same"}, {Name: "edge"}, {Name: "low"}, {Name: "none"}},
		Candidates: []CandidateResult{{MinSQNR: math.Inf(1)}, {MinSQNR: 0.1 + 0.2}, {MinSQNR: 29.99}, {MinSQNR: math.NaN()}},
	}
	rs := CheckGates(ev, []Gate{{MinSQNR, 0.3}})
	if !rs[0].Passed || !rs[1].Passed || !rs[2].Passed || rs[3].Passed || !strings.Contains(rs[3].String(), "not measured (no float output to compare)") {
		t.Errorf("%v", rs)
	}
	rs = CheckGates(ev, []Gate{{MinSQNR, 30}})
	if rs[2].Passed || rs[2].String() != "low: min-sqnr: 29.99 dB < limit 30 dB" {
		t.Errorf("%v", rs[2])
	}
}
