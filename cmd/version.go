package cmd

import (
	"context"
	"runtime"

	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/spf13/cobra"
)

// VersionOptions are the options of `shrink version`.
type VersionOptions struct {
	*GlobalOptions
	JSON bool
}

func newVersionCmd(g *GlobalOptions, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	if runF == nil {
		runF = versionRun
	}
	opts := &VersionOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "version",
		Short: "Print shrink's version",
		Args:  exactArgs(0, "no arguments"),
		RunE:  func(c *cobra.Command, args []string) error { return runF(c.Context(), opts) },
	}
	c.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return c
}

func versionRun(_ context.Context, opts *VersionOptions) error {
	v := map[string]string{"shrink": Version, "go": runtime.Version(), "onnxruntime_expected": ort.LibVersion, "os_arch": runtime.GOOS + "/" + runtime.GOARCH}
	if opts.JSON {
		return opts.IO.WriteJSON(v)
	}
	opts.IO.Printf("shrink %s (%s, %s; built for ONNX Runtime %s)\n", Version, runtime.Version(), v["os_arch"], ort.LibVersion)
	return nil
}
