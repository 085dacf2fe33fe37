package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// chart is one SVG chart of the HTML report.
type chart struct {
	ID, Title string
	// Points counts the data points (or bars) drawn.
	Points  int
	Caption string
	SVG     []byte
}

// Colours of the charts. frontColor marks the Pareto front; the HTML test
// looks for it in the rendered page.
var (
	frontColor  = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	otherColor  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	p99Color    = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	gridColor   = color.RGBA{R: 0xe3, G: 0xe3, B: 0xe3, A: 0xff}
	seriesColor = []color.Color{otherColor, frontColor, p99Color,
		color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
		color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}}
)

// The charts are laid out with Liberation Sans, which is metric-compatible
// with Arial and Helvetica, the fallbacks the HTML names: no font is
// embedded.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

const chartW, chartH = 460 * vg.Length(1), 320 * vg.Length(1)

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 13)
	p.X.Label.Text, p.Y.Label.Text = x, y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 11)
		a.Tick.Label.Font = font.From(sans, 9)
	}
	p.Legend.TextStyle.Font = font.From(sans, 10)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridColor, gridColor
	p.Add(g)
	return p
}

// render draws p as an SVG fragment for inline use (no XML prolog).
func render(p *plot.Plot, w, h vg.Length) (svg []byte, err error) {
	defer func() {
		if r := recover(); r != nil { // gonum/plot panics on degenerate data
			err = fmt.Errorf("drawing %q: %v", p.Title.Text, r)
		}
	}()
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	out := b.Bytes()
	if i := bytes.Index(out, []byte("<svg")); i >= 0 {
		out = out[i:]
	}
	return out, nil
}

// pad sets an axis range around [lo, hi] with a margin on each side (more
// on the right of x, where point labels go).
func pad(a *plot.Axis, lo, hi, left, right float64) {
	span := hi - lo
	if span <= 0 {
		span = math.Max(math.Abs(hi)*0.2, 1e-9)
		if hi == 0 {
			span = 1
		}
	}
	a.Min, a.Max = lo-left*span, hi+right*span
}

func shortName(s string) string {
	if r := []rune(s); len(r) > 26 {
		return "…" + string(r[len(r)-25:])
	}
	return s
}

// accValue is an accuracy as charted: percent for top-k metrics.
func accValue(metric string, v float64) float64 {
	if higherIsBetter(metric) {
		return 100 * v
	}
	return v
}

func accLabel(metric string) string {
	switch metric {
	case "top1":
		return "top-1 accuracy (%)"
	case "top5":
		return "top-5 accuracy (%)"
	case "ctc":
		return "character accuracy (%)"
	case "boxes":
		return "box hmean (%)"
	}
	return strings.ToUpper(metric) + " (lower is better)"
}

// chartMetric is the metric the accuracy charts use: the Pareto view's,
// else the first row's.
func chartMetric(d *Document) string {
	if d.Pareto != nil {
		return d.Pareto.Metric
	}
	for _, r := range d.Models {
		if r.Metric != nil && r.Accuracy != nil {
			return *r.Metric
		}
	}
	return ""
}

// modelCharts draws the charts of the models table: accuracy against
// size, the accuracy/latency Pareto view and latency bars. A chart without
// data is left out.
func modelCharts(d *Document) ([]chart, error) {
	var out []chart
	for _, f := range []func(*Document) (*chart, error){sizeChart, paretoChart, latencyChart} {
		c, err := f(d)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, *c)
		}
	}
	return out, nil
}

func scatter(xy plotter.XYs, c color.Color, r vg.Length) (*plotter.Scatter, error) {
	s, err := plotter.NewScatter(xy)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle.Color, s.GlyphStyle.Radius, s.GlyphStyle.Shape = c, r, draw.CircleGlyph{}
	return s, nil
}

// labels names the points of xy. Call it after the axis ranges are set:
// labels that would overlap an earlier one are moved down a line.
func labels(p *plot.Plot, xy plotter.XYs, names []string) (*plotter.Labels, error) {
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: names})
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Font = font.From(sans, 9)
	}
	l.Offset = vg.Point{X: 6, Y: 4}
	// The plot area is about 85% × 75% of the chart; positions in points.
	sx := float64(chartW) * 0.85 / (p.X.Max - p.X.Min)
	sy := float64(chartH) * 0.75 / (p.Y.Max - p.Y.Min)
	type box struct{ x0, x1, y0, y1 float64 }
	var placed []box
	order := make([]int, len(xy))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return xy[order[a]].Y > xy[order[b]].Y })
	for _, i := range order {
		st := l.TextStyle[i]
		w, h := float64(st.Width(names[i])), float64(st.Height(names[i]))
		x0 := (xy[i].X - p.X.Min) * sx
		y0 := (xy[i].Y - p.Y.Min) * sy
		bx := box{x0, x0 + w, y0, y0 + h}
		for moved := 0; moved < len(xy); moved++ {
			hit := false
			for _, o := range placed {
				if bx.x0 < o.x1 && o.x0 < bx.x1 && bx.y0 < o.y1 && o.y0 < bx.y1 {
					hit = true
					bx.y1, bx.y0 = o.y0-1, o.y0-1-h
				}
			}
			if !hit {
				break
			}
		}
		placed = append(placed, bx)
		l.XYs[i].Y = p.Y.Min + bx.y0/sy
	}
	return l, nil
}

