package cmd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/shrinkml/shrink/quantize"
	"github.com/shrinkml/shrink/report"
	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// QuantizeOptions are the options of `shrink quantize`.
type QuantizeOptions struct {
	*GlobalOptions
	Model string
	Out   OutputOptions
	// Calib holds --calib and the preprocessing flags; Val the validation
	// data of the accuracy budget (same preprocessing).
	Calib     DataOptions
	ValData   string
	ValLabels string

	Mode, Format, Activations string
	PerTensor                 bool
	CalibSize                 int
	CalibMethod               string
	Percentile                float64
	OpTypes                   []string
	Exclude                   []string
	KeepFirst, KeepLast       int
	Preset                    string
	ForceInt8                 bool
	AllowQuantized            bool
	Threads                   int
	MaxAccuracyDrop           float64
	MinAgreement              float64
	MinSQNR                   float64
	WarnSQNR                  float64
	JSON                      bool

	// Lib is what the flags ask of quantize.Quantize (its data sources
	// are opened by quantizeRun); set before the run function is called.
	Lib quantize.Options
}

// quantizeBatch is quantize's --batch default: larger than
// dataset.DefaultBatchSize, because the first calibration batch is also
// the batch the speed-aware step profiles and times (docs/quantize.md
// measures at 64).
const quantizeBatch = 64

// QuantizeResult is `shrink quantize --json` (docs/schemas/quantize.schema.json):
// the library's report plus the files.
type QuantizeResult struct {
	*quantize.Report
	Tool        string  `json:"tool"`
	Input       string  `json:"input"`
	Output      string  `json:"output"`
	InputBytes  int64   `json:"input_bytes"`
	OutputBytes int64   `json:"output_bytes"`
	SizeRatio   float64 `json:"size_ratio"`
}

