// Package validate is where shrink measures models, for every verb: accuracy
// against labels (top-1/top-5, MSE/MAE), fidelity of candidates to a
// baseline on the same inputs (top-1 agreement, cosine similarity, max
// absolute difference, KL divergence, and the SQNR of every float output:
// one definition, SQNR, and one accumulator, SQNRSum), latency (one
// interleaved, paired timer: Interleaved, under TimeSessions and
// TimeModels) and size (bytes, gzip bytes, parameters, non-zeros); and the
// gates (one evaluator, CheckGates) that `shrink compare` and the
// transforms' accuracy budgets both check.
//
// Run measures a baseline and candidates in one pass over the data; a
// Reference keeps a baseline's outputs (while they fit a byte bound) so
// that a transform's search can measure many candidates against it with
// the same figures. Everything is accumulated streaming over the data
// set's batches: memory does not grow with the number of samples. The
// package never prints; it reports progress through internal/progress.
package validate

import (
	"context"
	"errors"
	"fmt"
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

// Options controls Run and Reference.
type Options struct {
	// Metric judges accuracy; "" means top1 when the data has labels, or
	// Task's metric.
	Metric Metric
	// Task, when set, scores every model's compared output with a Scorer
	// of its own against the task's references (text lines, boxes)
	// instead of the data's labels: ModelResult.Accuracy holds its figures.
	Task *Task
	// Output is the output compared for accuracy and the fidelity figures
	// (agreement, cosine, KL …); "" means each model's first output.
	Output string
	// ClassAxis is the compared output's class axis for top-1 agreement
	// and KL (batch axis 0; negative counts from the end); 0 infers it
	// from the output's rank (InferClassAxis).
	ClassAxis int
	// Tensors are the tensors whose SQNR is measured for each candidate
	// (CandidateResult.Outputs): graph outputs or intermediate tensors,
	// found by name in every model. Nil means every graph output of the
	// baseline, paired with the candidate's output of the same name (or at
	// the same position when the names differ and the counts match).
	Tensors []string
	// Limit stops after this many samples (0: all). A batch that would
	// pass it is cut, unless the baseline has a fixed batch dimension:
	// then only whole batches are used (at least one).
	Limit int
	// SQNROnly measures only the SQNR of the compared tensors: no
	// accuracy, no per-sample fidelity, so outputs need no sample
	// dimension (a detector's boxes, an intermediate tensor).
	SQNROnly bool
	// CacheBytes bounds the baseline outputs a Reference keeps in memory
	// (0: DefaultCacheBytes; negative: none). Run keeps none.
	CacheBytes int64
	// Threads is ONNX Runtime's intra-op thread count (0: its default;
	// the verbs resolve it first, see transform.Env).
	Threads int
	// Provider is the ONNX Runtime execution provider: "cpu" (default),
	// "cuda" or "tensorrt".
	Provider string
	// Shard restricts Run to one shard of the data set (dataset.Shard:
	// contiguous batches; the zero value is the whole data set), read from
	// the shard's first batch. A shard without samples is not an error:
	// its Evaluation has 0 samples. The Evaluation.Partial of the shards
	// merge into the whole's. Limit cannot be combined with it (limit the
	// data set itself); Reference does not shard.
	Shard dataset.Shard
	// Warmup untimed and Runs timed runs per model on the first batch;
	// Runs 0 skips latency (Run only).
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
	// NonFinite counts the samples whose output holds a NaN or an
	// infinity (with labels they count as wrong).
	NonFinite int64
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
	// Task is a task metric's result (Options.Task): Value is its
	// headline figure; nil for the other metrics.
	Task *TaskResult
}

// CandidateResult compares one candidate with the baseline.
type CandidateResult struct {
	Fidelity FidelityResult
	// Outputs is the SQNR of each compared tensor (Options.Tensors: by
	// default every graph output), in the baseline's order over all
	// samples; NaN for a tensor that is not float in both models or that
	// the candidate lacks.
	Outputs []TensorSQNR
	// MinSQNR is the lowest SQNR in Outputs (NaN when none was measured):
	// the figure of the min-sqnr gate.
	MinSQNR float64
	// AccuracyDrop is the baseline's accuracy minus the candidate's in
	// percentage points (top1/top5 with labels, or a task metric's
	// headline figure; NaN otherwise).
	AccuracyDrop float64
	// Speedup is the median of paired ratios baseline time / candidate
	// time (NaN without latency).
	Speedup float64
	// SizeRatio is candidate TotalBytes / baseline TotalBytes (NaN without
	// files).
	SizeRatio float64
}

// TensorSQNR is one tensor's SQNR against the baseline, in dB (see SQNR).
type TensorSQNR struct {
	Name string
	SQNR float64
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
	// Partial is the mergeable state the figures above were computed from
	// (Partial.Result).
	Partial *Partial
	// Shard is the part of the data set evaluated (Options.Shard); nil for
	// the whole.
	Shard *dataset.Range
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
	if len(models) == 1 && opts.Tensors == nil {
		opts.Tensors = []string{} // no candidate: no tensor to compare
	}
	p, err := newPass(models, opts, nil)
	if err != nil {
		return nil, err
	}
	defer p.close()
	var shard *dataset.Range
	if !opts.Shard.Whole() {
		if opts.Limit > 0 {
			return nil, errors.New("a sample limit with a shard: limit the data set (dataset.Options.Limit) before sharding it")
		}
		s, r, err := dataset.ShardOf(src, opts.Shard)
		if err != nil {
			return nil, err
		}
		src, shard, p.empty = s, &r, true
	}
	base := p.st[0]
	ev, first, err := p.run(ctx, src, func(_ int, b *dataset.Batch) ([]*onnxio.Tensor, error) { return base.sess.Run(b.Inputs) }, rep)
	if err != nil {
		return nil, err
	}
	ev.Shard = shard
	ev.Warmup, ev.Runs = opts.Warmup, opts.Runs
	if opts.Runs > 0 && first != nil {
		sessions := make([]*ort.Session, len(p.st))
		for i, s := range p.st {
			sessions[i] = s.sess
		}
		t, err := TimeSessions(ctx, sessions, first, TimingOptions{Warmup: opts.Warmup, Runs: opts.Runs, Progress: rep})
		if err != nil {
			return nil, err
		}
		ev.Partial.Timings = append(ev.Partial.Timings, TimingPartial{BatchSize: ev.BatchSize, Threads: opts.Threads, Warmup: opts.Warmup, Times: t.Times})
		if err := ev.result(); err != nil {
			return nil, err
		}
	}
	sizes := make([]*Size, len(models))
	for i, m := range models {
		if m.Path == "" {
			continue
		}
		s, err := MeasureSize(ctx, m.Path, m.Model, rep)
		if err != nil {
			return nil, fmt.Errorf("%s: size: %w", m.Name, err)
		}
		sizes[i] = s
	}
	ev.SetSizes(sizes)
	ev.Elapsed = time.Since(start)
	return ev, nil
}

// SetSizes records each model's size (nil: not measured) and each
// candidate's size ratio to the baseline.
func (ev *Evaluation) SetSizes(sizes []*Size) {
	for i, s := range sizes {
		if i < len(ev.Models) {
			ev.Models[i].Size = s
		}
	}
	if base := ev.Models[0].Size; base != nil && base.TotalBytes > 0 {
		for i := range ev.Candidates {
			if s := ev.Models[i+1].Size; s != nil {
				ev.Candidates[i].SizeRatio = float64(s.TotalBytes) / float64(base.TotalBytes)
			}
		}
	}
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
