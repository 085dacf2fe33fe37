package quantize

import (
	"context"
	"fmt"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/validate"
)

// explainSamples bounds the samples of the first calibration batch used to
// measure the per-node SQNR for the report.
const explainSamples = 64

// outputSQNRSamples bounds the samples the report's output SQNR (and so
// the low-SQNR warning) is measured on: each model runs on at most this
// many samples, about half a default calibration pass.
const outputSQNRSamples = 256

// explain fills the report's node table, MAC counts, SQNRs and op counts
// for the chosen variant.
func (q *quantizer) explain(ctx context.Context, v *variant, rep *Report, sample map[string]*onnxio.Tensor, prof [2]*Profile) error {
	order, err := q.m.Graph().TopoOrder()
	if err != nil {
		return err
	}
	g := q.m.Graph()
	var carriers []string
	carrierRow := map[string]int{}
	// The main graph's nodes in order, then those of its subgraphs.
	for _, fn := range append(order, q.nodes[len(q.m.Proto.Graph.Node):]...) {
		i := q.index[fn]
		s := v.byIndex[i]
		if s == nil {
			continue
		}
		row := Node{Index: i, Name: nodeLabel(fn), Op: fn.GetOpType(), Kind: s.Handler.Kind.String(), Int8: s.Quantized, FloatReason: s.Float}
		if s.FoldedInto != nil {
			row.FoldedInto = nodeLabel(s.FoldedInto)
		}
		if s.Quantized && v.plan != nil {
			if len(s.Spec.Acts) > 0 {
				t := fn.Input[s.Spec.Acts[0]]
				if p, ok := v.plan.Tensors[t]; ok {
					row.Input = &TensorParams{Tensor: t, Scale: p.Scale[0], ZeroPoint: p.Zero[0]}
				}
			}
			out := q.carrier(v, fn, s)
			if p, ok := v.plan.Tensors[out]; ok && s.Handler.Kind != Activation {
				row.Output = &TensorParams{Tensor: out, Scale: p.Scale[0], ZeroPoint: p.Zero[0]}
			}
			if wp, ok := v.b.weightParams[s.Node]; ok {
				w := &WeightParamsReport{Tensor: fn.Input[s.Spec.Weight], PerChannel: wp.Axis >= 0, Axis: wp.Axis, Channels: len(wp.Scale), ScaleMin: wp.Scale[0], ScaleMax: wp.Scale[0]}
				for _, sc := range wp.Scale {
					w.ScaleMin, w.ScaleMax = min(w.ScaleMin, sc), max(w.ScaleMax, sc)
				}
				w.BiasWidened = v.b.biasWidened[s.Node]
				row.Weight = w
			}
			// A subgraph's tensors cannot be fetched as outputs: its
			// nodes get no SQNR of their own.
			if (s.Handler.Kind == Compute || s.Handler.Kind == Elementwise) && i < len(q.m.Proto.Graph.Node) {
				carriers = append(carriers, out)
				carrierRow[out] = len(rep.Nodes)
			}
		}
		if s.Handler.MACs != nil && q.st != nil {
			var in, out [][]int64
			for _, t := range fn.Input {
				in = append(in, q.st.Shapes[t])
			}
			for _, t := range fn.Output {
				out = append(out, q.st.Shapes[t])
			}
			var ws []int64
			if len(fn.Input) > 1 {
				ws, _ = weightShape(g, fn.Input[1])
			}
			row.MACs = s.Handler.MACs(fn, in, out, ws)
			rep.MACs.Total += row.MACs
			if s.Quantized {
				rep.MACs.Int8 += row.MACs
			}
		}
		if prof[0] != nil && (s.Handler.Kind == Compute || s.Handler.Kind == Elementwise) {
			var tf, tq float64
			for _, j := range q.group(v, i) {
				tf += prof[0].Node[j]
				tq += prof[1].Node[j]
			}
			row.FloatMs = f64(tf)
			if tq > 0 {
				row.Int8Ms = f64(tq)
			}
		}
		if sv, ok := rep.sensitivity[i]; ok {
			row.Sensitivity = f64(sv)
		}
		if s.Quantized && (s.Handler.Kind == Compute || s.Handler.Kind == Elementwise) {
			rep.Quantized++
		} else if (s.Handler.Kind == Compute || s.Handler.Kind == Elementwise) && s.Float != notSelected {
			rep.Float++
		}
		rep.Nodes = append(rep.Nodes, row)
	}
	if rep.MACs.Total > 0 {
		rep.MACs.Int8Share = f64(float64(rep.MACs.Int8) / float64(rep.MACs.Total))
	}
	rep.Ops = v.m.Graph().OpHistogram()
	if err := q.outputSQNR(ctx, v, rep); err != nil {
		return err
	}
	if sample == nil || len(carriers) == 0 {
		return nil
	}
	return q.nodeSQNR(ctx, v, rep, sample, carriers, carrierRow)
}

