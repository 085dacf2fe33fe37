package dataset_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
)

// vi declares a model input; a dimension of -1 is dynamic (named "batch"
// in first position, "?" elsewhere).
func vi(name string, dt onnxio.DType, dims ...int64) onnxio.ValueInfo {
	v := onnxio.ValueInfo{Name: name, DType: dt, Kind: "tensor", Shape: []onnxio.Dim{}}
	for i, d := range dims {
		switch {
		case d >= 0:
			v.Shape = append(v.Shape, onnxio.Dim{Value: d})
		case i == 0:
			v.Shape = append(v.Shape, onnxio.Dim{Value: -1, Param: "batch"})
		default:
			v.Shape = append(v.Shape, onnxio.Dim{Value: -1})
		}
	}
	return v
}

func tensor(t testing.TB, name string, shape []int64, data any) *onnxio.Tensor {
	t.Helper()
	x, err := onnxio.NewTensor(name, shape, data)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func writeNpy(t testing.TB, path string, x *onnxio.Tensor) string {
	t.Helper()
	var buf bytes.Buffer
	if err := dataset.WriteNpy(&buf, x); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeText(t testing.TB, path, s string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func iota32(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i)*0.5 - 3
	}
	return out
}

// drain reads every batch of s.
func drain(t testing.TB, s dataset.Source) []*dataset.Batch {
	t.Helper()
	var out []*dataset.Batch
	for {
		b, err := s.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

// concat joins the float32 data of one input over all batches and checks
// the batches' bookkeeping.
func concat(t testing.TB, bs []*dataset.Batch, input string) ([]float32, []int64) {
	t.Helper()
	var data []float32
	var labels []int64
	pos := 0
	for _, b := range bs {
		if b.Index != pos {
			t.Fatalf("batch at %d has Index %d", pos, b.Index)
		}
		x := b.Inputs[input]
		if x == nil || len(x.Shape) == 0 || x.Shape[0] != int64(b.N) {
			t.Fatalf("batch %d: input %q is %v for N=%d", b.Index, input, x, b.N)
		}
		if b.Labels != nil && len(b.Labels) != b.N {
			t.Fatalf("batch %d: %d labels for N=%d", b.Index, len(b.Labels), b.N)
		}
		d, err := x.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, d...)
		labels = append(labels, b.Labels...)
		pos += b.N
	}
	return data, labels
}

func sizes(bs []*dataset.Batch) []int {
	var out []int
	for _, b := range bs {
		out = append(out, b.N)
	}
	return out
}

// sameBits reports whether a and b are bit-identical (round trips must
// not change a single bit, NaN payloads included).
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// near reports whether a and b agree within tol, element by element.
func near(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i])-float64(b[i])) > tol {
			return false
		}
	}
	return true
}

// wantErr checks err is one line and contains every fragment.
func wantErr(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", fragments)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("error %q does not contain %q", msg, f)
		}
	}
}

// rawNpy builds a version 1.0 .npy file from a header dict and data bytes.
func rawNpy(dict string, data []byte) []byte {
	dict += strings.Repeat(" ", (64-(10+len(dict)+1)%64)%64) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(dict)), byte(len(dict)>>8))
	b = append(b, dict...)
	return append(b, data...)
}
