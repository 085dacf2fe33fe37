package quantize

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
)

// accuracyAware checks the budget (Env.Budget's gate, on Env.Val) on v;
// while it does not pass, it ranks the quantized nodes by sensitivity (the
// lowest output SQNR with only that node quantized) and returns them to
// float, most sensitive first, measuring each time. It keeps at least one
// node in int8; when the budget still does not pass it returns the best
// variant found with Met false. Every figure comes from one
// validate.Reference (the float model's outputs on Env.Val, computed once)
// and the gate is checked by validate.CheckGates, as `shrink compare`
// checks it.
func (q *quantizer) accuracyAware(ctx context.Context, v *variant, float map[int]string, rep *Report) (*variant, *Acc, error) {
	prog := q.o.Env.Progress
	gate := q.o.Env.Budget[0]
	revertWhy := "accuracy: the most sensitive node left (model output SQNR %.1f dB with only it in int8)"
	if gate.Kind == validate.MinSQNR {
		revertWhy = "output SQNR budget: the most sensitive node left (model output SQNR %.1f dB with only it in int8)"
	}
	o := q.measureOptions()
	o.SQNROnly = gate.Kind == validate.MinSQNR
	ref, err := validate.NewReference(q.floatSubject(), q.o.Env.Val, o)
	if err != nil {
		return nil, nil, fmt.Errorf("validation: %w", err)
	}
	defer ref.Close()
	// measure returns the accuracy figures of m and a score (higher is
	// better).
	measure := func(m *onnxio.Model, rep progress.Reporter) (Acc, float64, error) {
		ev, err := ref.Evaluate(ctx, rep, validate.Subject{Name: "int8", Model: m})
		if err != nil {
			return Acc{}, 0, fmt.Errorf("validation: %w", err)
		}
		return accFigures(ev, gate)
	}
	ph := prog.Phase("measuring accuracy", 0)
	first, score, err := measure(v.m, ph)
	ph.Done()
	if err != nil {
		return nil, nil, err
	}
	tries := 1
	if first.Met {
		first.AllInt8, first.Tries = first.Int8, tries
		return v, &first, nil
	}
	// Rank by sensitivity, most sensitive (lowest SQNR) first.
	cands := v.quantizedIndices()
	sens, err := q.sensitivities(ctx, float, cands)
	if err != nil {
		return nil, nil, err
	}
	sort.SliceStable(cands, func(i, j int) bool { return sens[cands[i]] < sens[cands[j]] })
	rep.sensitivity = sens
	best, bestScore, bestAcc := v, score, first
	var bestFloat map[int]string
	bestK := -1
	ph = prog.Phase("returning sensitive nodes to float", int64(len(cands)-1))
	defer ph.Done()
	f := copyMap(float)
	for k := 0; k < len(cands)-1; k++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		i := cands[k]
		f[i] = fmt.Sprintf(revertWhy, sens[i])
		vk, err := q.build(f)
		if err != nil {
			return nil, nil, err
		}
		r, sc, err := measure(vk.m, ph)
		if err != nil {
			return nil, nil, err
		}
		tries++
		ph.Add(1)
		if sc > bestScore || r.Met {
			best, bestScore, bestAcc, bestFloat, bestK = vk, sc, r, copyMap(f), k
		}
		if r.Met {
			break
		}
	}
	bestAcc.AllInt8, bestAcc.Tries = first.Int8, tries
	// Report the reverts most sensitive first.
	for _, k := range cands[:bestK+1] {
		float[k] = bestFloat[k]
		n := q.node(k)
		rep.Reverted = append(rep.Reverted, Revert{Node: nodeLabel(n), Op: n.GetOpType(), Stage: "accuracy", Reason: bestFloat[k]})
	}
	return best, &bestAcc, nil
}

// accFigures turns an evaluation of one candidate into the report's
// accuracy figures, whether the gate passes (validate.CheckGates) and a
// score (higher is better) to keep the best model found.
func accFigures(ev *validate.Evaluation, gate validate.Gate) (Acc, float64, error) {
	c := ev.Candidates[0]
	r := Acc{Budget: gate.Limit, Samples: ev.Samples, Outputs: []Out{}}
	r.Met = validate.CheckGates(ev, []validate.Gate{gate})[0].Passed
	switch gate.Kind {
	case validate.MaxAccuracyDrop:
		if !ev.Labels {
			return r, 0, transform.Errorf("Env.Val", nil, "has no labels, and a %s budget counts correct answers", gate.Kind)
		}
		r.Metric = "top1"
		r.Agreement = f64(c.Fidelity.Agreement)
		r.Float = 100 * ev.Models[0].Accuracy.Top1
		r.Int8 = 100 * ev.Models[1].Accuracy.Top1
		r.Drop = f64(c.AccuracyDrop)
		return r, -c.AccuracyDrop, nil
	case validate.MinSQNR:
		r.Metric = "sqnr"
		r.Outputs = outs(c.Outputs)
		r.SQNR = f64(c.MinSQNR)
		r.Float, r.Int8 = 999, clampDB(c.MinSQNR)
		return r, c.MinSQNR, nil
	}
	r.Metric = "agreement"
	r.Agreement = f64(c.Fidelity.Agreement)
	r.Float, r.Int8 = 1, c.Fidelity.Agreement
	if math.IsNaN(r.Int8) {
		r.Int8 = 0
	}
	return r, c.Fidelity.Agreement, nil
}

// sensitivities returns, per candidate, the lowest output SQNR of the
// model with only that node in int8, over the first SensitivitySamples of
// the validation data.
func (q *quantizer) sensitivities(ctx context.Context, float map[int]string, cands []int) (map[int]float64, error) {
	o := q.measureOptions()
	o.Limit, o.SQNROnly = q.o.SensitivitySamples, true
	ref, err := validate.NewReference(q.floatSubject(), q.o.Env.Val, o)
	if err != nil {
		return nil, err
	}
	defer ref.Close()
	ph := q.o.Env.Progress.Phase("measuring per-node sensitivity", int64(len(cands)))
	defer ph.Done()
	out := map[int]float64{}
	for _, i := range cands {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := copyMap(float)
		for _, j := range cands {
			if j != i {
				f[j] = "sensitivity probe"
			}
		}
		vi, err := q.build(f)
		if err != nil {
			return nil, err
		}
		ev, err := ref.Evaluate(ctx, ph, validate.Subject{Name: "probe", Model: vi.m})
		if err != nil {
			return nil, err
		}
		out[i] = ev.Candidates[0].MinSQNR
		if math.IsNaN(out[i]) {
			out[i] = math.Inf(1) // no float output: nothing to rank by
		}
		ph.Add(1)
	}
	return out, nil
}

// outs turns validate's per-tensor SQNRs into the report's.
func outs(ts []validate.TensorSQNR) []Out {
	out := make([]Out, len(ts))
	for i, t := range ts {
		out[i] = Out{Name: t.Name, SQNR: f64(t.SQNR)}
	}
	return out
}

// clampDB writes an SQNR as a JSON number: ±Inf as ±999 dB, and NaN (no
// float output measured) as -999 dB.
func clampDB(v float64) float64 {
	if math.IsNaN(v) {
		return -999
	}
	return max(-999, min(v, 999))
}
