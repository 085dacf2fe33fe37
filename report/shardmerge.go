package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shrinkml/shrink/validate"
)

// ShardGroup is one run of sharded results (`shrink eval --shard i/N` or
// `shrink compare --shard i/N`, N files) that Merge merged into one result
// before reading it.
type ShardGroup struct {
	// Schema is the shards' (shrink.eval/v1 or shrink.compare/v1).
	Schema string `json:"schema"`
	Count  int    `json:"count"`
	// Sources are the indices in Document.Sources of shard 0, 1, … N−1.
	Sources []int `json:"sources"`
	// Samples and Batches of the whole data set, over every shard.
	Samples int `json:"samples"`
	Batches int `json:"batches"`
	// Empty lists the shards without samples (more shards than batches).
	Empty []int `json:"empty"`
	// LatencyFrom is the source whose latency the models table shows (the
	// first shard that timed; null when none did).
	LatencyFrom *int `json:"latency_from"`
	// Result is the merged result: a shrink.eval/v1 or shrink.compare/v1
	// document whose counts, accuracies and fidelity figures are those of
	// the whole data set.
	Result json.RawMessage `json:"result"`
}

// shardDoc is one shard's result, decoded.
type shardDoc struct {
	in      *Input
	src     int
	shard   ShardInfo
	partial *PartialDoc
	data    Data
	models  []Model
	tool    string
	elapsed float64
	eval    *Eval
	cmp     *Compare
}

// unit is what one kind's Add reads: an input, or the merge of a group of
// shards (src is its first file, also the others).
type unit struct {
	kind *kind
	raw  []byte
	src  int
	also []int
}

// units turns the inputs into what Merge adds: each input as it is, except
// the shards of one run (same schema, data path and model paths), which
// become one merged result at the place of its first file.
func units(inputs []*Input, doc *Document) ([]unit, error) {
	var out []unit
	groups := map[string]int{} // key → index in out
	members := map[int][]*shardDoc{}
	for i, in := range inputs {
		if !in.shard {
			out = append(out, unit{kind: in.kind, raw: in.raw, src: i})
			continue
		}
		s, err := decodeShard(in, i)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.Path, err)
		}
		key := in.Schema + "\x00" + s.data.Path
		for _, m := range s.models {
			key += "\x00" + m.Path
		}
		g, ok := groups[key]
		if !ok {
			g = len(out)
			groups[key] = g
			out = append(out, unit{kind: in.kind, src: i})
		}
		members[g] = append(members[g], s)
	}
	for g := range out {
		if ms := members[g]; ms != nil {
			raw, src, also, err := mergeGroup(ms, doc)
			if err != nil {
				return nil, err
			}
			out[g].raw, out[g].src, out[g].also = raw, src, also
		}
	}
	return out, nil
}

// decodeShard decodes a shard's result.
func decodeShard(in *Input, src int) (*shardDoc, error) {
	s := &shardDoc{in: in, src: src}
	switch in.Schema {
	case EvalSchema:
		var d Eval
		if err := decode(in.raw, &d); err != nil {
			return nil, err
		}
		s.eval, s.data, s.models, s.tool, s.elapsed = &d, d.Data, []Model{d.Model}, d.Tool, d.ElapsedS
		s.partial = d.Partial
		if d.Shard != nil {
			s.shard = *d.Shard
		}
	case CompareSchema:
		var d Compare
		if err := decode(in.raw, &d); err != nil {
			return nil, err
		}
		s.cmp, s.data, s.models, s.tool, s.elapsed = &d, d.Data, []Model{d.Baseline}, d.Tool, d.ElapsedS
		for _, c := range d.Candidates {
			s.models = append(s.models, c.Model)
		}
		s.partial = d.Partial
		if d.Shard != nil {
			s.shard = *d.Shard
		}
	default:
		return nil, fmt.Errorf("%s results are not sharded", in.Schema)
	}
	if s.partial == nil {
		return nil, fmt.Errorf("shard %d/%d without its \"partial\" counts and sums: it cannot be merged", s.shard.Index, s.shard.Count)
	}
	if sh := s.shard; sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
		return nil, fmt.Errorf("shard.index %d, shard.count %d: want 0 ≤ index < count", sh.Index, sh.Count)
	}
	if len(s.partial.Models) != len(s.models) {
		return nil, fmt.Errorf("partial.models: %d for the result's %d models", len(s.partial.Models), len(s.models))
	}
	for i, m := range s.partial.Models {
		if m.Path != s.models[i].Path {
			return nil, fmt.Errorf("partial.models[%d].path: %q, but the result's model %d is %q", i, m.Path, i, s.models[i].Path)
		}
	}
	if got, want := s.partial.Samples, int64(s.shard.EndSample-s.shard.FirstSample); got != want {
		return nil, fmt.Errorf("partial.samples: %d, but the shard holds samples [%d, %d)", got, s.shard.FirstSample, s.shard.EndSample)
	}
	return s, nil
}

