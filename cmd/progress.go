package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/shrinkml/shrink/internal/progress"
)

// newProgress returns the progress.Reporter a verb hands to library code,
// chosen from the streams:
//
//   - -q: nothing;
//   - --json (IOStreams.JSON): NDJSON events on stderr, one object a line
//     ({"event":"start"|"progress"|"done"|"log", …}), at the pace of the
//     plain lines, so a pipeline reading stdout gets one clean document and
//     a CI log still shows progress;
//   - stderr a terminal: a progress bar per phase;
//   - otherwise (CI logs, redirected stderr): plain lines, at a phase's
//     start and end and in between whenever another 10% is done and 2 s
//     have passed since the last line, or 30 s have passed (so a phase
//     shorter than 2 s prints two lines, a long one about ten).
//
// The reporter is safe for use from several goroutines.
func newProgress(ios *IOStreams) progress.Reporter {
	switch {
	case ios.Quiet:
		return progress.Nop{}
	case ios.JSON:
		return newLineProgress(ios.ErrOut, true, time.Now)
	case ios.StderrTTY:
		return newBarProgress(ios.ErrOut)
	}
	return newLineProgress(ios.ErrOut, false, time.Now)
}

// Pace of the plain and NDJSON printers.
const (
	progressMinInterval = 2 * time.Second
	progressMaxInterval = 30 * time.Second
	progressQuiet       = 1 * time.Second
	progressStep        = 10 // percent
)

// lineProgress prints plain lines or NDJSON events.
type lineProgress struct {
	mu    sync.Mutex
	w     io.Writer
	json  bool
	now   func() time.Time
	phase string
	total int64
	done  int64
	start time.Time
	last  time.Time // last line printed
	step  int64     // last 10% step printed
	open  bool
	// printed: a progress line of this phase was written.
	printed bool
}

func newLineProgress(w io.Writer, asJSON bool, now func() time.Time) *lineProgress {
	return &lineProgress{w: w, json: asJSON, now: now}
}

// progressEvent is one NDJSON line.
type progressEvent struct {
	Event    string   `json:"event"`
	Phase    string   `json:"phase,omitempty"`
	Done     *int64   `json:"done,omitempty"`
	Total    *int64   `json:"total,omitempty"`
	ElapsedS *float64 `json:"elapsed_s,omitempty"`
	Message  string   `json:"message,omitempty"`
}

func (p *lineProgress) Start(phase string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open {
		p.finish()
	}
	p.phase, p.total, p.done, p.open = phase, total, 0, true
	p.start = p.now()
	p.last, p.step = p.start, 0
	if p.json {
		e := progressEvent{Event: "start", Phase: phase}
		if total > 0 {
			e.Total = &p.total
		}
		p.event(e)
		return
	}
	// Plain lines: nothing at the start; a phase that ends within
	// progressQuiet leaves no line at all, so CI logs show only phases
	// that take time.
	p.printed = false
}

func (p *lineProgress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.open {
		return
	}
	p.done += n
	if p.total > 0 && p.done >= p.total {
		return // the end is printed by Done
	}
	now := p.now()
	since := now.Sub(p.last)
	due := since >= progressMaxInterval
	if p.total > 0 {
		step := p.done * 100 / p.total / progressStep
		if step > p.step && since >= progressMinInterval {
			due = true
		}
		if due {
			p.step = step
		}
	}
	if !due {
		return
	}
	p.last = now
	p.printed = true
	if p.json {
		e := progressEvent{Event: "progress", Phase: p.phase, Done: &p.done}
		if p.total > 0 {
			e.Total = &p.total
		}
		p.event(e)
		return
	}
	if p.total > 0 {
		fmt.Fprintf(p.w, "%s: %d/%d (%d%%)\n", p.phase, p.done, p.total, p.done*100/p.total)
	} else {
		fmt.Fprintf(p.w, "%s: %d\n", p.phase, p.done)
	}
}

func (p *lineProgress) Log(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		p.event(progressEvent{Event: "log", Message: msg})
		return
	}
	fmt.Fprintln(p.w, msg)
}

func (p *lineProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open {
		p.finish()
	}
}

func (p *lineProgress) finish() {
	p.open = false
	el := p.now().Sub(p.start).Seconds()
	if p.json {
		p.event(progressEvent{Event: "done", Phase: p.phase, Done: &p.done, ElapsedS: &el})
		return
	}
	if !p.printed && el < progressQuiet.Seconds() {
		return
	}
	fmt.Fprintf(p.w, "%s: done, %d in %.1fs\n", p.phase, p.done, el)
}

func (p *lineProgress) event(e progressEvent) {
	b, _ := json.Marshal(e)
	p.w.Write(append(b, '\n'))
}

// barProgress draws a progressbar/v3 bar per phase on a terminal.
type barProgress struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar
}

func newBarProgress(w io.Writer) *barProgress { return &barProgress{w: w} }

func (p *barProgress) Start(phase string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finish()
	max := total
	if max <= 0 {
		max = -1 // a spinner
	}
	w := p.w
	p.bar = progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(phase),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

func (p *barProgress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Add64(n)
	}
}

// Log prints msg on its own line above the bar (with the bar's next
// redraw, so the two never interleave).
func (p *barProgress) Log(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil && !p.bar.IsFinished() {
		_, _ = progressbar.Bprintln(p.bar, msg)
		return
	}
	fmt.Fprintln(p.w, msg)
}

func (p *barProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finish()
}

func (p *barProgress) finish() {
	if p.bar == nil {
		return
	}
	if !p.bar.IsFinished() {
		_ = p.bar.Finish()
	}
	p.bar = nil
}
