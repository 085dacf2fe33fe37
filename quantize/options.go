package quantize

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
)

// Mode says when activations are quantized.
type Mode string

const (
	// Static quantizes activations with scales fixed by calibration.
	Static Mode = "static"
	// Dynamic quantizes weights offline and activations at run time
	// (DynamicQuantizeMatMul, DynamicQuantizeLinear + ConvInteger).
	Dynamic Mode = "dynamic"
)

// Format is how a static model is written.
type Format string

const (
	// QDQ writes QuantizeLinear/DequantizeLinear pairs around float ops;
	// ONNX Runtime fuses them into integer kernels.
	QDQ Format = "qdq"
	// QOperator writes the integer ops directly (QLinearConv,
	// QLinearMatMul, QGemm, QLinearAdd, …).
	QOperator Format = "qoperator"
)

// CalibMethod chooses how activation ranges are derived from statistics.
type CalibMethod string

const (
	MinMax     CalibMethod = "minmax"
	Percentile CalibMethod = "percentile"
	Entropy    CalibMethod = "entropy"
)

// Preset bundles selection rules for a family of models.
type Preset string

const (
	NoPreset Preset = ""
	// Transformer keeps LayerNormalization, Softmax and GELU (fused or
	// decomposed) in float and quantizes only MatMul, Gemm and Conv.
	Transformer Preset = "transformer"
)

// Defaults (see docs/quantize.md for the measurements behind them).
const (
	DefaultCalibMethod  = Percentile
	DefaultCalibSize    = 512
	DefaultPercentile   = 99.99
	DefaultHistBins     = 4096
	DefaultChunkTensors = 64
	DefaultChunkBytes   = 256 << 20
	DefaultThreads      = 2
	// DefaultWarnSQNR is the output SQNR, in dB against the float model,
	// below which Quantize adds a warning to the report.
	DefaultWarnSQNR = 20.0
)

// DefaultOpTypes are the op types quantized when Options.OpTypes is empty.
// Elementwise Add/Mul and the average pools are left out by default: on
// the models measured (docs/quantize.md) their int8 kernels did not pay for
// the extra quantize/dequantize steps; name them in OpTypes to include them.
var DefaultOpTypes = []string{"Conv", "ConvTranspose", "MatMul", "Gemm", "MaxPool", "Relu", "Clip",
	"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze"}

// Options configures Quantize. The zero value of each field means its
// documented default.
type Options struct {
	Mode   Mode   // default Static
	Format Format // default QDQ
	// ActivationType is onnxio.Uint8 (asymmetric, default) or onnxio.Int8
	// (symmetric, zero point 0).
	ActivationType onnxio.DType
	// PerTensor uses one weight scale per tensor instead of one per output
	// channel.
	PerTensor bool

	// Calib streams calibration batches (static mode). It is read once per
	// chunk of tensors; Quantize calls Reset before each pass.
	Calib dataset.Source
	// CalibSize caps the number of calibration samples (default 512).
	CalibSize   int
	CalibMethod CalibMethod // default Percentile
	// Percentile for CalibMethod Percentile, in (0, 100] (default 99.99).
	Percentile float64
	// HistBins is the number of histogram bins on each side of zero
	// (default 4096: 64 KiB per calibrated tensor, whatever the number of
	// samples).
	HistBins int
	// ChunkTensors and ChunkBytes bound how many intermediate tensors one
	// calibration session exposes (defaults 64 and 256 MiB per batch).
	ChunkTensors int
	ChunkBytes   int64

	// OpTypes limits quantization to these op types (default
	// DefaultOpTypes).
	OpTypes []string
	// Exclude lists node names, or "re:" regular expressions on node
	// names, to keep in float. Each entry must match at least one node.
	Exclude []string
	// KeepFirst and KeepLast keep that many compute nodes (Conv,
	// ConvTranspose, MatMul, Gemm) in float, counted in topological order
	// from the inputs and from the outputs.
	KeepFirst, KeepLast int
	Preset              Preset

	// SpeedAware profiles the float and quantized models in ONNX Runtime
	// and keeps in float the nodes whose int8 form is slower on this CPU.
	SpeedAware bool
	// Threads is ORT's intra-op thread count for calibration, profiling
	// and evaluation (default 2).
	Threads int
	// ProfileRuns is how many runs each profiling session averages
	// (default 20).
	ProfileRuns int

	// Accuracy, when set, makes Quantize return nodes to float, most
	// sensitive first, until the accuracy budget holds.
	Accuracy *AccuracyGoal

	// WarnSQNR is the output SQNR (dB, against the float model, on up to
	// 256 samples of Accuracy.Val when given, else of Calib: see
	// Report.OutputsOn) below which the report carries a warning naming
	// the output (default DefaultWarnSQNR; negative: no warning).
	WarnSQNR float64

	// Progress receives progress events (nil: none).
	Progress progress.Reporter
}

// AccuracyGoal is the budget of the accuracy-aware mode, exactly one of:
// MaxDrop (top-1 points, needs labels in Val), MinAgreement (share of
// samples whose top-1 class matches the float model; no labels needed), or
// MinSQNR (dB: the SQNR of every float32 output of the quantized model
// against the float one over all of Val must be at least this; no labels
// needed; for detectors, regressors and other non-classifiers).
type AccuracyGoal struct {
	Val          dataset.Source
	MaxDrop      float64
	MinAgreement float64
	MinSQNR      float64
	// SensitivitySamples bounds the samples used to rank nodes (default
	// 256).
	SensitivitySamples int
}

