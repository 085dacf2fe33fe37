// Package cmd is shrink's command-line interface: one file per verb, each
// with an Options struct, a newXCmd constructor and an xRun function. Flags,
// environment, terminals, progress display and exit codes live here only.
package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X github.com/shrinkml/shrink/cmd.Version=…".
var Version = "0.1.0-dev"

// GlobalOptions are the flags every verb has.
type GlobalOptions struct {
	IO     *IOStreams
	ORTLib string
}

// Main runs the CLI on the process's streams and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return Run(ctx, SystemIO(), os.Args[1:])
}

// Run executes the CLI with args on the given streams and returns the exit
// code. Errors are printed as one line on stderr ("shrink: …"), or, with
// --json, as an NDJSON event {"event":"error","message":"…","exit_code":N}.
func Run(ctx context.Context, ios *IOStreams, args []string) int {
	err := execute(ctx, ios, args)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w: %v", context.Canceled, err)
		}
		code := ExitCode(err)
		var lines []string
		var ge *GateError
		if errors.As(err, &ge) {
			for _, f := range ge.Failures {
				lines = append(lines, "gate failed: "+f)
			}
		} else if errors.Is(err, context.Canceled) {
			lines = append(lines, "interrupted")
		} else {
			lines = append(lines, oneLine(err.Error()))
		}
		for _, l := range lines {
			if ios.JSON {
				// stderr is an NDJSON stream with --json: the error is
				// one more event of it.
				b, _ := json.Marshal(progressEvent{Event: "error", Message: l, ExitCode: &code})
				ios.ErrOut.Write(append(b, '\n'))
				continue
			}
			fmt.Fprintf(ios.ErrOut, "shrink: %s\n", l)
		}
		return code
	}
	return ExitOK
}

// execute runs one command line and returns its error without printing it.
func execute(ctx context.Context, ios *IOStreams, args []string) error {
	root := NewRootCmd(ios)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && strings.HasPrefix(err.Error(), "unknown command") {
		err = &UsageError{Err: fmt.Errorf("%v (see shrink --help)", err)}
	}
	return err
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// NewRootCmd builds the command tree.
func NewRootCmd(ios *IOStreams) *cobra.Command {
	g := &GlobalOptions{IO: ios}
	root := &cobra.Command{
		Use:   "shrink",
		Short: "Make ONNX models smaller and faster, then prove it",
		Long: `shrink compresses ONNX models (int8 quantization, pruning, distillation),
writes valid ONNX, and re-validates accuracy, fidelity, latency and size in
ONNX Runtime. Exit codes: 0 ok, 1 error, 2 usage, 3 gate failed,
4 unsupported model or operator, 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetIn(ios.In)
	pf := root.PersistentFlags()
	pf.BoolVarP(&ios.Quiet, "quiet", "q", false, "no progress output")
	pf.BoolVarP(&ios.Verbose, "verbose", "v", false, "print every phase's end with its time on stderr, however short")
	pf.StringVar(&g.ORTLib, "ort-lib", "", "path to libonnxruntime.so (default: $SHRINK_ORT_LIB, $ONNXRUNTIME_SHARED_LIBRARY_PATH, lib/ beside the binary, $XDG_CACHE_HOME/shrink)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &UsageError{Err: fmt.Errorf("%v (see %s --help)", err, c.CommandPath())}
	})
	// Every verb. A nil run function means the verb's own (tests inject
	// theirs to check the flags without ONNX Runtime).
	root.AddCommand(
		newVersionCmd(g, nil),
		newDoctorCmd(g, nil),
		newInspectCmd(g, nil),
		newEvalCmd(g, nil),
		newCompareCmd(g, nil),
		newQuantizeCmd(g, nil),
		newReportCmd(g, nil),
		newDemoCmd(g, nil),
	)
	return root
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s needs %s (got %s)", c.CommandPath(), what, plural(len(args), "argument", "arguments"))
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("%s needs %s (got %s)", c.CommandPath(), what, plural(len(args), "argument", "arguments"))
		}
		return nil
	}
}
