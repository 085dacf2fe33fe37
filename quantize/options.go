package quantize

import (
	"errors"
	"math"
	"regexp"
	"strings"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
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
	DefaultProfileRuns  = 20
	// DefaultSensitivitySamples bounds the validation samples the
	// accuracy-aware mode ranks nodes on.
	DefaultSensitivitySamples = 256
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

// Options configures Quantize: quantization's own knobs, and Env, the
// environment every transform shares. The zero value of each field means
// its documented default.
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

	// AllowQuantized lets a model that already holds quantized nodes
	// (QuantizeLinear, QLinearConv, DynamicQuantizeMatMul, …) be
	// quantized: only the nodes it left in float are considered. Without
	// it such a model is an *AlreadyQuantizedError.
	AllowQuantized bool

	// SpeedAware profiles the float and quantized models in ONNX Runtime
	// and keeps in float the nodes whose int8 form is slower on this CPU.
	SpeedAware bool
	// ProfileRuns is how many runs each profiling session averages
	// (default 20).
	ProfileRuns int

	// SensitivitySamples bounds the samples of Env.Val the accuracy-aware
	// mode ranks nodes on (default 256).
	SensitivitySamples int

	// WarnSQNR is the output SQNR (dB, against the float model, on up to
	// 256 samples of Env.Val when given, else of Calib: see
	// Report.OutputsOn) below which the report carries a warning naming
	// the output (default DefaultWarnSQNR; negative: no warning).
	WarnSQNR float64

	// Env is the shared environment: ONNX Runtime threads (0: one per
	// CPU) and provider for every session, progress, and the accuracy
	// budget. With Env.Budget set — one gate: validate.MaxAccuracyDrop
	// (labels in Env.Val needed), validate.MinAgreement or
	// validate.MinSQNR (every float output, no labels needed) — Quantize
	// returns the most sensitive nodes to float until the gate passes on
	// Env.Val, evaluated as `shrink compare` evaluates it.
	Env transform.Env
}

// withDefaults returns a copy with defaults filled in, or a
// *transform.FieldError naming the option.
func (o Options) withDefaults() (Options, error) {
	env, err := o.Env.Resolve()
	if err != nil {
		return o, transform.InEnv(err)
	}
	o.Env = env
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
	if o.ProfileRuns == 0 {
		o.ProfileRuns = DefaultProfileRuns
	}
	if o.SensitivitySamples == 0 {
		o.SensitivitySamples = DefaultSensitivitySamples
	}
	if o.WarnSQNR == 0 {
		o.WarnSQNR = DefaultWarnSQNR
	}
	if len(o.OpTypes) == 0 {
		o.OpTypes = DefaultOpTypes
		if o.Preset == Transformer {
			o.OpTypes = []string{"Conv", "MatMul", "Gemm", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten"}
		}
	}
	bad := transform.Errorf
	switch o.Mode {
	case Static, Dynamic:
	default:
		return o, bad("Mode", o.Mode, "want static or dynamic")
	}
	switch o.Format {
	case QDQ, QOperator:
	default:
		return o, bad("Format", o.Format, "want qdq or qoperator")
	}
	if o.ActivationType != onnxio.Uint8 && o.ActivationType != onnxio.Int8 {
		return o, bad("ActivationType", o.ActivationType, "want uint8 or int8")
	}
	if !hasCalibrator(o.CalibMethod) {
		return o, bad("CalibMethod", o.CalibMethod, "want %s", strings.Join(CalibMethods(), ", "))
	}
	if !(o.Percentile > 0 && o.Percentile <= 100) {
		return o, bad("Percentile", o.Percentile, "want a percentile in (0, 100]")
	}
	if o.CalibSize < 0 {
		return o, bad("CalibSize", o.CalibSize, "must be >= 1")
	}
	if o.HistBins < 128 {
		return o, bad("HistBins", o.HistBins, "must be at least 128")
	}
	if o.KeepFirst < 0 {
		return o, bad("KeepFirst", o.KeepFirst, "must be >= 0")
	}
	if o.KeepLast < 0 {
		return o, bad("KeepLast", o.KeepLast, "must be >= 0")
	}
	if o.SensitivitySamples < 0 {
		return o, bad("SensitivitySamples", o.SensitivitySamples, "must be >= 1")
	}
	switch o.Preset {
	case NoPreset, Transformer:
	default:
		return o, bad("Preset", o.Preset, "want transformer")
	}
	for _, op := range o.OpTypes {
		if lookupHandler(op) == nil {
			return o, bad("OpTypes", op, "has no quantization handler (have %s)", strings.Join(HandledOps(), ", "))
		}
	}
	for _, e := range o.Exclude {
		if re, ok := strings.CutPrefix(e, "re:"); ok {
			if _, err := regexp.Compile(re); err != nil {
				return o, bad("Exclude", e, "%v", err)
			}
		}
	}
	if o.Mode == Static && o.Calib == nil {
		return o, bad("Calib", nil, "static quantization needs calibration data")
	}
	if b := o.Env.Budget; len(b) > 0 {
		if len(b) > 1 {
			return o, bad("Env.Budget", b[1], "give one accuracy gate (max-accuracy-drop, min-agreement or min-sqnr)")
		}
		switch b[0].Kind {
		case validate.MaxAccuracyDrop, validate.MinAgreement, validate.MinSQNR:
		default:
			return o, bad("Env.Budget", b[0], "not an accuracy gate (want max-accuracy-drop, min-agreement or min-sqnr)")
		}
		if err := validate.ValidateGates(b, ""); err != nil {
			var le *validate.LimitError
			if errors.As(err, &le) {
				return o, bad("Env.Budget", le.Gate, "%s", le.Msg)
			}
			return o, err
		}
	}
	if math.IsNaN(o.WarnSQNR) {
		return o, bad("WarnSQNR", o.WarnSQNR, "must be a number of dB")
	}
	return o, nil
}
