package cmd

import (
	"context"
	"runtime"
	"strings"

	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/spf13/cobra"
	"golang.org/x/sys/cpu"
)

// DoctorOptions are the options of `shrink doctor`.
type DoctorOptions struct {
	*GlobalOptions
	JSON bool
}

// DoctorReport is `shrink doctor --json` (docs/schemas/doctor.schema.json).
type DoctorReport struct {
	Schema      string          `json:"schema"`
	Shrink      string          `json:"shrink"`
	Go          string          `json:"go"`
	OSArch      string          `json:"os_arch"`
	CPUs        int             `json:"cpus"`
	CPUFeatures map[string]bool `json:"cpu_features"`
	Kernels     string          `json:"kernels"`
	ORT         DoctorORT       `json:"onnxruntime"`
}

// DoctorORT is the ONNX Runtime part of the doctor report.
type DoctorORT struct {
	OK         bool            `json:"ok"`
	Path       string          `json:"path,omitempty"`
	Version    string          `json:"version,omitempty"`
	Expected   string          `json:"expected_version"`
	Providers  []string        `json:"providers,omitempty"`
	Error      string          `json:"error,omitempty"`
	Candidates []ort.Candidate `json:"searched"`
}

func newDoctorCmd(g *GlobalOptions, runF func(context.Context, *DoctorOptions) error) *cobra.Command {
	if runF == nil {
		runF = doctorRun
	}
	opts := &DoctorOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the ONNX Runtime library, execution providers and CPU features",
		Long: `doctor reports where the ONNX Runtime library was found (and where it was
looked for), its version and execution providers, the CPU's SIMD features and
the kernel path shrink uses. It exits 1 when the library cannot be loaded.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error { return runF(c.Context(), opts) },
	}
	c.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return c
}

func cpuFeatures() map[string]bool {
	return map[string]bool{
		"sse4.1":        cpu.X86.HasSSE41,
		"avx":           cpu.X86.HasAVX,
		"avx2":          cpu.X86.HasAVX2,
		"fma":           cpu.X86.HasFMA,
		"avx512f":       cpu.X86.HasAVX512F,
		"avx512bw":      cpu.X86.HasAVX512BW,
		"avx512vl":      cpu.X86.HasAVX512VL,
		"avx512vnni":    cpu.X86.HasAVX512VNNI,
		"avxvnni":       cpu.X86.HasAVXVNNI,
		"amx-tile":      cpu.X86.HasAMXTile,
		"amx-int8":      cpu.X86.HasAMXInt8,
		"avx512bf16":    cpu.X86.HasAVX512BF16,
		"asimd/neon":    cpu.ARM64.HasASIMD,
		"arm64 dotprod": cpu.ARM64.HasASIMDDP,
	}
}

func doctorRun(_ context.Context, opts *DoctorOptions) error {
	r := DoctorReport{
		Schema: "shrink.doctor/v1", Shrink: Version, Go: runtime.Version(),
		OSArch: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU(),
		CPUFeatures: cpuFeatures(), Kernels: kernelsPath(),
		ORT: DoctorORT{Expected: ort.LibVersion, Candidates: ort.Candidates(opts.ORTLib)},
	}
	path, err := ort.Init(opts.ORTLib)
	if err == nil {
		r.ORT.OK, r.ORT.Path, r.ORT.Version, r.ORT.Providers = true, path, ort.Version(), ort.Providers()
	} else {
		r.ORT.Error = err.Error()
	}
	if opts.JSON {
		if err := opts.IO.WriteJSON(r); err != nil {
			return err
		}
	} else {
		p := opts.IO.Printf
		p("shrink        %s (%s, %s, %d CPUs)\n", r.Shrink, r.Go, r.OSArch, r.CPUs)
		var feats []string
		for _, k := range []string{"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "avxvnni", "amx-tile", "amx-int8", "asimd/neon", "arm64 dotprod"} {
			if r.CPUFeatures[k] {
				feats = append(feats, k)
			}
		}
		if len(feats) == 0 {
			feats = []string{"(no SIMD extensions shrink uses)"}
		}
		p("cpu features  %s\n", strings.Join(feats, " "))
		p("kernels       %s\n", r.Kernels)
		if r.ORT.OK {
			p("onnxruntime   %s at %s\n", r.ORT.Version, r.ORT.Path)
			p("providers     %s\n", strings.Join(r.ORT.Providers, ", "))
			if r.ORT.Version != ort.LibVersion {
				opts.IO.Warnf("ONNX Runtime %s is loaded; shrink is tested with %s", r.ORT.Version, ort.LibVersion)
			}
		} else {
			p("onnxruntime   NOT FOUND\n")
			for _, c := range r.ORT.Candidates {
				state := "missing"
				switch {
				case c.Path == "":
					state, c.Path = "not set", "-"
				case c.Found:
					state = "found"
				}
				p("  searched    %-34s %s (%s)\n", c.Source, c.Path, state)
			}
		}
	}
	return err
}
