package validate

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Partial is the mergeable state of an evaluation: the counts and sums
// that every accuracy and fidelity figure is computed from, and the
// latency samples. A pass over a data set fills one; the Evaluation is its
// Result. The Partials of evaluations of disjoint parts of a data set (the
// shards of `shrink eval --shard`) Merge into the Partial of the whole, and
// the merged Result is computed by the same code as an unsharded run's:
// counts (correct top-1/top-5, samples, agreement, task counts) add up
// exactly; float sums (squared and absolute errors, SQNR signal and noise,
// cosine and KL sums) add up to the unsharded sums up to the order of
// additions; the largest absolute difference is the largest of the parts'.
type Partial struct {
	// Samples evaluated; a part with none (an empty shard) merges as
	// nothing.
	Samples int64
	// BatchSize is the first batch's size.
	BatchSize int
	// Labels and Metric are as in Evaluation.
	Labels bool
	Metric Metric
	// Tensors are the compared tensors (by the baseline's names).
	Tensors []string
	// Models[0] is the baseline.
	Models []ModelPartial
	// Candidates[i] compares Models[i+1] with the baseline.
	Candidates []CandidatePartial
	// Timings are the latency samples of each part that timed, in merge
	// order. Each part timed on its own machine: they are kept apart, not
	// pooled (see Result).
	Timings []TimingPartial

	// summarize turns a task metric's sums into its figures
	// (Task.Summarize); nil: SummarizeTask.
	summarize func(TaskPartial) TaskResult
}

// ModelPartial is one model's part of a Partial.
type ModelPartial struct {
	Name, Path string
	// Output is the compared output.
	Output string
	// NonFinite counts the samples whose output held a NaN or an infinity.
	NonFinite int64
	// Class and Reg accumulate accuracy against labels (top-k metrics and
	// mse/mae), Task a task metric's sums (nil without a task).
	Class Classification
	Reg   Regression
	Task  *TaskPartial
}

// CandidatePartial is one candidate's part of a Partial.
type CandidatePartial struct {
	// Fidelity holds the sums of the compared output.
	Fidelity Fidelity
	// Tensors are the SQNR sums of Partial.Tensors.
	Tensors []TensorPartial
}

// TensorPartial is the SQNR sums of one compared tensor.
type TensorPartial struct {
	Sum SQNRSum
	// Comparable is false when the tensor could not be compared (missing
	// in either model, not float, or of another size).
	Comparable bool
}

// TimingPartial is the latency samples of one part: Times[model][round],
// interleaved (see Interleaved) on one batch of BatchSize samples.
type TimingPartial struct {
	BatchSize, Threads, Warmup int
	Times                      [][]time.Duration
}

// Merge adds q, the Partial of another part of the same data set measured
// with the same models and options, to p. An error says what differs.
func (p *Partial) Merge(q *Partial) error {
	if len(q.Models) != len(p.Models) || len(q.Candidates) != len(p.Candidates) {
		return fmt.Errorf("%d models here, %d in the other part", len(q.Models), len(p.Models))
	}
	for i := range p.Models {
		a, b := &p.Models[i], &q.Models[i]
		if a.Name != b.Name || a.Output != b.Output {
			return fmt.Errorf("model %d is %s (output %q) here, %s (output %q) in the other part", i, b.Name, b.Output, a.Name, a.Output)
		}
	}
	if !slices.Equal(p.Tensors, q.Tensors) {
		return fmt.Errorf("compared tensors %q here, %q in the other part", q.Tensors, p.Tensors)
	}
	for i := range p.Timings {
		if len(p.Timings[i].Times) != len(p.Models) {
			return fmt.Errorf("a timing of %d models for %d models", len(p.Timings[i].Times), len(p.Models))
		}
	}
	for _, t := range q.Timings {
		if len(t.Times) != len(p.Models) {
			return fmt.Errorf("a timing of %d models for %d models", len(t.Times), len(p.Models))
		}
	}
	p.Timings = append(p.Timings, q.Timings...)
	if q.Samples == 0 {
		return nil
	}
	if p.Samples == 0 {
		timings := p.Timings
		*p = *q.clone(p.summarize)
		p.Timings = timings
		return nil
	}
	if p.Labels != q.Labels || p.Metric != q.Metric {
		return fmt.Errorf("metric %q (labels %v) here, %q (labels %v) in the other part", q.Metric, q.Labels, p.Metric, p.Labels)
	}
	for i := range p.Models {
		a, b := &p.Models[i], &q.Models[i]
		a.NonFinite += b.NonFinite
		a.Class.Merge(b.Class)
		a.Reg.Merge(b.Reg)
		switch {
		case (a.Task == nil) != (b.Task == nil):
			return fmt.Errorf("%s: a task metric in one part only", a.Name)
		case a.Task != nil:
			if err := a.Task.Merge(*b.Task); err != nil {
				return fmt.Errorf("%s: %w", a.Name, err)
			}
		}
	}
	for i := range p.Candidates {
		a, b := &p.Candidates[i], &q.Candidates[i]
		name := p.Models[i+1].Name
		if err := a.Fidelity.Merge(&b.Fidelity); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(a.Tensors) != len(b.Tensors) {
			return fmt.Errorf("%s: %d compared tensors here, %d in the other part", name, len(b.Tensors), len(a.Tensors))
		}
		for k := range a.Tensors {
			a.Tensors[k].Sum.Merge(b.Tensors[k].Sum)
			a.Tensors[k].Comparable = a.Tensors[k].Comparable && b.Tensors[k].Comparable
		}
	}
	p.Samples += q.Samples
	return nil
}

