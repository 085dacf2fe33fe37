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

// newProgress returns the progress.Reporter a verb hands to library code:
// the root of a progress tree whose events go to a sink chosen from the
// streams:
//
//   - -q: nothing;
//   - --json (IOStreams.JSON): NDJSON events on stderr, one object a line
//     ({"event":"start"|"progress"|"done"|"log", "phase": "a › b",
//     "path": ["a", "b"], …}), at the pace of the plain lines, so a
//     pipeline reading stdout gets one clean document and a CI log still
//     shows progress;
//   - stderr a terminal: a progress bar for the innermost open phase;
//   - otherwise (CI logs, redirected stderr): plain lines, in between
//     whenever another 10% is done and 2 s have passed since the last
//     line, or 30 s have passed, and at a phase's end unless it took under
//     a second and printed nothing before (so CI logs show only phases
//     that take time).
//
// With -v (IOStreams.Verbose) every phase's end is printed with its time
// (on a terminal too, below its bar), so a slow run shows where the time
// went. Nested phases are named by their path: "quantize › calibrate".
func newProgress(ios *IOStreams) progress.Reporter {
	switch {
	case ios.Quiet:
		return progress.Nop{}
	case ios.JSON:
		return progress.New(newLineSink(ios.ErrOut, true, time.Now))
	case ios.StderrTTY:
		b := newBarSink(ios.ErrOut)
		b.timings = ios.Verbose
		return progress.New(b)
	}
	l := newLineSink(ios.ErrOut, false, time.Now)
	l.timings = ios.Verbose
	return progress.New(l)
}

// Pace of the plain and NDJSON printers.
const (
	progressMinInterval = 2 * time.Second
	progressMaxInterval = 30 * time.Second
	progressQuiet       = 1 * time.Second
	progressStep        = 10 // percent
)

// lineSink prints plain lines or NDJSON events.
type lineSink struct {
	mu     sync.Mutex
	w      io.Writer
	json   bool
	now    func() time.Time
	phases map[string]*linePhase
	// timings prints every phase's end, however short (-v).
	timings bool
}

// linePhase is the pacing state of one open phase.
type linePhase struct {
	last    time.Time // last line printed (or the start)
	step    int64     // last 10% step printed
	printed bool      // a progress line of this phase was written
}

func newLineSink(w io.Writer, asJSON bool, now func() time.Time) *lineSink {
	return &lineSink{w: w, json: asJSON, now: now, phases: map[string]*linePhase{}}
}

// progressEvent is one NDJSON line.
type progressEvent struct {
	Event    string   `json:"event"`
	Phase    string   `json:"phase,omitempty"`
	Path     []string `json:"path,omitempty"`
	Done     *int64   `json:"done,omitempty"`
	Total    *int64   `json:"total,omitempty"`
	ElapsedS *float64 `json:"elapsed_s,omitempty"`
	Message  string   `json:"message,omitempty"`
	ExitCode *int     `json:"exit_code,omitempty"`
}

