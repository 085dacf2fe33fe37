package cmd

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/spf13/cobra"
)

// OutputOptions are the flags of every verb that writes a model.
type OutputOptions struct {
	Output       string
	Force        bool
	ExternalData string
}

func addOutputFlags(c *cobra.Command, o *OutputOptions) {
	c.Flags().StringVarP(&o.Output, "output", "o", "", "where to write the model (required)")
	c.Flags().BoolVar(&o.Force, "force", false, "replace an existing output file")
	c.Flags().StringVar(&o.ExternalData, "external-data", "", "store initializers of at least this size in an external file beside the model (e.g. 1KiB, 4MiB; default: only when the model exceeds 2 GiB)")
}

// check validates the flags before any work is done, so a verb never runs
// for minutes and then refuses to write.
func (o *OutputOptions) check(input string) error {
	if o.Output == "" {
		return usagef("-o/--output is required")
	}
	if o.Output == input {
		return usagef("-o/--output %s is the input model; write to another file", o.Output)
	}
	if _, err := o.saveOptions(); err != nil {
		return err
	}
	if !o.Force {
		return refuseExisting(o.Output)
	}
	return nil
}

// refuseExisting fails when path exists, so a verb refuses an output it
// may not replace before doing any work (the atomic write checks again).
func refuseExisting(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", path, onnxio.ErrExists)
	}
	return nil
}

func (o *OutputOptions) saveOptions() (onnxio.SaveOptions, error) {
	so := onnxio.SaveOptions{Overwrite: o.Force}
	if o.ExternalData != "" {
		n, err := parseBytes(o.ExternalData)
		if err != nil || n <= 0 {
			return so, usagef("--external-data %q: want a size such as 1024, 1KiB or 4MiB", o.ExternalData)
		}
		so.ExternalThreshold = n
	}
	return so, nil
}

// save writes m to the output path.
func (o *OutputOptions) save(m *onnxio.Model) error {
	so, err := o.saveOptions()
	if err != nil {
		return err
	}
	return m.Save(o.Output, so)
}

func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000_000}, {"GB", 1000_000_000}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, err
	}
	return n * mult, nil
}
