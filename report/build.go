package report

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
)

// Options are the settings of Merge.
type Options struct {
	// Title heads the report ("shrink report" when empty).
	Title string
	// Tool names the program and version ("shrink 0.1.0").
	Tool string
}

// Merge builds one report from result documents. Every input names the
// models it measured or wrote; a model named by several inputs (the same
// path) is one row, each figure taken from the first input that carries
// it, measurement results (eval, compare) before transform results
// (quantize, prune, distill), then in the order given. Errors name the
// input's file.
func Merge(inputs []*Input, opts Options) (*Document, error) {
	title := opts.Title
	if title == "" {
		title = "shrink report"
	}
	doc := &Document{
		Schema: ReportSchema, Tool: opts.Tool, Title: title,
		Sources: []Source{}, Models: []Row{}, Gates: []GateRow{}, Tables: []Table{}, Curves: []Curves{},
		Steps: []StepNote{}, Notes: []string{}, Passed: true, Shards: []ShardGroup{},
	}
	for _, in := range inputs {
		doc.Sources = append(doc.Sources, Source{Path: in.Path, Schema: in.Schema, Tool: in.Tool})
	}
	us, err := units(inputs, doc)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(us, func(a, b int) bool {
		return !us[a].kind.Transform && us[b].kind.Transform
	})
	b := &builder{doc: doc, rows: map[string]int{}}
	for _, u := range us {
		b.src, b.also, b.used = u.src, u.also, map[string]int{}
		if err := u.kind.Add(b, u.raw); err != nil {
			return nil, fmt.Errorf("%s: %w", inputs[u.src].Path, err)
		}
	}
	b.finish()
	return doc, nil
}

// builder collects what the inputs carry. A kind's Add calls it while
// its input is current (src).
type builder struct {
	doc  *Document
	src  int
	also []int          // the other files of a merged group of shards
	rows map[string]int // model key → index in doc.Models
	used map[string]int // keys the current input has named, and how often
}

// row returns the row of the model at path, creating it with name and
// role on first use. An input that names one path twice (a model compared
// with itself) gets two rows.
func (b *builder) row(path, name, role string) *Row {
	key := filepath.Clean(path)
	if path == "" {
		key = "\x00" + name
	}
	b.used[key]++
	if n := b.used[key]; n > 1 {
		key = fmt.Sprintf("%s\x00%d", key, n)
	}
	i, ok := b.rows[key]
	if !ok {
		if name == "" {
			name = filepath.Base(path)
		}
		i = len(b.doc.Models)
		b.rows[key] = i
		b.doc.Models = append(b.doc.Models, Row{Name: name, Path: path, Role: role})
	}
	r := &b.doc.Models[i]
	if !slices.Contains(r.Sources, b.src) {
		r.Sources = append(r.Sources, b.src)
		r.Sources = append(r.Sources, b.also...)
	}
	return r
}

// gate adds a gate outcome of the current input.
func (b *builder) gate(g GateRow) {
	g.Source = b.src
	b.doc.Gates = append(b.doc.Gates, g)
}

// table adds a per-layer table of the current input.
func (b *builder) table(t Table) {
	t.Source = b.src
	b.doc.Tables = append(b.doc.Tables, t)
}

// step adds a one-line summary of a transform.
func (b *builder) step(kind, format string, a ...any) {
	b.doc.Steps = append(b.doc.Steps, StepNote{Source: b.src, Kind: kind, Text: fmt.Sprintf(format, a...)})
}

func (b *builder) note(format string, a ...any) {
	b.doc.Notes = append(b.doc.Notes, fmt.Sprintf(format, a...))
}

// setI and setF fill a figure that is still missing (the first input
// carrying a figure wins).
func setI(dst **int64, v int64) {
	if *dst == nil {
		*dst = &v
	}
}

func setF(dst **float64, v *float64) {
	if *dst == nil && v != nil {
		x := *v
		*dst = &x
	}
}

func ptr[T any](v T) *T { return &v }

// finish orders the gates by input, gives rows unique names, marks the
// models' gate verdicts and the Pareto front.
func (b *builder) finish() {
	d := b.doc
	sort.SliceStable(d.Gates, func(i, j int) bool { return d.Gates[i].Source < d.Gates[j].Source })
	sort.SliceStable(d.Tables, func(i, j int) bool { return d.Tables[i].Source < d.Tables[j].Source })
	sort.SliceStable(d.Curves, func(i, j int) bool { return d.Curves[i].Source < d.Curves[j].Source })
	sort.SliceStable(d.Steps, func(i, j int) bool { return d.Steps[i].Source < d.Steps[j].Source })
	names := map[string]int{}
	for _, r := range d.Models {
		names[r.Name]++
	}
	for i := range d.Models {
		if r := &d.Models[i]; names[r.Name] > 1 && r.Path != "" {
			r.Name = r.Path
		}
	}
	byPath := map[string][]int{}
	for i, r := range d.Models {
		byPath[filepath.Clean(r.Path)] = append(byPath[filepath.Clean(r.Path)], i)
	}
	for _, g := range d.Gates {
		if !g.Passed {
			d.Passed = false
		}
		for _, i := range byPath[filepath.Clean(g.Model)] {
			r := &d.Models[i]
			if r.Passed == nil {
				r.Passed = ptr(true)
			}
			*r.Passed = *r.Passed && g.Passed
		}
	}
	b.pareto()
}

// higherIsBetter reports the direction of an accuracy metric.
func higherIsBetter(metric string) bool { return metric != "mse" && metric != "mae" }

// pareto marks the rows on the accuracy/latency Pareto front. Only rows
// measured on one metric and one batch size are comparable: the most
// common ones are taken, and the rows left out are noted.
func (b *builder) pareto() {
	d := b.doc
	type key struct {
		metric string
		batch  int
	}
	var keys []key
	count := map[key]int{}
	for _, r := range d.Models {
		if r.Accuracy == nil || r.Metric == nil || r.Latency == nil {
			continue
		}
		k := key{*r.Metric, r.Latency.BatchSize}
		if count[k] == 0 {
			keys = append(keys, k)
		}
		count[k]++
	}
	if len(keys) == 0 {
		return
	}
	best := keys[0]
	for _, k := range keys[1:] {
		if count[k] > count[best] {
			best = k
		}
	}
	var set []int
	for i, r := range d.Models {
		if r.Accuracy == nil || r.Metric == nil || r.Latency == nil {
			continue
		}
		if (key{*r.Metric, r.Latency.BatchSize}) == best {
			set = append(set, i)
		} else {
			b.note("%s is left out of the Pareto view: %s at batch %d, the others %s at batch %d", r.Name, *r.Metric, r.Latency.BatchSize, best.metric, best.batch)
		}
	}
	d.Pareto = &Pareto{Metric: best.metric, BatchSize: best.batch, Models: len(set)}
	up := higherIsBetter(best.metric)
	better := func(a, c float64) bool { // a strictly better accuracy than c
		if up {
			return a > c
		}
		return a < c
	}
	for _, i := range set {
		ri := d.Models[i]
		dominated := false
		for _, j := range set {
			rj := d.Models[j]
			noWorse := rj.Latency.P50Ms <= ri.Latency.P50Ms && !better(*ri.Accuracy, *rj.Accuracy)
			strictly := rj.Latency.P50Ms < ri.Latency.P50Ms || better(*rj.Accuracy, *ri.Accuracy)
			if j != i && noWorse && strictly {
				dominated = true
				break
			}
		}
		d.Models[i].ParetoFront = !dominated
	}
}