// mergeGroup checks that the shards are every shard of one run, and merges
// their partial results in shard order into one result document, read as
// coming from src (the shard whose latency it shows, else shard 0) and
// also the other files. Errors are one line naming a file.
func mergeGroup(ms []*shardDoc, doc *Document) (raw []byte, src int, also []int, err error) {
	first := ms[0]
	n := first.shard.Count
	seen := map[int]*shardDoc{}
	for _, s := range ms {
		if err := sameRun(first, s); err != nil {
			return nil, 0, nil, fmt.Errorf("%s: %w", s.in.Path, err)
		}
		if d := seen[s.shard.Index]; d != nil {
			return nil, 0, nil, fmt.Errorf("%s: shard %d/%d again (also %s)", s.in.Path, s.shard.Index, n, d.in.Path)
		}
		seen[s.shard.Index] = s
	}
	if len(seen) < n {
		// Name the first few missing indices (the count comes from a file:
		// never loop or allocate by it).
		var missing []string
		for i := 0; len(missing) < 8 && i < n; i++ {
			if seen[i] == nil {
				missing = append(missing, fmt.Sprint(i))
			}
		}
		if k := n - len(seen); k > len(missing) {
			missing = append(missing, fmt.Sprintf("… (%d in all)", k))
		}
		return nil, 0, nil, fmt.Errorf("%s: shard %s of %d missing (a run of %d shards needs every index from 0 to %d)", first.in.Path, strings.Join(missing, ", "), n, n, n-1)
	}
	byIndex := make([]*shardDoc, n)
	for i, s := range seen {
		byIndex[i] = s
	}
	next := 0
	for _, s := range byIndex {
		if s.shard.FirstBatch != next || s.shard.EndBatch < s.shard.FirstBatch {
			return nil, 0, nil, fmt.Errorf("%s: shard %d/%d holds batches [%d, %d), want them to start at %d", s.in.Path, s.shard.Index, n, s.shard.FirstBatch, s.shard.EndBatch, next)
		}
		next = s.shard.EndBatch
	}
	if next != first.shard.TotalBatches {
		return nil, 0, nil, fmt.Errorf("%s: the shards hold %d of %d batches", first.in.Path, next, first.shard.TotalBatches)
	}

	var merged *validate.Partial
	g := ShardGroup{Schema: first.in.Schema, Count: n, Samples: first.shard.TotalSamples, Batches: first.shard.TotalBatches, Empty: []int{}}
	var elapsed float64
	for _, s := range byIndex {
		p, err := s.partial.partial()
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%s: %w", s.in.Path, err)
		}
		if merged == nil {
			merged = p
		} else if err := merged.Merge(p); err != nil {
			return nil, 0, nil, fmt.Errorf("%s: shard %d/%d does not merge: %w", s.in.Path, s.shard.Index, n, err)
		}
		g.Sources = append(g.Sources, s.src)
		if s.shard.Empty {
			g.Empty = append(g.Empty, s.shard.Index)
			doc.Notes = append(doc.Notes, fmt.Sprintf("%s: shard %d/%d has no samples (%d batches for %d shards)", s.in.Path, s.shard.Index, n, s.shard.TotalBatches, n))
		}
		if g.LatencyFrom == nil && len(s.partial.Timings) > 0 {
			g.LatencyFrom = ptr(s.src)
		}
		elapsed += s.elapsed
	}
	ev, err := merged.Result()
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%s: %w", first.in.Path, err)
	}
	if int(merged.Samples) != g.Samples {
		return nil, 0, nil, fmt.Errorf("%s: the shards hold %d of %d samples", first.in.Path, merged.Samples, g.Samples)
	}
	ev.Elapsed = time.Duration(elapsed * float64(time.Second))
	sizes := make([]*validate.Size, len(first.models))
	for i, m := range first.models {
		sizes[i] = m.Size.validate()
	}
	ev.SetSizes(sizes)
	meta := Meta{Tool: first.tool, Data: first.data.Path, Labels: first.data.Labels}
	var res any
	if first.eval != nil {
		res = NewEval(ev, meta)
	} else {
		st := first.cmp.Settings
		ev.Threads, ev.Provider, ev.Warmup, ev.Runs = st.Threads, st.Provider, st.Warmup, st.Runs
		res = NewCompare(ev, validate.CheckGates(ev, gatesOf(first.cmp)), meta)
	}
	if raw, err = JSON(res); err != nil {
		return nil, 0, nil, fmt.Errorf("%s: %w", first.in.Path, err)
	}
	g.Result = raw
	doc.Shards = append(doc.Shards, g)
	src = g.Sources[0]
	if g.LatencyFrom != nil {
		src = *g.LatencyFrom
	}
	for _, s := range g.Sources {
		if s != src {
			also = append(also, s)
		}
	}
	latencyTable(byIndex, doc)
	from := "no shard measured latency"
	if g.LatencyFrom != nil {
		from = fmt.Sprintf("latency and p50/p99 from %s, the first shard that timed (each shard times on its own machine: see \"latency per shard\"); the speedup is the median of every shard's paired ratios", doc.Sources[*g.LatencyFrom].Path)
	}
	doc.Notes = append(doc.Notes, fmt.Sprintf("%s … %s: %d shards of %s merged over %d samples in %d batches; %s",
		byIndex[0].in.Path, byIndex[n-1].in.Path, n, first.in.Schema, g.Samples, g.Batches, from))
	return raw, src, also, nil
}