func (s *lineSink) Event(e progress.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	label := progress.JoinPath(e.Path)
	switch e.Kind {
	case progress.Start:
		s.phases[label] = &linePhase{last: s.now()}
		if s.json {
			ev := progressEvent{Event: "start", Phase: label, Path: e.Path}
			if e.Total > 0 {
				ev.Total = &e.Total
			}
			s.event(ev)
		}
	case progress.Progress:
		p := s.phases[label]
		if p == nil || (e.Total > 0 && e.Done >= e.Total) {
			return // the end is printed at Done
		}
		now := s.now()
		since := now.Sub(p.last)
		due := since >= progressMaxInterval
		if e.Total > 0 {
			step := e.Done * 100 / e.Total / progressStep
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
		p.last, p.printed = now, true
		if s.json {
			ev := progressEvent{Event: "progress", Phase: label, Path: e.Path, Done: &e.Done}
			if e.Total > 0 {
				ev.Total = &e.Total
			}
			s.event(ev)
			return
		}
		if e.Total > 0 {
			fmt.Fprintf(s.w, "%s: %d/%d (%d%%)\n", label, e.Done, e.Total, e.Done*100/e.Total)
		} else {
			fmt.Fprintf(s.w, "%s: %d\n", label, e.Done)
		}
	case progress.End:
		p := s.phases[label]
		delete(s.phases, label)
		el := e.Elapsed.Seconds()
		if s.json {
			s.event(progressEvent{Event: "done", Phase: label, Path: e.Path, Done: &e.Done, ElapsedS: &el})
			return
		}
		if (p == nil || !p.printed) && e.Elapsed < progressQuiet && !s.timings {
			return
		}
		fmt.Fprintln(s.w, doneLine(label, e))
	case progress.Note:
		if s.json {
			s.event(progressEvent{Event: "log", Phase: label, Path: e.Path, Message: e.Message})
			return
		}
		fmt.Fprintln(s.w, e.Message)
	}
}

// doneLine says a phase ended: "calibrate: done, 512 in 1.3s", or
// without a count for a phase that counts nothing.
func doneLine(label string, e progress.Event) string {
	el := e.Elapsed.Seconds()
	prec := 1
	if el < 0.1 {
		prec = 3
	}
	if e.Total <= 0 && e.Done == 0 {
		return fmt.Sprintf("%s: done in %.*fs", label, prec, el)
	}
	return fmt.Sprintf("%s: done, %d in %.*fs", label, e.Done, prec, el)
}

func (s *lineSink) event(e progressEvent) {
	b, _ := json.Marshal(e)
	s.w.Write(append(b, '\n'))
}

// barSink draws a progressbar/v3 bar for the innermost open phase; when a
// child phase ends, its parent's bar comes back at its count.
type barSink struct {
	mu    sync.Mutex
	w     io.Writer
	bar   *progressbar.ProgressBar
	open  []string // labels of the open phases, outermost first
	state map[string]progress.Event
	// timings prints a line with each phase's time when it ends (-v).
	timings bool
}

func newBarSink(w io.Writer) *barSink { return &barSink{w: w, state: map[string]progress.Event{}} }

func (s *barSink) Event(e progress.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	label := progress.JoinPath(e.Path)
	switch e.Kind {
	case progress.Start:
		s.leave()
		s.open = append(s.open, label)
		s.state[label] = e
		s.draw(label, e.Total, 0)
	case progress.Progress:
		s.state[label] = e
		if s.bar != nil && len(s.open) > 0 && s.open[len(s.open)-1] == label {
			_ = s.bar.Set64(e.Done)
		}
	case progress.End:
		top := len(s.open) > 0 && s.open[len(s.open)-1] == label
		for i, l := range s.open {
			if l == label {
				s.open = append(s.open[:i], s.open[i+1:]...)
				break
			}
		}
		delete(s.state, label)
		if !top {
			if s.timings {
				s.note(doneLine(label, e))
			}
			return
		}
		if s.bar != nil {
			_ = s.bar.Set64(e.Done)
			if e.Total > 0 && e.Done < e.Total {
				// Fewer items than announced (a shorter data set): the
				// bar ends at the real count, not at the announced one.
				s.bar.ChangeMax64(max(e.Done, 1))
			}
			if !s.bar.IsFinished() {
				_ = s.bar.Finish()
			}
			s.bar = nil
		}
		if s.timings {
			fmt.Fprintln(s.w, doneLine(label, e))
		}
		if n := len(s.open); n > 0 {
			p := s.state[s.open[n-1]]
			s.draw(s.open[n-1], p.Total, p.Done)
		}
	case progress.Note:
		s.note(e.Message)
	}
}

// note prints a line above the bar being drawn, if any.
func (s *barSink) note(line string) {
	if s.bar != nil && !s.bar.IsFinished() {
		_, _ = progressbar.Bprintln(s.bar, line)
		return
	}
	fmt.Fprintln(s.w, line)
}

// leave puts the current bar aside (its phase stays open) with its line
// ended, so the next bar draws below it.
func (s *barSink) leave() {
	if s.bar != nil {
		_ = s.bar.Exit() // ends the line
		s.bar = nil
	}
}

func (s *barSink) draw(label string, total, done int64) {
	max := total
	if max <= 0 {
		max = -1 // a spinner
	}
	w := s.w
	s.bar = progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	if done > 0 {
		_ = s.bar.Set64(done)
	}
}