// clone copies q deeply enough that merging into the copy leaves q alone.
func (q *Partial) clone(summarize func(TaskPartial) TaskResult) *Partial {
	c := *q
	c.Tensors = slices.Clone(q.Tensors)
	c.Models = slices.Clone(q.Models)
	for i := range c.Models {
		if t := c.Models[i].Task; t != nil {
			t2 := *t
			t2.Sums = slices.Clone(t.Sums)
			c.Models[i].Task = &t2
		}
	}
	c.Candidates = slices.Clone(q.Candidates)
	for i := range c.Candidates {
		c.Candidates[i].Tensors = slices.Clone(q.Candidates[i].Tensors)
	}
	if summarize != nil {
		c.summarize = summarize
	}
	return &c
}

// Result computes the evaluation's figures from p: accuracy, fidelity and
// SQNR from the sums, and, when some part timed, each model's latency
// from the first part's samples and each candidate's speedup as the median
// of the paired ratios of every part (each pair was timed on one machine,
// so its ratio holds wherever it was measured; absolute times do not
// carry from one machine to another, so they are not pooled). Size,
// Threads, Provider and Elapsed are left to the caller.
func (p *Partial) Result() (*Evaluation, error) {
	ev := &Evaluation{Samples: int(p.Samples), BatchSize: p.BatchSize, Labels: p.Labels, Metric: p.Metric, Partial: p}
	for i := range p.Models {
		m := &p.Models[i]
		r := ModelResult{Name: m.Name, Path: m.Path, Output: m.Output, NonFinite: m.NonFinite}
		switch {
		case m.Task != nil:
			res, err := p.summarizeTask(*m.Task)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m.Name, err)
			}
			r.Accuracy = taskAccuracy(p.Metric, res)
		case p.Labels:
			r.Accuracy = m.accuracy(p.Metric, p.Samples)
		}
		ev.Models = append(ev.Models, r)
	}
	for i := range p.Candidates {
		cp := &p.Candidates[i]
		c := CandidateResult{Fidelity: cp.Fidelity.Result(), AccuracyDrop: math.NaN(), Speedup: math.NaN(), SizeRatio: math.NaN(), MinSQNR: math.NaN()}
		if a, b := ev.Models[0].Accuracy, ev.Models[i+1].Accuracy; a != nil && b != nil && (a.Metric.IsClassification() || a.Task != nil) {
			c.AccuracyDrop = accuracyDrop(a, b)
		}
		for k, name := range p.Tensors {
			t := TensorSQNR{Name: name, SQNR: math.NaN()}
			if k < len(cp.Tensors) && cp.Tensors[k].Comparable {
				t.SQNR = cp.Tensors[k].Sum.DB()
				if math.IsNaN(c.MinSQNR) || t.SQNR < c.MinSQNR {
					c.MinSQNR = t.SQNR
				}
			}
			c.Outputs = append(c.Outputs, t)
		}
		ev.Candidates = append(ev.Candidates, c)
	}
	if len(p.Timings) > 0 {
		t := p.Timings[0]
		ev.Warmup, ev.Runs, ev.Threads = t.Warmup, len(t.Times[0]), t.Threads
		for i := range ev.Models {
			l := Summarize(t.Times[i], t.BatchSize, t.Threads, t.Warmup)
			ev.Models[i].Latency = &l
			if i > 0 {
				var r []float64
				for _, t := range p.Timings {
					r = append(r, pairedRatios(t.Times[0], t.Times[i])...)
				}
				ev.Candidates[i-1].Speedup = medianOf(r)
			}
		}
	}
	return ev, nil
}

