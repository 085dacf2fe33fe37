package quantize

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
)

// ReportSchema names the JSON document (docs/schemas/quantize.schema.json).
const ReportSchema = "shrink.quantize/v1"

// Report explains a quantization: what ran in int8, what stayed float and
// why, the parameters written, and what it measured.
type Report struct {
	Schema string `json:"schema"`
	Mode   Mode   `json:"mode"`
	// Format is nil in dynamic mode.
	Format         *Format `json:"format"`
	ActivationType string  `json:"activation_type"`
	Symmetric      bool    `json:"activations_symmetric"`
	WeightType     string  `json:"weight_type"`
	PerChannel     bool    `json:"per_channel"`
	QDQDomain      string  `json:"qdq_domain"`
	Calibration    *Calib  `json:"calibration"`
	Nodes          []Node  `json:"nodes"`
	Quantized      int     `json:"quantized_nodes"`
	Float          int     `json:"float_nodes"`
	// NothingQuantized is set when no node runs in int8 in the model
	// written (every candidate went back to float); a warning says so.
	NothingQuantized bool  `json:"nothing_quantized"`
	MACs             MACs  `json:"macs"`
	Outputs          []Out `json:"outputs"`
	// OutputsOn says which data Outputs' SQNR was measured on (nil: not
	// measured, no data).
	OutputsOn *SQNRData        `json:"outputs_measured_on"`
	Speed     *Speed           `json:"speed"`
	Accuracy  *Acc             `json:"accuracy"`
	Reverted  []Revert         `json:"reverted"`
	Ops       []onnxio.OpCount `json:"ops"`
	Warnings  []string         `json:"warnings"`
	// WarnSQNR is the output SQNR threshold of the warnings (nil: off).
	WarnSQNR *float64 `json:"warn_sqnr_db"`
	Notes    []string `json:"notes"`

	sensitivity map[int]float64
}

// SQNRData names the samples the report's output SQNR was measured on: up
// to 256 of the validation data when there is some (the accuracy budget's),
// else of the calibration data.
type SQNRData struct {
	// Data is "validation" or "calibration".
	Data    string `json:"data"`
	Samples int    `json:"samples"`
}

// Calib describes the calibration run.
type Calib struct {
	Method     CalibMethod `json:"method"`
	Percentile *float64    `json:"percentile"`
	Samples    int         `json:"samples"`
	Batches    int         `json:"batches"`
	Tensors    int         `json:"tensors"`
	// Chunks is the number of ORT sessions (passes over the data) the
	// intermediate tensors were split into.
	Chunks int `json:"chunks"`
}

// Node is one row of the explain table: a node with a quantization handler.
type Node struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	Op    string `json:"op"`
	Kind  string `json:"kind"`
	// Int8 is true when the node runs in int8 (for Relu/Clip: when folded
	// into the output range of the node before it).
	Int8 bool `json:"int8"`
	// FloatReason says why the node stays float ("" when int8).
	FloatReason string `json:"float_reason,omitempty"`
	FoldedInto  string `json:"folded_into,omitempty"`
	// Input and Output are the activation parameters (nil when not
	// quantized).
	Input  *TensorParams       `json:"input"`
	Output *TensorParams       `json:"output"`
	Weight *WeightParamsReport `json:"weight"`
	MACs   int64               `json:"macs"`
	// SQNR is the signal-to-quantization-noise ratio, in dB, of this node's
	// output in the quantized model against the float model (errors of
	// earlier nodes included); nil when not measured.
	SQNR *float64 `json:"sqnr_db"`
	// Sensitivity is the SQNR of the model's outputs with only this node
	// quantized (accuracy-aware mode).
	Sensitivity *float64 `json:"sensitivity_db"`
	// FloatMs and Int8Ms are the node's kernel times in ORT's profiler
	// (speed-aware mode), including a folded Relu/Clip.
	FloatMs *float64 `json:"float_ms"`
	Int8Ms  *float64 `json:"int8_ms"`
}

