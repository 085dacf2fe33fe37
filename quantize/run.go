package quantize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/shrinkml/shrink/validate"
)

// speedMargin: a node goes back to float when its int8 kernel is slower
// than its float one by more than this factor (profiles are noisy).
const speedMargin = 1.1

// timingBudget bounds the wall time of one interleaved timing.
const timingBudget = 3 * time.Second

func (q *quantizer) run(ctx context.Context) (*onnxio.Model, *Report, error) {
	prog := q.o.Progress
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
	if q.o.SpeedAware && sample != nil && len(v.quantizedIndices()) > 0 {
		ph := prog.Phase("profiling float and int8 models", 0)
		v, prof, rep.Speed, err = q.speedAware(ctx, v, float, sample, batch, rep)
		ph.Done()
		if err != nil {
			return nil, nil, err
		}
	} else if q.o.SpeedAware {
		rep.Notes = append(rep.Notes, "speed-aware selection skipped: no data to time the models on")
	}
	if q.o.Accuracy != nil {
		v, rep.Accuracy, err = q.accuracyAware(ctx, v, float, rep)
		if err != nil {
			return nil, nil, err
		}
		if err := q.retime(ctx, v, rep, sample); err != nil {
			return nil, nil, err
		}
	}
	if err := q.explain(ctx, v, rep, sample, prof); err != nil {
		return nil, nil, err
	}
	q.warnLowSQNR(rep)
	if v.b.holds > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("held %d float→int8 boundary(ies) after a float MaxPool with a Shape reader, so ORT does not move the QuantizeLinear up and run the MaxPool in slow NCHW uint8", v.b.holds))
	}
	if rep.Speed != nil && rep.Speed.Slower {
		w := fmt.Sprintf("THE QUANTIZED MODEL IS SLOWER THAN THE FLOAT ONE ON THIS CPU: %.3f ms vs %.3f ms (%.2f×) at batch %d with %d threads",
			rep.Speed.Int8Ms, rep.Speed.FloatMs, rep.Speed.Speedup, rep.Speed.Batch, rep.Speed.Threads)
		rep.Warnings = append(rep.Warnings, w)
	}
	for k, val := range rep.metadata() {
		v.m.SetMetadata(k, val)
	}
	return v.m, rep, nil
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
	t, err := timeModels(ctx, []*onnxio.Model{q.m, v.m}, sample, q.o.Threads)
	if err != nil {
		return fmt.Errorf("timing: %w", err)
	}
	sp := rep.Speed
	sp.FloatMs, sp.Int8Ms, sp.Speedup, sp.Runs = t.Median[0], t.Median[1], t.Ratio[1], t.Runs
	sp.Slower = sp.Speedup < 1
	rep.Notes = append(rep.Notes, fmt.Sprintf("speed timed again after %d accuracy-driven revert(s): %.2f×", n, sp.Speedup))
	return nil
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
		w := fmt.Sprintf("output %q keeps only %.1f dB SQNR against the float model (below %g dB; on %d %s sample(s)): "+
			"check it on real data with `shrink compare`; return the most sensitive nodes to float with --min-sqnr DB "+
			"(or --max-accuracy-drop / --min-agreement for a classifier) and --val-data; or keep the layers whose SQNR "+
			"column falls first in float with --exclude NAME", o.Name, *o.SQNR, thr, on.Samples, on.Data)
		rep.Warnings = append(rep.Warnings, w)
	}
}

// nothingToQuantize explains why no node can be quantized.
func (q *quantizer) nothingToQuantize(v *variant) error {
	var why []string
	for i := range q.m.Proto.Graph.Node {
		if s := v.byIndex[i]; s != nil && (s.Handler.Kind == Compute || s.Handler.Kind == Elementwise) && len(why) < 3 {
			why = append(why, fmt.Sprintf("%s: %s", nodeLabel(s.Node), s.Float))
		}
	}
	reason := "no Conv, ConvTranspose, MatMul or Gemm in the model"
	if len(why) > 0 {
		reason = "every candidate stays float (" + strings.Join(why, "; ") + ")"
	}
	return &onnxio.UnsupportedError{Node: q.m.Proto.Graph.GetName(), Op: strings.Join(q.o.OpTypes[:min(4, len(q.o.OpTypes))], "/"), Reason: "nothing to quantize: " + reason}
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
		in, n, err := firstBatch(ctx, q.o.Calib)
		if err != nil {
			return nil, 0, err
		}
		q.sample, q.batch = in, n
	}
	return q.sample, q.batch, nil
}