func sizeChart(d *Document) (*chart, error) {
	metric := chartMetric(d)
	var xy plotter.XYs
	var names []string
	var maxBytes int64
	for _, r := range d.Models {
		if r.SizeBytes != nil && r.Accuracy != nil && r.Metric != nil && *r.Metric == metric {
			maxBytes = max(maxBytes, *r.SizeBytes)
		}
	}
	unit, div := "KiB", 1024.0
	if maxBytes >= 1<<20 {
		unit, div = "MiB", 1<<20
	}
	for _, r := range d.Models {
		if r.SizeBytes == nil || r.Accuracy == nil || r.Metric == nil || *r.Metric != metric {
			continue
		}
		xy = append(xy, plotter.XY{X: float64(*r.SizeBytes) / div, Y: accValue(metric, *r.Accuracy)})
		names = append(names, shortName(r.Name))
	}
	if len(xy) == 0 {
		return nil, nil
	}
	p := newPlot("Accuracy against size", "size on disk ("+unit+")", accLabel(metric))
	s, err := scatter(xy, otherColor, 4)
	if err != nil {
		return nil, err
	}
	xlo, xhi, ylo, yhi := plotter.XYRange(xy)
	pad(&p.X, math.Min(0, xlo), xhi, 0.05, 0.45)
	pad(&p.Y, ylo, yhi, 0.3, 0.3)
	l, err := labels(p, xy, names)
	if err != nil {
		return nil, err
	}
	p.Add(s, l)
	svg, err := render(p, chartW, chartH)
	if err != nil {
		return nil, err
	}
	return &chart{ID: "accuracy-size", Title: "Accuracy against size", Points: len(xy), SVG: svg}, nil
}

func paretoChart(d *Document) (*chart, error) {
	if d.Pareto == nil {
		return nil, nil
	}
	metric := d.Pareto.Metric
	var front, other, all plotter.XYs
	var names []string
	for _, r := range d.Models {
		if r.Accuracy == nil || r.Metric == nil || r.Latency == nil || *r.Metric != metric || r.Latency.BatchSize != d.Pareto.BatchSize {
			continue
		}
		pt := plotter.XY{X: r.Latency.P50Ms, Y: accValue(metric, *r.Accuracy)}
		if r.ParetoFront {
			front = append(front, pt)
		} else {
			other = append(other, pt)
		}
		all = append(all, pt)
		names = append(names, shortName(r.Name))
	}
	if len(all) == 0 {
		return nil, nil
	}
	p := newPlot("Accuracy against latency (Pareto view)", fmt.Sprintf("p50 latency per batch of %d (ms)", d.Pareto.BatchSize), accLabel(metric))
	if len(other) > 0 {
		s, err := scatter(other, otherColor, 4)
		if err != nil {
			return nil, err
		}
		p.Add(s)
		p.Legend.Add("dominated", s)
	}
	// The front as a staircase: from the fastest model to the most
	// accurate, each step holding the accuracy until a slower, better
	// model.
	sortXY(front)
	var stair plotter.XYs
	for i, pt := range front {
		if i > 0 {
			stair = append(stair, plotter.XY{X: pt.X, Y: front[i-1].Y})
		}
		stair = append(stair, pt)
	}
	line, err := plotter.NewLine(stair)
	if err != nil {
		return nil, err
	}
	line.Color, line.Width, line.Dashes = frontColor, 1.5, []vg.Length{4, 3}
	s, err := scatter(front, frontColor, 5)
	if err != nil {
		return nil, err
	}
	xlo, xhi, ylo, yhi := plotter.XYRange(all)
	pad(&p.X, math.Min(0, xlo), xhi, 0.05, 0.45)
	pad(&p.Y, ylo, yhi, 0.5, 0.3)
	l, err := labels(p, all, names)
	if err != nil {
		return nil, err
	}
	p.Add(line, s, l)
	p.Legend.Add("Pareto front", line, s)
	p.Legend.Top, p.Legend.Left = false, false
	svg, err := render(p, chartW, chartH)
	if err != nil {
		return nil, err
	}
	return &chart{ID: "pareto", Title: "Accuracy against latency (Pareto view)", Points: len(all), SVG: svg,
		Caption: fmt.Sprintf("%d models measured on %s at batch %d; red: the Pareto front (no other model is both faster and more accurate).", len(all), metric, d.Pareto.BatchSize)}, nil
}

