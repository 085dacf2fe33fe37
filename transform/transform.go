// Package transform is the seam every model transform shares. A transform
// (quantize.Quantize, prune.Prune, distill.Distill) has one shape:
//
//	X(ctx context.Context, m *onnxio.Model, o Options) (*onnxio.Model, *Report, error)
//
// where Options holds the transform's own knobs and an Env, the
// environment that every verb and the recipe runner fill the same way:
// threads, seed, execution provider, progress, validation data and an
// accuracy budget. Errors about options are *FieldError values naming the
// option field (not a flag: a recipe has no flags); the cmd package maps
// fields to flags and the recipe runner to YAML keys.
package transform

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/validate"
)

// MaxThreadsPerCPU bounds Env.Threads: more threads than this many per
// CPU only slow a run down (and ONNX Runtime stalls creating 100,000).
const MaxThreadsPerCPU = 4

// Env is the environment of a transform.
type Env struct {
	// Threads is the intra-op thread count of every ONNX Runtime session
	// and of the training engine. 0 means one per CPU (DefaultThreads);
	// Resolve makes it explicit so reports say what ran.
	Threads int
	// Seed seeds every random choice (initialisation, shuffling, dropout,
	// sampling), so a run is reproducible for a seed and thread count.
	Seed uint64
	// Provider is the ONNX Runtime execution provider: "cpu" (the default
	// when empty), "cuda" or "tensorrt".
	Provider string
	// Progress receives the transform's phases (nil: none).
	Progress progress.Reporter
	// Val is the validation data the transform measures its result on
	// (nil: none). It is read from the start (Reset) each time.
	Val dataset.Source
	// Budget is the accuracy budget the result must meet on Val, checked
	// by validate's one gate evaluator (the same one `shrink compare`
	// uses). Empty: no budget.
	Budget []validate.Gate
}

// DefaultThreads is the thread count Env.Threads 0 stands for.
func DefaultThreads() int { return runtime.NumCPU() }

// Providers are the execution providers an Env may name.
var Providers = []string{"cpu", "cuda", "tensorrt"}

// Resolve checks e and returns it with defaults made explicit: Threads
// (0: DefaultThreads), Provider ("": cpu) and Progress (nil: none).
func (e Env) Resolve() (Env, error) {
	limit := MaxThreadsPerCPU * runtime.NumCPU()
	switch {
	case e.Threads < 0 || e.Threads > limit:
		return e, Errorf("Threads", e.Threads, "want 0 (one per CPU) to %d (%d× the %d CPUs)", limit, MaxThreadsPerCPU, runtime.NumCPU())
	case e.Threads == 0:
		e.Threads = DefaultThreads()
	}
	switch e.Provider {
	case "":
		e.Provider = "cpu"
	case "cpu", "cuda", "tensorrt":
	default:
		return e, Errorf("Provider", e.Provider, "want cpu, cuda or tensorrt")
	}
	if len(e.Budget) > 0 && e.Val == nil {
		return e, Errorf("Val", nil, "an accuracy budget needs validation data")
	}
	e.Progress = progress.Or(e.Progress)
	return e, nil
}

// FieldError is an invalid option value. Field names the option by its Go
// field path in the transform's Options ("CalibSize", "Env.Threads",
// "Budget"); Value is the value given (nil when the problem is an absence).
type FieldError struct {
	Field string
	Value any
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Value == nil {
		return e.Field + ": " + e.Msg
	}
	return fmt.Sprintf("%s %v: %s", e.Field, e.Value, e.Msg)
}

// Errorf returns a *FieldError.
func Errorf(field string, value any, format string, a ...any) error {
	return &FieldError{Field: field, Value: value, Msg: fmt.Sprintf(format, a...)}
}

// InEnv returns err with its field moved under "Env." when it is a
// *FieldError from Env.Resolve; other errors unchanged.
func InEnv(err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &FieldError{Field: "Env." + fe.Field, Value: fe.Value, Msg: fe.Msg}
	}
	return err
}
