package cmd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/shrinkml/shrink/report"
	"github.com/spf13/cobra"
)

// ReportOptions are the options of `shrink report`.
type ReportOptions struct {
	*GlobalOptions
	Inputs   []string
	Outputs  []string
	Format   string
	Force    bool
	Details  bool
	Title    string
	ExitZero bool
}

// newReportCmd builds `shrink report`; runF (nil: reportRun) runs it.
func newReportCmd(g *GlobalOptions, runF func(context.Context, *ReportOptions) error) *cobra.Command {
	if runF == nil {
		runF = reportRun
	}
	opts := &ReportOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "report RESULT.json... -o OUT.{html,md,json}",
		Short: "Merge the JSON results of eval, compare and quantize into one HTML, Markdown or JSON report",
		Long: `report reads the JSON documents that shrink's verbs print with --json (eval,
compare, quantize) and writes one report: a table of the models (size, gzip
size, parameters, accuracy, agreement, p50/p99 latency, speedup), charts
(accuracy against size, accuracy against latency with the Pareto front, latency
bars), the gates, and the per-layer tables of the transforms.

The format comes from the output's extension (.html, .md, .json) or --format.
The HTML is one self-contained page (inline CSS and SVG, no script, no external
file) that opens offline. The Markdown suits a CI step summary or a pull-request
comment. The JSON is the merged document (docs/schemas/report.schema.json).
-o may be given several times to write several formats from one reading.

A model named by several results (the same path) is one row; each figure comes
from the first result that has it, eval and compare results before quantize's.
Exit code 3 when a gate in the results failed (after writing), unless --exit-zero.
See docs/report.md.`,
		Example: `  shrink compare m.onnx m.int8.onnx --data x.npy --labels y.npy --json > compare.json
  shrink quantize m.onnx -o m.int8.onnx --calib x.npy --json > quantize.json
  shrink report compare.json quantize.json -o report.html -o report.md
  shrink report compare.json -o - --format md >> "$GITHUB_STEP_SUMMARY"`,
		Args: minArgs(1, "at least one RESULT.json"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Inputs = args
			return runF(c.Context(), opts)
		},
	}
	fs := c.Flags()
	fs.StringArrayVarP(&opts.Outputs, "output", "o", nil, "write the report to FILE (.html, .md or .json; - for stdout); repeatable")
	fs.StringVar(&opts.Format, "format", "", "html, md or json (default: from the output's extension; md for -)")
	fs.BoolVar(&opts.Force, "force", false, "replace existing output files")
	fs.BoolVar(&opts.Details, "details", false, "Markdown: include the per-layer tables and training curves")
	fs.StringVar(&opts.Title, "title", "shrink report", "the report's heading")
	fs.BoolVar(&opts.ExitZero, "exit-zero", false, "exit 0 even when a gate in the results failed")
	return c
}

// reportOutput is one -o with its format.
type reportOutput struct{ path, format string }

func (opts *ReportOptions) outputs() ([]reportOutput, error) {
	if len(opts.Outputs) == 0 {
		return nil, usagef("-o/--output is required (a .html, .md or .json file, or - for stdout)")
	}
	format := strings.ToLower(opts.Format)
	switch format {
	case "", "html", "json":
	case "md", "markdown":
		format = "md"
	default:
		return nil, usagef("--format %q: want html, md or json", opts.Format)
	}
	if format != "" && len(opts.Outputs) > 1 {
		return nil, usagef("--format applies to a single -o; with several, each output's extension gives its format")
	}
	var outs []reportOutput
	seen := map[string]bool{}
	stdout := 0
	for _, p := range opts.Outputs {
		f := format
		if p == "-" {
			stdout++
			if f == "" {
				f = "md"
			}
		} else if f == "" {
			switch strings.ToLower(filepath.Ext(p)) {
			case ".html", ".htm":
				f = "html"
			case ".md", ".markdown":
				f = "md"
			case ".json":
				f = "json"
			default:
				return nil, usagef("-o %s: no format for %q; name a .html, .md or .json file, or give --format", p, filepath.Ext(p))
			}
		}
		if p != "-" {
			if seen[filepath.Clean(p)] {
				return nil, usagef("-o %s is given twice", p)
			}
			seen[filepath.Clean(p)] = true
		}
		outs = append(outs, reportOutput{p, f})
	}
	if stdout > 1 {
		return nil, usagef("-o - is given more than once")
	}
	return outs, nil
}

func reportRun(ctx context.Context, opts *ReportOptions) error {
	outs, err := opts.outputs()
	if err != nil {
		return err
	}
	// Refuse, before reading anything, outputs that are one of the results
	// read (same file, whatever the spelling), not regular files, in a
	// folder that cannot be written, or existing without --force.
	for _, o := range outs {
		if o.path != "-" {
			if err := checkOutput(o.path, opts.Force, opts.Inputs...); err != nil {
				return err
			}
		}
	}
	var inputs []*report.Input
	for _, p := range opts.Inputs {
		if ctx != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		in, err := report.ReadInput(p)
		if err != nil {
			return err
		}
		inputs = append(inputs, in)
	}
	doc, err := report.Merge(inputs, report.Options{Title: opts.Title, Tool: "shrink " + Version})
	if err != nil {
		return err
	}
	// Render every output before writing any: an error leaves no file.
	rendered := make([][]byte, len(outs))
	for i, o := range outs {
		switch o.format {
		case "html":
			rendered[i], err = doc.HTML()
		case "md":
			rendered[i] = doc.Markdown(opts.Details)
		case "json":
			rendered[i], err = report.JSON(doc)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", o.path, err)
		}
	}
	toStdout := false
	for i, o := range outs {
		if o.path == "-" {
			toStdout = true
			if _, err := opts.IO.Out.Write(rendered[i]); err != nil {
				return err
			}
			continue
		}
		if err := report.WriteFile(o.path, rendered[i], opts.Force); err != nil {
			return err
		}
	}
	failed := 0
	var ge GateError
	for _, g := range doc.Gates {
		if !g.Passed {
			failed++
			ge.Failures = append(ge.Failures, g.Message)
		}
	}
	summary := fmt.Sprintf("%d models, %d gates", len(doc.Models), len(doc.Gates))
	if failed > 0 {
		summary += fmt.Sprintf(" (%d failed)", failed)
	}
	for _, o := range outs {
		if o.path == "-" {
			continue
		}
		if toStdout {
			opts.IO.Infof("wrote %s (%s: %s)", o.path, o.format, summary)
		} else {
			opts.IO.Printf("wrote %s (%s: %s)\n", o.path, o.format, summary)
		}
	}
	if failed > 0 && !opts.ExitZero {
		return &ge
	}
	return nil
}
