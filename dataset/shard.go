package dataset

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Shard is one of Count parts of a data set: shard Index of Count,
// 0 ≤ Index < Count. The zero value (Count 0) means the whole data set.
//
// The unit of a shard is the batch: of the K batches the whole data set is
// read in (⌈S/B⌉ batches of B samples, the last one partial, after
// Options.Limit; one batch per test_data_set folder), shard i of N reads
// batches ⌊i·K/N⌋ ≤ k < ⌊(i+1)·K/N⌋, contiguous and in order. Every shard
// therefore feeds the model exactly the batches the unsharded run feeds it
// (the same samples together, the same partial last batch, whole batches
// of a fixed-batch model), so per-sample results are those of the
// unsharded run and the shards' counts add up to its counts exactly. A
// shard gets no batch when N > K (its range is empty).
type Shard struct{ Index, Count int }

// ParseShard reads "i/N" (shard i of N, 0 ≤ i < N, N ≥ 1). Its errors name
// the valid range.
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want i/N, shard i of N shards (0 ≤ i < N, N ≥ 1), e.g. 0/4", s)
	}
	sh := Shard{Index: i, Count: n}
	if n < 1 {
		return Shard{}, fmt.Errorf("shard %d/%d: the shard count must be >= 1", i, n)
	}
	return sh, sh.Check()
}

// Check reports a shard outside its range (a zero Shard is the whole data
// set and passes).
func (s Shard) Check() error {
	if s == (Shard{}) {
		return nil
	}
	if s.Count < 1 {
		return fmt.Errorf("shard %d/%d: the shard count must be >= 1", s.Index, s.Count)
	}
	if s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard %d/%d: the index must be in [0, %d) (0 ≤ i < N)", s.Index, s.Count, s.Count)
	}
	return nil
}

// Whole reports whether s is the whole data set (no sharding).
func (s Shard) Whole() bool { return s.Count == 0 }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Batches returns the shard's batches [lo, hi) of k: ⌊i·k/N⌋ and
// ⌊(i+1)·k/N⌋ (all k for a zero Shard).
func (s Shard) Batches(k int) (lo, hi int) {
	if s.Count == 0 {
		return 0, k
	}
	return int(int64(s.Index) * int64(k) / int64(s.Count)), int(int64(s.Index+1) * int64(k) / int64(s.Count))
}

// Range is the part of a data set one shard reads: batches [FirstBatch,
// EndBatch) of TotalBatches, samples [FirstSample, EndSample) of
// TotalSamples. BatchSize is the size of the data set's first batch (the
// batch size every shard of it is read with).
type Range struct {
	Shard                      Shard
	FirstBatch, EndBatch       int
	FirstSample, EndSample     int
	TotalBatches, TotalSamples int
	BatchSize                  int
}

// Samples is the number of samples in the range.
func (r Range) Samples() int { return r.EndSample - r.FirstSample }

// Empty reports whether the shard has no samples.
func (r Range) Empty() bool { return r.EndSample == r.FirstSample }

// layout is what this package's sources know before reading: how many
// batches they yield, where each starts, and how to start at one.
type layout interface {
	numBatches() int
	// batchStart is the first sample of batch k (the total for k =
	// numBatches()).
	batchStart(k int) int
	// seekBatch makes the next batch read batch k.
	seekBatch(k int) error
}

// ShardOf restricts src to shard s: the returned Source reads the shard's
// batches only, from its first (Reset returns there), and keeps each
// batch's Index the sample's position in the whole data set (task metrics
// find their references by it). Closing it closes src. src must be one of
// this package's sources (Open, Batches), read from its start.
func ShardOf(src Source, s Shard) (Source, Range, error) {
	if err := s.Check(); err != nil {
		return nil, Range{}, err
	}
	l, ok := layoutOf(src)
	if !ok {
		return nil, Range{}, fmt.Errorf("shard %s: this data source (%T) cannot be sharded", s, src)
	}
	k := l.numBatches()
	lo, hi := s.Batches(k)
	r := Range{Shard: s, FirstBatch: lo, EndBatch: hi, TotalBatches: k,
		FirstSample: l.batchStart(lo), EndSample: l.batchStart(hi), TotalSamples: l.batchStart(k)}
	if k > 0 {
		r.BatchSize = l.batchStart(1)
	}
	sh := &sharded{src: src, l: l, r: r}
	if err := sh.Reset(); err != nil {
		return nil, Range{}, err
	}
	return sh, r, nil
}

// sharded is a Source over one shard of another.
type sharded struct {
	src  Source
	l    layout
	r    Range
	read int // batches read since the first
}

func (s *sharded) Next(ctx context.Context) (*Batch, error) {
	if s.r.FirstBatch+s.read >= s.r.EndBatch {
		return nil, io.EOF
	}
	b, err := s.src.Next(ctx)
	if err == io.EOF {
		return nil, fmt.Errorf("shard %s: the data ended at batch %d of %d (the file changed since it was opened?)", s.r.Shard, s.r.FirstBatch+s.read, s.r.EndBatch)
	}
	if err != nil {
		return nil, err
	}
	s.read++
	return b, nil
}

func (s *sharded) Len() int { return s.r.Samples() }

func (s *sharded) Reset() error {
	s.read = 0
	if err := s.src.Reset(); err != nil {
		return err
	}
	return s.l.seekBatch(s.r.FirstBatch)
}

func (s *sharded) Close() error { return s.src.Close() }

// Classes passes on the class names of an image folder.
func (s *sharded) Classes() []string {
	if c, ok := s.src.(Classer); ok {
		return c.Classes()
	}
	return nil
}

// The layouts of the package's sources.

func (s *rowSource) numBatches() int { return (s.total + s.plan.size - 1) / s.plan.size }

func (s *rowSource) batchStart(k int) int { return min(k*s.plan.size, s.total) }

func (s *rowSource) seekBatch(k int) error {
	if s.closed {
		return fmt.Errorf("%s: data set is closed", s.path)
	}
	s.pos = s.batchStart(k)
	return nil
}

func (s *pbSource) numBatches() int { return len(s.sets) }

func (s *pbSource) batchStart(k int) int {
	n := 0
	for _, set := range s.sets[:k] {
		n += set.n
	}
	return n
}

func (s *pbSource) seekBatch(k int) error {
	if s.closed {
		return fmt.Errorf("%s: data set is closed", s.path)
	}
	s.next, s.pos = k, s.batchStart(k)
	return nil
}

func (m *memory) numBatches() int { return len(m.batches) }

func (m *memory) batchStart(k int) int {
	n := 0
	for _, b := range m.batches[:k] {
		n += b.N
	}
	return n
}

func (m *memory) seekBatch(k int) error { m.i = k; return nil }

// layoutOf is src's layout; a finiteSource checks the batches its source
// reads, so seeking that source is seeking it.
func layoutOf(src Source) (layout, bool) {
	if f, ok := src.(*finiteSource); ok {
		src = f.Source
	}
	l, ok := src.(layout)
	return l, ok
}
