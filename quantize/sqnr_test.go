package quantize

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
)

// unlabeled drops the labels of a source: the SQNR budget needs none.
func unlabeled(s *memSource) *memSource {
	for _, b := range s.batches {
		b.Labels = nil
	}
	return s
}

// valSQNR runs both models on every batch of src and returns the SQNR of
// b's first output against a's over all of it, computed here independently
// of the accuracy-aware loop.
func valSQNR(t *testing.T, a, b *onnxio.Model, src *memSource) float64 {
	t.Helper()
	var sig, noise float64
	for _, bt := range src.batches {
		ra, err := runOutputs(a, []map[string]*onnxio.Tensor{bt.Inputs}, 1)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := runOutputs(b, []map[string]*onnxio.Tensor{bt.Inputs}, 1)
		if err != nil {
			t.Fatal(err)
		}
		s, n := sqnrSums(ra[0][0], rb[0][0])
		sig += s
		noise += n
	}
	return sqnrDB(sig, noise)
}

// With ranges calibrated on dimmed images (×0.7) the all-int8 CNN's logits
// are far from the float ones (11 dB); the SQNR budget returns the most sensitive nodes to
// float until the logits' SQNR on the validation data reaches it.
func TestMinSQNRBudgetMet(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_cnn.onnx")
	val := unlabeled(mnistSource(t, 0, 1000, 500))
	const budget = 25
	dimFactor := float32(0.7)
	qm, rep, err := Quantize(context.Background(), m, Options{Calib: dimmed(t, 128, dimFactor), Accuracy: &AccuracyGoal{Val: val, MinSQNR: budget}})
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Accuracy
	t.Logf("%+v sqnr %v reverted %v", *a, *a.SQNR, rep.Reverted)
	if a.Metric != "sqnr" || a.Samples != 1000 || a.Agreement != nil || a.Drop != nil || a.Float != 999 {
		t.Fatalf("%+v", *a)
	}
	if a.AllInt8 >= budget {
		t.Fatalf("the all-int8 model (%.1f dB) already meets %d dB: the loop is not exercised", a.AllInt8, budget)
	}
	if !a.Met || a.SQNR == nil || *a.SQNR < budget || len(a.Outputs) != 1 || *a.Outputs[0].SQNR != *a.SQNR || a.Int8 != *a.SQNR {
		t.Fatalf("budget not met or inconsistent: %+v", *a)
	}
	// The figure is that of the model returned, measured again here.
	if got := valSQNR(t, m, qm, val); math.Abs(got-*a.SQNR) > 1e-6*math.Abs(got) {
		t.Fatalf("loop says %.6f dB, the returned model gives %.6f dB", *a.SQNR, got)
	}
	if len(rep.Reverted) == 0 || rep.Quantized == 0 {
		t.Fatalf("reverted %v, %d int8 nodes", rep.Reverted, rep.Quantized)
	}
	rows := map[string]Node{}
	for _, n := range rep.Nodes {
		rows[n.Name] = n
	}
	prev := -1e9
	for _, r := range rep.Reverted {
		row := rows[r.Node]
		if r.Stage != "accuracy" || row.Int8 || row.Sensitivity == nil || row.FloatReason != r.Reason || !strings.HasPrefix(r.Reason, "output SQNR budget") {
			t.Fatalf("revert %+v, row %+v", r, row)
		}
		if *row.Sensitivity < prev {
			t.Fatalf("reverted out of sensitivity order: %v", rep.Reverted)
		}
		prev = *row.Sensitivity
	}
}

