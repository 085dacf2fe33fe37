package cmd

import (
	"context"
	"fmt"
	"math"
	"path/filepath"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/shrinkml/shrink/report"
	"github.com/shrinkml/shrink/validate"
	"github.com/spf13/cobra"
)

// CompareOptions are the options of `shrink compare`.
type CompareOptions struct {
	*GlobalOptions
	Baseline   string
	Candidates []string
	Data       DataOptions
	Timing     TimingOptions
	Metric     string
	ClassAxis  int
	Dict       string
	Gates      []validate.Gate
	JSON       bool
	Markdown   string
	JUnit      string
	Force      bool
	Shard      string

	maxDrop, minAgree, minSpeedup, maxSize, minSQNR float64
	// metric is Metric parsed, set before the run function is called;
	// shard is Shard parsed.
	metric validate.Metric
	shard  dataset.Shard
}

// newCompareCmd builds `shrink compare`; runF (nil: compareRun) runs it
// once the flags are checked.
func newCompareCmd(g *GlobalOptions, runF func(context.Context, *CompareOptions) error) *cobra.Command {
	if runF == nil {
		runF = compareRun
	}
	opts := &CompareOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "compare BASELINE CANDIDATE... --data D [--labels L]",
		Short: "Compare candidates with a baseline: accuracy, fidelity, latency, size, gates",
		Long: `compare runs the baseline and every candidate in ONNX Runtime on the same data
(read once) and reports, for each candidate against the baseline: accuracy
and its drop, top-1 agreement, cosine similarity, max absolute difference,
SQNR, KL divergence, latency with the speedup as the median of paired ratios
of interleaved runs (A B, B A, …), and size (bytes, gzip bytes, parameters,
non-zeros). Gates turn figures into an exit code: any failing gate exits 3
after every report has been written.`,
		Example: `  shrink compare model.onnx model.int8.onnx --data val.npy --labels val_labels.npy
  shrink compare base.onnx int8.onnx pruned.onnx --data val.npy --labels y.npy \
      --max-accuracy-drop 1 --min-speedup 1.5 --markdown summary.md --junit gates.xml`,
		Args: minArgs(2, "a BASELINE and at least one CANDIDATE"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Baseline, opts.Candidates = args[0], args[1:]
			opts.Gates = nil
			for _, g := range []struct {
				flag string
				kind validate.GateKind
				v    float64
			}{
				{"max-accuracy-drop", validate.MaxAccuracyDrop, opts.maxDrop},
				{"min-agreement", validate.MinAgreement, opts.minAgree},
				{"min-speedup", validate.MinSpeedup, opts.minSpeedup},
				{"max-size-ratio", validate.MaxSizeRatio, opts.maxSize},
				{"min-sqnr", validate.MinSQNR, opts.minSQNR},
			} {
				if c.Flags().Changed(g.flag) {
					opts.Gates = append(opts.Gates, validate.Gate{Kind: g.kind, Limit: g.v})
				}
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
	addTimingFlags(fs, &opts.Timing, " (0: no latency)")
	fs.StringVar(&opts.Metric, "metric", "", "top1, top5, mse, mae, ctc or boxes (default: top1 when the data has labels)")
	addDictFlag(fs, &opts.Dict)
	fs.IntVar(&opts.ClassAxis, "class-axis", 0, "agreement and KL: the output axis holding the classes, the batch axis being 0 (negative: from the end); 0 infers it: 1 for [N,C], the last for a sequence [N,T,C], 1 for a map [N,C,H,W]")
	fs.Float64Var(&opts.maxDrop, "max-accuracy-drop", 0, "gate: the baseline's accuracy minus a candidate's, in percentage points, at most this")
	fs.Float64Var(&opts.minAgree, "min-agreement", 0, "gate: a candidate's top-1 agreement with the baseline, a fraction, at least this")
	fs.Float64Var(&opts.minSpeedup, "min-speedup", 0, "gate: a candidate's speedup (median of paired time ratios), at least this")
	fs.Float64Var(&opts.maxSize, "max-size-ratio", 0, "gate: a candidate's bytes on disk over the baseline's, at most this")
	fs.Float64Var(&opts.minSQNR, "min-sqnr", 0, "gate: the lowest SQNR, in dB, of a candidate's float outputs against the baseline's, at least this (no labels needed)")
	fs.BoolVar(&opts.JSON, "json", false, "print one JSON document (docs/schemas/compare.schema.json)")
	fs.StringVar(&opts.Markdown, "markdown", "", "also write the comparison as Markdown to FILE (- for stdout)")
	fs.StringVar(&opts.JUnit, "junit", "", "also write the gates as JUnit XML to FILE")
	fs.BoolVar(&opts.Force, "force", false, "replace existing --markdown/--junit files")
	addShardFlag(fs, &opts.Shard)
	return c
}

func (opts *CompareOptions) check() (validate.Metric, error) {
	if err := opts.Data.check(); err != nil {
		return "", err
	}
	if err := opts.Timing.check(); err != nil {
		return "", err
	}
	metric, err := parseMetricFlag(opts.Metric)
	if err != nil {
		return "", err
	}
	if err := checkTaskFlags(metric, opts.Dict, opts.Data.Labels); err != nil {
		return "", err
	}
	if err := checkGates(opts.Gates, metric); err != nil {
		return "", err
	}
	for _, g := range opts.Gates {
		if g.Kind == validate.MinSpeedup && opts.Timing.Runs == 0 {
			return "", usagef("--min-speedup needs latency: --runs must be >= 1")
		}
	}
	if opts.Markdown == "-" && opts.JSON {
		return "", usagef("--markdown - and --json both write to stdout; give --markdown a file")
	}
	if opts.JUnit == "-" {
		return "", usagef("--junit needs a file name")
	}
	if opts.Markdown != "" && opts.Markdown == opts.JUnit {
		return "", usagef("--markdown and --junit name the same file %s", opts.Markdown)
	}
	// Refuse outputs that may not be written before any work (the files
	// are written atomically at the end, and checked again then).
	inputs := append([]string{opts.Baseline}, opts.Candidates...)
	inputs = append(inputs, opts.Data.Path, opts.Data.Labels)
	for _, p := range []string{opts.Markdown, opts.JUnit} {
		if p == "" || p == "-" {
			continue
		}
		if err := checkOutput(p, opts.Force, inputs...); err != nil {
			return "", err
		}
	}
	return metric, nil
}

func compareRun(ctx context.Context, opts *CompareOptions) error {
	opts.IO.JSON = opts.JSON
	if _, err := ort.Init(opts.ORTLib); err != nil {
		return err
	}
	paths := append([]string{opts.Baseline}, opts.Candidates...)
	names := modelNames(paths)
	subjects := make([]validate.Subject, len(paths))
	for i, p := range paths {
		m, err := onnxio.Load(p)
		if err != nil {
			return err
		}
		subjects[i] = validate.Subject{Name: names[i], Path: p, Model: m}
	}
	task, err := loadTask(opts.metric, opts.Dict, opts.Data.Labels)
	if err != nil {
		return err
	}
	src, err := openTaskData(opts.Data, task, subjects[0].Model)
	if err != nil {
		return err
	}
	defer src.Close()
	ev, err := validate.Run(ctx, subjects, src, validate.Options{
		Metric: opts.metric, ClassAxis: opts.ClassAxis, Task: task, Threads: opts.Timing.Threads, Provider: opts.Timing.Provider, Warmup: opts.Timing.Warmup, Runs: opts.Timing.Runs,
		Shard: opts.shard, Progress: newProgress(opts.IO),
	})
	if err != nil {
		return err
	}
	results := validate.CheckGates(ev, opts.Gates)
	meta, err := shardMeta(report.Meta{Tool: "shrink " + Version, Data: opts.Data.Path, Labels: opts.Data.Labels}, opts.shard, opts.Data)
	if err != nil {
		return err
	}
	doc := report.NewCompare(ev, results, meta)
	warnEmptyShard(opts.IO, doc.Shard)
	warnNonFinite(opts.IO, doc.Baseline, doc.Data)
	for _, c := range doc.Candidates {
		warnNonFinite(opts.IO, c.Model, doc.Data)
	}

	md := doc.Markdown()
	if opts.Markdown != "" && opts.Markdown != "-" {
		if err := report.WriteFile(opts.Markdown, md, opts.Force); err != nil {
			return err
		}
	}
	if opts.JUnit != "" {
		x, err := doc.JUnit()
		if err != nil {
			return err
		}
		if err := report.WriteFile(opts.JUnit, x, opts.Force); err != nil {
			return err
		}
	}
	switch {
	case opts.JSON:
		if err := opts.IO.WriteJSON(doc); err != nil {
			return err
		}
	case opts.Markdown == "-":
		opts.IO.Out.Write(md)
	default:
		printCompare(opts.IO, doc)
	}
	if failed := validate.Failed(results); len(failed) > 0 && !opts.shard.Whole() {
		opts.IO.Infof("%d gate figures of shard %s fail on its slice of the data; the gates are checked on the merged result (shrink report)", len(failed), opts.shard)
	} else if len(failed) > 0 {
		ge := &GateError{}
		for _, f := range failed {
			ge.Failures = append(ge.Failures, f.String())
		}
		return ge
	}
	return nil
}

// modelNames labels models by file name, or by path where different paths
// share a file name (a model compared with itself keeps its file name).
func modelNames(paths []string) []string {
	byBase := map[string]map[string]bool{}
	for _, p := range paths {
		b := filepath.Base(p)
		if byBase[b] == nil {
			byBase[b] = map[string]bool{}
		}
		byBase[b][filepath.Clean(p)] = true
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
		if len(byBase[names[i]]) > 1 {
			names[i] = p
		}
	}
	return names
}

func printCompare(ios *IOStreams, d *report.Compare) {
	metric := "-"
	if d.Settings.Metric != nil {
		metric = *d.Settings.Metric
	}
	timing := "latency not measured"
	if d.Settings.Runs > 0 {
		timing = fmt.Sprintf("%s after %d warm-up", plural(d.Settings.Runs, "timed run", "timed runs"), d.Settings.Warmup)
	}
	ios.Printf("data %s: %s, batch %d, metric %s, threads %d, %s\n",
		d.Data.Path, plural(d.Data.Samples, "sample", "samples"), d.Data.BatchSize, metric, d.Settings.Threads, timing)
	printShard(ios, d.Shard)
	ios.Printf("\n")
	t := &table{
		rows: [][]string{{"model", metric, "drop pts", "agree", "cosine", "SQNR dB", "KL", "max|Δ|", "p50 ms", "speedup", "size", "ratio", "gzip"}},
		// Least telling first: what the others imply or the JSON has.
		drop: []string{"gzip", "max|Δ|", "cosine", "KL", "ratio", "p50 ms", "agree"},
	}
	row := func(name string, m report.Model, c *report.Candidate) {
		cells := []string{name, cmpAcc(m.Accuracy)}
		if c == nil {
			cells = append(cells, "", "", "", "", "", "")
		} else {
			f := c.Fidelity
			sq := cmpNum(f.SQNRdB, "%.1f")
			if f.SQNRInfinite {
				sq = "inf"
			}
			cells = append(cells, cmpNum(c.AccuracyDrop, "%+.2f"), cmpNum(f.Agreement, "%.4f"), cmpNum(f.Cosine, "%.5f"), sq, cmpNum(f.KL, "%.3g"), cmpNum(f.MaxAbsDiff, "%.3g"))
		}
		if m.Latency != nil {
			cells = append(cells, fmt.Sprintf("%.3f", m.Latency.P50Ms))
		} else {
			cells = append(cells, "-")
		}
		if c == nil {
			cells = append(cells, "")
		} else {
			cells = append(cells, cmpNum(c.Speedup, "%.2fx"))
		}
		if m.Size != nil {
			ratio := ""
			if c != nil {
				ratio = cmpNum(c.SizeRatio, "%.3f")
			}
			cells = append(cells, report.HumanBytes(m.Size.TotalBytes), ratio, report.HumanBytes(m.Size.GzipBytes))
		} else {
			cells = append(cells, "-", "", "-")
		}
		t.rows = append(t.rows, cells)
	}
	row(d.Baseline.Name+" (baseline)", d.Baseline, nil)
	for i := range d.Candidates {
		c := &d.Candidates[i]
		row(c.Name, c.Model, c)
	}
	width := 0
	if ios.StdoutTTY {
		width = ios.Columns
	}
	t.write(ios.Out, width)
	if len(d.Gates) > 0 {
		ios.Printf("\n")
		for _, g := range d.Gates {
			mark := "pass"
			if !g.Passed {
				mark = "FAIL"
			}
			ios.Printf("%s  %s\n", mark, g.Message)
		}
	}
}

func cmpAcc(a *report.Accuracy) string {
	if a == nil || a.Value == nil {
		return "-"
	}
	if a.Correct != nil || a.Figures != nil {
		return fmt.Sprintf("%.2f%%", 100**a.Value)
	}
	return fmt.Sprintf("%.4g", *a.Value)
}

func cmpNum(v *float64, format string) string {
	if v == nil || math.IsNaN(*v) {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}
