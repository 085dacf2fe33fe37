package cmd

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/shrinkml/shrink/report"
	"github.com/shrinkml/shrink/validate"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// DataOptions are the data flags shared by the verbs that read a data set
// (--data, --labels and the preprocessing of dataset.Options).
type DataOptions struct {
	Path string
	dataset.Options
	// batch is the --batch flag, to tell a value given from the default.
	batch *pflag.Flag
}

// addDataFlags adds --data, --labels, --batch and the dataset flags.
func addDataFlags(fs *pflag.FlagSet, d *DataOptions) {
	fs.StringVar(&d.Path, "data", "", "the inputs: .npy, .npz, .csv, a folder of test_data_set_* / input_*.pb, or an image folder (one subfolder per class)")
	fs.StringVar(&d.Labels, "labels", "", "labels: .npy of integers or a text file with one per line (image folders and CSV label columns carry their own)")
	fs.IntVar(&d.BatchSize, "batch", dataset.DefaultBatchSize, "samples per batch for a model with a dynamic batch dimension (a fixed batch dimension is always used as is)")
	d.batch = fs.Lookup("batch")
	fs.IntVar(&d.Limit, "limit", 0, "use only the first N samples (0: all)")
	fs.IntSliceVar(&d.Resize, "resize", nil, "image folders: resize to H,W, or the short side to S")
	fs.IntSliceVar(&d.Crop, "crop", nil, "image folders: center crop to H,W or SxS, after --resize")
	fs.Var(float32List{&d.Mean}, "mean", "image folders: per-channel mean subtracted after --scale (one value, or one per channel)")
	fs.Var(float32List{&d.Std}, "std", "image folders: per-channel standard deviation divided by after --mean")
	fs.StringVar(&d.Layout, "layout", "", "image folders: nchw or nhwc (default: from the model's input shape)")
	fs.Float32Var(&d.Scale, "scale", 0, "image folders: multiply pixel values (0..255) by this first (0: 1/255)")
	fs.StringSliceVar(&d.Columns, "columns", nil, "CSV: the header names of the input columns (default: all but the label column)")
	fs.StringVar(&d.LabelColumn, "label-column", "", "CSV: the header name of the label column")
}

// check reports bad data flags as usage errors, before any work.
func (d *DataOptions) check() error {
	if d.Path == "" {
		return usagef("--data is required")
	}
	if d.BatchSize < 1 {
		return usagef("--batch %d: must be >= 1", d.BatchSize)
	}
	if d.Limit < 0 {
		return usagef("--limit %d: must be >= 0", d.Limit)
	}
	if n := len(d.Resize); n > 2 || (n > 0 && (d.Resize[0] <= 0 || d.Resize[n-1] <= 0)) {
		return usagef("--resize %v: want H,W or one size S, all > 0", d.Resize)
	}
	if n := len(d.Crop); n > 2 || (n > 0 && (d.Crop[0] <= 0 || d.Crop[n-1] <= 0)) {
		return usagef("--crop %v: want H,W or one size S, all > 0", d.Crop)
	}
	for _, s := range d.Std {
		if !(s > 0) {
			return usagef("--std %v: every value must be > 0", d.Std)
		}
	}
	switch strings.ToLower(d.Layout) {
	case "", "nchw", "nhwc":
		d.Layout = strings.ToLower(d.Layout)
	default:
		return usagef("--layout %q: want nchw or nhwc", d.Layout)
	}
	if d.Scale < 0 || math.IsNaN(float64(d.Scale)) || math.IsInf(float64(d.Scale), 0) {
		return usagef("--scale %g: must be a positive number", d.Scale)
	}
	return nil
}

// open opens the data set for a model's inputs.
func (d *DataOptions) open(m *onnxio.Model) (dataset.Source, error) {
	o := d.Options
	o.BatchDefault = d.batch == nil || !d.batch.Changed
	return dataset.Open(d.Path, validate.Inputs(m), o)
}

// TimingOptions are the latency flags.
type TimingOptions struct {
	Threads  int
	Provider string
	Runs     int
	Warmup   int
}