// firstBatch reads the first batch of src (and rewinds it).
func firstBatch(ctx context.Context, src dataset.Source) (map[string]*onnxio.Tensor, int, error) {
	if err := src.Reset(); err != nil {
		return nil, 0, err
	}
	b, err := src.Next(ctx)
	if err == io.EOF {
		return nil, 0, errors.New("calibration data is empty")
	}
	if err != nil {
		return nil, 0, err
	}
	in := make(map[string]*onnxio.Tensor, len(b.Inputs))
	for k, t := range b.Inputs {
		in[k] = t.Clone()
	}
	return in, b.N, src.Reset()
}

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
	n := q.m.Proto.Graph.Node[i]
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

// speedAware profiles the float model and the all-int8 variant; nodes
// whose int8 kernels are slower than their float ones go back to float
// (unless ForceInt8... which is SpeedAware false), then the candidates are
// timed end to end, interleaved, and the fastest is kept.
func (q *quantizer) speedAware(ctx context.Context, v *variant, float map[int]string, in map[string]*onnxio.Tensor, batch int, rep *Report) (*variant, [2]*Profile, *Speed, error) {
	var prof [2]*Profile
	pf, err := profileModel(ctx, q.m, q.index, in, q.o.ProfileRuns, q.o.Threads)
	if err != nil {
		return nil, prof, nil, fmt.Errorf("profiling the float model: %w", err)
	}
	pq, err := profileModel(ctx, v.m, v.idx, in, q.o.ProfileRuns, q.o.Threads)
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
		f2 := map[int]string{}
		for k, s := range float {
			f2[k] = s
		}
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
	t, err := timeModels(ctx, models, in, q.o.Threads)
	if err != nil {
		return nil, prof, nil, fmt.Errorf("timing: %w", err)
	}
	best := 0
	for i := range cands {
		if t.Ratio[i+1] > t.Ratio[best+1] {
			best = i
		}
	}
	sp := &Speed{Batch: batch, Threads: q.o.Threads, Runs: t.Runs, FloatMs: t.Median[0],
		Int8Ms: t.Median[best+1], Speedup: t.Ratio[best+1], AllInt8Ms: t.Median[1], AllInt8Speedup: t.Ratio[1]}
	sp.Slower = sp.Speedup < 1
	if best == 1 {
		for k, s := range slow {
			float[k] = s
			n := q.m.Proto.Graph.Node[k]
			rep.Reverted = append(rep.Reverted, Revert{Node: nodeLabel(n), Op: n.GetOpType(), Stage: "speed", Reason: s})
		}
		sort.Slice(rep.Reverted, func(i, j int) bool { return rep.Reverted[i].Node < rep.Reverted[j].Node })
	} else if len(slow) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the profile suggested %d node(s) back to float, but the model with them in float was not faster end to end (%.2f× vs %.2f×); all kept in int8", len(slow), t.Ratio[2], t.Ratio[1]))
	}
	return cands[best], prof, sp, nil
}

