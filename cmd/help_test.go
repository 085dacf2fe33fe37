package cmd

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/quantize"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// --help states each flag's default from the flag itself: the default
// shown is the value the verb starts from, a usage text never states a
// second default beside pflag's, and an empty list shows no "(default
// [])". The defaults that come from the libraries are checked against
// them.
func TestHelpDefaultsAreRealDefaults(t *testing.T) {
	root := NewRootCmd(&IOStreams{Out: &strings.Builder{}, ErrOut: &strings.Builder{}})
	var walk func(c *cobra.Command)
	flags := map[string]*pflag.Flag{} // "verb --flag"
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			flags[c.Name()+" --"+f.Name] = f
			if f.DefValue != f.Value.String() {
				t.Errorf("%s --%s: help says default %q, the flag starts at %q", c.CommandPath(), f.Name, f.DefValue, f.Value.String())
			}
			if strings.Contains(f.Usage, "(default ") {
				t.Errorf("%s --%s: the usage states a default itself (%q); let the flag's value say it, or write \"(0: …)\" for a zero that stands for another value", c.CommandPath(), f.Name, f.Usage)
			}
		})
		if u := c.Flags().FlagUsages(); strings.Contains(u, "(default [])") {
			t.Errorf("%s: help shows \"(default [])\"", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	for key, want := range map[string]string{
		"eval --batch":            fmt.Sprint(dataset.DefaultBatchSize),
		"compare --batch":         fmt.Sprint(dataset.DefaultBatchSize),
		"quantize --batch":        fmt.Sprint(quantizeBatch),
		"quantize --calib-size":   fmt.Sprint(quantize.DefaultCalibSize),
		"quantize --percentile":   fmt.Sprint(quantize.DefaultPercentile),
		"quantize --calib-method": string(quantize.DefaultCalibMethod),
		"quantize --warn-sqnr":    fmt.Sprint(quantize.DefaultWarnSQNR),
	} {
		f := flags[key]
		if f == nil {
			t.Errorf("%s: no such flag", key)
			continue
		}
		if f.DefValue != want {
			t.Errorf("%s: help says default %q, the library's is %q", key, f.DefValue, want)
		}
	}
}