// summarizeTask turns a task metric's sums into its figures.
func (p *Partial) summarizeTask(t TaskPartial) (TaskResult, error) {
	if p.summarize != nil {
		return p.summarize(t), nil
	}
	return SummarizeTask(p.Metric, t)
}

// accuracy summarizes m over samples (every model sees every sample).
func (m *ModelPartial) accuracy(metric Metric, samples int64) *Accuracy {
	a := &Accuracy{Metric: metric}
	if metric.IsClassification() {
		c := m.Class
		a.Samples, a.Top1Correct, a.Top5Correct = c.Samples, c.Top1, c.Top5
		a.Top1 = float64(c.Top1) / float64(c.Samples)
		a.Top5 = float64(c.Top5) / float64(c.Samples)
		a.Value = a.Top1
		if metric == Top5 {
			a.Value = a.Top5
		}
		return a
	}
	a.Samples = samples
	a.MSE, a.MAE = m.Reg.MSE(), m.Reg.MAE()
	a.Value = a.MSE
	if metric == MAE {
		a.Value = a.MAE
	}
	return a
}

// Merge adds another part's counts.
func (c *Classification) Merge(o Classification) {
	c.Samples += o.Samples
	c.Top1 += o.Top1
	c.Top5 += o.Top5
	c.NonFinite += o.NonFinite
}

// Merge adds another part's sums.
func (r *Regression) Merge(o Regression) {
	r.Values += o.Values
	r.SumSq += o.SumSq
	r.SumAbs += o.SumAbs
}

// Merge adds another part's sums.
func (s *SQNRSum) Merge(o SQNRSum) {
	s.Signal += o.Signal
	s.Noise += o.Noise
}

// Merge adds the sums of another part of the same output (the same values
// per sample and class axis): counts and sums add, the largest absolute
// difference is the larger (NaN when either is).
func (f *Fidelity) Merge(g *Fidelity) error {
	if g.Samples == 0 {
		return nil
	}
	if f.Samples == 0 {
		*f = *g
		return nil
	}
	if f.Width != g.Width || f.ClassAxis != g.ClassAxis || f.Classes != g.Classes {
		return fmt.Errorf("output of %d values per sample (class axis %d, %d classes) here, %d (class axis %d, %d classes) in the other part",
			g.Width, g.ClassAxis, g.Classes, f.Width, f.ClassAxis, f.Classes)
	}
	f.Samples += g.Samples
	f.Positions += g.Positions
	f.Agree += g.Agree
	f.CosSum += g.CosSum
	if math.IsNaN(g.MaxAbs) || g.MaxAbs > f.MaxAbs {
		if !math.IsNaN(f.MaxAbs) {
			f.MaxAbs = g.MaxAbs
		}
	}
	f.Energy.Merge(g.Energy)
	f.ErrAbs += g.ErrAbs
	f.KLSum += g.KLSum
	f.Values += g.Values
	return nil
}

// Merge adds another part's sums, by name (an empty part adds nothing).
func (t *TaskPartial) Merge(o TaskPartial) error {
	if o.Samples == 0 && len(o.Sums) == 0 {
		return nil
	}
	if t.Samples == 0 && len(t.Sums) == 0 {
		t.Samples, t.Sums = o.Samples, slices.Clone(o.Sums)
		return nil
	}
	if len(t.Sums) != len(o.Sums) {
		return errors.New("task metric sums differ between the parts")
	}
	for i := range t.Sums {
		if t.Sums[i].Name != o.Sums[i].Name {
			return fmt.Errorf("task metric sum %q here, %q in the other part", o.Sums[i].Name, t.Sums[i].Name)
		}
		t.Sums[i].Value += o.Sums[i].Value
	}
	t.Samples += o.Samples
	return nil
}