func addTimingFlags(fs *pflag.FlagSet, t *TimingOptions, what string) {
	fs.IntVar(&t.Threads, "threads", 0, threadsUsage)
	fs.StringVar(&t.Provider, "provider", "cpu", "ONNX Runtime execution provider: cpu, cuda or tensorrt (shrink doctor lists those the library has)")
	fs.IntVar(&t.Runs, "runs", 100, "timed runs per model on the first batch"+what)
	fs.IntVar(&t.Warmup, "warmup", 10, "untimed runs per model before timing")
}

// check checks the flags and resolves --threads (0: one per CPU) to the
// number the sessions get and the reports show.
func (t *TimingOptions) check() error {
	env, err := resolveEnv(t.Threads, t.Provider)
	if err != nil {
		return err
	}
	t.Threads, t.Provider = env.Threads, env.Provider
	if t.Runs < 0 {
		return usagef("--runs %d: must be >= 0", t.Runs)
	}
	if t.Warmup < 0 {
		return usagef("--warmup %d: must be >= 0", t.Warmup)
	}
	return nil
}

// EvalOptions are the options of `shrink eval`.
type EvalOptions struct {
	*GlobalOptions
	Model   string
	Data    DataOptions
	Timing  TimingOptions
	Metric  string
	Dict    string
	Latency bool
	JSON    bool
	Shard   string

	// metric is Metric parsed, set before the run function is called;
	// shard is Shard parsed.
	metric validate.Metric
	shard  dataset.Shard
}

// newEvalCmd builds `shrink eval`; runF (nil: evalRun) runs it once the
// flags are checked.
func newEvalCmd(g *GlobalOptions, runF func(context.Context, *EvalOptions) error) *cobra.Command {
	if runF == nil {
		runF = evalRun
	}
	opts := &EvalOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "eval MODEL --data D [--labels L]",
		Short: "Measure a model's accuracy (and latency, size) in ONNX Runtime",
		Long: `eval runs MODEL in ONNX Runtime over a data set and reports its accuracy
against the labels (top-1/top-5 for classifiers, MSE/MAE otherwise), its size
on disk, gzipped, in parameters and non-zero parameters, and, with --latency,
its latency on one batch (p50/p90/p99, throughput).`,
		Example: `  shrink eval model.onnx --data val.npy --labels val_labels.npy
  shrink eval model.onnx --data images/ --resize 256 --crop 224 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225
  shrink eval model.onnx --data val.npy --labels y.npy --latency --threads 4 --json | jq .model.accuracy.value`,
		Args: exactArgs(1, "one MODEL argument"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Model = args[0]
			if !opts.Latency && c.Flags().Changed("runs") {
				opts.Latency = true
			}
			m, err := opts.check()
			if err != nil {
				return err
			}
			if opts.shard, err = parseShardFlag(c.Flags(), opts.Shard); err != nil {
				return err
			}
			opts.metric = m
			return runF(c.Context(), opts)
		},
	}
	fs := c.Flags()
	addDataFlags(fs, &opts.Data)
	fs.StringVar(&opts.Metric, "metric", "", "top1, top5, mse, mae, ctc or boxes (default: top1 when the data has labels)")
	addDictFlag(fs, &opts.Dict)
	fs.BoolVar(&opts.Latency, "latency", false, "also measure latency (implied by --runs)")
	addTimingFlags(fs, &opts.Timing, " (with --latency)")
	fs.BoolVar(&opts.JSON, "json", false, "print one JSON document (docs/schemas/eval.schema.json)")
	addShardFlag(fs, &opts.Shard)
	return c
}

func (opts *EvalOptions) check() (validate.Metric, error) {
	if err := opts.Data.check(); err != nil {
		return "", err
	}
	if err := opts.Timing.check(); err != nil {
		return "", err
	}
	if opts.Latency && opts.Timing.Runs == 0 {
		return "", usagef("--latency needs --runs >= 1")
	}
	m, err := parseMetricFlag(opts.Metric)
	if err != nil {
		return "", err
	}
	return m, checkTaskFlags(m, opts.Dict, opts.Data.Labels)
}

// parseMetricFlag parses --metric ("" stays "": the default).
func parseMetricFlag(s string) (validate.Metric, error) {
	if s == "" {
		return "", nil
	}
	m, err := validate.ParseMetric(s)
	if err != nil {
		return "", &UsageError{Err: fmt.Errorf("--metric: %w", err)}
	}
	return m, nil
}