func sortXY(xy plotter.XYs) {
	for i := 1; i < len(xy); i++ {
		for j := i; j > 0 && (xy[j].X < xy[j-1].X || xy[j].X == xy[j-1].X && xy[j].Y < xy[j-1].Y); j-- {
			xy[j], xy[j-1] = xy[j-1], xy[j]
		}
	}
}

func latencyChart(d *Document) (*chart, error) {
	var rows []Row
	batches := map[int]bool{}
	for _, r := range d.Models {
		if r.Latency != nil {
			rows = append(rows, r)
			batches[r.Latency.BatchSize] = true
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	p := newPlot("Latency per batch", "", "ms")
	n := len(rows)
	w := vg.Length(math.Min(26, 300/float64(n)/2.2))
	var names []string
	bars := 0
	var p50Bar, p99Bar *plotter.BarChart
	ymax := 0.0
	for i, r := range rows {
		ymax = math.Max(ymax, r.Latency.P50Ms)
		if r.Latency.P99Ms != nil {
			ymax = math.Max(ymax, *r.Latency.P99Ms)
		}
		name := shortName(r.Name)
		if len(batches) > 1 {
			name += fmt.Sprintf(" (b%d)", r.Latency.BatchSize)
		}
		names = append(names, name)
		b50, err := plotter.NewBarChart(plotter.Values{r.Latency.P50Ms}, w)
		if err != nil {
			return nil, err
		}
		b50.XMin, b50.Color, b50.LineStyle.Width = float64(i), otherColor, 0
		b50.Offset = -w / 2
		p.Add(b50)
		bars++
		p50Bar = b50
		if r.Latency.P99Ms != nil {
			b99, err := plotter.NewBarChart(plotter.Values{*r.Latency.P99Ms}, w)
			if err != nil {
				return nil, err
			}
			b99.XMin, b99.Color, b99.LineStyle.Width = float64(i), p99Color, 0
			b99.Offset = w / 2
			p.Add(b99)
			bars++
			p99Bar = b99
		}
	}
	p.Legend.Add("p50", p50Bar)
	if p99Bar != nil {
		p.Legend.Add("p99", p99Bar)
	}
	p.Legend.Top = true
	p.NominalX(names...)
	p.Y.Min, p.Y.Max = 0, math.Max(ymax*1.2, 1e-3)
	if n > 3 {
		p.X.Tick.Label.Rotation = math.Pi / 8
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = -1, -0.5
	}
	svg, err := render(p, chartW, chartH)
	if err != nil {
		return nil, err
	}
	cap := "p50 and p99 per batch, in milliseconds."
	if p99Bar == nil {
		cap = "p50 per batch, in milliseconds (no input carries a p99)."
	}
	return &chart{ID: "latency", Title: "Latency per batch", Points: bars, SVG: svg, Caption: cap}, nil
}

// curveChart draws one Curves: each series a line with its points, over
// a shared x axis (epochs, steps).
func curveChart(c Curves, id string) (*chart, error) {
	p := newPlot(c.Title, c.X, c.Y)
	points := 0
	var all plotter.XYs
	for i, s := range c.Series {
		var xy plotter.XYs
		for _, pt := range s.Points {
			if pt.Y == nil || math.IsNaN(*pt.Y) || math.IsInf(*pt.Y, 0) || math.IsNaN(pt.X) || math.IsInf(pt.X, 0) {
				continue
			}
			xy = append(xy, plotter.XY{X: pt.X, Y: *pt.Y})
		}
		if len(xy) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, err
		}
		col := seriesColor[i%len(seriesColor)]
		l.Color, l.Width = col, 1.5
		sc.GlyphStyle.Color, sc.GlyphStyle.Radius, sc.GlyphStyle.Shape = col, 3, draw.CircleGlyph{}
		p.Add(l, sc)
		p.Legend.Add(s.Name, l, sc)
		points += len(xy)
		all = append(all, xy...)
	}
	if points == 0 {
		return nil, nil
	}
	xlo, xhi, ylo, yhi := plotter.XYRange(all)
	pad(&p.X, xlo, xhi, 0.05, 0.05)
	pad(&p.Y, ylo, yhi, 0.1, 0.25)
	p.Legend.Top = true
	svg, err := render(p, chartW, chartH)
	if err != nil {
		return nil, err
	}
	return &chart{ID: id, Title: c.Title, Points: points, SVG: svg}, nil
}
