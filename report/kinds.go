package report

import (
	"errors"
	"fmt"
	"strings"
)

// QuantizeSchema is `shrink quantize --json`'s schema
// (docs/schemas/quantize.schema.json).
const QuantizeSchema = "shrink.quantize/v1"

// fillModel fills a row from a measured model (eval, compare).
func (b *builder) fillModel(r *Row, m Model) {
	if s := m.Size; s != nil {
		setI(&r.SizeBytes, s.TotalBytes)
		setI(&r.GzipBytes, s.GzipBytes)
		setI(&r.Parameters, s.Parameters)
		setI(&r.NonZero, s.NonZero)
	}
	if a := m.Accuracy; a != nil && a.Value != nil && r.Accuracy == nil {
		r.Metric, r.Accuracy = ptr(a.Metric), ptr(*a.Value)
	}
	if l := m.Latency; l != nil && r.Latency == nil {
		r.Latency = &RowLatency{P50Ms: l.P50Ms, P99Ms: ptr(l.P99Ms), BatchSize: l.BatchSize, Threads: l.Threads, Source: b.src}
	}
}

func addEval(b *builder, raw []byte) error {
	var d Eval
	if err := decode(raw, &d); err != nil {
		return err
	}
	if d.Model.Path == "" && d.Model.Name == "" {
		return errors.New("model: no path or name")
	}
	b.fillModel(b.row(d.Model.Path, d.Model.Name, "model"), d.Model)
	return nil
}

func addCompare(b *builder, raw []byte) error {
	var d Compare
	if err := decode(raw, &d); err != nil {
		return err
	}
	if d.Baseline.Path == "" && d.Baseline.Name == "" {
		return errors.New("baseline: no path or name")
	}
	base := b.row(d.Baseline.Path, d.Baseline.Name, "baseline")
	basePath := d.Baseline.Path
	b.fillModel(base, d.Baseline)
	paths := make([]string, len(d.Candidates))
	for i, c := range d.Candidates {
		if c.Path == "" && c.Name == "" {
			return fmt.Errorf("candidates[%d]: no path or name", i)
		}
		r := b.row(c.Path, c.Name, "candidate")
		paths[i] = c.Path
		b.fillModel(r, c.Model)
		if r.Against == nil {
			// The figures against a baseline go together: all from one
			// comparison.
			r.Against = ptr(basePath)
			setF(&r.AccuracyDrop, c.AccuracyDrop)
			setF(&r.Agreement, c.Fidelity.Agreement)
			setF(&r.Speedup, c.Speedup)
		}
	}
	for i, g := range d.Gates {
		if g.CandidateIndex < 0 || g.CandidateIndex >= len(paths) {
			return fmt.Errorf("gates[%d].candidate_index: %d, but there are %d candidates", i, g.CandidateIndex, len(paths))
		}
		b.gate(GateRow{Gate: g.Gate, Model: paths[g.CandidateIndex], Figure: g.Figure, Limit: g.Limit, Unit: g.Unit,
			AtLeast: g.atLeast(), Passed: g.Passed, Message: g.Message})
	}
	return nil
}

// quantizeDoc is what the report reads of shrink.quantize/v1.
type quantizeDoc struct {
	Input          string  `json:"input"`
	Output         string  `json:"output"`
	InputBytes     int64   `json:"input_bytes"`
	OutputBytes    int64   `json:"output_bytes"`
	SizeRatio      float64 `json:"size_ratio"`
	Mode           string  `json:"mode"`
	Format         *string `json:"format"`
	ActivationType string  `json:"activation_type"`
	PerChannel     bool    `json:"per_channel"`
	Calibration    *struct {
		Method  string `json:"method"`
		Samples int    `json:"samples"`
	} `json:"calibration"`
	Nodes []struct {
		Index       int    `json:"index"`
		Name        string `json:"name"`
		Op          string `json:"op"`
		Int8        bool   `json:"int8"`
		FloatReason string `json:"float_reason"`
		FoldedInto  string `json:"folded_into"`
		Output      *struct {
			Scale     float64 `json:"scale"`
			ZeroPoint int64   `json:"zero_point"`
		} `json:"output"`
		Weight *struct {
			PerChannel bool `json:"per_channel"`
			Channels   int  `json:"channels"`
		} `json:"weight"`
		MACs        int64    `json:"macs"`
		SQNR        *float64 `json:"sqnr_db"`
		Sensitivity *float64 `json:"sensitivity_db"`
		FloatMs     *float64 `json:"float_ms"`
		Int8Ms      *float64 `json:"int8_ms"`
	} `json:"nodes"`
	Quantized int `json:"quantized_nodes"`
	Float     int `json:"float_nodes"`
	MACs      struct {
		Int8Share *float64 `json:"int8_share"`
	} `json:"macs"`
	Speed *struct {
		Batch   int     `json:"batch"`
		Threads int     `json:"threads"`
		FloatMs float64 `json:"float_ms"`
		Int8Ms  float64 `json:"int8_ms"`
		Speedup float64 `json:"speedup"`
	} `json:"speed"`
	Accuracy *struct {
		Metric    string   `json:"metric"`
		Samples   int      `json:"samples"`
		Float     float64  `json:"float"`
		Int8      float64  `json:"int8"`
		Drop      *float64 `json:"drop_points"`
		Agreement *float64 `json:"agreement"`
		SQNR      *float64 `json:"sqnr_db"`
		Budget    float64  `json:"budget"`
		Met       bool     `json:"met"`
		Tries     int      `json:"tries"`
	} `json:"accuracy"`
	Reverted []struct{} `json:"reverted"`
}

