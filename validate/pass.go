package validate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
)

// A pass runs a baseline and candidates over a data set once and
// accumulates every accuracy and fidelity figure. Run and Reference share
// it: Run runs the baseline beside the candidates, a Reference serves the
// baseline's outputs from its cache.
type pass struct {
	o      Options
	models []Subject
	st     []*subjectState
	// tensors are the compared tensors, by the baseline's names.
	tensors []string
	fixed   bool
	// shared is set when st[0]'s session belongs to a Reference.
	shared bool
	// empty allows a data set without samples (an empty shard).
	empty bool
}

// subjectState is one model's session and accumulators in a pass.
type subjectState struct {
	sess   *ort.Session
	output string // the compared output
	outIdx int    // its position among the session's outputs
	// at holds, per compared tensor, its position among the session's
	// outputs (-1: the model lacks it or it is not a float tensor).
	at    []int
	cls   Classification
	reg   Regression
	task  Scorer // Options.Task's, else nil
	width int
	// nonFinite counts the samples whose compared output holds a NaN or
	// an infinity.
	nonFinite int64
	// Candidates only: fidelity of the compared output, SQNR sums of each
	// compared tensor, and the tensors that could not be compared.
	fid Fidelity
	sq  []SQNRSum
	bad []bool
}

// baselineFunc returns the baseline's outputs on batch number bi of a pass.
type baselineFunc func(bi int, b *dataset.Batch) ([]*onnxio.Tensor, error)

// newPass checks the models and opens a session for each; with base set,
// the baseline's is base's (a Reference's), with fresh accumulators.
func newPass(models []Subject, o Options, base *subjectState) (*pass, error) {
	if err := checkTask(o); err != nil {
		return nil, err
	}
	if o.Limit < 0 {
		return nil, fmt.Errorf("sample limit %d must be >= 0", o.Limit)
	}
	if err := sameInputs(models); err != nil {
		return nil, err
	}
	p := &pass{o: o, models: models, tensors: comparedTensors(models[0].Model, o), fixed: fixedBatch(models[0].Model)}
	if base != nil {
		p.st = append(p.st, &subjectState{sess: base.sess, output: base.output, outIdx: base.outIdx, at: base.at})
		if o.Task != nil {
			p.st[0].task = o.Task.NewScorer()
		}
		p.shared = true
		models = models[1:]
	}
	for _, m := range models {
		s, err := p.open(m, len(p.st) == 0)
		if err != nil {
			p.close()
			return nil, err
		}
		p.st = append(p.st, s)
	}
	return p, nil
}

// comparedTensors are Options.Tensors, or the baseline's graph outputs.
func comparedTensors(base *onnxio.Model, o Options) []string {
	if o.Tensors != nil {
		return slices.Clone(o.Tensors)
	}
	var out []string
	for _, v := range base.Proto.Graph.Output {
		out = append(out, v.GetName())
	}
	return out
}