// sameRun checks that shard s belongs to the run of shard first: the same
// shard count, data (fingerprint, samples, batches) and models (hashes).
func sameRun(first, s *shardDoc) error {
	a, b := first.shard, s.shard
	where := fmt.Sprintf("shard %d/%d", b.Index, b.Count)
	if a.Count != b.Count {
		return fmt.Errorf("%s, but %s is shard %d/%d: the shards of one run share their count", where, first.in.Path, a.Index, a.Count)
	}
	if a.Fingerprint != b.Fingerprint || a.TotalSamples != b.TotalSamples || a.TotalBatches != b.TotalBatches || a.BatchSize != b.BatchSize {
		return fmt.Errorf("%s is of other data than %s (%d samples in %d batches of %d, %s; there %d in %d of %d, %s)", where, first.in.Path,
			b.TotalSamples, b.TotalBatches, b.BatchSize, short(b.Fingerprint), a.TotalSamples, a.TotalBatches, a.BatchSize, short(a.Fingerprint))
	}
	for i, m := range s.models {
		x, y := first.models[i].Size, m.Size
		if x == nil || y == nil || x.SHA256 == "" || x.SHA256 != y.SHA256 {
			hx, hy := "no hash", "no hash"
			if x != nil && x.SHA256 != "" {
				hx = short(x.SHA256)
			}
			if y != nil && y.SHA256 != "" {
				hy = short(y.SHA256)
			}
			return fmt.Errorf("%s measured another %s than %s (%s; there %s)", where, m.Path, first.in.Path, hy, hx)
		}
	}
	return nil
}

// short abbreviates a "sha256:…" hash for messages.
func short(h string) string {
	if h == "" {
		return "no fingerprint"
	}
	if len(h) > 19 {
		return h[:19] + "…"
	}
	return h
}

// gatesOf recovers a comparison's gates (each is listed once per
// candidate, in the order given).
func gatesOf(d *Compare) []validate.Gate {
	var out []validate.Gate
	for _, g := range d.Gates {
		if g.CandidateIndex == 0 {
			out = append(out, validate.Gate{Kind: validate.GateKind(g.Gate), Limit: g.Limit})
		}
	}
	return out
}

// validate is the size as validate has it (nil for nil).
func (s *Size) validate() *validate.Size {
	if s == nil {
		return nil
	}
	return &validate.Size{FileBytes: s.FileBytes, ExternalBytes: s.ExternalBytes, TotalBytes: s.TotalBytes, GzipBytes: s.GzipBytes,
		Parameters: s.Parameters, NonZero: s.NonZero, ByDType: s.ByDType, SHA256: s.SHA256}
}

var shardLatencyColumns = []Column{
	{"shard", ""}, {"file", ""}, {"samples", ""}, {"model", ""}, {"batch", ""}, {"threads", ""},
	{"p50", "ms"}, {"p99", "ms"}, {"runs", ""}, {"speedup", "×"},
}

// latencyTable lists every shard's latency, each measured on its own
// machine.
func latencyTable(shards []*shardDoc, doc *Document) {
	t := Table{Kind: "shards.latency", Title: fmt.Sprintf("latency per shard (%s, %d shards; each shard timed on its own machine)", shards[0].in.Schema, len(shards)),
		Model: shards[0].models[0].Path, Source: shards[0].src, Columns: shardLatencyColumns, Rows: [][]any{}}
	for _, s := range shards {
		var speedups []*float64
		if s.cmp != nil {
			speedups = append(speedups, nil)
			for _, c := range s.cmp.Candidates {
				speedups = append(speedups, c.Speedup)
			}
		}
		for i, m := range s.models {
			l := m.Latency
			if l == nil {
				continue
			}
			var sp any
			if i > 0 && i < len(speedups) && speedups[i] != nil {
				sp = *speedups[i]
			}
			t.Rows = append(t.Rows, []any{fmt.Sprintf("%d/%d", s.shard.Index, s.shard.Count), s.in.Path, s.shard.EndSample - s.shard.FirstSample,
				m.Name, l.BatchSize, l.Threads, l.P50Ms, l.P99Ms, l.Runs, sp})
		}
	}
	if len(t.Rows) > 0 {
		doc.Tables = append(doc.Tables, t)
	}
}
