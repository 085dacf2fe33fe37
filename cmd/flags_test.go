package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
	"github.com/spf13/cobra"
)

// runFlags runs one verb built with a run function that only records the
// options it gets: flag parsing and checking, without ONNX Runtime, a
// model or data. It returns the options (nil when the run function was
// not reached) and the command's error.
func runFlags[T any](t *testing.T, build func(*GlobalOptions, func(context.Context, *T) error) *cobra.Command, args ...string) (*T, error) {
	t.Helper()
	var got *T
	ios := &IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}
	c := build(&GlobalOptions{IO: ios}, func(_ context.Context, o *T) error { got = o; return nil })
	c.SetArgs(args)
	c.SetOut(ios.Out)
	c.SetErr(ios.ErrOut)
	c.SilenceErrors, c.SilenceUsage = true, true
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	err := c.ExecuteContext(context.Background())
	return got, err
}

// usage checks that err is a usage error (exit 2) whose text has want.
func usage(t *testing.T, args []string, err error, want string) {
	t.Helper()
	if ExitCode(err) != ExitUsage || !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("%v: error %v (exit %d), want a usage error with %q", args, err, ExitCode(err), want)
	}
}

func TestQuantizeFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "q.onnx")
	base := []string{"m.onnx", "-o", out, "--calib", "c.npy"}
	o, err := runFlags(t, newQuantizeCmd, base...)
	if err != nil {
		t.Fatal(err)
	}
	l := o.Lib
	if l.Env.Threads != runtime.NumCPU() || l.Env.Provider != "cpu" || !l.SpeedAware || l.WarnSQNR != 20 || len(l.Env.Budget) != 0 || o.Calib.BatchSize != 64 || l.CalibSize != 512 {
		t.Errorf("defaults: %+v, batch %d", l, o.Calib.BatchSize)
	}
	for _, c := range []struct {
		args  []string
		check func(*QuantizeOptions) bool
	}{
		{[]string{"--threads", "1", "--force-int8", "--warn-sqnr", "0", "--batch", "8"}, func(o *QuantizeOptions) bool {
			return o.Lib.Env.Threads == 1 && !o.Lib.SpeedAware && o.Lib.WarnSQNR < 0 && o.Calib.BatchSize == 8
		}},
		{[]string{"--min-sqnr", "20", "--val-data", "v.npy"}, func(o *QuantizeOptions) bool {
			return slices.Equal(o.Lib.Env.Budget, []validate.Gate{{Kind: validate.MinSQNR, Limit: 20}})
		}},
		// A budget of 0 points is a budget, as in compare.
		{[]string{"--max-accuracy-drop", "0", "--val-data", "v/", "--val-labels", "y.npy"}, func(o *QuantizeOptions) bool {
			return slices.Equal(o.Lib.Env.Budget, []validate.Gate{{Kind: validate.MaxAccuracyDrop, Limit: 0}}) && o.ValLabels == "y.npy"
		}},
		{[]string{"--activations", "int8", "--op-types", "Conv,MatMul", "--keep-first"}, func(o *QuantizeOptions) bool {
			return o.Lib.ActivationType.String() == "int8" && slices.Equal(o.Lib.OpTypes, []string{"Conv", "MatMul"}) && o.Lib.KeepFirst == 1
		}},
	} {
		o, err := runFlags(t, newQuantizeCmd, append(base, c.args...)...)
		if err != nil || !c.check(o) {
			t.Errorf("%v: %v, options %+v", c.args, err, o)
		}
	}
	limit := transform.MaxThreadsPerCPU * runtime.NumCPU()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--threads", "-1"}, "--threads -1: want 0 (one per CPU) to " + fmt.Sprint(limit)},
		{[]string{"--threads", fmt.Sprint(limit + 1)}, fmt.Sprintf("--threads %d: want 0 (one per CPU) to %d", limit+1, limit)},
		{[]string{"--min-agreement", "1.5", "--val-data", "v.npy"}, "--min-agreement 1.5: not a fraction in [0, 1]"},
		{[]string{"--min-sqnr", "-3", "--val-data", "v.npy"}, "--min-sqnr -3: must be >= 0 dB"},
		{[]string{"--min-sqnr", "20", "--min-agreement", "0.9", "--val-data", "v.npy"}, "give one of"},
		{[]string{"--min-sqnr", "20"}, "needs --val-data"},
		{[]string{"--val-data", "v.npy"}, "only used with"},
		{[]string{"--calib-size", "0"}, "--calib-size 0"},
		{[]string{"--activations", "int16"}, "--activations"},
		{[]string{"--warn-sqnr", "-1"}, "--warn-sqnr"},
		{[]string{"--batch", "-2"}, "--batch -2"},
		// 0 means what it says: never a silent default.
		{[]string{"--batch", "0"}, "--batch 0: must be >= 1"},
		{[]string{"--percentile", "0"}, "--percentile 0: want a percentile in (0, 100]"},
		{[]string{"--percentile", "100.5"}, "--percentile 100.5: want a percentile in (0, 100]"},
		{[]string{"--threads", "100000"}, "--threads 100000: want 0 (one per CPU) to " + fmt.Sprint(limit)},
	} {
		o, err := runFlags(t, newQuantizeCmd, append(base, c.args...)...)
		usage(t, c.args, err, c.want)
		if o != nil {
			t.Errorf("%v: the run function was reached", c.args)
		}
	}
	_, err = runFlags(t, newQuantizeCmd, "m.onnx", "-o", out)
	usage(t, nil, err, "--mode static needs --calib")
}

