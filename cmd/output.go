package cmd

import (
	"errors"
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
// for minutes and then refuses to write; inputs are the files the verb
// reads (the model, its data), which the output must not be.
func (o *OutputOptions) check(inputs ...string) error {
	if o.Output == "" {
		return usagef("-o/--output is required")
	}
	so, err := o.saveOptions()
	if err != nil {
		return err
	}
	if err := checkOutput(o.Output, o.Force, inputs...); err != nil {
		return err
	}
	if so.ExternalThreshold > 0 {
		return checkOutput(o.Output+".data", o.Force, inputs...)
	}
	return nil
}

// checkOutput is every verb's check of a file it will write, made before
// any work: the folder exists and is writable, the path is not a folder,
// a link, a device or a FIFO, it is not one of the inputs (same device and
// inode, whatever the spelling: a usage error, with or without --force),
// and it does not exist unless force. The atomic writers check again when
// they write.
func checkOutput(path string, force bool, inputs ...string) error {
	err := onnxio.CheckOutput(path, force, inputs...)
	if errors.Is(err, onnxio.ErrSameFile) {
		return &UsageError{Err: err}
	}
	return err
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
