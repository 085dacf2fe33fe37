package validate

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
)

// Latency is the timing of one model on one batch.
type Latency struct {
	BatchSize int
	Threads   int // intra-op threads asked of ONNX Runtime (0: its default)
	Warmup    int
	Runs      int
	// Per-run wall times in milliseconds.
	MeanMs, MinMs, MaxMs, P50Ms, P90Ms, P99Ms float64
	// Throughput is samples per second: BatchSize × Runs / Σ run times.
	Throughput float64
}

// TimingOptions says how long TimeSessions and TimeModels time.
type TimingOptions struct {
	// Warmup untimed rounds, then Runs timed ones. With Runs 0 the count
	// is sized to Budget: two untimed rounds measure one round, then as
	// many rounds as fit in about Budget are timed (at least 7, at most
	// 301) after Warmup rounds (0: 3).
	Warmup, Runs int
	Budget       time.Duration
	// Threads and Provider configure the sessions TimeModels opens.
	Threads  int
	Provider string
	// Progress receives the "latency" phase (nil: none).
	Progress progress.Reporter
}

// Timing is an interleaved measurement of several models on the same
// inputs.
type Timing struct {
	// Times[i][r] is model i's time in timed round r.
	Times        [][]time.Duration
	Warmup, Runs int
}

// MedianMs is model i's median time in milliseconds.
func (t *Timing) MedianMs(i int) float64 {
	ms := make([]float64, len(t.Times[i]))
	for j, d := range t.Times[i] {
		ms[j] = float64(d) / float64(time.Millisecond)
	}
	slices.Sort(ms)
	return quantile(ms, 0.5)
}

// Speedup is model i's paired speedup over model 0 (MedianRatio).
func (t *Timing) Speedup(i int) float64 { return MedianRatio(t.Times[0], t.Times[i]) }

// TimeModels opens a session per model (with spinning off, see ort.Options)
// and times them on the same inputs (TimeSessions).
func TimeModels(ctx context.Context, models []*onnxio.Model, inputs map[string]*onnxio.Tensor, o TimingOptions) (*Timing, error) {
	sessions := make([]*ort.Session, 0, len(models))
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	for i, m := range models {
		s, err := ort.NewSession(m, ort.Options{IntraOpThreads: o.Threads, Provider: o.Provider})
		if err != nil {
			return nil, fmt.Errorf("model %d: %w", i, err)
		}
		sessions = append(sessions, s)
	}
	return TimeSessions(ctx, sessions, inputs, o)
}

// TimeSessions times sessions on the same inputs, bound once, interleaved
// and paired (Interleaved): the one way shrink times models against each
// other.
func TimeSessions(ctx context.Context, sessions []*ort.Session, inputs map[string]*onnxio.Tensor, o TimingOptions) (*Timing, error) {
	if err := checkTiming(o.Warmup, o.Runs); err != nil {
		return nil, err
	}
	runners := make([]func() error, len(sessions))
	for i, s := range sessions {
		b, err := s.Bind(inputs)
		if err != nil {
			return nil, err
		}
		defer b.Close()
		runners[i] = b.RunDiscard
	}
	t := &Timing{Warmup: o.Warmup, Runs: o.Runs}
	if t.Runs == 0 {
		// Two untimed rounds (the first one allocates) size the count.
		var per time.Duration
		for round := 0; round < 2; round++ {
			start := time.Now()
			for _, r := range runners {
				if err := r(); err != nil {
					return nil, err
				}
			}
			per = time.Since(start)
		}
		t.Runs = max(7, min(int(o.Budget/max(per, time.Microsecond)), 301))
		if t.Warmup == 0 {
			t.Warmup = 3
		}
	}
	times, err := Interleaved(ctx, runners, t.Warmup, t.Runs, o.Progress)
	if err != nil {
		return nil, err
	}
	t.Times = times
	return t, nil
}

// Interleaved times several runners against each other. Each round runs
// every runner once; the order alternates from round to round (0 1 2, 2 1
// 0, 0 1 2 …) so that no runner always follows the same neighbour (cache
// and thread wake-up effects fall on each in turn). Warm-up rounds use the
// same order and are not recorded. It returns times[runner][round].
func Interleaved(ctx context.Context, runners []func() error, warmup, runs int, rep progress.Reporter) ([][]time.Duration, error) {
	return interleaved(ctx, runners, warmup, runs, time.Now, progress.Or(rep))
}

