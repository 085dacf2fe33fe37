package quantize

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
)

// quantizer holds one Quantize call's state: the float model, options and
// calibration statistics. Variants of the quantized model (with some nodes
// returned to float) are built from fresh clones, so nodes are named by
// their index in the float model's node list.
type quantizer struct {
	m     *onnxio.Model
	o     Options
	st    *Stats
	index map[*onnxpb.NodeProto]int // float model node → index
	// nodes lists the float model's nodes by index: the main graph's, then
	// those of its subgraphs (allNodes).
	nodes []*onnxpb.NodeProto
	notes []string
	// sample is the first calibration batch of batch samples, read once
	// (see calibSample); axes its inputs' batch axes (dataset.Batch.Axes).
	sample map[string]*onnxio.Tensor
	axes   map[string]int
	batch  int
}

// node returns the float model's node of index i.
func (q *quantizer) node(i int) *onnxpb.NodeProto { return q.nodes[i] }

// variant is one quantized model built from the float one.
type variant struct {
	m    *onnxio.Model
	plan *Plan
	b    *builder
	// byIndex maps float-model node indices to the plan's states; idx maps
	// the variant's nodes that come from the float model to their index.
	byIndex map[int]*NodeState
	idx     map[*onnxpb.NodeProto]int
	// floats are the extra float decisions it was built with.
	floats map[int]string
}

// Quantize returns a quantized copy of m and a report of what was done.
// m is not modified. Static mode needs o.Calib. Errors about the options
// are *transform.FieldError naming the option field; unsupported models
// give *onnxio.UnsupportedError (an already-quantized one an
// *AlreadyQuantizedError, which unwraps to it). It is the shape every transform has
// (package transform).
func Quantize(ctx context.Context, m *onnxio.Model, o Options) (*onnxio.Model, *Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	if !o.AllowQuantized {
		if err := checkQuantized(m); err != nil {
			return nil, nil, err
		}
	}
	if err := checkBudgetData(ctx, o); err != nil {
		return nil, nil, err
	}
	if _, err := m.Graph().TopoOrder(); err != nil {
		return nil, nil, err
	}
	q := &quantizer{m: m, o: o, index: map[*onnxpb.NodeProto]int{}}
	if err := q.upgrade(ctx); err != nil {
		return nil, nil, err
	}
	if hasConvBN(q.m) {
		if q.m == m {
			q.m = m.Clone()
		}
		n, err := foldBatchNorm(q.m)
		if err != nil {
			return nil, nil, err
		}
		if n > 0 {
			q.notes = append(q.notes, fmt.Sprintf("folded %s into the Conv before them", plural(n, "BatchNormalization node", "BatchNormalization nodes")))
		}
	}
	m = q.m
	q.nodes = allNodes(m.Proto.Graph)
	for i, n := range q.nodes {
		q.index[n] = i
	}
	// Selection errors (an exclusion matching nothing) and non-finite
	// weights come before any expensive work.
	order, _ := m.Graph().TopoOrder()
	if _, err := selectNodes(order, subNodes(scopes(m.Proto.Graph, nil)), &q.o); err != nil {
		return nil, nil, err
	}
	if err := checkWeights(m); err != nil {
		return nil, nil, err
	}
	if o.Calib != nil {
		if err := q.calibrate(ctx); err != nil {
			return nil, nil, err
		}
	}
	return q.run(ctx)
}

// checkBudgetData refuses, before any calibration, validation data
// without labels for a budget in accuracy points (an unlabelled
// test_data_set folder, say), and empty validation data.
func checkBudgetData(ctx context.Context, o Options) error {
	if len(o.Env.Budget) == 0 {
		return nil
	}
	val := o.Env.Val
	if err := val.Reset(); err != nil {
		return err
	}
	b, err := val.Next(ctx)
	if err == io.EOF {
		return transform.Errorf("Env.Val", nil, "the validation data is empty")
	}
	if err != nil {
		return fmt.Errorf("validation data: %w", err)
	}
	if b.Labels == nil && o.Env.Budget[0].Kind == validate.MaxAccuracyDrop {
		return transform.Errorf("Env.Val", nil, "has no labels, and a %s budget counts correct answers (give labels, or use %s)", validate.MaxAccuracyDrop, validate.MinAgreement)
	}
	return val.Reset()
}

