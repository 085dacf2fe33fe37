package quantize

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
)

// A budget whose limit is exactly the figure `shrink compare` measures
// (validate.Run and CheckGates, compare's path) passes there and passes in
// quantize's accuracy-aware loop on the first try: one gate evaluator, one
// set of figures. A limit just past the figure fails in both.
func TestBudgetAtTheLimitPassesCompareAndQuantize(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m := fixture(t, "mnist_mlp.onnx")
	val := mnistSource(t, 0, 1000, 250)
	base := Options{Calib: trainSource(t, 256, 64), Env: transform.Env{Threads: 1}}
	qm, _, err := Quantize(ctx, m, base)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := validate.Run(ctx, []validate.Subject{{Name: "float", Model: m}, {Name: "int8", Model: qm}}, val, validate.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := ev.Candidates[0]
	for _, g := range []validate.Gate{
		{Kind: validate.MaxAccuracyDrop, Limit: c.AccuracyDrop},
		{Kind: validate.MinAgreement, Limit: c.Fidelity.Agreement},
		{Kind: validate.MinSQNR, Limit: c.MinSQNR},
	} {
		if math.IsNaN(g.Limit) || math.IsInf(g.Limit, 0) {
			t.Fatalf("%s: figure %g", g.Kind, g.Limit)
		}
		if r := validate.CheckGates(ev, []validate.Gate{g})[0]; !r.Passed {
			t.Errorf("compare: %s", r)
		}
		o := base
		o.Env.Val, o.Env.Budget = val, []validate.Gate{g}
		_, rep, err := Quantize(ctx, m, o)
		if err != nil {
			t.Fatal(err)
		}
		if a := rep.Accuracy; !a.Met || a.Tries != 1 || len(rep.Reverted) != 0 {
			t.Errorf("quantize at the limit %s: met %v after %d tries, reverted %v (%+v)", g, a.Met, a.Tries, rep.Reverted, *a)
		}
	}
	// Past the limit by far more than the tolerance: both fail.
	g := validate.Gate{Kind: validate.MinSQNR, Limit: c.MinSQNR + 1e-6}
	if r := validate.CheckGates(ev, []validate.Gate{g})[0]; r.Passed {
		t.Errorf("compare passed %s", r)
	}
	o := base
	o.Env.Val, o.Env.Budget = val, []validate.Gate{g}
	_, rep, err := Quantize(ctx, m, o)
	if err != nil {
		t.Fatal(err)
	}
	if a := rep.Accuracy; a.AllInt8 != math.Min(c.MinSQNR, 999) || a.Tries == 1 {
		t.Errorf("quantize past the limit: all-int8 %g dB (compare %g), %d tries", a.AllInt8, c.MinSQNR, a.Tries)
	}
}

// Validation data without labels is refused for a budget in accuracy
// points before any work starts (no phase, not even calibration).
func TestUnlabelledValidationRefusedUpFront(t *testing.T) {
	m := fixture(t, "mnist_mlp.onnx")
	rec := &progress.Recorder{}
	env := budget(unlabeled(mnistSource(t, 0, 100, 50)), validate.MaxAccuracyDrop, 1)
	env.Progress = progress.New(rec)
	_, _, err := Quantize(context.Background(), m, Options{Calib: trainSource(t, 64, 64), Env: env})
	var fe *transform.FieldError
	if !errors.As(err, &fe) || fe.Field != "Env.Val" || !strings.Contains(err.Error(), "no labels") {
		t.Fatalf("error %v", err)
	}
	if ph := rec.Phases(); len(ph) != 0 {
		t.Errorf("work started before the refusal: %v", ph)
	}
}

// The sensitivity ranking reads SensitivitySamples of the validation data
// with the fixed-batch rule: a model with a fixed batch of 100 gets whole
// batches (100 of the 150 asked), never a cut one ONNX Runtime refuses.
func TestSensitivityOnAFixedBatch(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_mlp.onnx")
	m.Proto.Graph.Input[0].GetType().GetTensorType().GetShape().Dim[0] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 100}}
	calib := trainSource(t, 200, 100)
	val := unlabeled(mnistSource(t, 0, 300, 100))
	_, rep, err := Quantize(context.Background(), m, Options{Calib: calib, CalibSize: 200, SensitivitySamples: 150, SpeedAware: false,
		Env: budget(val, validate.MinSQNR, 150)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accuracy.Met || len(rep.sensitivity) != 3 {
		t.Fatalf("met %v, sensitivities %v", rep.Accuracy.Met, rep.sensitivity)
	}
	for i, s := range rep.sensitivity {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			t.Errorf("node %d: sensitivity %g", i, s)
		}
	}
}

// With nothing to quantize the error names the op types asked (not a
// fixed list), and no node when none is at fault; when candidates exist
// but all stay float, the first of them.
func TestNothingToQuantizeNamesWhatWasAsked(t *testing.T) {
	m, shapes := chain(t)
	src := randSource(shapes, 1, 1)
	for _, c := range []struct {
		o          Options
		node, want string
	}{
		{Options{OpTypes: []string{"MatMul", "Conv"}}, "", `not implemented: op MatMul/Conv: nothing to quantize: no MatMul or Conv node in graph "test"`},
		{Options{OpTypes: []string{"Relu"}}, "", "none of the op types asked runs in int8 on its own"},
		{Options{Exclude: []string{"re:^g"}}, "g0", `op Gemm at node "g0": nothing to quantize: every candidate stays float (g0: excluded`},
	} {
		c.o.Calib = src
		_, _, err := Quantize(context.Background(), m, c.o)
		var ue *onnxio.UnsupportedError
		if !errors.As(err, &ue) || ue.Node != c.node || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v (node %q)", c.o, err, c.node)
		}
	}
}
