package report

import (
	"fmt"
	"strconv"
	"strings"
)

// Markdown renders the comparison as GitHub-flavoured Markdown for a pull
// request comment or a step summary: a heading, one line on the data and
// settings, one table with the baseline and every candidate against it
// (gates with ✅/❌ in the last column), and a verdict line.
func (d *Compare) Markdown() []byte {
	var b strings.Builder
	b.WriteString("## shrink compare\n\n")
	metric := "—"
	if d.Settings.Metric != nil {
		metric = *d.Settings.Metric
	}
	fmt.Fprintf(&b, "Data %s: %d samples", mdCode(d.Data.Path), d.Data.Samples)
	if d.Data.Labels != "" {
		fmt.Fprintf(&b, ", labels %s", mdCode(d.Data.Labels))
	}
	fmt.Fprintf(&b, " · metric %s · batch %d · threads %s", metric, d.Settings.BatchSize, threads(d.Settings.Threads))
	if d.Settings.Runs > 0 {
		fmt.Fprintf(&b, " · %d timed runs after %d warm-up, interleaved; speedup = median of paired ratios", d.Settings.Runs, d.Settings.Warmup)
	} else {
		b.WriteString(" · latency not measured")
	}
	b.WriteString("\n\n")

	accHead := "accuracy"
	if d.Settings.Metric != nil {
		accHead = *d.Settings.Metric
	}
	cols := []string{"model", accHead, "drop (pts)", "agreement", "cosine", "SQNR dB", "KL", "max abs diff", "p50 ms", "speedup", "size", "size ratio", "gzip", "gates"}
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n")
	b.WriteString("| --- |" + strings.Repeat(" ---: |", len(cols)-2) + " --- |\n")

	base := d.Baseline
	row := []string{"baseline " + mdCode(base.Name), accCell(base.Accuracy), dash, dash, dash, dash, dash, dash, p50(base.Latency), dash, sizeCell(base.Size), dash, gzipCell(base.Size), dash}
	b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	for i, c := range d.Candidates {
		f := c.Fidelity
		sqnr := fixed(f.SQNRdB, 1)
		if f.SQNRInfinite {
			sqnr = "∞"
		}
		row := []string{
			mdCode(c.Name), accCell(c.Accuracy), signed(c.AccuracyDrop),
			percent(f.Agreement), fixed(f.Cosine, 5), sqnr, sci(f.KL), sci(f.MaxAbsDiff),
			p50(c.Latency), times(c.Speedup), sizeCell(c.Size), fixed(c.SizeRatio, 3), gzipCell(c.Size),
			gateCell(d.Gates, i),
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	b.WriteString("\n")
	failed := 0
	for _, g := range d.Gates {
		if !g.Passed {
			failed++
		}
	}
	switch {
	case len(d.Gates) == 0:
		b.WriteString("No gates set.\n")
	case failed == 0 && len(d.Gates) == 1:
		b.WriteString("✅ **The gate passed.**\n")
	case failed == 0:
		fmt.Fprintf(&b, "✅ **All %d gates passed.**\n", len(d.Gates))
	case len(d.Gates) == 1:
		b.WriteString("❌ **The gate failed:**\n\n")
	default:
		fmt.Fprintf(&b, "❌ **%d of %d gates failed:**\n\n", failed, len(d.Gates))
		for _, g := range d.Gates {
			if !g.Passed {
				fmt.Fprintf(&b, "- %s\n", mdEscape(g.Message))
			}
		}
	}
	return []byte(b.String())
}

const dash = "—"

// gateCell lists the gates of candidate i.
func gateCell(gates []Gate, i int) string {
	var parts []string
	for _, g := range gates {
		if g.CandidateIndex != i {
			continue
		}
		mark := "✅"
		if !g.Passed {
			mark = "❌"
		}
		fig := g.figure(4)
		op := "≤"
		if g.atLeast() {
			op = "≥"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s (%s %s)", mark, g.Gate, fig, op, strconv.FormatFloat(g.Limit, 'g', 4, 64)))
	}
	if len(parts) == 0 {
		return dash
	}
	return strings.Join(parts, "<br>")
}

func threads(n int) string {
	if n == 0 {
		return "ORT default"
	}
	return strconv.Itoa(n)
}

func accCell(a *Accuracy) string {
	if a == nil || a.Value == nil {
		return dash
	}
	if a.Metric == "top1" || a.Metric == "top5" || a.Figures != nil {
		return fmt.Sprintf("%.2f%%", 100**a.Value)
	}
	return strconv.FormatFloat(*a.Value, 'g', 4, 64)
}

func p50(l *Latency) string {
	if l == nil {
		return dash
	}
	return strconv.FormatFloat(l.P50Ms, 'f', 3, 64)
}

func sizeCell(s *Size) string {
	if s == nil {
		return dash
	}
	return HumanBytes(s.TotalBytes)
}

func gzipCell(s *Size) string {
	if s == nil {
		return dash
	}
	return HumanBytes(s.GzipBytes)
}

func percent(v *float64) string {
	if v == nil {
		return dash
	}
	return fmt.Sprintf("%.2f%%", 100**v)
}

func fixed(v *float64, prec int) string {
	if v == nil {
		return dash
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

func signed(v *float64) string {
	if v == nil {
		return dash
	}
	return fmt.Sprintf("%+.2f", *v)
}

func sci(v *float64) string {
	if v == nil {
		return dash
	}
	if *v == 0 {
		return "0"
	}
	return strconv.FormatFloat(*v, 'g', 3, 64)
}

func times(v *float64) string {
	if v == nil {
		return dash
	}
	return fmt.Sprintf("%.2f×", *v)
}

// HumanBytes formats n with binary units (1.5 MiB).
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// mdCode is s as an inline code span, safe inside a table cell.
func mdCode(s string) string {
	s = strings.ReplaceAll(s, "`", "'")
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return "`" + s + "`"
}

// mdEscape escapes the characters that would break a table or start
// markup in s.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;", "`", "'", "\n", " ")
	return r.Replace(s)
}
