package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
)

// Exit codes (docs/exit-codes.md).
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitGate        = 3
	ExitUnsupported = 4
	ExitInterrupted = 130
)

// UsageError is a bad flag, argument or value: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// GateError says one or more gates failed (the output was still written):
// exit code 3. Each line names the gate, the figure and the limit.
type GateError struct{ Failures []string }

func (e *GateError) Error() string {
	if len(e.Failures) == 1 {
		return "gate failed: " + e.Failures[0]
	}
	return fmt.Sprintf("%d gates failed", len(e.Failures))
}

// ExitCode maps an error to the process exit code, in one place.
func ExitCode(err error) int {
	var ue *UsageError
	var ge *GateError
	var un *onnxio.UnsupportedError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ge):
		return ExitGate
	case errors.As(err, &un):
		return ExitUnsupported
	}
	return ExitError
}
