package cmd

import (
	"context"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/spf13/cobra"
)

// Commit and CommitTime name the source a binary was built from. `make
// build` stamps them with -ldflags "-X
// github.com/shrinkml/shrink/cmd.Commit=… -X …CommitTime=…"; otherwise
// they come from the VCS information `go build` records (when it does).
var (
	Commit     = ""
	CommitTime = ""
)

// VersionOptions are the options of `shrink version`.
type VersionOptions struct {
	*GlobalOptions
	JSON bool
}

// VersionInfo is `shrink version --json` (docs/schemas/version.schema.json).
type VersionInfo struct {
	Schema string `json:"schema"`
	Shrink string `json:"shrink"`
	// Commit is the source revision ("" when unknown), with "-dirty" when
	// the tree had uncommitted changes.
	Commit              string `json:"commit"`
	CommitTime          string `json:"commit_time"`
	Go                  string `json:"go"`
	ONNXRuntimeExpected string `json:"onnxruntime_expected"`
	OSArch              string `json:"os_arch"`
}

func newVersionCmd(g *GlobalOptions, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	if runF == nil {
		runF = versionRun
	}
	opts := &VersionOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "version",
		Short: "Print shrink's version and the commit it was built from",
		Args:  exactArgs(0, "no arguments"),
		RunE:  func(c *cobra.Command, args []string) error { return runF(c.Context(), opts) },
	}
	c.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document (docs/schemas/version.schema.json)")
	return c
}

// buildInfo gathers the version, preferring the stamped commit to the one
// `go build` recorded.
func buildInfo() VersionInfo {
	v := VersionInfo{Schema: "shrink.version/v1", Shrink: Version, Commit: Commit, CommitTime: CommitTime,
		Go: runtime.Version(), ONNXRuntimeExpected: ort.LibVersion, OSArch: runtime.GOOS + "/" + runtime.GOARCH}
	if v.Commit != "" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.time":
				v.CommitTime = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(v.Commit) > 12 {
			v.Commit = v.Commit[:12]
		}
		if dirty && v.Commit != "" {
			v.Commit += "-dirty"
		}
	}
	return v
}

func versionRun(_ context.Context, opts *VersionOptions) error {
	v := buildInfo()
	if opts.JSON {
		return opts.IO.WriteJSON(v)
	}
	var from []string
	if v.Commit != "" {
		from = append(from, "commit "+v.Commit)
	}
	if v.CommitTime != "" {
		from = append(from, v.CommitTime)
	}
	if len(from) == 0 {
		from = append(from, "commit unknown")
	}
	opts.IO.Printf("shrink %s (%s; %s, %s; built for ONNX Runtime %s)\n", v.Shrink, strings.Join(from, ", "), v.Go, v.OSArch, v.ONNXRuntimeExpected)
	return nil
}