func evalRun(ctx context.Context, opts *EvalOptions) error {
	opts.IO.JSON = opts.JSON
	if _, err := ort.Init(opts.ORTLib); err != nil {
		return err
	}
	m, err := onnxio.Load(opts.Model)
	if err != nil {
		return err
	}
	task, err := loadTask(opts.metric, opts.Dict, opts.Data.Labels)
	if err != nil {
		return err
	}
	src, err := openTaskData(opts.Data, task, m)
	if err != nil {
		return err
	}
	defer src.Close()
	runs := 0
	if opts.Latency {
		runs = opts.Timing.Runs
	}
	ev, err := validate.Run(ctx, []validate.Subject{{Name: filepath.Base(opts.Model), Path: opts.Model, Model: m}}, src, validate.Options{
		Metric: opts.metric, Task: task, Threads: opts.Timing.Threads, Provider: opts.Timing.Provider, Warmup: opts.Timing.Warmup, Runs: runs,
		Shard: opts.shard, Progress: newProgress(opts.IO),
	})
	if err != nil {
		return err // validate's errors name the model
	}
	meta, err := shardMeta(report.Meta{Tool: "shrink " + Version, Data: opts.Data.Path, Labels: opts.Data.Labels}, opts.shard, opts.Data)
	if err != nil {
		return err
	}
	doc := report.NewEval(ev, meta)
	warnNonFinite(opts.IO, doc.Model, doc.Data)
	warnEmptyShard(opts.IO, doc.Shard)
	if opts.JSON {
		return opts.IO.WriteJSON(doc)
	}
	printEval(opts.IO, doc)
	return nil
}

func printEval(io *IOStreams, d *report.Eval) {
	p := io.Printf
	m := d.Model
	p("model      %s (output %s)\n", m.Path, m.Output)
	labels := "no labels"
	switch {
	case !d.Data.HasLabels:
	case d.Data.Labels != "":
		labels = "labels " + d.Data.Labels
	case isFolder(d.Data.Path):
		labels = "labels from the class folders"
	default:
		labels = "labels from the label column"
	}
	p("data       %s: %d samples, batch %d, %s\n", d.Data.Path, d.Data.Samples, d.Data.BatchSize, labels)
	printShard(io, d.Shard)
	if a := m.Accuracy; a != nil {
		if a.Figures != nil {
			printFigures(p, a)
		} else if a.Top1Correct != nil {
			p("top1       %s (%d/%d)\n", evalPercent(a.Top1), *a.Top1Correct, a.Samples)
			p("top5       %s (%d/%d)\n", evalPercent(a.Top5), *a.Top5Correct, a.Samples)
		} else {
			p("mse        %s\n", evalNumber(a.MSE))
			p("mae        %s\n", evalNumber(a.MAE))
		}
	}
	if l := m.Latency; l != nil {
		tput := "—"
		if l.Throughput != nil {
			tput = fmt.Sprintf("%.0f", *l.Throughput)
		}
		p("latency    p50 %.3f ms, p90 %.3f ms, p99 %.3f ms per batch of %d; %s samples/s (%d threads, %d runs after %d warm-up)\n",
			l.P50Ms, l.P90Ms, l.P99Ms, l.BatchSize, tput, l.Threads, l.Runs, l.Warmup)
	}
	if s := m.Size; s != nil {
		p("size       %s on disk, %s gzipped; %d parameters, %d non-zero\n", report.HumanBytes(s.TotalBytes), report.HumanBytes(s.GzipBytes), s.Parameters, s.NonZero)
	}
}

// warnNonFinite warns when a model's outputs held NaN or infinite values:
// its figures mean little, and such samples were counted wrong.
func warnNonFinite(ios *IOStreams, m report.Model, d report.Data) {
	if m.NonFinite == 0 {
		return
	}
	wrong := ""
	if m.Accuracy != nil {
		wrong = "; they count as wrong"
	}
	ios.Warnf("%s: %d of %d samples give non-finite outputs (NaN or infinity) on output %q%s", m.Name, m.NonFinite, d.Samples, m.Output, wrong)
}

func evalPercent(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f%%", 100**v)
}

func evalNumber(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.4g", *v)
}

func isFolder(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
