package cmd

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shrinkml/shrink/internal/progress"
)

type stepClock struct{ t time.Time }

func (c *stepClock) now() time.Time { return c.t }

// phaseSeq drives a progress tree the way the old single-phase reporter
// was driven in these tests: Start ends the previous phase.
type phaseSeq struct {
	root progress.Reporter
	cur  progress.Phase
}

func newSeq(s progress.Sink, now func() time.Time) *phaseSeq {
	return &phaseSeq{root: progress.NewWithClock(s, now)}
}

func (q *phaseSeq) Start(name string, total int64) {
	q.Done()
	q.cur = q.root.Phase(name, total)
}
func (q *phaseSeq) Add(n int64) { q.cur.Add(n) }
func (q *phaseSeq) Log(m string) {
	if q.cur != nil {
		q.cur.Log(m)
		return
	}
	q.root.Log(m)
}
func (q *phaseSeq) Done() {
	if q.cur != nil {
		q.cur.Done()
		q.cur = nil
	}
}

func TestPlainProgressLines(t *testing.T) {
	var b bytes.Buffer
	clk := &stepClock{t: time.Unix(100, 0)}
	p := newSeq(newLineSink(&b, false, clk.now), clk.now)
	p.Start("evaluate", 1000)
	// 100 steps of 10 samples, 300 ms apart: a line per 10% (3 s).
	for i := 0; i < 100; i++ {
		clk.t = clk.t.Add(300 * time.Millisecond)
		p.Add(10)
	}
	p.Log("note: something")
	p.Done()
	want := []string{}
	for pct := 10; pct < 100; pct += 10 {
		want = append(want, "evaluate: "+strconv.Itoa(pct*10)+"/1000 ("+strconv.Itoa(pct)+"%)")
	}
	want = append(want, "note: something", "evaluate: done, 1000 in 30.0s")
	if got := strings.TrimSuffix(b.String(), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	if strings.Contains(b.String(), "\r") || strings.Contains(b.String(), "\x1b") {
		t.Error("plain output has terminal control characters")
	}

	// The same steps 10 ms apart: a phase under 2 s prints its end only,
	// and one under 1 s nothing at all.
	b.Reset()
	p.Start("fast", 1000)
	for i := 0; i < 100; i++ {
		clk.t = clk.t.Add(10 * time.Millisecond)
		p.Add(10)
	}
	p.Done()
	if want := "fast: done, 1000 in 1.0s\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	p.Start("instant", 10)
	clk.t = clk.t.Add(100 * time.Millisecond)
	p.Add(10)
	p.Done()
	if b.String() != "" {
		t.Errorf("a 0.1 s phase printed %q", b.String())
	}
}

func TestPlainProgressSlowPhases(t *testing.T) {
	var b bytes.Buffer
	clk := &stepClock{t: time.Unix(0, 0)}
	p := newSeq(newLineSink(&b, false, clk.now), clk.now)
	p.Start("latency", 0) // unknown total: a line every 30 s
	for i := 0; i < 10; i++ {
		clk.t = clk.t.Add(10 * time.Second)
		p.Add(1)
	}
	p.Done()
	want := "latency: 3\nlatency: 6\nlatency: 9\nlatency: done, 10 in 100.0s\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	// A known total that crawls still prints every 30 s within a 10% step.
	b.Reset()
	p.Start("size", 1000)
	clk.t = clk.t.Add(31 * time.Second)
	p.Add(1)
	p.Start("next", 5) // starting a phase ends the previous one
	want = "size: 1/1000 (0%)\nsize: done, 1 in 31.0s\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestNDJSONProgress(t *testing.T) {
	var b bytes.Buffer
	clk := &stepClock{t: time.Unix(0, 0)}
	p := newSeq(newLineSink(&b, true, clk.now), clk.now)
	p.Start("evaluate", 100)
	for i := 0; i < 4; i++ {
		clk.t = clk.t.Add(3 * time.Second)
		p.Add(25)
	}
	p.Log("hello")
	p.Done()
	var events []progressEvent
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var e progressEvent
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		events = append(events, e)
	}
	kinds := []string{}
	for _, e := range events {
		kinds = append(kinds, e.Event)
	}
	if got := strings.Join(kinds, ","); got != "start,progress,progress,progress,log,done" {
		t.Fatalf("events %s:\n%s", got, b.String())
	}
	if *events[0].Total != 100 || *events[1].Done != 25 || *events[3].Done != 75 || events[4].Message != "hello" || *events[5].Done != 100 || *events[5].ElapsedS != 12 {
		t.Errorf("events:\n%s", b.String())
	}
}

func TestBarProgressOnTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newSeq(newBarSink(&b), time.Now)
	p.Start("evaluate", 50)
	for i := 0; i < 5; i++ {
		p.Add(10)
	}
	p.Log("a warning")
	p.Done()
	p.Start("spin", 0) // unknown total: a spinner
	p.Add(3)
	p.Done()
	out := b.String()
	for _, want := range []string{"evaluate", "100%", "(50/50", "a warning\n", "spin"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q: %q", want, out)
		}
	}
	if !strings.Contains(out, "\r") {
		t.Errorf("a bar redraws its line with \\r: %q", out)
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("a finished bar ends its line: %q", out)
	}
}

func TestNewProgressChoosesByStreams(t *testing.T) {
	var b bytes.Buffer
	cases := []struct {
		ios  IOStreams
		want string
	}{
		{IOStreams{ErrOut: &b, Quiet: true, StderrTTY: true}, ""},
		{IOStreams{ErrOut: &b, JSON: true, StderrTTY: true}, `{"event":"start","phase":"x","path":["x"],"total":10}`},
		{IOStreams{ErrOut: &b, StderrTTY: true}, "\r"},
		{IOStreams{ErrOut: &b}, "x: done, 10 in"},
	}
	for _, c := range cases {
		b.Reset()
		r := newProgress(&c.ios)
		p := r.Phase("x", 10)
		p.Add(10)
		time.Sleep(progressQuiet + 50*time.Millisecond) // so the plain printer prints the end
		p.Done()
		if c.want == "" {
			if b.Len() != 0 {
				t.Errorf("-q printed %q", b.String())
			}
			continue
		}
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("%+v: printed %q, want it to contain %q", c.ios, b.String(), c.want)
		}
	}
}

// Nested phases print with their path, and a phase without items says
// when it ended without a count of 0.
func TestNestedPhasesPlain(t *testing.T) {
	var b bytes.Buffer
	clk := &stepClock{t: time.Unix(0, 0)}
	root := progress.NewWithClock(newLineSink(&b, false, clk.now), clk.now)
	step := root.Phase("quantize", 0)
	cal := step.Phase("calibrate", 100)
	for i := 0; i < 4; i++ {
		clk.t = clk.t.Add(3 * time.Second)
		cal.Add(25)
	}
	cal.Done()
	prof := step.Phase("profiling", 0)
	clk.t = clk.t.Add(2 * time.Second)
	prof.Done()
	step.Done()
	want := "quantize › calibrate: 25/100 (25%)\nquantize › calibrate: 50/100 (50%)\nquantize › calibrate: 75/100 (75%)\n" +
		"quantize › calibrate: done, 100 in 12.0s\nquantize › profiling: done in 2.0s\nquantize: done in 14.0s\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// The bar follows the innermost phase and comes back to the parent's.
func TestNestedPhasesBar(t *testing.T) {
	var b bytes.Buffer
	root := progress.New(newBarSink(&b))
	outer := root.Phase("recipe", 3)
	outer.Add(1)
	inner := outer.Phase("evaluate", 8)
	inner.Add(8)
	inner.Done()
	outer.Add(2)
	outer.Done()
	out := b.String()
	for _, want := range []string{"recipe", "recipe › evaluate", "(8/8", "(3/3"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q: %q", want, out)
		}
	}
	// A phase that ends short of its total ends at its real count.
	b.Reset()
	p := root.Phase("calibrate", 256)
	p.Add(8)
	p.Done()
	if strings.Contains(b.String(), "256/256") || !strings.Contains(b.String(), "(8/8") {
		t.Errorf("short phase drawn as %q", b.String())
	}
}

// -v prints every phase's end with its time, however short; without it a
// quick phase prints nothing.
func TestVerbosePrintsEveryPhaseTime(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		var b bytes.Buffer
		clk := &stepClock{t: time.Unix(100, 0)}
		s := newLineSink(&b, false, clk.now)
		s.timings = verbose
		p := newSeq(s, clk.now)
		p.Start("profiling", 0)
		clk.t = clk.t.Add(40 * time.Millisecond)
		p.Start("evaluate", 10)
		p.Add(10)
		clk.t = clk.t.Add(300 * time.Millisecond)
		p.Done()
		got := b.String()
		if verbose && got != "profiling: done in 0.040s\nevaluate: done, 10 in 0.3s\n" || !verbose && got != "" {
			t.Errorf("verbose %v: %q", verbose, got)
		}
	}
	var b bytes.Buffer
	ios := &IOStreams{ErrOut: &b, StderrTTY: true, Verbose: true}
	r := newProgress(ios)
	ph := r.Phase("calibrate", 4)
	ph.Add(4)
	ph.Done()
	if !strings.Contains(b.String(), "calibrate: done, 4 in") {
		t.Errorf("bar with -v: %q", b.String())
	}
}
