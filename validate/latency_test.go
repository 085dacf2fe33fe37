package validate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shrinkml/shrink/internal/progress"
)

// fakeClock advances only when a runner "works".
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestInterleavedOrderAndPairs(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	var log []string
	// Runner i takes base[i] plus a per-round disturbance shared by the
	// models of a round (a busy machine slows everyone in that moment).
	base := []time.Duration{10 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond}
	round := 0
	runners := make([]func() error, len(base))
	for i := range base {
		runners[i] = func() error {
			log = append(log, fmt.Sprint(i))
			slow := time.Duration(1 + round%3) // 1, 2, 3, 1, 2, 3 …
			clk.t = clk.t.Add(base[i] * slow)
			return nil
		}
	}
	rec := &progress.Recorder{}
	rep := progress.New(rec)
	wrapped := make([]func() error, len(runners))
	for i, r := range runners {
		wrapped[i] = func() error {
			err := r()
			if i == lastOf(round, len(runners)) {
				round++
			}
			return err
		}
	}
	times, err := interleaved(context.Background(), wrapped, 2, 5, clk.now, rep)
	if err != nil {
		t.Fatal(err)
	}
	want := "012 210 012 210 012 210 012"
	var got []string
	for i := 0; i < len(log); i += 3 {
		got = append(got, strings.Join(log[i:i+3], ""))
	}
	if g := strings.Join(got, " "); g != want {
		t.Errorf("order %q, want %q", g, want)
	}
	for i := range times {
		if len(times[i]) != 5 {
			t.Fatalf("runner %d: %d timed runs, want 5 (warm-up excluded)", i, len(times[i]))
		}
	}
	// Timed rounds are rounds 2..6: slow factors 3,1,2,3,1.
	if times[0][0] != 30*time.Millisecond || times[0][1] != 10*time.Millisecond {
		t.Errorf("runner 0 times %v", times[0])
	}
	// Paired ratios cancel the per-round disturbance exactly.
	if r := MedianRatio(times[0], times[1]); r != 2 {
		t.Errorf("speedup of runner 1 = %g, want 2", r)
	}
	if r := MedianRatio(times[0], times[2]); r != 0.5 {
		t.Errorf("speedup of runner 2 = %g, want 0.5", r)
	}
	if e, ok := rec.Ended("latency"); !ok || e.Done != 21 || e.Total != 21 {
		t.Errorf("progress: %+v", rec.Events)
	}
}

// lastOf is the index of the runner that closes a round.
func lastOf(round, m int) int {
	if round%2 == 0 {
		return m - 1
	}
	return 0
}

func TestInterleavedStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	r := func() error {
		calls++
		if calls == 3 {
			cancel()
		}
		return nil
	}
	_, err := Interleaved(ctx, []func() error{r}, 0, 100, nil)
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Errorf("err %v after %d calls", err, calls)
	}
	boom := errors.New("boom")
	_, err = Interleaved(context.Background(), []func() error{func() error { return boom }}, 0, 3, nil)
	if !errors.Is(err, boom) {
		t.Errorf("runner error lost: %v", err)
	}
}

func TestMedianRatio(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	// Pairs of rounds: (2+5)/(1+6)=1, (8+9)/(2+3)=3.4, (6+6)/(3+1)=3 →
	// median 3; the odd last round (100 vs 1) is left out. A per-round
	// median would be 2 (ratios 2, 5/6, 4, 3, 2, 6).
	if r := MedianRatio(ms(2, 5, 8, 9, 6, 6, 100), ms(1, 6, 2, 3, 3, 1, 1)); r != 3 {
		t.Errorf("median ratio %g, want 3", r)
	}
	if r := MedianRatio(ms(6), ms(3)); r != 2 {
		t.Errorf("one round: %g, want 2", r)
	}
	// A position effect (the second run of a round is 20% faster) cancels
	// in pairs of rounds: identical models give exactly 1.
	a, b := ms(), ms()
	for i := 0; i < 10; i++ {
		if i%2 == 0 { // A first
			a, b = append(a, 12*time.Millisecond), append(b, 10*time.Millisecond)
		} else {
			a, b = append(a, 10*time.Millisecond), append(b, 12*time.Millisecond)
		}
	}
	if r := MedianRatio(a, b); r != 1 {
		t.Errorf("position effect: %g, want 1", r)
	}
	if r := MedianRatio(nil, nil); !math.IsNaN(r) {
		t.Errorf("empty: %g", r)
	}
}

func TestSummarize(t *testing.T) {
	var times []time.Duration
	for i := 1; i <= 100; i++ {
		times = append(times, time.Duration(i)*time.Millisecond)
	}
	l := Summarize(times, 8, 2, 5)
	// Type-7 quantiles of 1..100: p50 50.5, p90 90.1, p99 99.01.
	if !near(l.P50Ms, 50.5, 1e-12) || !near(l.P90Ms, 90.1, 1e-12) || !near(l.P99Ms, 99.01, 1e-12) {
		t.Errorf("quantiles %g %g %g", l.P50Ms, l.P90Ms, l.P99Ms)
	}
	if l.MinMs != 1 || l.MaxMs != 100 || !near(l.MeanMs, 50.5, 1e-12) {
		t.Errorf("min %g max %g mean %g", l.MinMs, l.MaxMs, l.MeanMs)
	}
	// 8 samples × 100 runs in 5.05 s.
	if !near(l.Throughput, 800/5.05, 1e-12) {
		t.Errorf("throughput %g", l.Throughput)
	}
	if l.BatchSize != 8 || l.Threads != 2 || l.Warmup != 5 || l.Runs != 100 {
		t.Errorf("settings %+v", l)
	}
}
