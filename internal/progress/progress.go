// Package progress is how library packages report progress. They never
// print: a library starts phases on the Reporter it was given, counts items
// in them and logs notes; phases nest, so a recipe step, the transform it
// runs and the measurements that transform makes form one tree (recipe ›
// quantize › calibrate). The tree turns into flat events (start, progress,
// done, log), each with the full path of its phase, for a Sink: the cmd
// package's sinks draw a bar on a terminal, plain periodic lines otherwise,
// NDJSON with --json, and nothing with -q.
package progress

import (
	"slices"
	"sync"
	"time"
)

// Reporter is a scope of the progress tree: phases started on it are its
// children.
type Reporter interface {
	// Phase starts a child phase of total items (total <= 0: unknown) and
	// returns it; the caller ends it with Done.
	Phase(name string, total int64) Phase
	// Log records a one-line note (a warning, a decision) in this scope.
	Log(msg string)
}

// Phase is a running phase: a counter, and the scope of its own children.
type Phase interface {
	Reporter
	// Add advances the phase by n items.
	Add(n int64)
	// Done ends the phase (and any child still open). Calling it again
	// does nothing.
	Done()
}

// Kind is the kind of an Event.
type Kind string

// The event kinds.
const (
	Start    Kind = "start"
	Progress Kind = "progress"
	End      Kind = "done"
	Note     Kind = "log"
)

// Event is one flat progress event.
type Event struct {
	Kind Kind
	// Path names the phase from the outermost scope to the phase itself;
	// for a log, the scope it was logged in (empty at the root).
	Path []string
	// Total is the phase's item count (<= 0: unknown); Done the items
	// counted so far (Progress, End).
	Total, Done int64
	// Elapsed is the phase's wall time (End).
	Elapsed time.Duration
	// Message is a log's text.
	Message string
}

// Sink receives the events of a tree. The tree calls it from one goroutine
// at a time.
type Sink interface {
	Event(e Event)
}

// New returns the root scope of a tree whose events go to s. It is safe
// for use from several goroutines.
func New(s Sink) Reporter {
	return &node{t: &tree{sink: s, now: time.Now}}
}

// NewWithClock is New with a clock, for tests of time-dependent sinks.
func NewWithClock(s Sink, now func() time.Time) Reporter {
	return &node{t: &tree{sink: s, now: now}}
}

type tree struct {
	mu   sync.Mutex
	sink Sink
	now  func() time.Time
}

// node is a scope: the root (path nil) or a phase.
type node struct {
	t        *tree
	path     []string
	total    int64
	done     int64
	start    time.Time
	ended    bool
	children []*node
}

func (n *node) Phase(name string, total int64) Phase {
	n.t.mu.Lock()
	defer n.t.mu.Unlock()
	c := &node{t: n.t, path: append(slices.Clip(n.path), name), total: total, start: n.t.now()}
	if !n.ended {
		n.children = append(n.children, c)
	}
	n.t.sink.Event(Event{Kind: Start, Path: c.path, Total: total})
	return c
}

func (n *node) Log(msg string) {
	n.t.mu.Lock()
	defer n.t.mu.Unlock()
	n.t.sink.Event(Event{Kind: Note, Path: n.path, Message: msg})
}

func (n *node) Add(d int64) {
	n.t.mu.Lock()
	defer n.t.mu.Unlock()
	if n.ended || n.path == nil {
		return
	}
	n.done += d
	n.t.sink.Event(Event{Kind: Progress, Path: n.path, Total: n.total, Done: n.done})
}

func (n *node) Done() {
	n.t.mu.Lock()
	defer n.t.mu.Unlock()
	n.end()
}

// end closes n's open children, innermost first, then n.
func (n *node) end() {
	if n.ended || n.path == nil {
		return
	}
	for _, c := range n.children {
		c.end()
	}
	n.children = nil
	n.ended = true
	n.t.sink.Event(Event{Kind: End, Path: n.path, Total: n.total, Done: n.done, Elapsed: n.t.now().Sub(n.start)})
}

// Nop discards everything.
type Nop struct{}

func (Nop) Phase(string, int64) Phase { return Nop{} }
func (Nop) Log(string)                {}
func (Nop) Add(int64)                 {}
func (Nop) Done()                     {}

// Or returns r, or Nop when r is nil.
func Or(r Reporter) Reporter {
	if r == nil {
		return Nop{}
	}
	return r
}

// Recorder is a Sink that keeps every event, for tests and for reports
// that list the phases a run went through.
type Recorder struct {
	mu     sync.Mutex
	Events []Event
}

// Event records e.
func (r *Recorder) Event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.Path = slices.Clone(e.Path)
	r.Events = append(r.Events, e)
}

// Phases returns, in start order, the path of every phase started, each
// joined with " › ".
func (r *Recorder) Phases() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.Events {
		if e.Kind == Start {
			out = append(out, JoinPath(e.Path))
		}
	}
	return out
}

// Ended returns the End event of the phase at path (joined with " › "),
// and whether there was one.
func (r *Recorder) Ended(path string) (Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.Events {
		if e.Kind == End && JoinPath(e.Path) == path {
			return e, true
		}
	}
	return Event{}, false
}

// JoinPath writes a phase path for people: "quantize › calibrate".
func JoinPath(p []string) string {
	s := ""
	for i, x := range p {
		if i > 0 {
			s += " › "
		}
		s += x
	}
	return s
}
