package quantize

import (
	"context"
	"fmt"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/validate"
)

// explainSamples bounds the samples used to measure per-node and output
// SQNR for the report.
const explainSamples = 64

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
	for _, fn := range order {
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
			if s.Handler.Kind == Compute || s.Handler.Kind == Elementwise {
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
	if sample == nil {
		for _, o := range q.m.Proto.Graph.Output {
			rep.Outputs = append(rep.Outputs, Out{Name: o.GetName()})
		}
		return nil
	}
	in := sample
	for _, t := range sample {
		if len(t.Shape) > 0 {
			rep.sqnrSamples = int(min(t.Shape[0], explainSamples))
		}
		if len(t.Shape) > 0 && t.Shape[0] > explainSamples {
			b, err := truncateBatch(batchOf(sample), explainSamples)
			if err != nil {
				return err
			}
			in = b.Inputs
		}
		break
	}
	// Output SQNR of the chosen model.
	ref, err := runOutputs(q.m, []map[string]*onnxio.Tensor{in}, q.o.Threads)
	if err != nil {
		return fmt.Errorf("float model: %w", err)
	}
	got, err := runOutputs(v.m, []map[string]*onnxio.Tensor{in}, q.o.Threads)
	if err != nil {
		return fmt.Errorf("quantized model: %w", err)
	}
	for k, o := range q.m.Proto.Graph.Output {
		sig, noise := sqnrSums(ref[0][k], got[0][k])
		var sq *float64
		if sig > 0 || noise > 0 {
			sq = f64(sqnrDB(sig, noise))
		}
		rep.Outputs = append(rep.Outputs, Out{Name: o.GetName(), SQNR: sq})
	}
	// Per-node SQNR, on a QDQ rendering of the same choice (whose tensors
	// keep the float model's names), in chunks.
	if len(carriers) == 0 {
		return nil
	}
	mm := v.m
	if q.o.Mode == Static && q.o.Format != QDQ {
		qv, err := q.buildAs(v.floats, QDQ)
		if err != nil {
			return err
		}
		mm = qv.m
	}
	for i := 0; i < len(carriers); i += q.o.ChunkTensors {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := carriers[i:min(i+q.o.ChunkTensors, len(carriers))]
		a, err := runOutputs(q.m, []map[string]*onnxio.Tensor{in}, q.o.Threads, chunk...)
		if err != nil {
			return fmt.Errorf("float model: %w", err)
		}
		b, err := runOutputs(mm, []map[string]*onnxio.Tensor{in}, q.o.Threads, chunk...)
		if err != nil {
			return fmt.Errorf("quantized model: %w", err)
		}
		for k, name := range chunk {
			sig, noise := sqnrSums(a[0][k], b[0][k])
			rep.Nodes[carrierRow[name]].SQNR = f64(sqnrDB(sig, noise))
		}
	}
	return nil
}

// carrier is the float-model tensor holding a quantized node's output:
// its own, or that of the Relu/Clip folded into it.
func (q *quantizer) carrier(v *variant, fn *onnxpb.NodeProto, s *NodeState) string {
	if s.Fold != nil {
		if j, ok := v.idx[s.Fold]; ok {
			return q.m.Proto.Graph.Node[j].Output[0]
		}
	}
	return fn.Output[0]
}

func sqnrDB(sig, noise float64) float64 { return validate.SQNR(sig, noise) }

func batchOf(in map[string]*onnxio.Tensor) *dataset.Batch {
	b := &dataset.Batch{Inputs: in}
	for _, t := range in {
		if len(t.Shape) > 0 {
			b.N = int(t.Shape[0])
		}
		break
	}
	return b
}