var quantizeColumns = []Column{
	{"#", ""}, {"node", ""}, {"op", ""}, {"int8", ""}, {"out scale", ""}, {"zero point", ""}, {"weights", ""},
	{"SQNR", "dB"}, {"sensitivity", "dB"}, {"MACs", "MACs"}, {"float", "ms"}, {"int8", "ms"}, {"float because", ""},
}

func addQuantize(b *builder, raw []byte) error {
	var d quantizeDoc
	if err := decode(raw, &d); err != nil {
		return err
	}
	if d.Input == "" || d.Output == "" {
		return errors.New("input/output: the model paths are missing")
	}
	in := b.row(d.Input, "", "input")
	if d.InputBytes > 0 {
		setI(&in.SizeBytes, d.InputBytes)
	}
	out := b.row(d.Output, "", "output")
	if d.OutputBytes > 0 {
		setI(&out.SizeBytes, d.OutputBytes)
	}
	if s := d.Speed; s != nil {
		if in.Latency == nil {
			in.Latency = &RowLatency{P50Ms: s.FloatMs, BatchSize: s.Batch, Threads: s.Threads, Source: b.src}
		}
		if out.Latency == nil {
			out.Latency = &RowLatency{P50Ms: s.Int8Ms, BatchSize: s.Batch, Threads: s.Threads, Source: b.src}
		}
	}
	if a := d.Accuracy; a != nil && a.Metric == "top1" {
		if in.Accuracy == nil {
			in.Metric, in.Accuracy = ptr("top1"), ptr(a.Float/100)
		}
		if out.Accuracy == nil {
			out.Metric, out.Accuracy = ptr("top1"), ptr(a.Int8/100)
		}
	}
	if out.Against == nil && (d.Speed != nil || d.Accuracy != nil) {
		out.Against = ptr(d.Input)
		if s := d.Speed; s != nil {
			out.Speedup = ptr(s.Speedup)
		}
		if a := d.Accuracy; a != nil {
			setF(&out.AccuracyDrop, a.Drop)
			setF(&out.Agreement, a.Agreement)
		}
	}
	if a := d.Accuracy; a != nil {
		g := GateRow{Model: d.Output, Limit: a.Budget, Passed: a.Met}
		switch a.Metric {
		case "top1":
			g.Gate, g.Unit, g.Figure = "max-accuracy-drop", "points", a.Drop
		case "sqnr":
			g.Gate, g.Unit, g.Figure, g.AtLeast = "min-sqnr", "dB", a.SQNR, true
		default:
			g.Gate, g.Unit, g.Figure, g.AtLeast = "min-agreement", "fraction", a.Agreement, true
		}
		g.Message = fmt.Sprintf("%s: quantize budget %s: %s (%d tries on %d validation samples)",
			out.Name, g.Gate, verdict(g), a.Tries, a.Samples)
		b.gate(g)
	}

	mode := d.Mode
	if d.Format != nil {
		mode += ", " + *d.Format
	}
	weights := "per-tensor"
	if d.PerChannel {
		weights = "per-channel"
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("%d nodes int8, %d float", d.Quantized, d.Float))
	if s := d.MACs.Int8Share; s != nil {
		parts = append(parts, fmt.Sprintf("%.1f%% of MACs in int8", 100**s))
	}
	if d.SizeRatio > 0 {
		parts = append(parts, fmt.Sprintf("%.2f× smaller", d.SizeRatio))
	}
	if s := d.Speed; s != nil {
		parts = append(parts, fmt.Sprintf("%.2f× faster than float on a calibration batch (%.3f → %.3f ms, batch %d, %d threads)", s.Speedup, s.FloatMs, s.Int8Ms, s.Batch, s.Threads))
	}
	if c := d.Calibration; c != nil {
		parts = append(parts, fmt.Sprintf("%s calibration on %d samples", c.Method, c.Samples))
	}
	if n := len(d.Reverted); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s returned to float", n, plural(n, "node", "nodes")))
	}
	b.step("quantize", "quantize %s → %s (%s, weights %s, activations %s): %s", in.Name, out.Name, mode, weights, d.ActivationType, strings.Join(parts, "; "))

	t := Table{Kind: "quantize.nodes", Title: "quantize: nodes of " + out.Name, Model: d.Output, Columns: quantizeColumns, Rows: [][]any{}}
	for _, n := range d.Nodes {
		var scale, zp, w any
		if n.Output != nil {
			scale, zp = n.Output.Scale, n.Output.ZeroPoint
		}
		if n.Weight != nil {
			w = "tensor"
			if n.Weight.PerChannel {
				w = fmt.Sprintf("per-channel ×%d", n.Weight.Channels)
			}
		}
		why := n.FloatReason
		if n.FoldedInto != "" {
			why = "folded into " + n.FoldedInto
		}
		t.Rows = append(t.Rows, []any{n.Index, n.Name, n.Op, n.Int8, scale, zp, w, n.SQNR, n.Sensitivity, n.MACs, n.FloatMs, n.Int8Ms, why})
	}
	b.table(t)
	return nil
}

// verdict is a gate's figure against its limit: "0.12 points ≤ 1 points".
func verdict(g GateRow) string {
	op := "≤"
	if g.AtLeast {
		op = "≥"
	}
	if g.Figure == nil {
		return fmt.Sprintf("not measured (limit %s %s)", op, fmtUnit(g.Limit, g.Unit))
	}
	if !g.Passed {
		op = map[string]string{"≤": ">", "≥": "<"}[op]
	}
	return fmt.Sprintf("%s %s %s", fmtUnit(*g.Figure, g.Unit), op, fmtUnit(g.Limit, g.Unit))
}

func fmtUnit(v float64, unit string) string {
	s := fmt.Sprintf("%.4g", v)
	switch unit {
	case "", "fraction":
		return s
	case "×":
		return s + "×"
	}
	return s + " " + unit
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