// checkWeights fails, naming the weight and the node, when a weight of a
// compute node (Conv, ConvTranspose, MatMul, Gemm) holds a NaN or an
// infinity: int8 has no code for them, and the float model computes
// non-finite values from them anyway. It runs before calibration, which
// would otherwise spend minutes on a model that cannot be quantized.
func checkWeights(m *onnxio.Model) error {
	type scoped struct {
		g *onnxio.Graph
		n *onnxpb.NodeProto
	}
	var nodes []scoped
	for _, n := range m.Proto.Graph.Node {
		nodes = append(nodes, scoped{m.Graph(), n})
	}
	for _, sc := range scopes(m.Proto.Graph, nil) {
		sc.open()
		for _, n := range sc.sg.Node {
			nodes = append(nodes, scoped{sc.g, n})
		}
	}
	seen := map[string]bool{}
	for _, sn := range nodes {
		g, n := sn.g, sn.n
		if h := handlerFor(n); h == nil || h.Kind != Compute {
			continue
		}
		for k, in := range n.Input {
			if in == "" || seen[in] || !g.IsWeight(in) {
				continue
			}
			seen[in] = true
			t, err := g.Weight(in)
			if err != nil {
				continue // not decodable as numbers: the writers say why if it matters
			}
			if i, v := t.FirstNonFinite(); i >= 0 {
				return fmt.Errorf("weight %q (input %d of node %q, %s) has a non-finite value (%g at flat index %d): quantization needs finite weights (shrink inspect lists them)", in, k, nodeLabel(n), n.GetOpType(), v, i)
			}
		}
	}
	return nil
}

func hasConvBN(m *onnxio.Model) bool {
	g := m.Graph()
	for _, n := range m.Proto.Graph.Node {
		if n.GetOpType() == "BatchNormalization" && len(n.Input) > 0 {
			if p := g.Producer(n.Input[0]); p != nil && p.GetOpType() == "Conv" {
				return true
			}
		}
	}
	return false
}

// upgrade moves a model below TargetOpset to it (on a copy), so that
// per-channel DequantizeLinear exists and ORT can create its fused
// integer nodes. A model whose ops cannot be converted keeps its opset
// when that is at least 10 (ONNX Runtime's com.microsoft
// QuantizeLinear/DequantizeLinear then carry the per-channel axis);
// below 10 it is unsupported.
func (q *quantizer) upgrade(ctx context.Context) error {
	from := q.m.Opset("")
	if from >= TargetOpset {
		return nil
	}
	ranks := map[string]int{}
	if needs := rankNeeds(q.m); len(needs) > 0 && q.o.Calib != nil {
		if in, _, err := q.calibSample(ctx); err == nil {
			var inner []string
			for _, t := range needs {
				if x, ok := in[t]; ok {
					ranks[t] = len(x.Shape)
				} else if !q.m.Graph().IsWeight(t) {
					inner = append(inner, t)
				}
			}
			if len(inner) > 0 {
				if s, err := ort.NewSession(q.m, ort.Options{IntraOpThreads: q.o.Env.Threads, Outputs: inner}); err == nil {
					if outs, err := s.Run(in); err == nil {
						for _, t := range outs {
							ranks[t.Name] = len(t.Shape)
						}
					}
					s.Close()
				}
			}
		}
	}
	up := q.m.Clone()
	err := upgradeOpset(up, ranks)
	if err == nil {
		q.m = up
		q.notes = append(q.notes, fmt.Sprintf("upgraded the model from opset %d to %d (needed for per-channel DequantizeLinear and ORT's fused integer kernels)", from, TargetOpset))
		return nil
	}
	if from >= 10 && q.o.Mode == Static {
		q.notes = append(q.notes, fmt.Sprintf("kept opset %d: %v", from, err))
		return nil
	}
	return err
}

