package quantize

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/validate"
)

// speedMargin: a node goes back to float when its int8 kernel is slower
// than its float one by more than this factor (profiles are noisy).
const speedMargin = 1.1

// timingBudget bounds the wall time of one interleaved timing.
const timingBudget = 3 * time.Second

// group is an int8 decision unit for timing: a quantized node plus the
// activation after it (folded into its range, or fused by ORT into the
// float kernel), by float-model index.
func (q *quantizer) group(v *variant, i int) []int {
	g := []int{i}
	if s := v.byIndex[i]; s != nil && s.Fold != nil {
		if j, ok := v.idx[s.Fold]; ok {
			return append(g, j)
		}
	}
	fg := q.m.Graph()
	n := q.node(i)
	if len(n.Output) == 0 || fg.IsGraphOutput(n.Output[0]) {
		return g
	}
	if cs := fg.Consumers(n.Output[0]); len(cs) == 1 {
		switch cs[0].GetOpType() {
		case "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "Tanh":
			return append(g, q.index[cs[0]])
		}
	}
	return g
}

// timeModels times models on the inputs with validate's interleaved
// timer, within about timingBudget.
func (q *quantizer) timeModels(ctx context.Context, models []*onnxio.Model, in map[string]*onnxio.Tensor, rep progress.Reporter) (*validate.Timing, error) {
	t, err := validate.TimeModels(ctx, models, in, validate.TimingOptions{Budget: timingBudget,
		Threads: q.o.Env.Threads, Provider: q.o.Env.Provider, Progress: rep})
	if err != nil {
		return nil, fmt.Errorf("timing: %w", err)
	}
	return t, nil
}

// speedAware profiles the float model and the all-int8 variant; nodes
// whose int8 kernels are slower than their float ones make a second
// candidate with them in float; the candidates are timed end to end,
// interleaved, and the fastest is kept. (Quantize runs this step only
// with Options.SpeedAware, which the CLI's --force-int8 turns off.)
func (q *quantizer) speedAware(ctx context.Context, v *variant, float map[int]string, in map[string]*onnxio.Tensor, batch int, rep *Report, ph progress.Reporter) (*variant, [2]*Profile, *Speed, error) {
	var prof [2]*Profile
	pf, err := profileModel(ctx, q.m, q.index, in, q.o.ProfileRuns, q.o.Env.Threads)
	if err != nil {
		return nil, prof, nil, fmt.Errorf("profiling the float model: %w", err)
	}
	pq, err := profileModel(ctx, v.m, v.idx, in, q.o.ProfileRuns, q.o.Env.Threads)
	if err != nil {
		return nil, prof, nil, fmt.Errorf("profiling the int8 model: %w", err)
	}
	prof = [2]*Profile{pf, pq}
	slow := map[int]string{}
	for _, i := range v.quantizedIndices() {
		var tf, tq float64
		for _, j := range q.group(v, i) {
			tf += pf.Node[j]
			tq += pq.Node[j]
		}
		if tq > tf*speedMargin {
			slow[i] = fmt.Sprintf("int8 slower on this CPU (%.3f ms vs %.3f ms float, batch %d)", tq, tf, batch)
		}
	}
	cands := []*variant{v}
	if len(slow) > 0 {
		f2 := copyMap(float)
		for k, s := range slow {
			f2[k] = s
		}
		v2, err := q.build(f2)
		if err != nil {
			return nil, prof, nil, err
		}
		cands = append(cands, v2)
	}
	models := []*onnxio.Model{q.m}
	for _, c := range cands {
		models = append(models, c.m)
	}
	t, err := q.timeModels(ctx, models, in, ph)
	if err != nil {
		return nil, prof, nil, err
	}
	best := 0
	for i := range cands {
		if t.Speedup(i+1) > t.Speedup(best+1) {
			best = i
		}
	}
	sp := &Speed{Batch: batch, Threads: q.o.Env.Threads, Runs: t.Runs, FloatMs: t.MedianMs(0),
		Int8Ms: t.MedianMs(best + 1), Speedup: t.Speedup(best + 1), AllInt8Ms: t.MedianMs(1), AllInt8Speedup: t.Speedup(1), Inputs: "calibration"}
	sp.Slower = sp.Speedup < 1
	if best == 1 {
		for k, s := range slow {
			float[k] = s
			n := q.node(k)
			rep.Reverted = append(rep.Reverted, Revert{Node: nodeLabel(n), Op: n.GetOpType(), Stage: "speed", Reason: s})
		}
		sort.Slice(rep.Reverted, func(i, j int) bool { return rep.Reverted[i].Node < rep.Reverted[j].Node })
	} else if len(slow) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the profile suggested %s back to float, but the model with them in float was not faster end to end (%.2f× vs %.2f×); all kept in int8", plural(len(slow), "node", "nodes"), t.Speedup(2), t.Speedup(1)))
	}
	return cands[best], prof, sp, nil
}