func TestEvalFlags(t *testing.T) {
	o, err := runFlags(t, newEvalCmd, "m.onnx", "--data", "x.npy")
	if err != nil {
		t.Fatal(err)
	}
	if o.Timing.Threads != runtime.NumCPU() || o.Timing.Provider != "cpu" || o.Latency || o.metric != "" {
		t.Errorf("defaults %+v", o)
	}
	o, err = runFlags(t, newEvalCmd, "m.onnx", "--data", "x.npy", "--threads", "3", "--runs", "5", "--metric", "top5")
	if err != nil || o.Timing.Threads != 3 || !o.Latency || o.Timing.Runs != 5 || o.metric != validate.Top5 {
		t.Errorf("%v %+v", err, o)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--threads", "-4"}, "--threads -4"},
		{[]string{"--provider", "gpu"}, "--provider gpu: want cpu, cuda or tensorrt"},
		{[]string{"--metric", "top3"}, "--metric"},
		{[]string{"--latency", "--runs", "0"}, "--latency needs --runs"},
		{[]string{"--batch", "0"}, "--batch 0: must be >= 1"},
		{[]string{"--threads", "100000"}, "--threads 100000: want 0 (one per CPU) to"},
		{[]string{"--metric", "ctc", "--labels", "t.txt"}, "--metric ctc needs --dict"},
		{[]string{"--metric", "ctc", "--dict", "k.txt"}, "--metric ctc needs --labels"},
		{[]string{"--metric", "boxes"}, "--metric boxes needs --labels"},
		{[]string{"--metric", "top1", "--dict", "k.txt"}, "--dict is for --metric ctc"},
	} {
		o, err := runFlags(t, newEvalCmd, append([]string{"m.onnx", "--data", "x.npy"}, c.args...)...)
		usage(t, c.args, err, c.want)
		if o != nil {
			t.Errorf("%v: the run function was reached", c.args)
		}
	}
}

func TestCompareFlags(t *testing.T) {
	o, err := runFlags(t, newCompareCmd, "a.onnx", "b.onnx", "c.onnx", "--data", "x.npy", "--min-sqnr", "30", "--max-accuracy-drop", "0.5", "--threads", "0")
	if err != nil {
		t.Fatal(err)
	}
	want := []validate.Gate{{Kind: validate.MaxAccuracyDrop, Limit: 0.5}, {Kind: validate.MinSQNR, Limit: 30}}
	if o.Baseline != "a.onnx" || !slices.Equal(o.Candidates, []string{"b.onnx", "c.onnx"}) || !slices.Equal(o.Gates, want) || o.Timing.Threads != runtime.NumCPU() {
		t.Errorf("options %+v", o)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--min-sqnr", "-1"}, "--min-sqnr -1: must be >= 0 dB"},
		{[]string{"--min-agreement", "2"}, "--min-agreement 2: not a fraction"},
		{[]string{"--min-speedup", "1.2", "--runs", "0"}, "--min-speedup needs latency"},
		{[]string{"--max-accuracy-drop", "1", "--metric", "mse"}, "--max-accuracy-drop 1: needs a top1, top5, ctc or boxes metric"},
		{[]string{"--threads", "100000"}, "--threads 100000"},
	} {
		o, err := runFlags(t, newCompareCmd, append([]string{"a.onnx", "b.onnx", "--data", "x.npy"}, c.args...)...)
		usage(t, c.args, err, c.want)
		if o != nil {
			t.Errorf("%v: the run function was reached", c.args)
		}
	}
}

// Library option errors name Go fields; each verb maps them to its flags
// in one place.
func TestFlagErrorMapsFields(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{transform.Errorf("CalibSize", -1, "must be >= 1"), "--calib-size -1: must be >= 1"},
		{transform.Errorf("WarnSQNR", "x", "bad"), "--warn-sqnr x: bad"},
		{transform.Errorf("OpTypes", "LSTM", "no handler"), "--op-types LSTM: no handler"},
		{transform.Errorf("ActivationType", "int4", "want uint8 or int8"), "--activations int4: want uint8 or int8"},
		{transform.InEnv(transform.Errorf("Threads", 99, "too many")), "--threads 99: too many"},
		{transform.Errorf("Env.Val", nil, "has no labels"), "--val-data: has no labels"},
		{transform.Errorf("Env.Budget", validate.Gate{Kind: validate.MinAgreement, Limit: 1.5}, "not a fraction"), "--min-agreement 1.5: not a fraction"},
	} {
		err := flagError(fmt.Errorf("wrapped: %w", c.err), quantizeFields)
		if ExitCode(err) != ExitUsage || err.Error() != c.want {
			t.Errorf("%v: %q (exit %d), want %q", c.err, err, ExitCode(err), c.want)
		}
	}
	plain := errors.New("disk full")
	if err := flagError(plain, quantizeFields); err != plain {
		t.Errorf("a non-field error changed: %v", err)
	}
}
