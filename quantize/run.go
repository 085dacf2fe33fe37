package quantize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/validate"
)

// run chooses what stays float and explains the result: the speed-aware
// step (speedaware.go), the accuracy-aware step (accuracy.go), then the
// report's tables and figures (explain.go). Every measurement goes
// through package validate.
func (q *quantizer) run(ctx context.Context) (*onnxio.Model, *Report, error) {
	prog := q.o.Env.Progress
	float := map[int]string{}
	v, err := q.build(float)
	if err != nil {
		return nil, nil, err
	}
	if len(v.quantizedIndices()) == 0 {
		return nil, nil, q.nothingToQuantize(v)
	}
	rep := q.newReport()
	var sample map[string]*onnxio.Tensor
	batch := 0
	if q.o.Calib != nil {
		sample, batch, err = q.calibSample(ctx)
		if err != nil {
			return nil, nil, err
		}
	}
	var prof [2]*Profile
	if q.o.SpeedAware && sample != nil {
		ph := prog.Phase("profiling float and int8 models", 0)
		v, prof, rep.Speed, err = q.speedAware(ctx, v, float, sample, batch, rep, ph)
		ph.Done()
		if err != nil {
			return nil, nil, err
		}
	} else if q.o.SpeedAware {
		rep.Notes = append(rep.Notes, "speed-aware selection skipped: no data to time the models on (give calibration data); the speed was timed on random inputs of batch 1")
	}
	if len(q.o.Env.Budget) > 0 {
		v, rep.Accuracy, err = q.accuracyAware(ctx, v, float, rep)
		if err != nil {
			return nil, nil, err
		}
		if err := q.retime(ctx, v, rep, sample); err != nil {
			return nil, nil, err
		}
	}
	if rep.Speed == nil && q.o.SpeedAware {
		if err := q.timeRandom(ctx, v, rep); err != nil {
			return nil, nil, err
		}
	}
	if err := q.explain(ctx, v, rep, sample, prof); err != nil {
		return nil, nil, err
	}
	q.warnLowSQNR(rep)
	q.warnNothingGained(rep)
	if v.b.holds > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("held %s after a float MaxPool with a Shape reader, so ORT does not move the QuantizeLinear up and run the MaxPool in slow NCHW uint8", plural(v.b.holds, "float→int8 boundary", "float→int8 boundaries")))
	}
	md := rep.metadata()
	for _, k := range slices.Sorted(maps.Keys(md)) { // sorted: the same run gives the same bytes
		v.m.SetMetadata(k, md[k])
	}
	return v.m, rep, nil
}

// warnNothingGained warns, and says so in the report, when the result
// holds no int8 node (every candidate went back to float) or is slower
// than the float model: quantization made nothing better.
func (q *quantizer) warnNothingGained(rep *Report) {
	if rep.Quantized == 0 {
		rep.NothingQuantized = true
		rep.Warnings = append(rep.Warnings, "NO NODE RUNS IN INT8: every candidate went back to float (the table says why); the model written computes as the float one does")
	}
	if sp := rep.Speed; sp != nil && sp.Slower {
		on := fmt.Sprintf("at batch %d", sp.Batch)
		if sp.Inputs == "random" {
			on = "on random inputs of batch 1 (give calibration data to time it on yours and let slower nodes go back to float)"
		}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("THE QUANTIZED MODEL IS SLOWER THAN THE FLOAT ONE ON THIS CPU: %.2f× (median of paired run ratios; median run %.3f ms int8 vs %.3f ms float) %s with %d threads",
			sp.Speedup, sp.Int8Ms, sp.FloatMs, on, sp.Threads))
	}
}

// warnLowSQNR adds a warning for each graph output whose SQNR against the
// float model is below Options.WarnSQNR.
func (q *quantizer) warnLowSQNR(rep *Report) {
	if q.o.WarnSQNR < 0 {
		return
	}
	thr := q.o.WarnSQNR
	rep.WarnSQNR = &thr
	on := rep.OutputsOn
	for _, o := range rep.Outputs {
		if o.SQNR == nil || *o.SQNR >= thr || on == nil {
			continue
		}
		w := fmt.Sprintf("output %q keeps only %.1f dB SQNR against the float model (below %g dB; on %s): "+
			"check it on real data with `shrink compare`; return the most sensitive nodes to float with --min-sqnr DB "+
			"(or --max-accuracy-drop / --min-agreement for a classifier) and --val-data; or keep the layers whose SQNR "+
			"column falls first in float with --exclude NAME", o.Name, *o.SQNR, thr, plural(on.Samples, on.Data+" sample", on.Data+" samples"))
		rep.Warnings = append(rep.Warnings, w)
	}
}

