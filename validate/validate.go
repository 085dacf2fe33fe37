// Package validate measures models in ONNX Runtime: accuracy against labels
// (top-1/top-5, MSE/MAE), fidelity of candidates to a baseline on the same
// inputs (top-1 agreement, cosine similarity, max absolute difference, SQNR,
// KL divergence), latency (interleaved, paired timing) and size (bytes,
// gzip bytes, parameters, non-zeros); and checks gates on the results.
//
// Everything is accumulated streaming over the data set's batches: memory
// does not grow with the number of samples. The package never prints; it
// reports progress through internal/progress.
package validate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
)

// Subject is one model to measure.
type Subject struct {
	// Name labels the model in results (a file name, usually).
	Name string
	// Path is the model file; "" skips the size measurement.
	Path  string
	Model *onnxio.Model
}

// Options controls Run.
type Options struct {
	// Metric judges accuracy; "" means top1 when the data has labels.
	Metric Metric
	// Output is the output compared; "" means each model's first output.
	Output string
	// Threads is ONNX Runtime's intra-op thread count (0: its default).
	Threads int
	// Provider is the ONNX Runtime execution provider: "cpu" (default),
	// "cuda" or "tensorrt".
	Provider string
	// Warmup untimed and Runs timed runs per model on the first batch;
	// Runs 0 skips latency.
	Warmup, Runs int
	// Progress receives progress (nil: none).
	Progress progress.Reporter
}

// ModelResult is what was measured of one model.
type ModelResult struct {
	Name, Path string
	Output     string
	// Accuracy is nil when the data has no labels.
	Accuracy *Accuracy
	// Latency is nil when Runs was 0.
	Latency *Latency
	// Size is nil when the model has no file.
	Size *Size
}

// Accuracy of a model against labels.
type Accuracy struct {
	Metric Metric
	// Value is the chosen metric: a fraction in [0, 1] for top1/top5, the
	// error for mse/mae.
	Value   float64
	Samples int64
	// Top-k counts and fractions (top1/top5 metrics only).
	Top1Correct, Top5Correct int64
	Top1, Top5               float64
	// MSE and MAE against the labels (mse/mae metrics only).
	MSE, MAE float64
}

// CandidateResult compares one candidate with the baseline.
type CandidateResult struct {
	Fidelity FidelityResult
	// AccuracyDrop is the baseline's accuracy minus the candidate's in
	// percentage points (top1/top5 with labels; NaN otherwise).
	AccuracyDrop float64
	// Speedup is the median of paired ratios baseline time / candidate
	// time (NaN without latency).
	Speedup float64
	// SizeRatio is candidate TotalBytes / baseline TotalBytes (NaN without
	// files).
	SizeRatio float64
}

// Evaluation is the result of Run: Models[0] is the baseline, the rest
// candidates; Candidates[i] compares Models[i+1] with Models[0].
type Evaluation struct {
	Samples    int
	BatchSize  int // the first batch's size (also the latency batch)
	Labels     bool
	Metric     Metric // "" when the data has no labels
	Threads    int
	Provider   string
	Warmup     int
	Runs       int
	Models     []ModelResult
	Candidates []CandidateResult
	Elapsed    time.Duration
}

type subjectState struct {
	sess   *ort.Session
	output string
	cls    Classification
	reg    Regression
	width  int
}

