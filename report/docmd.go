package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// maxListedGates bounds the gate list of the Markdown: past it only the
// failed gates are listed.
const maxListedGates = 12

// Markdown renders the report as GitHub-flavoured Markdown for a CI step
// summary or a pull-request comment: the verdict, one compact models
// table, the gates with ✅/❌, the steps and the sources. With details,
// the per-layer tables and training curves follow in collapsed
// <details> blocks.
func (d *Document) Markdown(details bool) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", mdEscape(d.Title))
	if mark, text, _ := verdictLine(d); mark == "" {
		b.WriteString(text + "\n\n")
	} else {
		fmt.Fprintf(&b, "%s **%s**\n\n", mark, text)
	}

	cols := modelColumns(d)
	head := []string{"model"}
	align := []string{"---"}
	for _, c := range cols {
		head = append(head, c.head)
		if c.num {
			align = append(align, "---:")
		} else {
			align = append(align, "---")
		}
	}
	mdRow(&b, head)
	mdRow(&b, align)
	for _, r := range d.Models {
		name := mdCode(r.Name)
		if r.Role == "baseline" {
			name += " (baseline)"
		}
		if r.ParetoFront {
			name += " ★"
		}
		cells := modelCells(cols, r)
		for i, c := range cells {
			switch c {
			case passedCell:
				cells[i] = "✅ " + c
			case failedCell:
				cells[i] = "❌ " + c
			}
		}
		mdRow(&b, append([]string{name}, cells...))
	}
	if p := d.Pareto; p != nil {
		fmt.Fprintf(&b, "\n★ Pareto front of %s against p50 latency (batch %d): no other model is both faster and more accurate.\n", p.Metric, p.BatchSize)
	}

	if len(d.Gates) > 0 {
		b.WriteString("\n**Gates**\n\n")
		listed := 0
		for _, g := range d.Gates {
			if len(d.Gates) > maxListedGates && g.Passed {
				continue
			}
			fmt.Fprintf(&b, "- %s %s %s: %s\n", gateMark(g), mdCode(modelName(d, g.Model)), g.Gate, mdEscape(verdict(g)))
			listed++
		}
		if rest := len(d.Gates) - listed; rest > 0 {
			fmt.Fprintf(&b, "- ✅ and %d more gates passed\n", rest)
		}
	}
	if len(d.Steps) > 0 {
		b.WriteString("\n**Steps**\n\n")
		for _, s := range d.Steps {
			fmt.Fprintf(&b, "- %s\n", mdEscape(s.Text))
		}
	}
	if details {
		for _, t := range d.Tables {
			fmt.Fprintf(&b, "\n<details><summary>%s (%d rows)</summary>\n\n", htmlText(t.Title), len(t.Rows))
			var h, a []string
			for _, c := range t.Columns {
				n := c.Name
				if c.Unit != "" && c.Unit != c.Name {
					n += " (" + c.Unit + ")"
				}
				h, a = append(h, mdEscape(n)), append(a, "---")
			}
			mdRow(&b, h)
			mdRow(&b, a)
			for _, row := range t.Rows {
				cells := make([]string, len(t.Columns))
				for i, c := range t.Columns {
					cells[i] = dash
					if i < len(row) {
						cells[i] = mdEscape(cell(row[i], c))
					}
				}
				mdRow(&b, cells)
			}
			b.WriteString("\n</details>\n")
		}
		for _, c := range d.Curves {
			curvesMarkdown(&b, c)
		}
	} else if n := len(d.Tables) + len(d.Curves); n > 0 {
		what := "The per-layer tables and training curves are"
		if n == 1 {
			what = "The per-layer table or training curve is"
		}
		fmt.Fprintf(&b, "\n%s in the HTML and JSON reports (or with --details).\n", what)
	}
	if len(d.Notes) > 0 {
		b.WriteString("\n**Notes**\n\n")
		for _, n := range d.Notes {
			fmt.Fprintf(&b, "- %s\n", mdEscape(n))
		}
	}
	var src []string
	for _, s := range d.Sources {
		src = append(src, fmt.Sprintf("%s (%s)", mdCode(s.Path), s.Schema))
	}
	fmt.Fprintf(&b, "\n<sub>From %s", strings.Join(src, ", "))
	if d.Tool != "" {
		fmt.Fprintf(&b, " · %s", htmlText(d.Tool))
	}
	b.WriteString("</sub>\n")
	return []byte(b.String())
}

// curvesMarkdown writes a Curves chart as a table: one row per x, one
// column per series.
func curvesMarkdown(b *strings.Builder, c Curves) {
	xs := map[float64]bool{}
	for _, s := range c.Series {
		for _, p := range s.Points {
			xs[p.X] = true
		}
	}
	var order []float64
	for x := range xs {
		order = append(order, x)
	}
	sort.Float64s(order)
	fmt.Fprintf(b, "\n<details><summary>%s (%d points)</summary>\n\n", htmlText(c.Title), len(order))
	head := []string{mdEscape(c.X)}
	align := []string{"---:"}
	for _, s := range c.Series {
		head, align = append(head, mdEscape(s.Name)), append(align, "---:")
	}
	mdRow(b, head)
	mdRow(b, align)
	for _, x := range order {
		row := []string{strconv.FormatFloat(x, 'g', 6, 64)}
		for _, s := range c.Series {
			v := dash
			for _, p := range s.Points {
				if p.X == x && p.Y != nil {
					v = strconv.FormatFloat(*p.Y, 'g', 4, 64)
				}
			}
			row = append(row, v)
		}
		mdRow(b, row)
	}
	b.WriteString("\n</details>\n")
}

func mdRow(b *strings.Builder, cells []string) {
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

// htmlText escapes s for raw HTML inside Markdown (<summary>, <sub>).
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\n", " ").Replace(s)
}