// timeModels times models on the same inputs, interleaved (validate's
// paired timing, ORT spinning off), within about timingBudget.
func timeModels(ctx context.Context, models []*onnxio.Model, inputs map[string]*onnxio.Tensor, threads int) (*Timing, error) {
	var runners []func() error
	for _, m := range models {
		s, err := ort.NewSession(m, ort.Options{IntraOpThreads: threads})
		if err != nil {
			return nil, err
		}
		defer s.Close()
		b, err := s.Bind(inputs)
		if err != nil {
			return nil, err
		}
		defer b.Close()
		runners = append(runners, b.RunDiscard)
	}
	// Two untimed rounds (the first one allocates) to size the run count.
	var per time.Duration
	for round := 0; round < 2; round++ {
		start := time.Now()
		for _, r := range runners {
			if err := r(); err != nil {
				return nil, err
			}
		}
		per = time.Since(start)
	}
	runs := int(timingBudget / max(per, time.Microsecond))
	runs = max(7, min(runs, 301))
	times, err := validate.Interleaved(ctx, runners, 3, runs, nil)
	if err != nil {
		return nil, err
	}
	t := &Timing{Runs: runs}
	for i := range times {
		ms := make([]float64, len(times[i]))
		for j, d := range times[i] {
			ms[j] = float64(d.Nanoseconds()) / 1e6
		}
		t.Median = append(t.Median, median(ms))
		t.Ratio = append(t.Ratio, validate.MedianRatio(times[0], times[i]))
	}
	return t, nil
}