// calibrationTensors lists the float tensors calibration must observe: the
// inputs and outputs of every node that has a handler.
func (q *quantizer) calibrationTensors() []string {
	g := q.m.Graph()
	var names []string
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] && !g.IsWeight(t) {
			seen[t] = true
			names = append(names, t)
		}
	}
	order, _ := g.TopoOrder()
	for _, n := range order {
		if handlerFor(n) == nil {
			continue
		}
		for _, in := range n.Input {
			add(in)
		}
		for _, out := range n.Output {
			add(out)
		}
	}
	return names
}

func (q *quantizer) calibrate(ctx context.Context) error {
	cal, err := NewCalibrator(q.o.CalibMethod, CalibOptions{Percentile: q.o.Percentile, Bins: q.o.HistBins})
	if err != nil {
		return err
	}
	st, err := collect(ctx, q.m, q.o.Calib, q.calibrationTensors(), cal, collectOptions{
		Limit: q.o.CalibSize, ChunkTensors: q.o.ChunkTensors, ChunkBytes: q.o.ChunkBytes,
		Threads: q.o.Env.Threads, Provider: q.o.Env.Provider, Progress: q.o.Env.Progress,
	})
	if err != nil {
		return err
	}
	q.st = st
	return nil
}

// build writes a variant with the nodes in float (by float-model index)
// kept float for the given reasons.
func (q *quantizer) build(float map[int]string) (*variant, error) {
	return q.buildAs(float, q.o.Format)
}

// buildAs is build with another static format.
func (q *quantizer) buildAs(float map[int]string, format Format) (*variant, error) {
	m := q.m.Clone()
	g := m.Graph()
	order, err := g.TopoOrder()
	if err != nil {
		return nil, err
	}
	// Subgraph nodes (If/Loop/Scan bodies) are quantized in dynamic mode.
	var sub []*scope
	if q.o.Mode == Dynamic {
		sub = scopes(m.Proto.Graph, nil)
	}
	sel, err := selectNodes(order, subNodes(sub), &q.o)
	if err != nil {
		return nil, err
	}
	byNode := map[*onnxpb.NodeProto]string{}
	idx := map[*onnxpb.NodeProto]int{}
	for i, n := range allNodes(m.Proto.Graph) {
		if why := float[i]; why != "" {
			byNode[n] = why
		}
		idx[n] = i
	}
	v := &variant{m: m, b: newBuilder(m), byIndex: map[int]*NodeState{}, idx: idx, floats: copyMap(float)}
	switch q.o.Mode {
	case Static:
		v.plan, err = buildPlan(g, order, sel, q.st, &q.o, byNode)
		if err != nil {
			return nil, err
		}
		for n, s := range v.plan.States {
			v.byIndex[idx[n]] = s
		}
		switch format {
		case QDQ:
			err = writeQDQ(v.b, v.plan)
		case QOperator:
			err = writeQOperator(v.b, v.plan)
		}
	case Dynamic:
		v.plan, err = dynamicPlan(g, order, sub, sel, q.st, &q.o, byNode)
		if err != nil {
			return nil, err
		}
		for n, s := range v.plan.States {
			v.byIndex[idx[n]] = s
		}
		err = writeDynamic(v.b, v.plan)
	}
	if err != nil {
		return nil, err
	}
	for n, old := range v.b.origin {
		if i, ok := idx[old]; ok {
			idx[n] = i
		}
	}
	return v, nil
}

// quantizedIndices returns the float-model indices of the variant's
// quantized compute and elementwise nodes, sorted.
func (v *variant) quantizedIndices() []int {
	var out []int
	for i, s := range v.byIndex {
		if s.Quantized && (s.Handler.Kind == Compute || s.Handler.Kind == Elementwise) {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out
}

func nodeLabel(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	if len(n.Output) > 0 {
		return fmt.Sprintf("%s(%s)", n.GetOpType(), n.Output[0])
	}
	return n.GetOpType()
}
