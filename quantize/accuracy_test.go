package quantize

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
)

// dimmed returns MNIST training images scaled by f: calibration data that
// under-estimates every range, so the all-int8 model saturates.
func dimmed(t *testing.T, n int, f float32) *memSource {
	s := trainSource(t, n, 64)
	for _, b := range s.batches {
		x := b.Inputs["input"].Data.([]float32)
		for i := range x {
			x[i] *= f
		}
	}
	return s
}

// With ranges calibrated on dimmed images the all-int8 CNN collapses; the
// accuracy-aware loop ranks nodes by sensitivity and returns the most
// sensitive to float until the drop is within budget.
func TestAccuracyAwareRevertsMostSensitiveFirst(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_cnn.onnx")
	val := mnistSource(t, 0, 2000, 500)
	_, rep, err := Quantize(context.Background(), m, Options{Calib: dimmed(t, 128, 0.1), Env: budget(val, validate.MaxAccuracyDrop, 0.5)})
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Accuracy
	t.Logf("%+v reverted %v", *a, rep.Reverted)
	if a.AllInt8 > a.Float-5 {
		t.Fatalf("the all-int8 model (%.2f%%) is not broken enough (float %.2f%%) to exercise the loop", a.AllInt8, a.Float)
	}
	if !a.Met || a.Drop == nil || *a.Drop > 0.5 || a.Samples != 2000 {
		t.Fatalf("budget not met: %+v", *a)
	}
	if len(rep.Reverted) == 0 || rep.Quantized == 0 {
		t.Fatalf("reverted %v, %d int8 nodes", rep.Reverted, rep.Quantized)
	}
	// Reverted most sensitive (lowest SQNR) first; every reverted node is
	// float in the table with the accuracy reason and its sensitivity.
	rows := map[string]Node{}
	for _, n := range rep.Nodes {
		rows[n.Name] = n
	}
	prev := -1e9
	for _, r := range rep.Reverted {
		row := rows[r.Node]
		if r.Stage != "accuracy" || row.Int8 || row.Sensitivity == nil || row.FloatReason != r.Reason {
			t.Fatalf("revert %+v, row %+v", r, row)
		}
		if *row.Sensitivity < prev {
			t.Fatalf("reverted out of sensitivity order: %v", rep.Reverted)
		}
		prev = *row.Sensitivity
	}
	for _, n := range rep.Nodes {
		if n.Int8 && n.Kind == Compute.String() && (n.Sensitivity == nil || *n.Sensitivity < prev) {
			t.Errorf("%s stayed int8 with sensitivity %v, below a reverted node's %g", n.Name, n.Sensitivity, prev)
		}
	}
}

// When even one int8 node breaks the budget the loop reports it unmet
// (the CLI exits 3) and still returns the best model found.
func TestAccuracyBudgetUnmet(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_cnn.onnx")
	val := mnistSource(t, 0, 1000, 500)
	qm, rep, err := Quantize(context.Background(), m, Options{Calib: dimmed(t, 64, 0.02), OpTypes: []string{"Conv"}, KeepFirst: 1,
		Env: budget(val, validate.MaxAccuracyDrop, 0.1)})
	if err != nil {
		t.Fatal(err)
	}
	if qm == nil || rep.Accuracy.Met || rep.Quantized != 1 {
		t.Fatalf("met %v with %d int8 nodes: %+v", rep.Accuracy.Met, rep.Quantized, *rep.Accuracy)
	}
	if rep.Accuracy.Drop == nil || *rep.Accuracy.Drop <= 0.1 {
		t.Fatalf("drop %v", rep.Accuracy.Drop)
	}
}

func TestAgreementBudget(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_mlp.onnx")
	val := mnistSource(t, 0, 1000, 500)
	for _, b := range val.batches {
		b.Labels = nil // agreement needs no labels
	}
	_, rep, err := Quantize(context.Background(), m, Options{Calib: trainSource(t, 256, 64), Env: budget(val, validate.MinAgreement, 0.99)})
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Accuracy
	if a.Metric != "agreement" || !a.Met || a.Agreement == nil || *a.Agreement < 0.99 || a.Samples != 1000 {
		t.Fatalf("%+v", *a)
	}
	// Without labels a budget in points is refused.
	_, _, err = Quantize(context.Background(), m, Options{Calib: trainSource(t, 64, 64), Env: budget(val, validate.MaxAccuracyDrop, 1)})
	var fe *transform.FieldError
	if !errors.As(err, &fe) || fe.Field != "Env.Val" || !strings.Contains(err.Error(), "no labels") {
		t.Fatalf("MaxDrop without labels: %v", err)
	}
}
