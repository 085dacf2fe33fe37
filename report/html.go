package report

import (
	"bytes"
	"fmt"
	"html/template"
)

type htmlChart struct {
	ID, Title, Caption string
	Points             int
	SVG                template.HTML
}

type htmlTable struct {
	Title, Kind string
	Head        []string
	Num         []bool
	Rows        [][]string
}

type htmlGate struct {
	Mark, Gate, Model, Verdict, Source string
	Failed                             bool
}

type htmlRow struct {
	Name, Path, Role string
	Front            bool
	Cells            []htmlCell
}

type htmlCell struct {
	Text, Class string
}

type htmlView struct {
	Doc           *Document
	Verdict       string
	Failed        int
	Head          []string
	Rows          []htmlRow
	Charts        []htmlChart
	Gates         []htmlGate
	Tables        []htmlTable
	Curves        []htmlChart
	Steps         []string
	ParetoCaption string
}

// HTML renders the report as one self-contained HTML page: inline CSS,
// charts as inline SVG, no script, no external file or font. It opens
// offline in any browser.
func (d *Document) HTML() ([]byte, error) {
	v := htmlView{Doc: d}
	// No ✅/❌ here: emoji need a font the page cannot count on; colours
	// say it.
	_, v.Verdict, v.Failed = verdictLine(d)
	cols := modelColumns(d)
	v.Head = []string{"model"}
	for _, c := range cols {
		v.Head = append(v.Head, c.head)
	}
	for _, r := range d.Models {
		row := htmlRow{Name: r.Name, Path: r.Path, Role: r.Role, Front: r.ParetoFront}
		for i, c := range modelCells(cols, r) {
			hc := htmlCell{Text: c}
			switch {
			case c == passedCell:
				hc.Class = "badge pass"
			case c == failedCell:
				hc.Class = "badge fail"
			case cols[i].num:
				hc.Class = "num"
			}
			row.Cells = append(row.Cells, hc)
		}
		v.Rows = append(v.Rows, row)
	}
	if p := d.Pareto; p != nil {
		v.ParetoCaption = fmt.Sprintf("★ the Pareto front of accuracy (%s) against p50 latency at batch %d: no other model is both faster and more accurate.", p.Metric, p.BatchSize)
	}
	charts, err := modelCharts(d)
	if err != nil {
		return nil, err
	}
	for _, c := range charts {
		v.Charts = append(v.Charts, htmlChart{ID: c.ID, Title: c.Title, Caption: c.Caption, Points: c.Points, SVG: template.HTML(c.SVG)})
	}
	for _, g := range d.Gates {
		mark := "pass"
		if !g.Passed {
			mark = "fail"
		}
		v.Gates = append(v.Gates, htmlGate{Mark: mark, Gate: g.Gate, Model: modelName(d, g.Model), Verdict: verdict(g),
			Source: d.Sources[g.Source].Path, Failed: !g.Passed})
	}
	for _, t := range d.Tables {
		ht := htmlTable{Title: t.Title, Kind: t.Kind}
		for _, c := range t.Columns {
			h := c.Name
			if c.Unit != "" && c.Unit != c.Name {
				h += " (" + c.Unit + ")"
			}
			ht.Head = append(ht.Head, h)
		}
		ht.Num = make([]bool, len(t.Columns))
		for _, row := range t.Rows {
			cells := make([]string, len(t.Columns))
			for i := range t.Columns {
				cells[i] = dash
				if i < len(row) {
					cells[i] = cell(row[i], t.Columns[i])
					switch row[i].(type) {
					case int, int64, float64, float32, *float64:
						ht.Num[i] = true
					}
				}
			}
			ht.Rows = append(ht.Rows, cells)
		}
		v.Tables = append(v.Tables, ht)
	}
	for i, c := range d.Curves {
		ch, err := curveChart(c, fmt.Sprintf("curves-%d", i))
		if err != nil {
			return nil, err
		}
		if ch != nil {
			v.Curves = append(v.Curves, htmlChart{ID: ch.ID, Title: ch.Title, Points: ch.Points, SVG: template.HTML(ch.SVG),
				Caption: fmt.Sprintf("%s, from %s.", modelName(d, c.Model), d.Sources[c.Source].Path)})
		}
	}
	for _, s := range d.Steps {
		v.Steps = append(v.Steps, s.Text)
	}
	var b bytes.Buffer
	if err := htmlPage.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var htmlPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{{.Doc.Tool}}">
<title>{{.Doc.Title}}</title>
<style>
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; margin: 24px auto; max-width: 1320px; padding: 0 16px; color: #1b1f24; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d8dee4; padding-bottom: 4px; }
.meta { color: #57606a; font-size: 13px; }
.verdict { display: inline-block; margin: 14px 0 4px; padding: 8px 14px; border-radius: 6px; font-weight: bold; }
.verdict.pass { background: #dafbe1; color: #116329; }
.verdict.fail { background: #ffebe9; color: #a40e26; }
.verdict.none { background: #f6f8fa; color: #57606a; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #d8dee4; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fbfcfd; }
tr.front td:first-child { font-weight: bold; }
tr.fail td { background: #fff5f5; }
td.badge { font-weight: bold; font-size: 12px; }
td.badge.pass { color: #116329; }
td.badge.fail { color: #a40e26; }
.role { color: #57606a; font-size: 11px; margin-left: 4px; }
.star { color: #d62728; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure.chart { margin: 0; border: 1px solid #d8dee4; border-radius: 6px; padding: 8px; background: #fff; }
figure.chart svg { display: block; width: 560px; max-width: 100%; height: auto; }
figure.chart svg text { font-family: "Liberation Sans", Arial, Helvetica, sans-serif !important; }
figcaption { font-size: 12px; color: #57606a; max-width: 560px; margin-top: 4px; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: bold; font-size: 14px; }
ul { padding-left: 20px; font-size: 13px; }
code { font-size: 12px; background: #f6f8fa; padding: 1px 4px; border-radius: 4px; }
</style>
</head>
<body>
<h1>{{.Doc.Title}}</h1>
<div class="meta">{{with .Doc.Tool}}{{.}} · {{end}}{{len .Doc.Sources}} result file{{if ne (len .Doc.Sources) 1}}s{{end}} · {{len .Doc.Models}} model{{if ne (len .Doc.Models) 1}}s{{end}}</div>
<div id="verdict" class="verdict {{if .Failed}}fail{{else if .Doc.Gates}}pass{{else}}none{{end}}">{{.Verdict}}</div>

<h2>Models</h2>
<table id="models">
<thead><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr{{if .Front}} class="front"{{end}}><td title="{{.Path}}">{{.Name}}{{if .Front}} <span class="star">★</span>{{end}}<span class="role">{{.Role}}</span></td>{{range .Cells}}<td{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{if .ParetoCaption}}<div class="meta">{{.ParetoCaption}}</div>{{end}}

{{if .Charts}}<h2>Charts</h2>
<div class="charts">
{{- range .Charts}}
<figure class="chart" id="chart-{{.ID}}" data-points="{{.Points}}">
{{.SVG}}
{{if .Caption}}<figcaption>{{.Caption}}</figcaption>{{end}}
</figure>
{{- end}}
</div>{{end}}

{{if .Gates}}<h2>Gates</h2>
<table id="gates">
<thead><tr><th></th><th>gate</th><th>model</th><th>figure and limit</th><th>from</th></tr></thead>
<tbody>
{{- range .Gates}}
<tr{{if .Failed}} class="fail"{{end}}><td class="badge {{.Mark}}">{{.Mark}}</td><td>{{.Gate}}</td><td>{{.Model}}</td><td>{{.Verdict}}</td><td><code>{{.Source}}</code></td></tr>
{{- end}}
</tbody>
</table>{{end}}

{{if .Steps}}<h2>Steps</h2>
<ul>{{range .Steps}}<li>{{.}}</li>{{end}}</ul>{{end}}

{{if .Curves}}<h2>Training curves</h2>
<div class="charts">
{{- range .Curves}}
<figure class="chart" id="chart-{{.ID}}" data-points="{{.Points}}">
{{.SVG}}
{{if .Caption}}<figcaption>{{.Caption}}</figcaption>{{end}}
</figure>
{{- end}}
</div>{{end}}

{{if .Tables}}<h2>Per-layer tables</h2>
{{- range .Tables}}
<details class="layers" data-kind="{{.Kind}}">
<summary>{{.Title}} ({{len .Rows}} rows)</summary>
<table>
<thead><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- $num := .Num}}
{{- range .Rows}}
<tr>{{range $i, $c := .}}<td{{if index $num $i}} class="num"{{end}}>{{$c}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</details>
{{- end}}{{end}}

<h2>Sources</h2>
<ul id="sources">{{range .Doc.Sources}}<li><code>{{.Path}}</code> — {{.Schema}}{{if .Tool}} ({{.Tool}}){{end}}</li>{{end}}</ul>
{{if .Doc.Notes}}<h2>Notes</h2>
<ul>{{range .Doc.Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body>
</html>
`))