// newQuantizeCmd builds `shrink quantize`; runF (nil: quantizeRun) runs
// it once the flags are checked, so tests check flags without ORT.
func newQuantizeCmd(g *GlobalOptions, runF func(context.Context, *QuantizeOptions) error) *cobra.Command {
	if runF == nil {
		runF = quantizeRun
	}
	opts := &QuantizeOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "quantize MODEL -o OUT --calib D",
		Short: "Quantize a model to int8 (static QDQ/QOperator or dynamic), keeping what is faster",
		Long: `quantize writes an int8 version of MODEL: weights symmetric int8 (per output
channel by default), activations uint8 asymmetric (or int8 symmetric) with
ranges calibrated on --calib data, biases int32. ONNX Runtime fuses the
QuantizeLinear/DequantizeLinear pairs (--format qdq) into integer kernels, or
the integer ops are written directly (--format qoperator). --mode dynamic
quantizes weights only and lets the runtime quantize activations.

It then profiles the float and int8 models in ONNX Runtime on this CPU and keeps
in float the nodes whose int8 kernels are slower (unless --force-int8), and
with --max-accuracy-drop, --min-agreement (classifiers) or --min-sqnr
(detectors, regressors: output SQNR against the float model) returns the
most sensitive nodes to float until the budget holds (exit 3 when it cannot).
An output whose SQNR falls below --warn-sqnr (20 dB) is warned about. The table printed at
the end says, node by node, what runs in int8, with which scale, at what SQNR,
and why anything stayed float. See docs/quantize.md.`,
		Example: `  shrink quantize model.onnx -o model.int8.onnx --calib calib.npy
  shrink quantize model.onnx -o q.onnx --calib images/ --resize 256 --crop 224 --calib-method entropy
  shrink quantize model.onnx -o q.onnx --calib x.npy --max-accuracy-drop 0.5 --val-data val.npy --val-labels y.npy
  shrink quantize det.onnx -o q.onnx --calib x.npy --min-sqnr 20 --val-data val.npy
  shrink quantize bert.onnx -o q.onnx --mode dynamic --preset transformer`,
		Args: exactArgs(1, "one MODEL argument"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Model = args[0]
			if err := opts.complete(c.Flags()); err != nil {
				return err
			}
			return runF(c.Context(), opts)
		},
	}
	fs := c.Flags()
	addOutputFlags(c, &opts.Out)
	// The data-set flags of eval (preprocessing, batch), minus --data,
	// --labels and --limit, which quantize spells --calib, --val-labels
	// and --calib-size.
	tmp := pflag.NewFlagSet("data", pflag.ContinueOnError)
	addDataFlags(tmp, &opts.Calib)
	tmp.VisitAll(func(f *pflag.Flag) {
		switch f.Name {
		case "data", "labels", "limit":
			return
		}
		fs.AddFlag(f)
	})
	opts.Calib.BatchSize = quantizeBatch
	fs.Lookup("batch").DefValue = fmt.Sprint(quantizeBatch)
	fs.StringVar(&opts.Calib.Path, "calib", "", "calibration inputs (any --data format: .npy, .npz, .csv, test_data_set_* folders, image folders); needed by --mode static")
	fs.IntVar(&opts.CalibSize, "calib-size", quantize.DefaultCalibSize, "calibration samples to use")
	fs.StringVar(&opts.CalibMethod, "calib-method", string(quantize.DefaultCalibMethod), "activation ranges from: minmax, percentile or entropy (KL divergence)")
	fs.Float64Var(&opts.Percentile, "percentile", quantize.DefaultPercentile, "percentile kept by --calib-method percentile")
	fs.StringVar(&opts.Mode, "mode", string(quantize.Static), "static (calibrated activation scales) or dynamic (activations quantized at run time)")
	fs.StringVar(&opts.Format, "format", string(quantize.QDQ), "static models: qdq (QuantizeLinear/DequantizeLinear pairs) or qoperator (QLinearConv, QGemm, …)")
	fs.StringVar(&opts.Activations, "activations", "uint8", "activation type: uint8 (asymmetric) or int8 (symmetric)")
	fs.BoolVar(&opts.PerTensor, "per-tensor", false, "one weight scale per tensor instead of per output channel")
	fs.StringSliceVar(&opts.OpTypes, "op-types", nil, "quantize only these op types (none given: "+strings.Join(quantize.DefaultOpTypes, ",")+"; --preset transformer picks its own)")
	fs.StringArrayVar(&opts.Exclude, "exclude", nil, "keep this node in float: a node name, or re:REGEX on node names (repeatable; must match a node)")
	fs.IntVar(&opts.KeepFirst, "keep-first", 0, "keep the first N Conv/ConvTranspose/MatMul/Gemm nodes in float (--keep-first alone: 1; give N as --keep-first=N)")
	fs.Lookup("keep-first").NoOptDefVal = "1"
	fs.IntVar(&opts.KeepLast, "keep-last", 0, "keep the last N Conv/ConvTranspose/MatMul/Gemm nodes in float (--keep-last alone: 1; give N as --keep-last=N)")
	fs.Lookup("keep-last").NoOptDefVal = "1"
	fs.StringVar(&opts.Preset, "preset", "", "transformer: keep LayerNorm, Softmax and GELU in float; quantize MatMul/Gemm")
	fs.BoolVar(&opts.AllowQuantized, "allow-quantized", false, "quantize a model that already holds quantized nodes (only the nodes it left in float are considered; without it such a model is refused, exit 4)")
	fs.BoolVar(&opts.ForceInt8, "force-int8", false, "keep every selected node in int8 even where ORT's int8 kernel is slower on this CPU")
	fs.IntVar(&opts.Threads, "threads", 0, threadsUsage+" (calibration, profiling and validation)")
	fs.Float64Var(&opts.MaxAccuracyDrop, "max-accuracy-drop", 0, "accuracy budget in top-1 points on --val-data/--val-labels; sensitive nodes return to float until it holds")
	fs.Float64Var(&opts.MinAgreement, "min-agreement", 0, "accuracy budget as the share (0..1] of --val-data samples whose top-1 class matches the float model (no labels needed)")
	fs.Float64Var(&opts.MinSQNR, "min-sqnr", 0, "accuracy budget in dB: every float output of the int8 model must keep at least this SQNR against the float model on --val-data (no labels needed; for detectors and regressors)")
	fs.Float64Var(&opts.WarnSQNR, "warn-sqnr", quantize.DefaultWarnSQNR, "warn when an output's SQNR against the float model (on up to 256 samples of --val-data, else of --calib) is below this many dB (0: never)")
	fs.StringVar(&opts.ValData, "val-data", "", "validation inputs for the accuracy budget (same formats and preprocessing as --calib)")
	fs.StringVar(&opts.ValLabels, "val-labels", "", "labels of --val-data (.npy of integers or one per line)")
	fs.BoolVar(&opts.JSON, "json", false, "print one JSON document (docs/schemas/quantize.schema.json)")
	return c
}