// outputSQNR measures each graph output's SQNR of the chosen model, on up
// to outputSQNRSamples of the validation data when there is some, else of
// the calibration data (at most CalibSize of them).
func (q *quantizer) outputSQNR(ctx context.Context, v *variant, rep *Report) error {
	src, data, limit := q.o.Calib, "calibration", min(outputSQNRSamples, q.o.CalibSize)
	if q.o.Env.Val != nil {
		src, data, limit = q.o.Env.Val, "validation", outputSQNRSamples
	}
	if src == nil {
		for _, o := range q.m.Proto.Graph.Output {
			rep.Outputs = append(rep.Outputs, Out{Name: o.GetName()})
		}
		return nil
	}
	o := q.measureOptions()
	o.Limit, o.SQNROnly, o.CacheBytes = limit, true, -1
	ph := q.o.Env.Progress.Phase("measuring output SQNR", 0)
	defer ph.Done()
	ev, err := q.measure(ctx, src, o, v.m, ph)
	if err != nil {
		return fmt.Errorf("output SQNR on the %s data: %w", data, err)
	}
	rep.Outputs = outs(ev.Candidates[0].Outputs)
	rep.OutputsOn = &SQNRData{Data: data, Samples: ev.Samples}
	return nil
}

// nodeSQNR measures the SQNR of each quantized node's output tensor
// (carrier) on at most explainSamples of the first calibration batch (all
// of it for a fixed batch dimension, which cannot be cut), on a QDQ
// rendering of the same choice (whose tensors keep the float model's
// names), in chunks of ChunkTensors tensors.
func (q *quantizer) nodeSQNR(ctx context.Context, v *variant, rep *Report, sample map[string]*onnxio.Tensor, carriers []string, carrierRow map[string]int) error {
	mm := v.m
	if q.o.Mode == Static && q.o.Format != QDQ {
		qv, err := q.buildAs(v.floats, QDQ)
		if err != nil {
			return err
		}
		mm = qv.m
	}
	data := dataset.Batches(q.sampleBatch())
	for i := 0; i < len(carriers); i += q.o.ChunkTensors {
		if err := ctx.Err(); err != nil {
			return err
		}
		o := q.measureOptions()
		o.Tensors = carriers[i:min(i+q.o.ChunkTensors, len(carriers))]
		o.Limit, o.SQNROnly, o.CacheBytes = explainSamples, true, -1
		ev, err := q.measure(ctx, data, o, mm, nil)
		if err != nil {
			return fmt.Errorf("per-node SQNR: %w", err)
		}
		for _, t := range ev.Candidates[0].Outputs {
			rep.Nodes[carrierRow[t.Name]].SQNR = f64(t.SQNR)
		}
	}
	return nil
}

// measure evaluates m against the float model on src once.
func (q *quantizer) measure(ctx context.Context, src dataset.Source, o validate.Options, m *onnxio.Model, rep progress.Reporter) (*validate.Evaluation, error) {
	ref, err := validate.NewReference(q.floatSubject(), src, o)
	if err != nil {
		return nil, err
	}
	defer ref.Close()
	return ref.Evaluate(ctx, rep, validate.Subject{Name: "quantized", Model: m})
}

// carrier is the float-model tensor holding a quantized node's output:
// its own, or that of the Relu/Clip folded into it.
func (q *quantizer) carrier(v *variant, fn *onnxpb.NodeProto, s *NodeState) string {
	if s.Fold != nil {
		if j, ok := v.idx[s.Fold]; ok {
			return q.node(j).Output[0]
		}
	}
	return fn.Output[0]
}
