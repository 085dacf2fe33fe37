package report

import (
	"fmt"
	"strconv"
	"strings"
)

// modelColumn is one column of the models table, shared by the HTML and
// Markdown renderings. A column no row has a figure for is left out.
type modelColumn struct {
	head string
	num  bool
	has  func(r Row) bool
	cell func(r Row) string
}

// modelColumns returns the columns of d's models table that some row
// fills.
func modelColumns(d *Document) []modelColumn {
	metrics := map[string]bool{}
	batches := map[int]bool{}
	for _, r := range d.Models {
		if r.Metric != nil && r.Accuracy != nil {
			metrics[*r.Metric] = true
		}
		if r.Latency != nil {
			batches[r.Latency.BatchSize] = true
		}
	}
	accHead := "accuracy"
	if len(metrics) == 1 {
		for m := range metrics {
			accHead = m
		}
	}
	latCell := func(v float64, r Row) string {
		s := strconv.FormatFloat(v, 'f', 3, 64)
		if len(batches) > 1 {
			s += fmt.Sprintf(" (b%d)", r.Latency.BatchSize)
		}
		return s
	}
	latHead := "p50 ms"
	p99Head := "p99 ms"
	if len(batches) == 1 {
		for b := range batches {
			latHead = fmt.Sprintf("p50 ms (batch %d)", b)
		}
	}
	all := []modelColumn{
		{head: "size", num: true, has: func(r Row) bool { return r.SizeBytes != nil }, cell: func(r Row) string { return HumanBytes(*r.SizeBytes) }},
		{head: "gzip", num: true, has: func(r Row) bool { return r.GzipBytes != nil }, cell: func(r Row) string { return HumanBytes(*r.GzipBytes) }},
		{head: "parameters", num: true, has: func(r Row) bool { return r.Parameters != nil }, cell: func(r Row) string { return groupDigits(*r.Parameters) }},
		{head: "non-zero", num: true, has: func(r Row) bool { return r.NonZero != nil }, cell: func(r Row) string { return groupDigits(*r.NonZero) }},
		{head: accHead, num: true, has: func(r Row) bool { return r.Accuracy != nil && r.Metric != nil }, cell: func(r Row) string {
			s := accText(*r.Metric, *r.Accuracy)
			if len(metrics) > 1 {
				s += " " + *r.Metric
			}
			return s
		}},
		{head: "drop (pts)", num: true, has: func(r Row) bool { return r.AccuracyDrop != nil }, cell: func(r Row) string { return fmt.Sprintf("%+.2f", *r.AccuracyDrop) }},
		{head: "agreement", num: true, has: func(r Row) bool { return r.Agreement != nil }, cell: func(r Row) string { return fmt.Sprintf("%.2f%%", 100**r.Agreement) }},
		{head: latHead, num: true, has: func(r Row) bool { return r.Latency != nil }, cell: func(r Row) string { return latCell(r.Latency.P50Ms, r) }},
		{head: p99Head, num: true, has: func(r Row) bool { return r.Latency != nil && r.Latency.P99Ms != nil }, cell: func(r Row) string { return latCell(*r.Latency.P99Ms, r) }},
		{head: "speedup", num: true, has: func(r Row) bool { return r.Speedup != nil }, cell: func(r Row) string { return fmt.Sprintf("%.2f×", *r.Speedup) }},
		{head: "gates", has: func(r Row) bool { return r.Passed != nil }, cell: func(r Row) string {
			if *r.Passed {
				return passedCell
			}
			return failedCell
		}},
	}
	var cols []modelColumn
	for _, c := range all {
		for _, r := range d.Models {
			if c.has(r) {
				cols = append(cols, c)
				break
			}
		}
	}
	return cols
}

// The gates column's cells; Markdown adds ✅/❌, HTML colours them.
const (
	passedCell = "passed"
	failedCell = "failed"
)

// modelCells renders one row's cells after the model name ("—" for a
// missing figure).
func modelCells(cols []modelColumn, r Row) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = dash
		if c.has(r) {
			out[i] = c.cell(r)
		}
	}
	return out
}

func accText(metric string, v float64) string {
	if higherIsBetter(metric) {
		return fmt.Sprintf("%.2f%%", 100*v)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// groupDigits writes n with thin spaces between groups of three digits.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// verdictLine sums up the gates: a mark (✅, ❌ or none) and a sentence.
func verdictLine(d *Document) (mark, text string, failed int) {
	for _, g := range d.Gates {
		if !g.Passed {
			failed++
		}
	}
	switch {
	case len(d.Gates) == 0:
		return "", "No gates set.", 0
	case failed == 0:
		return "✅", fmt.Sprintf("All %d gates passed.", len(d.Gates)), 0
	}
	return "❌", fmt.Sprintf("%d of %d gates failed.", failed, len(d.Gates)), failed
}

func gateMark(g GateRow) string {
	if g.Passed {
		return "✅"
	}
	return "❌"
}

func modelName(d *Document, path string) string {
	for _, r := range d.Models {
		if r.Path == path {
			return r.Name
		}
	}
	return path
}