// open starts a session for m that fetches its compared output and the
// compared tensors it has: named ones as they are, graph outputs only when
// declared as float tensors (or undeclared), so that a sequence or map
// output never reaches ONNX Runtime's output conversion.
func (p *pass) open(m Subject, baseline bool) (*subjectState, error) {
	s := &subjectState{output: p.o.Output, at: make([]int, len(p.tensors)), fid: Fidelity{ClassAxis: p.o.ClassAxis}}
	outs := m.Model.Proto.Graph.Output
	if s.output == "" {
		if len(outs) == 0 {
			return nil, fmt.Errorf("%s: the model has no outputs", m.Name)
		}
		s.output = outs[0].GetName()
	}
	fetch := []string{s.output}
	if p.o.SQNROnly {
		fetch, s.outIdx = nil, -1
	}
	declared := map[string]onnxio.ValueInfo{}
	var names []string
	for _, v := range outs {
		declared[v.GetName()] = onnxio.DescribeValue(v)
		names = append(names, v.GetName())
	}
	for k, t := range p.tensors {
		s.at[k] = -1
		name := t
		if p.o.Tensors == nil && !baseline {
			if _, ok := declared[t]; !ok {
				if len(names) != len(p.tensors) {
					continue
				}
				name = names[k] // same position, another name
			}
		}
		if v, ok := declared[name]; ok && !(v.Kind == "tensor" && (v.DType == onnxio.Undefined || isFloat(v.DType))) {
			continue
		}
		if i := slices.Index(fetch, name); i >= 0 {
			s.at[k] = i
			continue
		}
		s.at[k] = len(fetch)
		fetch = append(fetch, name)
	}
	if len(fetch) == 0 {
		fetch = []string{s.output} // a session fetches something
	}
	sess, err := ort.NewSession(m.Model, ort.Options{IntraOpThreads: p.o.Threads, Provider: p.o.Provider, Outputs: fetch})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	s.sess = sess
	if p.o.Task != nil {
		s.task = p.o.Task.NewScorer()
	}
	if !baseline {
		s.sq = make([]SQNRSum, len(p.tensors))
		s.bad = make([]bool, len(p.tensors))
	}
	return s, nil
}

func isFloat(d onnxio.DType) bool {
	return d == onnxio.Float32 || d == onnxio.Float16 || d == onnxio.BFloat16 || d == onnxio.Float64
}

// close closes the sessions of the pass (the baseline's too).
func (p *pass) close() {
	for i, s := range p.st {
		if i == 0 && p.shared {
			continue
		}
		if s != nil && s.sess != nil {
			s.sess.Close()
			s.sess = nil
		}
	}
}

// fixedBatch reports whether a graph input declares a fixed first (batch)
// dimension: such a model only takes whole batches.
func fixedBatch(m *onnxio.Model) bool {
	for _, in := range m.Graph().Inputs() {
		if d := onnxio.DescribeValue(in).Shape; len(d) > 0 && d[0].Param == "" && d[0].Value > 0 {
			return true
		}
	}
	return false
}

// run reads src once (up to Options.Limit samples) and returns the
// evaluation and a copy of the first batch's inputs. base gives the
// baseline's outputs of each batch.
func (p *pass) run(ctx context.Context, src dataset.Source, base baselineFunc, rep progress.Reporter) (*Evaluation, map[string]*onnxio.Tensor, error) {
	provider := p.o.Provider
	if provider == "" {
		provider = "cpu"
	}
	ev := &Evaluation{Threads: p.o.Threads, Provider: provider, Metric: p.o.Metric}
	total := int64(src.Len())
	if p.o.Limit > 0 && (total < 0 || total > int64(p.o.Limit)) {
		total = int64(p.o.Limit)
	}
	ph := rep.Phase("evaluate", total)
	defer ph.Done()
	var first map[string]*onnxio.Tensor
	for bi := 0; p.o.Limit <= 0 || ev.Samples < p.o.Limit; bi++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		b, err := src.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if b.N <= 0 {
			bi--
			continue
		}
		if l := p.o.Limit; l > 0 && ev.Samples+b.N > l {
			if p.fixed && ev.Samples > 0 {
				break
			}
			if !p.fixed {
				if b, err = dataset.Head(b, l-ev.Samples); err != nil {
					return nil, nil, err
				}
			}
		}
		if err := p.addBatch(ev, bi, b, base); err != nil {
			return nil, nil, err
		}
		if first == nil {
			first = make(map[string]*onnxio.Tensor, len(b.Inputs))
			for k, t := range b.Inputs {
				first[k] = t.Clone()
			}
			ev.BatchSize = b.N
		}
		ph.Add(int64(b.N))
	}
	if ev.Samples == 0 && !p.empty {
		return nil, nil, errors.New("the data set has no samples")
	}
	ev.Partial = p.partial(ev)
	if err := ev.result(); err != nil {
		return nil, nil, err
	}
	return ev, first, nil
}

