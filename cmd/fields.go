package cmd

import (
	"errors"
	"strings"
	"unicode"

	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
)

// fieldFlags maps the option fields of a verb's library call (the Go field
// paths a *transform.FieldError names: "CalibSize", "Env.Val") to the
// verb's flags, for the fields whose flag is not their last path
// component in kebab case (CalibSize → --calib-size needs no entry).
type fieldFlags map[string]string

// quantizeFields are quantize.Options' fields whose flag is named
// otherwise.
var quantizeFields = fieldFlags{
	"ActivationType": "activations",
	"SpeedAware":     "force-int8",
	"Env.Val":        "val-data",
}

// flagError is the one place a library's option error becomes a usage
// error (exit 2) naming the flag: a *transform.FieldError's field goes
// through the verb's table, else to its last path component in kebab case;
// a budget's gate names its own flag (the gate kinds are flag names). Other
// errors come back unchanged.
func flagError(err error, table fieldFlags) error {
	var fe *transform.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	flag, ok := table[fe.Field]
	if !ok {
		flag = kebab(fe.Field[strings.LastIndex(fe.Field, ".")+1:])
	}
	value := fe.Value
	if g, ok := value.(validate.Gate); ok {
		flag, value = string(g.Kind), g.Limit
	}
	if value == nil {
		return usagef("--%s: %s", flag, fe.Msg)
	}
	return usagef("--%s %v: %s", flag, value, fe.Msg)
}

// kebab writes a Go field name as a flag name: CalibSize → calib-size,
// WarnSQNR → warn-sqnr, OpTypes → op-types.
func kebab(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && (!unicode.IsUpper(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// resolveEnv checks --threads and --provider the way every verb reads
// them (transform.Env.Resolve: 0 threads is one per CPU, at most 4 per
// CPU) and returns the environment with the thread count made explicit.
func resolveEnv(threads int, provider string) (transform.Env, error) {
	env, err := transform.Env{Threads: threads, Provider: provider}.Resolve()
	if err != nil {
		return env, flagError(err, nil)
	}
	return env, nil
}

// threadsUsage is --threads' help, the same in every verb.
const threadsUsage = "ONNX Runtime intra-op threads per session: 0 (default) is one per CPU; at most 4 per CPU"

// checkGates checks gate limits (validate.ValidateGates, the one range
// check of every gate) and reports a bad one as a usage error naming its
// flag: "--min-agreement 1.5: not a fraction in [0, 1]".
func checkGates(gates []validate.Gate, metric validate.Metric) error {
	err := validate.ValidateGates(gates, metric)
	var le *validate.LimitError
	if errors.As(err, &le) {
		return usagef("--%s", le)
	}
	if err != nil {
		return &UsageError{Err: err}
	}
	return nil
}