// accuracyAware measures the metric of v; while the budget does not hold
// it ranks the quantized nodes by sensitivity (SQNR of the model outputs
// with only that node quantized) and returns them to float, most sensitive
// first, re-measuring each time. It keeps at least one node in int8; when
// the budget still does not hold it returns the best variant found with
// Met false.
func (q *quantizer) accuracyAware(ctx context.Context, v *variant, float map[int]string, rep *Report) (*variant, *Acc, error) {
	a := q.o.Accuracy
	prog := q.o.Progress
	metric, budget := "top1", a.MaxDrop
	revertWhy := "accuracy: the most sensitive node left (model output SQNR %.1f dB with only it in int8)"
	switch {
	case a.MinAgreement > 0:
		metric, budget = "agreement", a.MinAgreement
	case a.MinSQNR > 0:
		metric, budget = "sqnr", a.MinSQNR
		revertWhy = "output SQNR budget: the most sensitive node left (model output SQNR %.1f dB with only it in int8)"
	}
	var sq *sqnrEval
	if metric == "sqnr" {
		sq = &sqnrEval{ref: q.m, val: a.Val, threads: q.o.Threads}
		defer sq.close()
	}
	// measure returns the accuracy figures of m, whether the budget holds
	// and a score (higher is better).
	measure := func(m *onnxio.Model) (Acc, float64, error) {
		r := Acc{Metric: metric, Budget: budget, Outputs: []Out{}}
		if sq != nil {
			outs, n, err := sq.measure(ctx, m)
			if err != nil {
				return r, 0, fmt.Errorf("validation: %w", err)
			}
			worst := math.Inf(1)
			for _, o := range outs {
				if o.SQNR != nil {
					worst = min(worst, *o.SQNR)
				}
			}
			r.Samples, r.Outputs = n, outs
			r.SQNR = f64(worst)
			r.Float, r.Int8 = 999, min(worst, 999)
			r.Met = worst >= budget
			return r, worst, nil
		}
		if err := a.Val.Reset(); err != nil {
			return r, 0, err
		}
		ev, err := validate.Run(ctx, []validate.Subject{{Name: "float", Model: q.m}, {Name: "int8", Model: m}}, a.Val, validate.Options{Threads: q.o.Threads})
		if err != nil {
			return r, 0, fmt.Errorf("validation: %w", err)
		}
		c := ev.Candidates[0]
		r.Samples = ev.Samples
		agree := c.Fidelity.Agreement
		r.Agreement = f64(agree)
		if metric == "top1" {
			if !ev.Labels {
				return r, 0, optErr("an accuracy budget in points needs labels for the validation data (or use a minimum agreement)")
			}
			r.Float = 100 * ev.Models[0].Accuracy.Top1
			r.Int8 = 100 * ev.Models[1].Accuracy.Top1
			r.Drop = f64(c.AccuracyDrop)
			r.Met = c.AccuracyDrop <= budget
			return r, -c.AccuracyDrop, nil
		}
		r.Float, r.Int8 = 1, agree
		r.Met = agree >= budget
		return r, agree, nil
	}
	ph := prog.Phase("measuring accuracy", 0)
	first, score, err := measure(v.m)
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
	sens, err := q.sensitivities(ctx, v, float, cands)
	if err != nil {
		return nil, nil, err
	}
	sort.SliceStable(cands, func(i, j int) bool { return sens[cands[i]] < sens[cands[j]] })
	rep.sensitivity = sens
	best, bestScore, bestAcc := v, score, first
	var bestFloat map[int]string
	bestK := -1
	ph = prog.Phase("returning sensitive nodes to float", int64(len(cands)-1))
	f := copyMap(float)
	for k := 0; k < len(cands)-1; k++ {
		i := cands[k]
		f[i] = fmt.Sprintf(revertWhy, sens[i])
		vk, err := q.build(f)
		if err != nil {
			ph.Done()
			return nil, nil, err
		}
		r, sc, err := measure(vk.m)
		if err != nil {
			ph.Done()
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
	ph.Done()
	bestAcc.AllInt8, bestAcc.Tries = first.Int8, tries
	// Report the reverts most sensitive first.
	for _, k := range cands[:bestK+1] {
		float[k] = bestFloat[k]
		n := q.m.Proto.Graph.Node[k]
		rep.Reverted = append(rep.Reverted, Revert{Node: nodeLabel(n), Op: n.GetOpType(), Stage: "accuracy", Reason: bestFloat[k]})
	}
	return best, &bestAcc, nil
}

func copyMap(m map[int]string) map[int]string {
	out := make(map[int]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sensitivities returns, per candidate, the SQNR of the model outputs with
// only that node in int8, over the first SensitivitySamples of the
// validation data.
func (q *quantizer) sensitivities(ctx context.Context, v *variant, float map[int]string, cands []int) (map[int]float64, error) {
	batches, err := readSamples(ctx, q.o.Accuracy.Val, q.o.Accuracy.SensitivitySamples)
	if err != nil {
		return nil, err
	}
	ref, err := runOutputs(q.m, batches, q.o.Threads)
	if err != nil {
		return nil, err
	}
	prog := q.o.Progress
	ph := prog.Phase("measuring per-node sensitivity", int64(len(cands)))
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
		got, err := runOutputs(vi.m, batches, q.o.Threads)
		if err != nil {
			return nil, err
		}
		out[i] = sqnrAll(ref, got)
		ph.Add(1)
	}
	return out, nil
}

// readSamples reads up to n samples of src (rewinding it first and after).
func readSamples(ctx context.Context, src dataset.Source, n int) ([]map[string]*onnxio.Tensor, error) {
	if err := src.Reset(); err != nil {
		return nil, err
	}
	var out []map[string]*onnxio.Tensor
	got := 0
	for got < n {
		b, err := src.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if got+b.N > n {
			if b, err = truncateBatch(b, n-got); err != nil {
				return nil, err
			}
		}
		in := map[string]*onnxio.Tensor{}
		for k, t := range b.Inputs {
			in[k] = t.Clone()
		}
		out = append(out, in)
		got += b.N
	}
	if got == 0 {
		return nil, errors.New("validation data is empty")
	}
	return out, src.Reset()
}

// runOutputs runs m on each batch and returns, per batch, the float32
// graph outputs (or the named outputs).
func runOutputs(m *onnxio.Model, batches []map[string]*onnxio.Tensor, threads int, names ...string) ([][]*onnxio.Tensor, error) {
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: threads, Outputs: names})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out [][]*onnxio.Tensor
	for _, b := range batches {
		o, err := s.Run(b)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// sqnrAll is the SQNR in dB of got against ref over every float32 value
// of every output and batch.
func sqnrAll(ref, got [][]*onnxio.Tensor) float64 {
	var sig, noise float64
	for b := range ref {
		for k := range ref[b] {
			s, n := sqnrSums(ref[b][k], got[b][k])
			sig += s
			noise += n
		}
	}
	return validate.SQNR(sig, noise)
}

// sqnrSums returns Σref² and Σ(ref−got)² of two float tensors (0, 0 for
// other types or mismatched sizes).
func sqnrSums(a, b *onnxio.Tensor) (sig, noise float64) {
	x, ok1 := a.Data.([]float32)
	y, ok2 := b.Data.([]float32)
	if !ok1 || !ok2 || len(x) != len(y) {
		return 0, 0
	}
	for i := range x {
		d := float64(x[i]) - float64(y[i])
		sig += float64(x[i]) * float64(x[i])
		noise += d * d
	}
	if math.IsNaN(noise) {
		return sig, math.Inf(1)
	}
	return sig, noise
}

// sqnrEval measures the SQNR of each float32 output of a model against the
// reference model over all of val. The reference outputs are computed once
// and kept while they fit in sqnrCacheBytes; beyond that the reference
// session stays open and is run again for each model measured.
type sqnrEval struct {
	ref     *onnxio.Model
	val     dataset.Source
	threads int

	refSess *ort.Session
	cache   [][]*onnxio.Tensor
	cached  bool // cache holds every batch's reference outputs
	names   []string
}

// sqnrCacheBytes bounds the reference outputs kept in memory.
var sqnrCacheBytes int64 = 256 << 20

func (e *sqnrEval) close() {
	if e.refSess != nil {
		e.refSess.Close()
	}
}

// measure returns each graph output's SQNR (nil for outputs that are not
// float32) and the number of samples.
func (e *sqnrEval) measure(ctx context.Context, m *onnxio.Model) ([]Out, int, error) {
	if e.refSess == nil && !e.cached {
		s, err := ort.NewSession(e.ref, ort.Options{IntraOpThreads: e.threads})
		if err != nil {
			return nil, 0, fmt.Errorf("float model: %w", err)
		}
		e.refSess = s
		for _, o := range e.ref.Proto.Graph.Output {
			e.names = append(e.names, o.GetName())
		}
	}
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: e.threads})
	if err != nil {
		return nil, 0, fmt.Errorf("quantized model: %w", err)
	}
	defer s.Close()
	if err := e.val.Reset(); err != nil {
		return nil, 0, err
	}
	sig := make([]float64, len(e.names))
	noise := make([]float64, len(e.names))
	isFloat := make([]bool, len(e.names))
	fill := !e.cached
	var cache [][]*onnxio.Tensor
	var bytes int64
	n := 0
	for bi := 0; ; bi++ {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		b, err := e.val.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		var ref []*onnxio.Tensor
		if e.cached {
			ref = e.cache[bi]
		} else if ref, err = e.refSess.Run(b.Inputs); err != nil {
			return nil, 0, fmt.Errorf("float model: %w", err)
		}
		got, err := s.Run(b.Inputs)
		if err != nil {
			return nil, 0, fmt.Errorf("quantized model: %w", err)
		}
		for k := range e.names {
			if _, ok := ref[k].Data.([]float32); ok {
				isFloat[k] = true
			}
			a, z := sqnrSums(ref[k], got[k])
			sig[k] += a
			noise[k] += z
		}
		if fill {
			for _, t := range ref {
				bytes += t.DType.RawBytes(t.Len())
			}
			if bytes <= sqnrCacheBytes {
				cache = append(cache, ref)
			} else {
				fill, cache = false, nil
			}
		}
		n += b.N
	}
	if n == 0 {
		return nil, 0, errors.New("validation data is empty")
	}
	if fill {
		e.cache, e.cached = cache, true
		e.refSess.Close()
		e.refSess = nil
	}
	out := make([]Out, len(e.names))
	for k, name := range e.names {
		out[k] = Out{Name: name}
		if isFloat[k] {
			out[k].SQNR = f64(validate.SQNR(sig[k], noise[k]))
		}
	}
	return out, n, e.val.Reset()
}