func (p *pass) addBatch(ev *Evaluation, bi int, b *dataset.Batch, base baselineFunc) error {
	if p.o.SQNROnly {
		return p.addSQNR(ev, bi, b, base)
	}
	task := p.o.Task != nil
	if ev.Samples == 0 {
		ev.Labels = b.Labels != nil || task
		if task {
			ev.Metric = p.o.Task.Metric
		}
		if ev.Labels && ev.Metric == "" {
			ev.Metric = Top1
		}
		if !ev.Labels && ev.Metric != "" {
			return fmt.Errorf("--metric %s needs labels (--labels, an image folder's class folders, or a CSV label column)", ev.Metric)
		}
	}
	if (b.Labels != nil) != ev.Labels && !task {
		return fmt.Errorf("batch at sample %d: labels present in some batches only", b.Index)
	}
	if ev.Labels && !task && len(b.Labels) != b.N {
		return fmt.Errorf("batch at sample %d: %d labels for %d samples", b.Index, len(b.Labels), b.N)
	}
	var ref []float32
	var refOuts []*onnxio.Tensor
	for i, s := range p.st {
		name := p.models[i].Name
		var outs []*onnxio.Tensor
		var err error
		if i == 0 {
			outs, err = base(bi, b)
		} else {
			outs, err = s.sess.Run(b.Inputs)
		}
		if err != nil {
			return fmt.Errorf("%s: batch at sample %d: %w", name, b.Index, err)
		}
		y, err := outs[s.outIdx].Float32s()
		if err != nil {
			return fmt.Errorf("%s: output %q: %w", name, s.output, err)
		}
		k, err := rowWidth(len(y), b.N)
		if err != nil {
			return fmt.Errorf("%s: output %q %v: %w", name, s.output, outs[s.outIdx].Shape, err)
		}
		if s.width == 0 {
			s.width = k
		} else if s.width != k {
			return fmt.Errorf("%s: output %q has %d values per sample at sample %d, %d before", name, s.output, k, b.Index, s.width)
		}
		for j := 0; j < b.N; j++ {
			if !finite(y[j*k : (j+1)*k]) {
				s.nonFinite++
			}
		}
		switch {
		case task:
			if err := s.task.Add(outs[s.outIdx], b.Index, b.N); err != nil {
				return fmt.Errorf("%s: output %q: %s metric: %w", name, s.output, ev.Metric, err)
			}
		case ev.Labels:
			if ev.Metric.IsClassification() {
				if k < 2 {
					return fmt.Errorf("%s: --metric %s needs a classifier output with a score per class; %q has %d value per sample (use --metric mse or mae)", name, ev.Metric, s.output, k)
				}
				err = s.cls.Add(y, b.N, b.Labels)
			} else {
				err = s.reg.AddLabels(y, b.N, b.Labels)
			}
			if err != nil {
				return fmt.Errorf("%s: batch at sample %d: %w", name, b.Index, err)
			}
		}
		if i == 0 {
			ref, refOuts = y, outs
			continue
		}
		if k != p.st[0].width {
			return fmt.Errorf("%s: output %q has %d values per sample, the baseline's %q %d", name, s.output, k, p.st[0].output, p.st[0].width)
		}
		if err := s.fid.AddShaped(ref, y, b.N, outs[s.outIdx].Shape); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		p.compareTensors(s, refOuts, outs)
	}
	ev.Samples += b.N
	return nil
}

// addSQNR is addBatch for Options.SQNROnly.
func (p *pass) addSQNR(ev *Evaluation, bi int, b *dataset.Batch, base baselineFunc) error {
	ref, err := base(bi, b)
	if err != nil {
		return fmt.Errorf("%s: batch at sample %d: %w", p.models[0].Name, b.Index, err)
	}
	for i, s := range p.st[1:] {
		outs, err := s.sess.Run(b.Inputs)
		if err != nil {
			return fmt.Errorf("%s: batch at sample %d: %w", p.models[i+1].Name, b.Index, err)
		}
		p.compareTensors(s, ref, outs)
	}
	ev.Samples += b.N
	return nil
}

