package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shrinkml/shrink/internal/demodata"
	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/spf13/cobra"
)

// DemoOptions are the options of `shrink demo`.
type DemoOptions struct {
	*GlobalOptions
	Dir   string
	Force bool
}

func newDemoCmd(g *GlobalOptions, runF func(context.Context, *DemoOptions) error) *cobra.Command {
	if runF == nil {
		runF = demoRun
	}
	opts := &DemoOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Quantize the embedded MNIST CNN and prove the result on 10,000 test images",
		Long: `demo runs shrink's main job on data it carries inside the binary: it writes the
MNIST CNN (float32) and the 10,000 MNIST test images to a folder, then runs, as
you could yourself:

  shrink inspect  mnist_cnn.onnx
  shrink quantize mnist_cnn.onnx -o mnist_cnn.int8.onnx --calib images.npy --calib-size 512
  shrink compare  mnist_cnn.onnx mnist_cnn.int8.onnx --data images.npy --labels labels.npy \
                  --batch 64 --threads 2 --max-accuracy-drop 0.3 --markdown report.md

and leaves every file in the folder (--dir, default a new temporary folder).
The exit code is compare's: 3 if the accuracy budget is not met.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error { return runF(c.Context(), opts) },
	}
	c.Flags().StringVar(&opts.Dir, "dir", "", "folder for the demo's files (default: a new temporary folder)")
	c.Flags().BoolVar(&opts.Force, "force", false, "replace the demo's files if the folder already has them")
	return c
}

func demoRun(ctx context.Context, opts *DemoOptions) error {
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "shrink-demo-")
		if err != nil {
			return err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	model := filepath.Join(dir, demodata.ModelName)
	int8Model := filepath.Join(dir, strings.TrimSuffix(demodata.ModelName, ".onnx")+".int8.onnx")
	report := filepath.Join(dir, "report.md")
	set, err := mnist.TestSet()
	if err != nil {
		return err
	}
	for _, p := range []string{model, int8Model, report, filepath.Join(dir, mnist.ImagesNpy), filepath.Join(dir, mnist.LabelsNpy)} {
		if err := checkOutput(p, opts.Force); err != nil {
			if errors.Is(err, onnxio.ErrExists) {
				return fmt.Errorf("%s already exists (use --force, or another --dir)", p)
			}
			return err
		}
	}
	if err := onnxio.WriteFileAtomic(model, demodata.Model, opts.Force); err != nil {
		return err
	}
	images, labels, err := set.WriteNpy(dir)
	if err != nil {
		return err
	}
	opts.IO.Infof("demo: wrote %s and the MNIST test set (%d images) to %s", demodata.ModelName, set.N, dir)
	var global []string
	if opts.ORTLib != "" {
		global = append(global, "--ort-lib", opts.ORTLib)
	}
	if opts.IO.Quiet {
		global = append(global, "-q")
	}
	force := []string{}
	if opts.Force {
		force = []string{"--force"}
	}
	steps := [][]string{
		{"inspect", model},
		append([]string{"quantize", model, "-o", int8Model, "--calib", images, "--calib-size", "512"}, force...),
		append([]string{"compare", model, int8Model, "--data", images, "--labels", labels,
			"--batch", "64", "--threads", "2", "--max-accuracy-drop", "0.3", "--markdown", report}, force...),
	}
	for _, s := range steps {
		opts.IO.Printf("\n$ shrink %s\n", strings.Join(s, " "))
		if err := execute(ctx, opts.IO, append(s, global...)); err != nil {
			return err
		}
	}
	opts.IO.Printf("\nThe models, data and report.md are in %s\n", dir)
	return nil
}
