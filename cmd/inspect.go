package cmd

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/report"
	"github.com/spf13/cobra"
)

// InspectOptions are the options of `shrink inspect`.
type InspectOptions struct {
	*GlobalOptions
	Model string
	JSON  bool
}

// InspectReport is `shrink inspect --json`; its schema is
// docs/schemas/inspect.schema.json.
type InspectReport struct {
	Schema       string            `json:"schema"`
	Path         string            `json:"path"`
	FileBytes    int64             `json:"file_bytes"`
	ExternalData InspectExternal   `json:"external_data"`
	IRVersion    int64             `json:"ir_version"`
	Opsets       []InspectOpset    `json:"opsets"`
	Producer     InspectProducer   `json:"producer"`
	GraphName    string            `json:"graph_name"`
	Inputs       []InspectValue    `json:"inputs"`
	Outputs      []InspectValue    `json:"outputs"`
	Nodes        int               `json:"nodes"`
	Ops          []onnxio.OpCount  `json:"ops"`
	Parameters   onnxio.ParamStats `json:"parameters"`
	NaNWeights   int64             `json:"nan_weights"`
	InfWeights   int64             `json:"inf_weights"`
	// NonFinite lists the weights holding NaN or infinite values.
	NonFinite []onnxio.WeightNonFinite `json:"non_finite_weights"`
	Metadata  map[string]string        `json:"metadata"`
	Shrink    map[string]string        `json:"shrink"`
}

// InspectExternal describes external data files.
type InspectExternal struct {
	Files []string `json:"files"`
	Bytes int64    `json:"bytes"`
}

// InspectOpset is one opset import.
type InspectOpset struct {
	Domain  string `json:"domain"`
	Version int64  `json:"version"`
}

// InspectProducer names the tool that wrote the model.
type InspectProducer struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// InspectValue is a graph input or output; each dim is a number, a
// symbolic name, or null when unknown.
type InspectValue struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	DType string `json:"dtype"`
	Shape []any  `json:"shape"`
}