// A budget no int8 model can meet returns the best model found, unmet, with
// every node but one back in float. The reference outputs are kept in
// memory or recomputed for each try (beyond the cache bound) with the same
// figures.
func TestMinSQNRBudgetUnmet(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_mlp.onnx")
	val := unlabeled(mnistSource(t, 0, 600, 200))
	var figs []float64
	for _, cache := range []int64{sqnrCacheBytes, 0} {
		old := sqnrCacheBytes
		sqnrCacheBytes = cache
		qm, rep, err := Quantize(context.Background(), m, Options{Calib: trainSource(t, 256, 64), Accuracy: &AccuracyGoal{Val: val, MinSQNR: 150}})
		sqnrCacheBytes = old
		if err != nil {
			t.Fatal(err)
		}
		a := rep.Accuracy
		if qm == nil || a.Met || a.SQNR == nil || *a.SQNR >= 150 || rep.Quantized != 1 || len(rep.Reverted) != 2 {
			t.Fatalf("cache %d: met %v, %d int8 nodes, reverted %v: %+v", cache, a.Met, rep.Quantized, rep.Reverted, *a)
		}
		// best found: at least as good as all-int8
		if *a.SQNR < a.AllInt8 || a.Tries != 3 {
			t.Fatalf("best %.2f dB < all-int8 %.2f dB, %d tries", *a.SQNR, a.AllInt8, a.Tries)
		}
		if got := valSQNR(t, m, qm, val); math.Abs(got-*a.SQNR) > 1e-6*math.Abs(got) {
			t.Fatalf("loop says %.6f dB, the returned model gives %.6f dB", *a.SQNR, got)
		}
		figs = append(figs, *a.SQNR, a.AllInt8)
	}
	if figs[0] != figs[2] || figs[1] != figs[3] {
		t.Fatalf("cached and recomputed references differ: %v", figs)
	}
}

func TestMinSQNROptions(t *testing.T) {
	m := fixture(t, "mnist_mlp.onnx")
	val := unlabeled(mnistSource(t, 0, 10, 10))
	for _, g := range []AccuracyGoal{
		{Val: val, MinSQNR: 20, MinAgreement: 0.9},
		{Val: val, MinSQNR: -1},
		{Val: val, MinSQNR: math.Inf(1)},
		{Val: val, MinSQNR: math.NaN()},
	} {
		_, _, err := Quantize(context.Background(), m, Options{Calib: val, Accuracy: &g})
		if _, ok := err.(*OptionError); !ok {
			t.Errorf("%+v: %v", g, err)
		}
	}
}

// An output below the warning threshold gives a warning that names it, its
// SQNR and the remedies; the default threshold (20 dB) stays quiet on a
// well-calibrated model, a negative one turns warnings off.
func TestLowSQNRWarning(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_mlp.onnx")
	calib := trainSource(t, 128, 64)
	for _, c := range []struct {
		warn  float64
		want  bool
		thres *float64
	}{{0, false, f64(20)}, {80, true, f64(80)}, {-1, false, nil}} {
		_, rep, err := Quantize(context.Background(), m, Options{Calib: calib, WarnSQNR: c.warn})
		if err != nil {
			t.Fatal(err)
		}
		sq := *rep.Outputs[0].SQNR
		if sq < 20 || sq > 80 {
			t.Fatalf("output SQNR %.1f dB: the thresholds do not bracket it", sq)
		}
		var ws []string
		for _, w := range rep.Warnings {
			if strings.Contains(w, "SQNR") {
				ws = append(ws, w)
			}
		}
		if (len(ws) > 0) != c.want || (rep.WarnSQNR == nil) != (c.thres == nil) || c.thres != nil && *rep.WarnSQNR != *c.thres {
			t.Fatalf("threshold %g: warnings %q, threshold %v", c.warn, ws, rep.WarnSQNR)
		}
		if c.want {
			w := ws[0]
			for _, s := range []string{`"` + rep.Outputs[0].Name + `"`, ftoa(sq) + " dB", "--min-sqnr", "--max-accuracy-drop", "--exclude", "shrink compare", "64 calibration sample"} {
				if !strings.Contains(w, s) {
					t.Errorf("warning lacks %q: %s", s, w)
				}
			}
		}
	}
	// A deliberately bad calibration (ranges clipped to the middle 20% of
	// the mass) trips the default threshold.
	_, rep, err := Quantize(context.Background(), m, Options{Calib: calib, Percentile: 60, CalibMethod: Percentile})
	if err != nil {
		t.Fatal(err)
	}
	if sq := *rep.Outputs[0].SQNR; sq >= 20 || len(rep.Warnings) == 0 || !strings.Contains(strings.Join(rep.Warnings, "\n"), "below 20 dB") {
		t.Fatalf("SQNR %.1f dB, warnings %q", sq, rep.Warnings)
	}
}