// Run measures the models on src: one pass over the data (every model runs
// on each batch, so the data is read once), then interleaved latency on the
// first batch, then sizes. models[0] is the baseline; with one model, Run is
// a plain evaluation. ort.Init must have been called. src is read from its
// current position and not closed.
func Run(ctx context.Context, models []Subject, src dataset.Source, opts Options) (*Evaluation, error) {
	start := time.Now()
	rep := progress.Or(opts.Progress)
	if len(models) == 0 {
		return nil, errors.New("no model to evaluate")
	}
	if err := checkTiming(opts.Warmup, opts.Runs); err != nil {
		return nil, err
	}
	if opts.Metric != "" {
		if _, err := ParseMetric(string(opts.Metric)); err != nil {
			return nil, err
		}
	}
	if err := sameInputs(models); err != nil {
		return nil, err
	}
	st := make([]*subjectState, len(models))
	defer func() {
		for _, s := range st {
			if s != nil && s.sess != nil {
				s.sess.Close()
			}
		}
	}()
	for i, m := range models {
		out := opts.Output
		if out == "" {
			if len(m.Model.Proto.Graph.Output) == 0 {
				return nil, fmt.Errorf("%s: the model has no outputs", m.Name)
			}
			out = m.Model.Proto.Graph.Output[0].GetName()
		}
		s, err := ort.NewSession(m.Model, ort.Options{IntraOpThreads: opts.Threads, Provider: opts.Provider, Outputs: []string{out}})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		st[i] = &subjectState{sess: s, output: out}
	}

	provider := opts.Provider
	if provider == "" {
		provider = "cpu"
	}
	ev := &Evaluation{Threads: opts.Threads, Provider: provider, Warmup: opts.Warmup, Runs: opts.Runs, Metric: opts.Metric}
	fid := make([]Fidelity, len(models)-1)
	var first map[string]*onnxio.Tensor
	ph := rep.Phase("evaluate", int64(src.Len()))
	for {
		if err := ctx.Err(); err != nil {
			ph.Done()
			return nil, err
		}
		b, err := src.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			ph.Done()
			return nil, err
		}
		if b.N <= 0 {
			continue
		}
		if err := ev.addBatch(models, st, fid, b); err != nil {
			ph.Done()
			return nil, err
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
	ph.Done()
	if ev.Samples == 0 {
		return nil, errors.New("the data set has no samples")
	}

	for i, m := range models {
		r := ModelResult{Name: m.Name, Path: m.Path, Output: st[i].output}
		if ev.Labels {
			r.Accuracy = st[i].accuracy(ev.Metric, int64(ev.Samples))
		}
		ev.Models = append(ev.Models, r)
	}
	for i := range fid {
		c := CandidateResult{Fidelity: fid[i].Result(), AccuracyDrop: math.NaN(), Speedup: math.NaN(), SizeRatio: math.NaN()}
		if a, b := ev.Models[0].Accuracy, ev.Models[i+1].Accuracy; a != nil && b != nil && a.Metric.IsClassification() {
			c.AccuracyDrop = accuracyDrop(a, b)
		}
		ev.Candidates = append(ev.Candidates, c)
	}

	if opts.Runs > 0 {
		if err := ev.time(ctx, st, first, opts, rep); err != nil {
			return nil, err
		}
	}
	for i, m := range models {
		if m.Path == "" {
			continue
		}
		s, err := MeasureSize(ctx, m.Path, m.Model, rep)
		if err != nil {
			return nil, fmt.Errorf("%s: size: %w", m.Name, err)
		}
		ev.Models[i].Size = s
	}
	if base := ev.Models[0].Size; base != nil && base.TotalBytes > 0 {
		for i := range ev.Candidates {
			if s := ev.Models[i+1].Size; s != nil {
				ev.Candidates[i].SizeRatio = float64(s.TotalBytes) / float64(base.TotalBytes)
			}
		}
	}
	ev.Elapsed = time.Since(start)
	return ev, nil
}

// accuracyDrop in points, from the correct counts (one division each, so a
// model compared with itself drops exactly 0).
func accuracyDrop(base, cand *Accuracy) float64 {
	if base.Metric == Top5 {
		return 100 * (float64(base.Top5Correct)/float64(base.Samples) - float64(cand.Top5Correct)/float64(cand.Samples))
	}
	return 100 * (float64(base.Top1Correct)/float64(base.Samples) - float64(cand.Top1Correct)/float64(cand.Samples))
}

func (ev *Evaluation) addBatch(models []Subject, st []*subjectState, fid []Fidelity, b *dataset.Batch) error {
	if ev.Samples == 0 {
		ev.Labels = b.Labels != nil
		if ev.Labels && ev.Metric == "" {
			ev.Metric = Top1
		}
		if !ev.Labels && ev.Metric != "" {
			return fmt.Errorf("--metric %s needs labels (--labels, an image folder's class folders, or a CSV label column)", ev.Metric)
		}
	}
	if (b.Labels != nil) != ev.Labels {
		return fmt.Errorf("batch at sample %d: labels present in some batches only", b.Index)
	}
	if ev.Labels && len(b.Labels) != b.N {
		return fmt.Errorf("batch at sample %d: %d labels for %d samples", b.Index, len(b.Labels), b.N)
	}
	var ref []float32
	for i, s := range st {
		outs, err := s.sess.Run(b.Inputs)
		if err != nil {
			return fmt.Errorf("%s: batch at sample %d: %w", models[i].Name, b.Index, err)
		}
		y, err := outs[0].Float32s()
		if err != nil {
			return fmt.Errorf("%s: output %q: %w", models[i].Name, s.output, err)
		}
		k, err := rowWidth(len(y), b.N)
		if err != nil {
			return fmt.Errorf("%s: output %q %v: %w", models[i].Name, s.output, outs[0].Shape, err)
		}
		if s.width == 0 {
			s.width = k
		} else if s.width != k {
			return fmt.Errorf("%s: output %q has %d values per sample at sample %d, %d before", models[i].Name, s.output, k, b.Index, s.width)
		}
		if ev.Labels {
			if ev.Metric.IsClassification() {
				if k < 2 {
					return fmt.Errorf("%s: --metric %s needs a classifier output with a score per class; %q has %d value per sample (use --metric mse or mae)", models[i].Name, ev.Metric, s.output, k)
				}
				err = s.cls.Add(y, b.N, b.Labels)
			} else {
				err = s.reg.AddLabels(y, b.N, b.Labels)
			}
			if err != nil {
				return fmt.Errorf("%s: batch at sample %d: %w", models[i].Name, b.Index, err)
			}
		}
		if i == 0 {
			ref = y
			continue
		}
		if k != st[0].width {
			return fmt.Errorf("%s: output %q has %d values per sample, the baseline's %q %d", models[i].Name, s.output, k, st[0].output, st[0].width)
		}
		if err := fid[i-1].Add(ref, y, b.N); err != nil {
			return fmt.Errorf("%s: %w", models[i].Name, err)
		}
	}
	ev.Samples += b.N
	return nil
}

// accuracy summarizes s over the evaluation's samples (every model sees
// every batch).
func (s *subjectState) accuracy(m Metric, samples int64) *Accuracy {
	a := &Accuracy{Metric: m}
	if m.IsClassification() {
		c := s.cls
		a.Samples, a.Top1Correct, a.Top5Correct = c.Samples, c.Top1, c.Top5
		a.Top1 = float64(c.Top1) / float64(c.Samples)
		a.Top5 = float64(c.Top5) / float64(c.Samples)
		a.Value = a.Top1
		if m == Top5 {
			a.Value = a.Top5
		}
		return a
	}
	a.Samples = samples
	a.MSE, a.MAE = s.reg.MSE(), s.reg.MAE()
	a.Value = a.MSE
	if m == MAE {
		a.Value = a.MAE
	}
	return a
}

func (ev *Evaluation) time(ctx context.Context, st []*subjectState, inputs map[string]*onnxio.Tensor, opts Options, rep progress.Reporter) error {
	bound := make([]*ort.Bound, len(st))
	defer func() {
		for _, b := range bound {
			if b != nil {
				b.Close()
			}
		}
	}()
	runners := make([]func() error, len(st))
	for i, s := range st {
		b, err := s.sess.Bind(inputs)
		if err != nil {
			return err
		}
		bound[i] = b
		runners[i] = b.RunDiscard
	}
	times, err := Interleaved(ctx, runners, opts.Warmup, opts.Runs, rep)
	if err != nil {
		return err
	}
	for i := range st {
		l := Summarize(times[i], ev.BatchSize, opts.Threads, opts.Warmup)
		ev.Models[i].Latency = &l
		if i > 0 {
			ev.Candidates[i-1].Speedup = MedianRatio(times[0], times[i])
		}
	}
	return nil
}

// sameInputs checks that every candidate takes the baseline's inputs (by
// name), so one batch feeds them all.
func sameInputs(models []Subject) error {
	names := func(m *onnxio.Model) []string {
		var out []string
		for _, v := range m.Graph().Inputs() {
			out = append(out, v.GetName())
		}
		slices.Sort(out)
		return out
	}
	base := names(models[0].Model)
	for _, m := range models[1:] {
		if got := names(m.Model); !slices.Equal(got, base) {
			return fmt.Errorf("%s takes inputs [%s], the baseline %s takes [%s]", m.Name, strings.Join(got, ", "), models[0].Name, strings.Join(base, ", "))
		}
	}
	return nil
}

// Inputs describes a model's graph inputs (what dataset.Open checks data
// against).
func Inputs(m *onnxio.Model) []onnxio.ValueInfo {
	var out []onnxio.ValueInfo
	for _, v := range m.Graph().Inputs() {
		out = append(out, onnxio.DescribeValue(v))
	}
	return out
}