// nothingToQuantize explains why no node can be quantized: the first
// candidate node and why it stays float, or, when the model has no node of
// the op types asked that runs in int8 on its own, those op types.
func (q *quantizer) nothingToQuantize(v *variant) error {
	var why []string
	var first *NodeState
	for i := range q.m.Proto.Graph.Node {
		if s := v.byIndex[i]; s != nil && (s.Handler.Kind == Compute || s.Handler.Kind == Elementwise) && s.Float != notSelected {
			if first == nil {
				first = s
			}
			if len(why) < 3 {
				why = append(why, fmt.Sprintf("%s: %s", nodeLabel(s.Node), s.Float))
			}
		}
	}
	if first != nil {
		return &onnxio.UnsupportedError{Node: nodeLabel(first.Node), Op: first.Node.GetOpType(),
			Reason: "nothing to quantize: every candidate stays float (" + strings.Join(why, "; ") + ")"}
	}
	own := ownKindOps(q.o.OpTypes)
	if len(own) == 0 {
		return &onnxio.UnsupportedError{Op: strings.Join(q.o.OpTypes, "/"),
			Reason: fmt.Sprintf("nothing to quantize: none of the op types asked runs in int8 on its own (add one of %s)", strings.Join(ownKindOps(HandledOps()), ", "))}
	}
	return &onnxio.UnsupportedError{Op: strings.Join(own, "/"),
		Reason: fmt.Sprintf("nothing to quantize: no %s node in graph %q", orList(own), q.m.Proto.Graph.GetName())}
}

// ownKindOps keeps the op types whose handler quantizes a node on its own
// (compute and elementwise; pass-through ops and activations follow them).
func ownKindOps(ops []string) []string {
	var out []string
	for _, op := range ops {
		if h := lookupHandler(op); h != nil && (h.Kind == Compute || h.Kind == Elementwise) {
			out = append(out, op)
		}
	}
	return out
}

// orList writes "A", "A or B", "A, B or C".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func (q *quantizer) newReport() *Report {
	r := &Report{
		Schema: ReportSchema, Mode: q.o.Mode, Format: &q.o.Format,
		ActivationType: q.o.ActivationType.String(), Symmetric: q.o.ActivationType == onnxio.Int8,
		WeightType: "int8", PerChannel: !q.o.PerTensor, QDQDomain: "ai.onnx",
		Nodes: []Node{}, Outputs: []Out{}, Reverted: []Revert{}, Warnings: []string{}, Notes: []string{},
	}
	if q.o.Mode == Dynamic {
		r.Format = nil
		r.ActivationType = "uint8 (dynamic)"
		r.Symmetric = false
	}
	r.Notes = append(r.Notes, q.notes...)
	if q.m.Opset("") < 13 && q.o.Mode == Static {
		r.QDQDomain = msDomain
		r.Notes = append(r.Notes, fmt.Sprintf("the model imports opset %d, whose QuantizeLinear/DequantizeLinear have no per-channel axis: ONNX Runtime's com.microsoft QuantizeLinear/DequantizeLinear are used", q.m.Opset("")))
	}
	if q.st != nil {
		r.Calibration = &Calib{Method: q.o.CalibMethod, Samples: q.st.Samples, Batches: q.st.Batches, Tensors: len(q.st.Shapes), Chunks: q.st.Chunks}
		if q.o.CalibMethod == Percentile {
			p := q.o.Percentile
			r.Calibration.Percentile = &p
		}
	}
	return r
}

// calibSample returns the first calibration batch and its number of
// samples, read on the first call only: the opset upgrade and the speed
// and explain steps share it.
func (q *quantizer) calibSample(ctx context.Context) (map[string]*onnxio.Tensor, int, error) {
	if q.sample == nil {
		b, err := firstBatch(ctx, q.o.Calib)
		if err != nil {
			return nil, 0, err
		}
		q.sample, q.axes, q.batch = b.Inputs, b.Axes, b.N
	}
	return q.sample, q.batch, nil
}

// sampleBatch is the first calibration batch as a data-set batch (its
// inputs cut along their own batch axes when a step takes fewer samples).
func (q *quantizer) sampleBatch() *dataset.Batch {
	return &dataset.Batch{Inputs: q.sample, Axes: q.axes, N: q.batch}
}

// firstBatch reads the first batch of src, its inputs copied (and rewinds
// src).
func firstBatch(ctx context.Context, src dataset.Source) (*dataset.Batch, error) {
	if err := src.Reset(); err != nil {
		return nil, err
	}
	b, err := src.Next(ctx)
	if err == io.EOF {
		return nil, errors.New("calibration data is empty")
	}
	if err != nil {
		return nil, err
	}
	in := make(map[string]*onnxio.Tensor, len(b.Inputs))
	for k, t := range b.Inputs {
		in[k] = t.Clone()
	}
	return &dataset.Batch{Inputs: in, Axes: b.Axes, N: b.N, Index: b.Index}, src.Reset()
}

// floatSubject is the float model as validate's baseline.
func (q *quantizer) floatSubject() validate.Subject {
	return validate.Subject{Name: "float", Model: q.m}
}

// measureOptions are validate's options for the transform's environment.
func (q *quantizer) measureOptions() validate.Options {
	return validate.Options{Threads: q.o.Env.Threads, Provider: q.o.Env.Provider}
}

func copyMap(m map[int]string) map[int]string {
	out := make(map[int]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