// complete checks the flags and builds opts.Lib (without data sources):
// bad values are usage errors before any work.
func (opts *QuantizeOptions) complete(fs *pflag.FlagSet) error {
	o := quantize.Options{
		Mode: quantize.Mode(opts.Mode), Format: quantize.Format(opts.Format), PerTensor: opts.PerTensor,
		CalibSize: opts.CalibSize, CalibMethod: quantize.CalibMethod(opts.CalibMethod), Percentile: opts.Percentile,
		OpTypes: opts.OpTypes, Exclude: opts.Exclude, KeepFirst: opts.KeepFirst, KeepLast: opts.KeepLast,
		Preset: quantize.Preset(opts.Preset), SpeedAware: !opts.ForceInt8, WarnSQNR: opts.WarnSQNR,
		AllowQuantized: opts.AllowQuantized,
	}
	switch opts.Activations {
	case "uint8":
		o.ActivationType = onnxio.Uint8
	case "int8":
		o.ActivationType = onnxio.Int8
	default:
		return usagef("--activations %q: want uint8 or int8", opts.Activations)
	}
	if opts.CalibSize <= 0 {
		return usagef("--calib-size %d: must be >= 1", opts.CalibSize)
	}
	// 0 is not "the default" here: every value given means what it says.
	if !(opts.Percentile > 0 && opts.Percentile <= 100) {
		return usagef("--percentile %g: want a percentile in (0, 100]", opts.Percentile)
	}
	if opts.Calib.BatchSize < 1 {
		return usagef("--batch %d: must be >= 1", opts.Calib.BatchSize)
	}
	env, err := resolveEnv(opts.Threads, "")
	if err != nil {
		return err
	}
	o.Env = env
	if o.Mode == quantize.Static && opts.Calib.Path == "" {
		return usagef("--mode static needs --calib data (or use --mode dynamic)")
	}
	if opts.Calib.Path != "" {
		if err := opts.Calib.check(); err != nil {
			return err
		}
	}
	for _, b := range []struct {
		kind validate.GateKind
		v    float64
	}{{validate.MaxAccuracyDrop, opts.MaxAccuracyDrop}, {validate.MinAgreement, opts.MinAgreement}, {validate.MinSQNR, opts.MinSQNR}} {
		if fs.Changed(string(b.kind)) {
			o.Env.Budget = append(o.Env.Budget, validate.Gate{Kind: b.kind, Limit: b.v})
		}
	}
	if err := checkGates(o.Env.Budget, ""); err != nil {
		return err
	}
	budget := len(o.Env.Budget) > 0
	switch {
	case math.IsInf(opts.WarnSQNR, 0) || math.IsNaN(opts.WarnSQNR) || opts.WarnSQNR < 0:
		return usagef("--warn-sqnr %g: want dB >= 0 (0 turns the warning off)", opts.WarnSQNR)
	case len(o.Env.Budget) > 1:
		return usagef("give one of --max-accuracy-drop, --min-agreement and --min-sqnr")
	case budget && opts.ValData == "":
		return usagef("an accuracy budget needs --val-data")
	case !budget && (opts.ValData != "" || opts.ValLabels != ""):
		return usagef("--val-data/--val-labels are only used with --max-accuracy-drop, --min-agreement or --min-sqnr")
	}
	if o.WarnSQNR == 0 {
		o.WarnSQNR = -1 // off
	}
	// The output, last of the checks and still before any work.
	if err := opts.Out.check(opts.Model, opts.Calib.Path, opts.Calib.Labels, opts.ValData, opts.ValLabels); err != nil {
		return err
	}
	opts.Lib = o
	return nil
}

