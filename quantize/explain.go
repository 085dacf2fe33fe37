package quantize

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/ort"
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
	// Output SQNR of the chosen model, on up to outputSQNRSamples of the
	// validation data when there is some, else of the calibration data.
	src, data, limit := q.o.Calib, "calibration", min(outputSQNRSamples, q.o.CalibSize)
	if q.o.Accuracy != nil {
		src, data, limit = q.o.Accuracy.Val, "validation", outputSQNRSamples
	}
	if src == nil {
		for _, o := range q.m.Proto.Graph.Output {
			rep.Outputs = append(rep.Outputs, Out{Name: o.GetName()})
		}
	} else {
		outs, n, err := measureOutputs(ctx, q.m, v.m, src, limit, q.o.Threads, q.o.Progress)
		if err != nil {
			return fmt.Errorf("output SQNR on the %s data: %w", data, err)
		}
		rep.Outputs = outs
		rep.OutputsOn = &SQNRData{Data: data, Samples: n}
	}
	if sample == nil {
		return nil
	}
	// The per-node SQNR runs on at most explainSamples of the first
	// calibration batch (all of it for a fixed batch dimension, which
	// cannot be cut).
	in := sample
	for _, t := range sample {
		if len(t.Shape) > 0 && t.Shape[0] > explainSamples && !fixedBatch(q.m) {
			b, err := truncateBatch(batchOf(sample), explainSamples)
			if err != nil {
				return err
			}
			in = b.Inputs
		}
		break
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
			rep.Nodes[carrierRow[name]].SQNR = f64(validate.SQNR(sig, noise))
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

// measureOutputs streams up to limit samples of src (rewinding it first and
// after) through the reference and quantized models and returns each graph
// output's SQNR over every value of every sample (nil for outputs that are
// not float32 or are zero in both), and the number of samples. Only
// Σref² and Σ(ref−q)² per output are kept, so memory does not grow with
// the samples. A batch that would pass limit is cut, unless the model has
// a fixed batch dimension: then only whole batches are used (at least one).
func measureOutputs(ctx context.Context, ref, m *onnxio.Model, src dataset.Source, limit, threads int, prog progress.Reporter) ([]Out, int, error) {
	rs, err := ort.NewSession(ref, ort.Options{IntraOpThreads: threads})
	if err != nil {
		return nil, 0, fmt.Errorf("float model: %w", err)
	}
	defer rs.Close()
	qs, err := ort.NewSession(m, ort.Options{IntraOpThreads: threads})
	if err != nil {
		return nil, 0, fmt.Errorf("quantized model: %w", err)
	}
	defer qs.Close()
	if err := src.Reset(); err != nil {
		return nil, 0, err
	}
	fixed := fixedBatch(ref)
	outs := ref.Proto.Graph.Output
	sig := make([]float64, len(outs))
	noise := make([]float64, len(outs))
	ph := prog.Phase("measuring output SQNR", int64(limit))
	defer ph.Done()
	n := 0
	for n < limit {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		b, err := src.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if n+b.N > limit {
			if fixed && n > 0 {
				break
			}
			if !fixed {
				if b, err = truncateBatch(b, limit-n); err != nil {
					return nil, 0, err
				}
			}
		}
		a, err := rs.Run(b.Inputs)
		if err != nil {
			return nil, 0, fmt.Errorf("float model: %w", err)
		}
		z, err := qs.Run(b.Inputs)
		if err != nil {
			return nil, 0, fmt.Errorf("quantized model: %w", err)
		}
		for k := range outs {
			s, e := sqnrSums(a[k], z[k])
			sig[k] += s
			noise[k] += e
		}
		n += b.N
		ph.Add(int64(b.N))
	}
	if n == 0 {
		return nil, 0, errors.New("no samples")
	}
	r := make([]Out, len(outs))
	for k, o := range outs {
		r[k] = Out{Name: o.GetName()}
		if sig[k] > 0 || noise[k] > 0 {
			r[k].SQNR = f64(validate.SQNR(sig[k], noise[k]))
		}
	}
	return r, n, src.Reset()
}

// fixedBatch reports whether a graph input declares a fixed first
// (batch) dimension.
func fixedBatch(m *onnxio.Model) bool {
	for _, in := range m.Graph().Inputs() {
		if d := onnxio.DescribeValue(in).Shape; len(d) > 0 && d[0].Param == "" && d[0].Value > 0 {
			return true
		}
	}
	return false
}