func newInspectCmd(g *GlobalOptions, runF func(context.Context, *InspectOptions) error) *cobra.Command {
	if runF == nil {
		runF = inspectRun
	}
	opts := &InspectOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Describe an ONNX model: versions, inputs/outputs, ops, parameters",
		Long: `inspect prints a model's IR and opset versions, producer, inputs and outputs
(with symbolic dimensions), op histogram, parameter count and bytes by dtype
(initializers and Constant nodes alike), share of zero weights, external data
and what shrink recorded in the model's metadata.`,
		Example: "  shrink inspect model.onnx\n  shrink inspect model.onnx --json | jq .parameters.count",
		Args:    exactArgs(1, "one MODEL argument"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Model = args[0]
			return runF(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document (docs/schemas/inspect.schema.json)")
	return c
}

// Inspect builds the report for a loaded model.
func Inspect(m *onnxio.Model, path string) (*InspectReport, error) {
	r := &InspectReport{
		Schema: "shrink.inspect/v1", Path: path, FileBytes: fileSize(path),
		ExternalData: InspectExternal{Files: append([]string{}, m.ExternalFiles...), Bytes: m.ExternalBytes},
		IRVersion:    m.Proto.GetIrVersion(),
		Producer:     InspectProducer{Name: m.Proto.GetProducerName(), Version: m.Proto.GetProducerVersion()},
		GraphName:    m.Proto.Graph.GetName(),
		Nodes:        len(m.Proto.Graph.Node),
		Metadata:     map[string]string{},
		Shrink:       map[string]string{},
		Opsets:       []InspectOpset{},
		Inputs:       []InspectValue{},
		Outputs:      []InspectValue{},
	}
	for _, o := range m.Proto.OpsetImport {
		d := o.GetDomain()
		if d == "" {
			d = "ai.onnx"
		}
		r.Opsets = append(r.Opsets, InspectOpset{Domain: d, Version: o.GetVersion()})
	}
	g := m.Graph()
	for _, v := range g.Inputs() {
		r.Inputs = append(r.Inputs, describe(v))
	}
	for _, v := range m.Proto.Graph.Output {
		r.Outputs = append(r.Outputs, describe(v))
	}
	r.Ops = g.OpHistogram()
	st, bad, err := m.ParamStats()
	if err != nil {
		return nil, err
	}
	r.Parameters, r.NonFinite = st, bad
	if r.NonFinite == nil {
		r.NonFinite = []onnxio.WeightNonFinite{}
	}
	for _, b := range bad {
		r.NaNWeights += b.NaN
		r.InfWeights += b.Inf
	}
	for k, v := range m.MetadataMap() {
		if strings.HasPrefix(k, onnxio.ShrinkMetadataPrefix) {
			r.Shrink[k] = v
		} else {
			r.Metadata[k] = v
		}
	}
	return r, nil
}

func describe(v *onnxpb.ValueInfoProto) InspectValue {
	vi := onnxio.DescribeValue(v)
	iv := InspectValue{Name: vi.Name, Kind: vi.Kind, DType: vi.DType.String()}
	if vi.Shape != nil {
		iv.Shape = []any{}
		for _, d := range vi.Shape {
			switch {
			case d.Param != "":
				iv.Shape = append(iv.Shape, d.Param)
			case d.Value >= 0:
				iv.Shape = append(iv.Shape, d.Value)
			default:
				iv.Shape = append(iv.Shape, nil)
			}
		}
	}
	return iv
}

func shapeString(s []any) string {
	if s == nil {
		return "(unknown rank)"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		if d == nil {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func inspectRun(_ context.Context, opts *InspectOptions) error {
	m, err := onnxio.Load(opts.Model)
	if err != nil {
		return err
	}
	r, err := Inspect(m, opts.Model)
	if err != nil {
		return fmt.Errorf("%s: %w", opts.Model, err)
	}
	if opts.JSON {
		return opts.IO.WriteJSON(r)
	}
	p := opts.IO.Printf
	p("model        %s (%s)\n", filepath.Base(r.Path), report.HumanBytes(r.FileBytes))
	if len(r.ExternalData.Files) > 0 {
		p("external     %s in %s\n", report.HumanBytes(r.ExternalData.Bytes), strings.Join(r.ExternalData.Files, ", "))
	}
	var ops []string
	for _, o := range r.Opsets {
		ops = append(ops, fmt.Sprintf("%s %d", o.Domain, o.Version))
	}
	p("ir version   %d, opsets: %s\n", r.IRVersion, strings.Join(ops, ", "))
	if r.Producer.Name != "" {
		p("producer     %s %s\n", r.Producer.Name, r.Producer.Version)
	}
	for _, v := range r.Inputs {
		p("input        %s  %s %s\n", v.Name, v.DType, shapeString(v.Shape))
	}
	for _, v := range r.Outputs {
		p("output       %s  %s %s\n", v.Name, v.DType, shapeString(v.Shape))
	}
	ps := r.Parameters
	p("parameters   %d (%s) in %d initializers and %d Constant nodes; %.2f%% zero\n", ps.Count, report.HumanBytes(ps.Bytes), ps.Initializers, ps.Constants, 100*ps.ZeroFraction)
	for _, d := range ps.ByDType {
		p("  %-10s %d (%s)\n", d.DType, d.Count, report.HumanBytes(d.Bytes))
	}
	if n := len(r.NonFinite); n > 0 {
		var names []string
		for _, b := range r.NonFinite[:min(n, 3)] {
			names = append(names, fmt.Sprintf("%q (%s)", b.Name, b.NonFinite))
		}
		if n > 3 {
			names = append(names, fmt.Sprintf("and %d more", n-3))
		}
		nf := onnxio.NonFinite{NaN: r.NaNWeights, Inf: r.InfWeights}
		opts.IO.Warnf("%s has non-finite weights (%s) in %s: %s", opts.Model, nf, plural(n, "tensor", "tensors"), strings.Join(names, ", "))
	}
	p("nodes        %d\n", r.Nodes)
	for _, o := range r.Ops {
		p("  %-24s %d\n", o.Op, o.Count)
	}
	keys := make([]string, 0, len(r.Shrink))
	for k := range r.Shrink {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p("%-12s %s\n", strings.TrimPrefix(k, onnxio.ShrinkMetadataPrefix), r.Shrink[k])
	}
	return nil
}