func quantizeRun(ctx context.Context, opts *QuantizeOptions) error {
	o := opts.Lib
	opts.IO.JSON = opts.JSON
	if _, err := ort.Init(opts.ORTLib); err != nil {
		return err
	}
	m, err := onnxio.Load(opts.Model)
	if err != nil {
		return err
	}
	if opts.Calib.Path != "" {
		d := opts.Calib
		d.Limit = o.CalibSize
		src, err := d.open(m)
		if err != nil {
			return err
		}
		defer src.Close()
		o.Calib = src
	}
	if len(o.Env.Budget) > 0 {
		d := opts.Calib
		d.Path, d.Labels, d.Limit = opts.ValData, opts.ValLabels, 0
		src, err := d.open(m)
		if err != nil {
			return fmt.Errorf("--val-data: %w", err)
		}
		defer src.Close()
		o.Env.Val = src
	}
	o.Env.Progress = newProgress(opts.IO)
	qm, rep, err := quantize.Quantize(ctx, m, o)
	if err != nil {
		var fe *transform.FieldError
		if errors.As(err, &fe) {
			return flagError(err, quantizeFields)
		}
		var aq *quantize.AlreadyQuantizedError
		if errors.As(err, &aq) {
			return fmt.Errorf("%s: %w, or give --allow-quantized to quantize the nodes it left in float", opts.Model, err)
		}
		return fmt.Errorf("%s: %w", opts.Model, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := opts.Out.save(qm); err != nil {
		return err
	}
	res := &QuantizeResult{Report: rep, Tool: "shrink " + Version, Input: opts.Model, Output: opts.Out.Output}
	res.InputBytes = fileSize(opts.Model) + m.ExternalBytes
	res.OutputBytes = fileSize(opts.Out.Output)
	if res.OutputBytes > 0 {
		res.SizeRatio = float64(res.InputBytes) / float64(res.OutputBytes)
	}
	for _, w := range rep.Warnings {
		opts.IO.Warnf("%s", w)
	}
	if opts.JSON {
		if err := opts.IO.WriteJSON(res); err != nil {
			return err
		}
	} else {
		printQuantize(opts.IO, res)
	}
	if a := rep.Accuracy; a != nil && !a.Met {
		return &GateError{Failures: []string{accuracyFailure(a)}}
	}
	return nil
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

func accuracyFailure(a *quantize.Acc) string {
	if a.Metric == "top1" {
		drop := "?"
		if a.Drop != nil {
			drop = fmt.Sprintf("%.2f", *a.Drop)
		}
		return fmt.Sprintf("accuracy drop %s points > %g (best model found written; %d tries)", drop, a.Budget, a.Tries)
	}
	if a.Metric == "sqnr" {
		worst := "?"
		var low *float64
		for _, o := range a.Outputs {
			if o.SQNR != nil && (low == nil || *o.SQNR < *low) {
				worst, low = o.Name, o.SQNR
			}
		}
		return fmt.Sprintf("output %s SQNR %s dB < %g dB (best model found written; %d tries)", worst, fmtPtr(low, "%.1f"), a.Budget, a.Tries)
	}
	return fmt.Sprintf("agreement %s < %g (best model found written; %d tries)", fmtPtr(a.Agreement, "%.4f"), a.Budget, a.Tries)
}

func fmtPtr(v *float64, format string) string {
	if v == nil {
		return "?"
	}
	return fmt.Sprintf(format, *v)
}

func printQuantize(ios *IOStreams, r *QuantizeResult) {
	p := ios.Printf
	rep := r.Report
	mode := string(rep.Mode)
	if rep.Format != nil {
		mode += ", " + string(*rep.Format)
	}
	p("wrote      %s (%s, %.2f× smaller than %s)\n", r.Output, report.HumanBytes(r.OutputBytes), r.SizeRatio, report.HumanBytes(r.InputBytes))
	p("mode       %s; weights int8 %s; activations %s\n", mode, map[bool]string{true: "per-channel", false: "per-tensor"}[rep.PerChannel], rep.ActivationType)
	if c := rep.Calibration; c != nil {
		p("calibrated %s on %s (%s, %s over the data)\n", c.Method, plural(c.Samples, "sample", "samples"), plural(c.Tensors, "tensor", "tensors"), plural(c.Chunks, "pass", "passes"))
	}
	share := "share of MACs in int8 unknown (no shapes observed)"
	if rep.MACs.Int8Share != nil {
		share = fmt.Sprintf("%.1f%% of MACs in int8", 100**rep.MACs.Int8Share)
	}
	p("int8       %s, %d float; %s\n", plural(rep.Quantized, "node", "nodes"), rep.Float, share)
	if s := rep.Speed; s != nil {
		// The speedup is the median of paired ratios of interleaved runs,
		// which is not the ratio of the two medians shown.
		on := fmt.Sprintf("batch %d", s.Batch)
		if s.Inputs == "random" {
			on = "random inputs of batch 1"
		}
		p("speed      %.2f× (median of %d paired run ratios; median run %.3f ms float, %.3f ms int8; %s, %d threads; all-int8 was %.2f×)\n",
			s.Speedup, s.Runs, s.FloatMs, s.Int8Ms, on, s.Threads, s.AllInt8Speedup)
	}
	if a := rep.Accuracy; a != nil {
		switch a.Metric {
		case "top1":
			p("accuracy   top-1 %.2f%% float, %.2f%% int8 (all-int8 %.2f%%), budget %g points: %s\n", a.Float, a.Int8, a.AllInt8, a.Budget, metWord(a.Met))
		case "sqnr":
			p("sqnr       lowest output SQNR %s dB on %d validation samples (all-int8 %.1f dB), budget %g dB: %s\n", fmtPtr(a.SQNR, "%.1f"), a.Samples, a.AllInt8, a.Budget, metWord(a.Met))
		default:
			p("agreement  %s with the float model (all-int8 %.4f), budget %g: %s\n", fmtPtr(a.Agreement, "%.4f"), a.AllInt8, a.Budget, metWord(a.Met))
		}
	}
	for _, o := range rep.Outputs {
		if o.SQNR != nil && rep.OutputsOn != nil {
			p("output     %s SQNR %.1f dB (on %d %s samples)\n", o.Name, *o.SQNR, rep.OutputsOn.Samples, rep.OutputsOn.Data)
		}
	}
	for _, rv := range rep.Reverted {
		p("reverted   %s (%s, %s): %s\n", rv.Node, rv.Op, rv.Stage, rv.Reason)
	}
	for _, n := range rep.Notes {
		p("note       %s\n", n)
	}
	p("\n%s", rep.Table())
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}