// TensorParams are one activation tensor's parameters.
type TensorParams struct {
	Tensor    string  `json:"tensor"`
	Scale     float32 `json:"scale"`
	ZeroPoint int32   `json:"zero_point"`
}

// WeightParamsReport summarizes a weight's int8 parameters.
type WeightParamsReport struct {
	Tensor     string  `json:"tensor"`
	PerChannel bool    `json:"per_channel"`
	Axis       int     `json:"axis"`
	Channels   int     `json:"channels"`
	ScaleMin   float32 `json:"scale_min"`
	ScaleMax   float32 `json:"scale_max"`
	// BiasWidened lists channels whose weight scale was widened so that
	// the int32 bias does not overflow.
	BiasWidened []int `json:"bias_widened,omitempty"`
}

// MACs counts multiply-accumulates per sample of the calibration shapes.
type MACs struct {
	Total int64 `json:"total"`
	Int8  int64 `json:"int8"`
	// Int8Share is Int8/Total; nil when shapes were not observed.
	Int8Share *float64 `json:"int8_share"`
}

// Out is one graph output's SQNR against the float model (Report.Outputs:
// on the data named by Report.OutputsOn; Acc.Outputs: on all of the
// validation data).
type Out struct {
	Name string   `json:"name"`
	SQNR *float64 `json:"sqnr_db"`
}

// Speed is the speed-aware measurement.
type Speed struct {
	Batch   int     `json:"batch"`
	Threads int     `json:"threads"`
	Runs    int     `json:"runs"`
	FloatMs float64 `json:"float_ms"`
	Int8Ms  float64 `json:"int8_ms"`
	// Speedup is the median paired ratio float time / int8 time.
	Speedup float64 `json:"speedup"`
	// AllInt8Ms and AllInt8Speedup describe the model with every
	// selected node in int8, before speed-driven reverts.
	AllInt8Ms      float64 `json:"all_int8_ms"`
	AllInt8Speedup float64 `json:"all_int8_speedup"`
	Slower         bool    `json:"slower_than_float"`
	// Inputs is what the models were timed on: "calibration" (the first
	// calibration batch) or "random" (random inputs of the declared
	// shapes, symbolic dimensions 1, when there was no data).
	Inputs string `json:"inputs"`
}

// Acc is the accuracy-aware result.
type Acc struct {
	// Metric is "top1" (with MaxDrop), "agreement" (with MinAgreement) or
	// "sqnr" (with MinSQNR).
	Metric  string `json:"metric"`
	Samples int    `json:"samples"`
	// Float and Int8 are the metric of the float model (100·top-1, 1, or
	// 999 dB for sqnr: the SQNR of identical outputs) and of the model
	// returned.
	Float float64 `json:"float"`
	Int8  float64 `json:"int8"`
	// Drop is Float-Int8 in points (top1) and Agreement the share of
	// samples whose top-1 class matches the float model (nil for sqnr).
	Drop      *float64 `json:"drop_points"`
	Agreement *float64 `json:"agreement"`
	// SQNR is the lowest SQNR over the float32 outputs (sqnr metric; nil
	// otherwise) and Outputs each output's SQNR, over all of Val.
	SQNR    *float64 `json:"sqnr_db"`
	Outputs []Out    `json:"outputs"`
	Budget  float64  `json:"budget"`
	Met     bool     `json:"met"`
	// AllInt8 is the metric before any accuracy-driven revert.
	AllInt8 float64 `json:"all_int8"`
	Tries   int     `json:"tries"`
}

// Revert is a node returned to float by the speed- or accuracy-aware
// step.
type Revert struct {
	Node   string `json:"node"`
	Op     string `json:"op"`
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
}

// f64 is a figure for JSON: nil for NaN (not measured), and an SQNR of
// ±Inf (identical outputs; a NaN in an output) as ±999 dB.
func f64(v float64) *float64 {
	switch {
	case math.IsNaN(v):
		return nil
	case math.IsInf(v, 1):
		v = 999
	case math.IsInf(v, -1):
		v = -999
	}
	return &v
}

