package cmd

import (
	"fmt"
	"strconv"
	"strings"
)

// plural writes a count with its noun in the right number: "1 tensor",
// "2 tensors" (never "tensor(s)").
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// float32List is a repeatable, comma-separated list of numbers (pflag's
// float32Slice prints its empty default as "(default [])"; this one
// prints nothing).
type float32List struct{ p *[]float32 }

func (f float32List) String() string {
	if f.p == nil || len(*f.p) == 0 {
		return ""
	}
	parts := make([]string, len(*f.p))
	for i, v := range *f.p {
		parts[i] = strconv.FormatFloat(float64(v), 'g', -1, 32)
	}
	return strings.Join(parts, ",")
}

func (f float32List) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(part), 32)
		if err != nil {
			return fmt.Errorf("%q is not a number", part)
		}
		*f.p = append(*f.p, float32(v))
	}
	return nil
}

func (f float32List) Type() string { return "floats" }