// compareTensors adds one batch of every compared tensor to the
// candidate's SQNR sums; a tensor missing, not float or of another size
// in either model is marked as not comparable.
func (p *pass) compareTensors(s *subjectState, ref, got []*onnxio.Tensor) {
	base := p.st[0]
	for k := range p.tensors {
		if s.bad[k] {
			continue
		}
		if base.at[k] < 0 || s.at[k] < 0 {
			s.bad[k] = true
			continue
		}
		a, b := ref[base.at[k]], got[s.at[k]]
		if !isFloat(a.DType) || !isFloat(b.DType) || a.Len() != b.Len() {
			s.bad[k] = true
			continue
		}
		x, err1 := a.Float32s()
		y, err2 := b.Float32s()
		if err1 != nil || err2 != nil {
			s.bad[k] = true
			continue
		}
		s.sq[k].Add(x, y)
	}
}

// partial gathers the accumulators into the pass's Partial.
func (p *pass) partial(ev *Evaluation) *Partial {
	part := &Partial{Samples: int64(ev.Samples), BatchSize: ev.BatchSize, Labels: ev.Labels, Metric: ev.Metric, Tensors: slices.Clone(p.tensors)}
	if p.o.Task != nil {
		part.summarize = p.o.Task.Summarize
	}
	for i, m := range p.models {
		s := p.st[i]
		mp := ModelPartial{Name: m.Name, Path: m.Path, Output: s.output, NonFinite: s.nonFinite, Class: s.cls, Reg: s.reg}
		if s.task != nil {
			t := s.task.Partial()
			mp.Task = &t
		}
		part.Models = append(part.Models, mp)
	}
	for _, s := range p.st[1:] {
		c := CandidatePartial{Fidelity: s.fid}
		for k := range p.tensors {
			c.Tensors = append(c.Tensors, TensorPartial{Sum: s.sq[k], Comparable: !s.bad[k]})
		}
		part.Candidates = append(part.Candidates, c)
	}
	return part
}

// result fills ev's models and candidates from its Partial (Partial.Result:
// the same code that computes a merge of shards).
func (ev *Evaluation) result() error {
	r, err := ev.Partial.Result()
	if err != nil {
		return err
	}
	ev.Models, ev.Candidates = r.Models, r.Candidates
	if len(ev.Partial.Timings) > 0 {
		ev.Warmup, ev.Runs = r.Warmup, r.Runs
	}
	return nil
}

// accuracyDrop in points, from the correct counts (one division each, so a
// model compared with itself drops exactly 0).
func accuracyDrop(base, cand *Accuracy) float64 {
	if base.Task != nil {
		return 100 * (base.Value - cand.Value)
	}
	if base.Metric == Top5 {
		return 100 * (float64(base.Top5Correct)/float64(base.Samples) - float64(cand.Top5Correct)/float64(cand.Samples))
	}
	return 100 * (float64(base.Top1Correct)/float64(base.Samples) - float64(cand.Top1Correct)/float64(cand.Samples))
}

// checkTask checks Options.Metric against Options.Task: a task's metric is
// its own, and a task metric needs its references.
func checkTask(o Options) error {
	if o.Task != nil {
		if o.Task.NewScorer == nil || o.Task.Metric == "" {
			return errors.New("task without a metric name or a scorer")
		}
		if o.Metric != "" && o.Metric != o.Task.Metric {
			return fmt.Errorf("metric %s given with a %s task", o.Metric, o.Task.Metric)
		}
		return nil
	}
	if o.Metric == "" {
		return nil
	}
	m, err := ParseMetric(string(o.Metric))
	if err != nil {
		return err
	}
	if m.IsTask() {
		return fmt.Errorf("metric %s needs its references (a Task)", m)
	}
	return nil
}

// taskAccuracy is a task metric's result as an Accuracy.
func taskAccuracy(m Metric, r TaskResult) *Accuracy {
	return &Accuracy{Metric: m, Value: r.Value, Samples: r.Samples, Task: &r}
}