// retime measures the speed of the model written again when the
// accuracy-aware step returned nodes to float after the speed step, so
// that Report.Speed describes the model written.
func (q *quantizer) retime(ctx context.Context, v *variant, rep *Report, sample map[string]*onnxio.Tensor) error {
	if rep.Speed == nil || sample == nil {
		return nil
	}
	n := 0
	for _, r := range rep.Reverted {
		if r.Stage == "accuracy" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	ph := q.o.Env.Progress.Phase("timing the model written", 0)
	defer ph.Done()
	t, err := q.timeModels(ctx, []*onnxio.Model{q.m, v.m}, sample, ph)
	if err != nil {
		return err
	}
	sp := rep.Speed
	sp.FloatMs, sp.Int8Ms, sp.Speedup, sp.Runs = t.MedianMs(0), t.MedianMs(1), t.Speedup(1), t.Runs
	sp.Slower = sp.Speedup < 1
	rep.Notes = append(rep.Notes, fmt.Sprintf("speed timed again after %s: %.2f×", plural(n, "accuracy-driven revert", "accuracy-driven reverts"), sp.Speedup))
	return nil
}

// timeRandom times the model written against the float one on random
// inputs of the declared shapes (symbolic dimensions 1) when there was no
// data for the speed-aware step, so that a result slower than float is
// still reported. Inputs of unknown rank, or a model ONNX Runtime cannot
// run on such inputs, leave the speed unmeasured (a note says so).
func (q *quantizer) timeRandom(ctx context.Context, v *variant, rep *Report) error {
	in, err := randomInputs(q.m, q.o.Env.Seed)
	if err == nil {
		ph := q.o.Env.Progress.Phase("timing on random inputs", 0)
		var t *validate.Timing
		t, err = q.timeModels(ctx, []*onnxio.Model{q.m, v.m}, in, ph)
		ph.Done()
		if err == nil {
			rep.Speed = &Speed{Batch: 1, Threads: q.o.Env.Threads, Runs: t.Runs, FloatMs: t.MedianMs(0), Int8Ms: t.MedianMs(1),
				Speedup: t.Speedup(1), AllInt8Ms: t.MedianMs(1), AllInt8Speedup: t.Speedup(1), Slower: t.Speedup(1) < 1, Inputs: "random"}
			return nil
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("speed not measured: %v", err))
	return nil
}

// randomInputs makes one sample for each graph input of m: its declared
// shape with symbolic dimensions 1; normal values for floating-point
// inputs, zeros otherwise.
func randomInputs(m *onnxio.Model, seed uint64) (map[string]*onnxio.Tensor, error) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := map[string]*onnxio.Tensor{}
	for _, v := range m.Graph().Inputs() {
		vi := onnxio.DescribeValue(v)
		if vi.Shape == nil || (vi.Kind != "" && vi.Kind != "tensor") {
			return nil, fmt.Errorf("input %q has no declared shape to make random inputs from", vi.Name)
		}
		shape := make([]int64, len(vi.Shape))
		for i, d := range vi.Shape {
			shape[i] = max(d.Value, 1)
		}
		n, err := onnxio.NumElements(shape)
		if err != nil || n > 1<<26 {
			return nil, fmt.Errorf("input %q: shape %v too large for random inputs", vi.Name, shape)
		}
		t := &onnxio.Tensor{Name: vi.Name, DType: vi.DType, Shape: shape}
		switch vi.DType {
		case onnxio.Float32:
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			t.Data = x
		case onnxio.Int64:
			t.Data = make([]int64, n)
		case onnxio.Int32:
			t.Data = make([]int32, n)
		case onnxio.Bool:
			t.Data = make([]bool, n)
		default:
			return nil, fmt.Errorf("input %q is %s: no random inputs of that type", vi.Name, vi.DType)
		}
		out[vi.Name] = t
	}
	return out, nil
}
