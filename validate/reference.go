package validate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
)

// DefaultCacheBytes bounds the baseline outputs a Reference keeps in
// memory (Options.CacheBytes 0).
const DefaultCacheBytes int64 = 256 << 20

// Reference is a baseline model on a data set, for measuring candidates
// against it again and again: the accuracy-aware loops of the transforms
// (quantize returning nodes to float, prune choosing a ratio) evaluate many
// candidates against one float model. The baseline's outputs on every batch
// are computed on the first pass and kept while they fit in
// Options.CacheBytes; past that its session stays open and runs again on
// each pass. Every figure is the one Run gives for the same models and data
// (the same pass code), so a budget checked here with CheckGates means what
// the same gate means in `shrink compare`.
type Reference struct {
	base   Subject
	src    dataset.Source
	o      Options
	state  *subjectState
	cache  [][]*onnxio.Tensor
	cached bool
}

// NewReference opens the baseline's session. src is read from its start
// (Reset) on each Evaluate and not closed. Options.Runs and Warmup are not
// used (no latency), nor Options.Progress (each Evaluate takes its own).
func NewReference(base Subject, src dataset.Source, o Options) (*Reference, error) {
	if !o.Shard.Whole() {
		return nil, errors.New("a Reference measures the whole data set (Options.Shard is for Run)")
	}
	p, err := newPass([]Subject{base}, o, nil)
	if err != nil {
		return nil, err
	}
	return &Reference{base: base, src: src, o: o, state: p.st[0]}, nil
}

// Close releases the baseline's session and cached outputs.
func (r *Reference) Close() {
	if r.state != nil && r.state.sess != nil {
		r.state.sess.Close()
	}
	r.state, r.cache = nil, nil
}

// Cached reports whether the baseline's outputs are all in memory.
func (r *Reference) Cached() bool { return r.cached }

// Evaluate measures candidates against the baseline over the data set (up
// to Options.Limit samples): an Evaluation like Run's, Models[0] the
// baseline, without latency or size. rep receives the pass's "evaluate"
// phase (nil: none).
func (r *Reference) Evaluate(ctx context.Context, rep progress.Reporter, cands ...Subject) (*Evaluation, error) {
	start := time.Now()
	if r.state == nil {
		return nil, errors.New("reference closed")
	}
	if err := r.src.Reset(); err != nil {
		return nil, err
	}
	p, err := newPass(append([]Subject{r.base}, cands...), r.o, r.state)
	if err != nil {
		return nil, err
	}
	defer p.close()
	limit := r.o.CacheBytes
	if limit == 0 {
		limit = DefaultCacheBytes
	}
	fill := !r.cached && limit > 0
	var cache [][]*onnxio.Tensor
	var bytes int64
	base := func(bi int, b *dataset.Batch) ([]*onnxio.Tensor, error) {
		if r.cached {
			if bi >= len(r.cache) {
				return nil, fmt.Errorf("the data has more batches than on the first pass (%d)", len(r.cache))
			}
			return r.cache[bi], nil
		}
		outs, err := r.state.sess.Run(b.Inputs)
		if err != nil || !fill {
			return outs, err
		}
		for _, t := range outs {
			bytes += t.DType.RawBytes(t.Len())
		}
		if bytes <= limit {
			cache = append(cache, outs)
		} else {
			fill, cache = false, nil
		}
		return outs, nil
	}
	ev, _, err := p.run(ctx, r.src, base, progress.Or(rep))
	if err != nil {
		return nil, err
	}
	if fill {
		r.cache, r.cached = cache, true
		r.state.sess.Close()
		r.state.sess = nil
	}
	ev.Elapsed = time.Since(start)
	return ev, r.src.Reset()
}
