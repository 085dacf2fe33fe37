package quantize

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
)

// A result with no int8 node, or slower than float, is a warning and a
// field of the report (not a note).
func TestNothingGainedWarns(t *testing.T) {
	q := &quantizer{}
	rep := &Report{Quantized: 0, Speed: &Speed{Speedup: 0.34, Slower: true, Batch: 64, Threads: 2, Inputs: "calibration"}}
	q.warnNothingGained(rep)
	if !rep.NothingQuantized || len(rep.Warnings) != 2 || !strings.Contains(rep.Warnings[0], "NO NODE RUNS IN INT8") || !strings.Contains(rep.Warnings[1], "SLOWER") || !strings.Contains(rep.Warnings[1], "0.34×") {
		t.Fatalf("%+v", rep)
	}
	rep = &Report{Quantized: 3, Speed: &Speed{Speedup: 1.5}}
	q.warnNothingGained(rep)
	if rep.NothingQuantized || len(rep.Warnings) != 0 {
		t.Fatalf("%+v", rep)
	}
}

// A model that already holds quantized nodes is refused (unless
// AllowQuantized), as an unsupported model naming what it holds.
func TestAlreadyQuantizedRefused(t *testing.T) {
	m := fixture(t, "mnist_mlp.onnx")
	qm, _, err := Quantize(context.Background(), m, Options{Mode: Dynamic})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Quantize(context.Background(), qm, Options{Mode: Dynamic})
	var aq *AlreadyQuantizedError
	var un *onnxio.UnsupportedError
	if !errors.As(err, &aq) || !errors.As(err, &un) || aq.Ops["DynamicQuantizeMatMul"] != 3 || !strings.Contains(err.Error(), "already quantized") {
		t.Fatalf("%v", err)
	}
	// Allowed, it looks at the nodes left in float: none here.
	_, _, err = Quantize(context.Background(), qm, Options{Mode: Dynamic, AllowQuantized: true})
	if errors.As(err, &aq) || !errors.As(err, &un) || !strings.Contains(err.Error(), "nothing to quantize") {
		t.Fatalf("%v", err)
	}
	// A model with one node left float: that one is quantized.
	part, _, err := Quantize(context.Background(), m, Options{Mode: Dynamic, Exclude: []string{"/fc3/Gemm"}})
	if err != nil {
		t.Fatal(err)
	}
	_, rep, err := Quantize(context.Background(), part, Options{Mode: Dynamic, AllowQuantized: true})
	if err != nil || rep.Quantized != 1 {
		t.Fatalf("%v, %+v", err, rep)
	}
}
