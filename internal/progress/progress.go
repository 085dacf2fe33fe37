// Package progress is the small interface through which library packages
// report progress. They never print: the cmd package implements Reporter
// with a bar on a terminal, plain periodic lines otherwise, NDJSON with
// --json, and nothing with -q.
package progress

// Reporter receives progress events. Implementations must be safe for use
// from one goroutine at a time; library code calls them sequentially.
type Reporter interface {
	// Start begins a phase of total steps (total <= 0: unknown).
	Start(phase string, total int64)
	// Add advances the current phase by n steps.
	Add(n int64)
	// Log records a one-line note (a warning, a decision).
	Log(msg string)
	// Done ends the current phase.
	Done()
}

// Nop discards everything.
type Nop struct{}

func (Nop) Start(string, int64) {}
func (Nop) Add(int64)           {}
func (Nop) Log(string)          {}
func (Nop) Done()               {}

// Or returns r, or Nop when r is nil.
func Or(r Reporter) Reporter {
	if r == nil {
		return Nop{}
	}
	return r
}
