package cmd

import (
	"runtime"

	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/spf13/cobra"
)

// VersionOptions are the options of `shrink version`.
type VersionOptions struct {
	*GlobalOptions
	JSON bool
}

func newVersionCmd(g *GlobalOptions) *cobra.Command {
	opts := &VersionOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "version",
		Short: "Print shrink's version",
		Args:  exactArgs(0, "no arguments"),
		RunE:  func(c *cobra.Command, args []string) error { return versionRun(opts) },
	}
	c.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return c
}

func versionRun(opts *VersionOptions) error {
	v := map[string]string{"shrink": Version, "go": runtime.Version(), "onnxruntime_expected": ort.LibVersion, "os_arch": runtime.GOOS + "/" + runtime.GOARCH}
	if opts.JSON {
		return opts.IO.WriteJSON(v)
	}
	opts.IO.Printf("shrink %s (%s, %s; built for ONNX Runtime %s)\n", Version, runtime.Version(), v["os_arch"], ort.LibVersion)
	return nil
}
