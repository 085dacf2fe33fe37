package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams is all terminal I/O of the CLI: it knows whether stdout and
// stderr are terminals and how verbose to be. Tests build it on buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	StdoutTTY bool
	StderrTTY bool
	// Columns is the width of the terminal stdout is (0: unknown, or not a
	// terminal): tables narrow themselves to it.
	Columns int

	Quiet   bool
	Verbose bool
	JSON    bool
}

// SystemIO returns streams on the process's stdin/stdout/stderr.
func SystemIO() *IOStreams {
	s := &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		StdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		StderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
	if s.StdoutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
			s.Columns = w
		}
	}
	return s
}

// Printf writes human output to stdout.
func (s *IOStreams) Printf(format string, a ...any) { fmt.Fprintf(s.Out, format, a...) }

// Warnf writes a warning line to stderr (even with -q: warnings matter).
// With --json, stderr is an NDJSON stream and the warning is one event of
// it: {"event":"warning","message":"…"}.
func (s *IOStreams) Warnf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if s.JSON {
		b, _ := json.Marshal(progressEvent{Event: "warning", Message: msg})
		s.ErrOut.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(s.ErrOut, "warning: %s\n", msg)
}

// Infof writes an informational line to stderr unless -q.
func (s *IOStreams) Infof(format string, a ...any) {
	if !s.Quiet {
		fmt.Fprintf(s.ErrOut, format+"\n", a...)
	}
}

// WriteJSON prints v as one indented JSON document on stdout.
func (s *IOStreams) WriteJSON(v any) error {
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
