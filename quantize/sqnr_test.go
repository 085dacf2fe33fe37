package quantize

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
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
	var ra, rb []*onnxio.Tensor
	for _, bt := range src.batches {
		ra = append(ra, runModel(t, a, bt.Inputs, 1)[0])
		rb = append(rb, runModel(t, b, bt.Inputs, 1)[0])
	}
	return sqnrDB(ra, rb)
}

// With ranges calibrated on dimmed images (×0.7) the all-int8 CNN's logits
// are far from the float ones (11 dB); the SQNR budget returns the most sensitive nodes to
// float until the logits' SQNR on the validation data reaches it.
func TestMinSQNRBudgetMet(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_cnn.onnx")
	val := unlabeled(mnistSource(t, 0, 1000, 500))
	const limit = 25
	dimFactor := float32(0.7)
	qm, rep, err := Quantize(context.Background(), m, Options{Calib: dimmed(t, 128, dimFactor), Env: budget(val, validate.MinSQNR, limit)})
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Accuracy
	t.Logf("%+v sqnr %v reverted %v", *a, *a.SQNR, rep.Reverted)
	if a.Metric != "sqnr" || a.Samples != 1000 || a.Agreement != nil || a.Drop != nil || a.Float != 999 {
		t.Fatalf("%+v", *a)
	}
	if a.AllInt8 >= limit {
		t.Fatalf("the all-int8 model (%.1f dB) already meets %d dB: the loop is not exercised", a.AllInt8, limit)
	}
	if !a.Met || a.SQNR == nil || *a.SQNR < limit || len(a.Outputs) != 1 || *a.Outputs[0].SQNR != *a.SQNR || a.Int8 != *a.SQNR {
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
// every node but one back in float. (validate's tests check that cached and
// recomputed reference outputs give the same figures.)
func TestMinSQNRBudgetUnmet(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_mlp.onnx")
	val := unlabeled(mnistSource(t, 0, 600, 200))
	qm, rep, err := Quantize(context.Background(), m, Options{Calib: trainSource(t, 256, 64), Env: budget(val, validate.MinSQNR, 150)})
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Accuracy
	if qm == nil || a.Met || a.SQNR == nil || *a.SQNR >= 150 || rep.Quantized != 1 || len(rep.Reverted) != 2 {
		t.Fatalf("met %v, %d int8 nodes, reverted %v: %+v", a.Met, rep.Quantized, rep.Reverted, *a)
	}
	// best found: at least as good as all-int8
	if *a.SQNR < a.AllInt8 || a.Tries != 3 {
		t.Fatalf("best %.2f dB < all-int8 %.2f dB, %d tries", *a.SQNR, a.AllInt8, a.Tries)
	}
	if got := valSQNR(t, m, qm, val); math.Abs(got-*a.SQNR) > 1e-6*math.Abs(got) {
		t.Fatalf("loop says %.6f dB, the returned model gives %.6f dB", *a.SQNR, got)
	}
}

func TestMinSQNROptions(t *testing.T) {
	m := fixture(t, "mnist_mlp.onnx")
	val := unlabeled(mnistSource(t, 0, 10, 10))
	for _, env := range []transform.Env{
		{Val: val, Budget: []validate.Gate{{Kind: validate.MinSQNR, Limit: 20}, {Kind: validate.MinAgreement, Limit: 0.9}}},
		budget(val, validate.MinSQNR, -1),
		budget(val, validate.MinSQNR, math.Inf(1)),
		budget(val, validate.MinSQNR, math.NaN()),
	} {
		_, _, err := Quantize(context.Background(), m, Options{Calib: val, Env: env})
		var fe *transform.FieldError
		if !errors.As(err, &fe) || fe.Field != "Env.Budget" {
			t.Errorf("%+v: %v", env.Budget, err)
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
			for _, s := range []string{`"` + rep.Outputs[0].Name + `"`, ftoa(sq) + " dB", "--min-sqnr", "--max-accuracy-drop", "--exclude", "shrink compare", "128 calibration sample"} {
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

// ortSQNR runs the float model a and the quantized model b in ONNX Runtime
// on the n images x, in batches of batch, and returns the SQNR of b's
// first output against a's in dB, computed here from the raw outputs.
func ortSQNR(t *testing.T, a, b *onnxio.Model, x []float32, n, batch int) float64 {
	t.Helper()
	var sess [2]*ort.Session
	for i, m := range []*onnxio.Model{a, b} {
		s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sess[i] = s
	}
	per := mnist.Rows * mnist.Cols
	var sig, noise float64
	for from := 0; from < n; from += batch {
		k := min(batch, n-from)
		in, err := onnxio.NewTensor("input", []int64{int64(k), 1, mnist.Rows, mnist.Cols}, x[from*per:(from+k)*per])
		if err != nil {
			t.Fatal(err)
		}
		var outs [2][]float32
		for i, s := range sess {
			o, err := s.Run(map[string]*onnxio.Tensor{"input": in})
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = o[0].Data.([]float32)
		}
		if len(outs[0]) != k*10 || len(outs[1]) != k*10 {
			t.Fatalf("output sizes %d, %d for %d samples", len(outs[0]), len(outs[1]), k)
		}
		for i, r := range outs[0] {
			d := float64(r) - float64(outs[1][i])
			sig += float64(r) * float64(r)
			noise += d * d
		}
	}
	return 10 * math.Log10(sig/noise)
}

// The report's output SQNR is measured on up to 256 samples: of the
// validation data when given, else of the calibration data (at most
// CalibSize of them); the report says which and how many, and the figure
// is the one ORT gives on those samples.
func TestOutputSQNRSamples(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_mlp.onnx")
	train, err := mnist.TrainSet()
	if err != nil {
		t.Fatal(err)
	}
	test, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	dim := func(x []float32, f float32) []float32 {
		for i := range x {
			x[i] *= f
		}
		return x
	}
	// The same MLP with a fixed batch dimension of 100: only whole batches
	// are measured (200 samples, not 256).
	fixed := m.Clone()
	fixed.Proto.Graph.Input[0].GetType().GetTensorType().GetShape().Dim[0] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 100}}
	for _, c := range []struct {
		name      string
		m         *onnxio.Model
		o         Options
		data      string
		n         int
		x         []float32 // the samples the figure must come from
		otherData []float32 // the other data set's first n samples
	}{
		{"calibration", m, Options{Calib: trainSource(t, 512, 64)}, "calibration", 256, train.Float32NCHW(0, 256), test.Float32NCHW(0, 256)},
		{"calib-size", m, Options{Calib: trainSource(t, 512, 64), CalibSize: 100}, "calibration", 100, train.Float32NCHW(0, 100), nil},
		// Ranges from dimmed images: the full-intensity validation images
		// give a clearly different SQNR, so the test tells the sets apart.
		{"fixed-batch", fixed, Options{Calib: trainSource(t, 300, 100), CalibSize: 300}, "calibration", 200, train.Float32NCHW(0, 200), nil},
		{"validation", m, Options{Calib: dimmed(t, 128, 0.7), Env: budget(unlabeled(mnistSource(t, 0, 300, 100)), validate.MinAgreement, 0.5)},
			"validation", 256, test.Float32NCHW(0, 256), dim(train.Float32NCHW(0, 128), 0.7)},
	} {
		t.Run(c.name, func(t *testing.T) {
			qm, rep, err := Quantize(context.Background(), c.m, c.o)
			if err != nil {
				t.Fatal(err)
			}
			on := rep.OutputsOn
			if on == nil || on.Data != c.data || on.Samples != c.n || len(rep.Outputs) != 1 || rep.Outputs[0].SQNR == nil {
				t.Fatalf("outputs %+v measured on %+v, want %d %s samples", rep.Outputs, on, c.n, c.data)
			}
			got := *rep.Outputs[0].SQNR
			want := ortSQNR(t, c.m, qm, c.x, c.n, 100)
			t.Logf("report %.3f dB, ORT on the same %d %s samples %.3f dB", got, c.n, c.data, want)
			if math.Abs(got-want) > 0.1 {
				t.Fatalf("report says %.3f dB on %d %s samples, ORT gives %.3f dB", got, c.n, c.data, want)
			}
			if c.otherData != nil {
				other := ortSQNR(t, m, qm, c.otherData, len(c.otherData)/(mnist.Rows*mnist.Cols), 100)
				t.Logf("the other data set: %.3f dB", other)
				if math.Abs(other-want) < 0.5 {
					t.Fatalf("the other data set gives %.3f dB, too close to %.3f dB to tell them apart", other, want)
				}
			}
		})
	}
}