// OptionError is an invalid option; the CLI maps it to a usage error.
type OptionError struct{ Msg string }

func (e *OptionError) Error() string { return e.Msg }

func optErr(format string, a ...any) error { return &OptionError{Msg: fmt.Sprintf(format, a...)} }

// withDefaults returns a copy with defaults filled in, or an OptionError.
func (o Options) withDefaults() (Options, error) {
	if o.Mode == "" {
		o.Mode = Static
	}
	if o.Format == "" {
		o.Format = QDQ
	}
	if o.ActivationType == onnxio.Undefined {
		o.ActivationType = onnxio.Uint8
	}
	if o.CalibSize == 0 {
		o.CalibSize = DefaultCalibSize
	}
	if o.CalibMethod == "" {
		o.CalibMethod = DefaultCalibMethod
	}
	if o.Percentile == 0 {
		o.Percentile = DefaultPercentile
	}
	if o.HistBins == 0 {
		o.HistBins = DefaultHistBins
	}
	if o.ChunkTensors == 0 {
		o.ChunkTensors = DefaultChunkTensors
	}
	if o.ChunkBytes == 0 {
		o.ChunkBytes = DefaultChunkBytes
	}
	if o.Threads == 0 {
		o.Threads = DefaultThreads
	}
	if o.ProfileRuns == 0 {
		o.ProfileRuns = 20
	}
	if len(o.OpTypes) == 0 {
		o.OpTypes = DefaultOpTypes
		if o.Preset == Transformer {
			o.OpTypes = []string{"Conv", "MatMul", "Gemm", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten"}
		}
	}
	switch o.Mode {
	case Static, Dynamic:
	default:
		return o, optErr("unknown mode %q (want static or dynamic)", o.Mode)
	}
	switch o.Format {
	case QDQ, QOperator:
	default:
		return o, optErr("unknown format %q (want qdq or qoperator)", o.Format)
	}
	if o.ActivationType != onnxio.Uint8 && o.ActivationType != onnxio.Int8 {
		return o, optErr("activation type must be uint8 or int8, not %s", o.ActivationType)
	}
	if _, ok := calibrators[o.CalibMethod]; !ok {
		return o, optErr("unknown calibration method %q (want %s)", o.CalibMethod, strings.Join(CalibMethods(), ", "))
	}
	if !(o.Percentile > 0 && o.Percentile <= 100) || math.IsNaN(o.Percentile) {
		return o, optErr("percentile must be in (0, 100], got %g", o.Percentile)
	}
	if o.CalibSize < 0 {
		return o, optErr("calibration size must be positive, got %d", o.CalibSize)
	}
	if o.HistBins < 128 {
		return o, optErr("histogram bins must be at least 128, got %d", o.HistBins)
	}
	if o.KeepFirst < 0 || o.KeepLast < 0 {
		return o, optErr("keep-first and keep-last must not be negative")
	}
	switch o.Preset {
	case NoPreset, Transformer:
	default:
		return o, optErr("unknown preset %q (want transformer)", o.Preset)
	}
	for _, op := range o.OpTypes {
		if lookupHandler(op) == nil {
			return o, optErr("op type %q has no quantization handler (have %s)", op, strings.Join(HandledOps(), ", "))
		}
	}
	for _, e := range o.Exclude {
		if re, ok := strings.CutPrefix(e, "re:"); ok {
			if _, err := regexp.Compile(re); err != nil {
				return o, optErr("exclude %q: %v", e, err)
			}
		}
	}
	if o.Mode == Static && o.Calib == nil {
		return o, optErr("static quantization needs calibration data")
	}
	if a := o.Accuracy; a != nil {
		if a.Val == nil {
			return o, optErr("the accuracy budget needs validation data")
		}
		if a.MaxDrop < 0 || a.MinAgreement < 0 || a.MinSQNR < 0 || math.IsNaN(a.MaxDrop+a.MinAgreement+a.MinSQNR) {
			return o, optErr("accuracy budgets must be positive")
		}
		if b2i(a.MaxDrop > 0)+b2i(a.MinAgreement > 0)+b2i(a.MinSQNR > 0) != 1 {
			return o, optErr("give exactly one of a maximum accuracy drop, a minimum agreement and a minimum output SQNR")
		}
		if math.IsInf(a.MinSQNR, 0) {
			return o, optErr("minimum output SQNR must be finite")
		}
		if a.MinAgreement > 1 {
			return o, optErr("minimum agreement is a fraction in (0, 1], got %g", a.MinAgreement)
		}
		if a.SensitivitySamples == 0 {
			a2 := *a
			a2.SensitivitySamples = 256
			o.Accuracy = &a2
		}
	}
	if o.WarnSQNR == 0 {
		o.WarnSQNR = DefaultWarnSQNR
	}
	if math.IsNaN(o.WarnSQNR) {
		return o, optErr("the SQNR warning threshold is NaN")
	}
	o.Progress = progress.Or(o.Progress)
	return o, nil
}