func interleaved(ctx context.Context, runners []func() error, warmup, runs int, now func() time.Time, rep progress.Reporter) ([][]time.Duration, error) {
	m := len(runners)
	times := make([][]time.Duration, m)
	for i := range times {
		times[i] = make([]time.Duration, 0, runs)
	}
	ph := rep.Phase("latency", int64((warmup+runs)*m))
	defer ph.Done()
	order := make([]int, m)
	for round := 0; round < warmup+runs; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i := range order {
			if round%2 == 0 {
				order[i] = i
			} else {
				order[i] = m - 1 - i
			}
		}
		for _, i := range order {
			t0 := now()
			err := runners[i]()
			d := now().Sub(t0)
			if err != nil {
				return nil, err
			}
			if round >= warmup {
				times[i] = append(times[i], d)
			}
		}
		ph.Add(int64(m))
	}
	return times, nil
}

// MedianRatio is the speedup of cand over base from interleaved run times
// (Interleaved): the median over pairs of rounds of the paired ratio
// (base[i] + base[i+1]) / (cand[i] + cand[i+1]), i even. Pairing the runs
// of the same moment cancels a slow spell of the machine that hits both
// sides alike; taking rounds two by two (A B then B A) gives each side
// each position once, so "runs second" cannot bias a pair; the median
// ignores the outliers a shared machine produces. With one round, the
// ratio of that round; an odd last round is left out.
func MedianRatio(base, cand []time.Duration) float64 {
	return medianOf(pairedRatios(base, cand))
}

// pairedRatios are MedianRatio's ratios: one per pair of rounds (one for
// a single round; none without rounds).
func pairedRatios(base, cand []time.Duration) []float64 {
	n := min(len(base), len(cand))
	ratio := func(b, c time.Duration) float64 {
		if c <= 0 {
			return math.Inf(1)
		}
		return float64(b) / float64(c)
	}
	if n == 1 {
		return []float64{ratio(base[0], cand[0])}
	}
	r := make([]float64, 0, n/2)
	for i := 0; i+1 < n; i += 2 {
		r = append(r, ratio(base[i]+base[i+1], cand[i]+cand[i+1]))
	}
	return r
}

// medianOf is the median of r (NaN when empty); r is sorted in place.
func medianOf(r []float64) float64 {
	slices.Sort(r)
	return quantile(r, 0.5)
}

// quantile of sorted values by linear interpolation between closest ranks
// (the "type 7" estimator of R and NumPy's default).
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := q * float64(n-1)
	lo := int(math.Floor(h))
	hi := min(lo+1, n-1)
	return sorted[lo] + (h-float64(lo))*(sorted[hi]-sorted[lo])
}

// Summarize turns run times into a Latency.
func Summarize(times []time.Duration, batch, threads, warmup int) Latency {
	l := Latency{BatchSize: batch, Threads: threads, Warmup: warmup, Runs: len(times)}
	if len(times) == 0 {
		nan := math.NaN()
		l.MeanMs, l.MinMs, l.MaxMs, l.P50Ms, l.P90Ms, l.P99Ms, l.Throughput = nan, nan, nan, nan, nan, nan, nan
		return l
	}
	ms := make([]float64, len(times))
	var total time.Duration
	for i, d := range times {
		ms[i] = float64(d) / float64(time.Millisecond)
		total += d
	}
	slices.Sort(ms)
	l.MinMs, l.MaxMs = ms[0], ms[len(ms)-1]
	l.MeanMs = float64(total) / float64(time.Millisecond) / float64(len(times))
	l.P50Ms, l.P90Ms, l.P99Ms = quantile(ms, 0.5), quantile(ms, 0.9), quantile(ms, 0.99)
	if total > 0 {
		l.Throughput = float64(batch) * float64(len(times)) / total.Seconds()
	} else {
		l.Throughput = math.Inf(1)
	}
	return l
}

func checkTiming(warmup, runs int) error {
	if warmup < 0 || runs < 0 {
		return fmt.Errorf("warm-up and timed runs must be >= 0 (got %d, %d)", warmup, runs)
	}
	return nil
}