func (r *Report) formatName() string {
	if r.Format == nil {
		return "dynamic"
	}
	return string(*r.Format)
}

// Table renders the explain table (one row per node with a handler).
func (r *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-4s %-28s %-14s %-5s %-12s %-5s %-11s %-8s %-8s %s\n", "#", "node", "op", "int8", "out scale", "zp", "weights", "SQNR dB", "MACs", "float because")
	for _, n := range r.Nodes {
		int8 := "no"
		if n.Int8 {
			int8 = "yes"
		}
		scale, zp := "-", "-"
		if n.Output != nil {
			scale, zp = fmt.Sprintf("%.4g", n.Output.Scale), fmt.Sprint(n.Output.ZeroPoint)
		}
		w := "-"
		if n.Weight != nil {
			if n.Weight.PerChannel {
				w = fmt.Sprintf("ch×%d", n.Weight.Channels)
			} else {
				w = "tensor"
			}
		}
		sq := "-"
		if n.SQNR != nil {
			sq = fmt.Sprintf("%.1f", *n.SQNR)
		}
		why := n.FloatReason
		if n.FoldedInto != "" {
			why = "folded into " + n.FoldedInto
		}
		name := n.Name
		if len(name) > 28 {
			name = "…" + name[len(name)-27:]
		}
		fmt.Fprintf(&b, "%-4d %-28s %-14s %-5s %-12s %-5s %-11s %-8s %-8s %s\n", n.Index, name, n.Op, int8, scale, zp, w, sq, humanCount(n.MACs), why)
	}
	return b.String()
}

func humanCount(n int64) string {
	switch {
	case n == 0:
		return "-"
	case n >= 1e9:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// metadata is what Quantize records in the model's metadata_props.
func (r *Report) metadata() map[string]string {
	type floatNode struct {
		Node   string `json:"node"`
		Reason string `json:"reason"`
	}
	fl := []floatNode{} // "[]", never "null", when every node is int8
	for _, n := range r.Nodes {
		if !n.Int8 && n.Kind != PassThrough.String() && n.Kind != Activation.String() {
			fl = append(fl, floatNode{n.Name, n.FloatReason})
		}
	}
	sort.Slice(fl, func(i, j int) bool { return fl[i].Node < fl[j].Node })
	fj, _ := json.Marshal(fl)
	md := map[string]string{
		"shrink.quantize.mode":            string(r.Mode),
		"shrink.quantize.format":          r.formatName(),
		"shrink.quantize.activation_type": r.ActivationType,
		"shrink.quantize.weights":         map[bool]string{true: "int8 symmetric per-channel", false: "int8 symmetric per-tensor"}[r.PerChannel],
		"shrink.quantize.int8_nodes":      fmt.Sprint(r.Quantized),
		"shrink.quantize.float_nodes":     string(fj),
	}
	if r.Calibration != nil {
		md["shrink.quantize.calibration"] = fmt.Sprintf("%s, %d samples", r.Calibration.Method, r.Calibration.Samples)
	}
	if r.MACs.Int8Share != nil {
		md["shrink.quantize.int8_mac_share"] = fmt.Sprintf("%.4f", *r.MACs.Int8Share)
	}
	if r.Speed != nil {
		md["shrink.quantize.speedup"] = fmt.Sprintf("%.2f (batch %d, %d threads)", r.Speed.Speedup, r.Speed.Batch, r.Speed.Threads)
	}
	if r.Accuracy != nil {
		md["shrink.quantize.accuracy"] = fmt.Sprintf("%s float %.4f int8 %.4f budget %g met %v", r.Accuracy.Metric, r.Accuracy.Float, r.Accuracy.Int8, r.Accuracy.Budget, r.Accuracy.Met)
	}
	return md
}

// plural writes a count with its noun in the right number: "1 node",
// "2 nodes" (never "node(s)").
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
