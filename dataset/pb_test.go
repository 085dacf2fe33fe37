package dataset_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
)

func writePB(t *testing.T, path string, x *onnxio.Tensor) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := onnxio.WriteTensorFile(path, x, true); err != nil {
		t.Fatal(err)
	}
}

func TestPBSetsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := []onnxio.ValueInfo{vi("a", onnxio.Float32, -1, 2), vi("b", onnxio.Int64, -1)}
	// Sets numbered past 9 sort numerically; files are matched to inputs by
	// tensor name (b's file comes first).
	n := []int{2, 3, 1}
	pos := 0
	for i, set := range []string{"test_data_set_0", "test_data_set_2", "test_data_set_10"} {
		a := iota32(2 * (pos + n[i]))[2*pos:]
		bs := make([]int64, n[i])
		for k := range bs {
			bs[k] = int64(pos + k)
		}
		writePB(t, filepath.Join(dir, set, "input_0.pb"), tensor(t, "b", []int64{int64(n[i])}, bs))
		writePB(t, filepath.Join(dir, set, "input_1.pb"), tensor(t, "a", []int64{int64(n[i]), 2}, a))
		writePB(t, filepath.Join(dir, set, "output_0.pb"), tensor(t, "out", []int64{1}, []float32{0}))
		pos += n[i]
	}
	labels := writeText(t, filepath.Join(t.TempDir(), "labels.txt"), "5\n4\n3\n2\n1\n0\n")
	s, err := dataset.Open(dir, in, dataset.Options{Labels: labels, BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != 6 {
		t.Errorf("Len %d, want 6", s.Len())
	}
	for pass := range 2 {
		bs := drain(t, s)
		if got := sizes(bs); len(got) != 3 || got[0] != 2 || got[1] != 3 || got[2] != 1 {
			t.Fatalf("batch sizes %v, want one per set [2 3 1]", got)
		}
		got, l := concat(t, bs, "a")
		if !sameBits(got, iota32(12)) || len(l) != 6 || l[0] != 5 || l[5] != 0 {
			t.Fatalf("pass %d: a=%v labels=%v", pass, got, l)
		}
		if b := bs[1].Inputs["b"].Data.([]int64); b[0] != 2 || b[2] != 4 {
			t.Fatalf("b of set 2: %v", b)
		}
		s.Reset()
	}
	// Limit cuts inside a set.
	s2, err := dataset.Open(dir, in, dataset.Options{Labels: labels, Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	bs := drain(t, s2)
	if got := sizes(bs); len(got) != 2 || got[1] != 2 || len(bs[1].Labels) != 2 || bs[1].Labels[1] != 2 {
		t.Errorf("limit 4: sizes %v", got)
	}
	// A flat folder of input_*.pb is one set.
	flat := t.TempDir()
	writePB(t, filepath.Join(flat, "input_0.pb"), tensor(t, "whatever", []int64{3, 2}, iota32(6)))
	writePB(t, filepath.Join(flat, "input_1.pb"), tensor(t, "names", []int64{3}, []int64{7, 8, 9}))
	s3, err := dataset.Open(flat, in, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := concat(t, drain(t, s3), "a")
	s3.Close()
	if !sameBits(got, iota32(6)) {
		t.Errorf("flat folder: %v", got)
	}
	// Errors name the file and input.
	writePB(t, filepath.Join(flat, "input_1.pb"), tensor(t, "names", []int64{3}, []int32{7, 8, 9}))
	_, err = dataset.Open(flat, in, dataset.Options{})
	wantErr(t, err, filepath.Join(flat, "input_1.pb"), `input "b"`, "expected int64 [batch]", "found int32 [3]")
	_, err = dataset.Open(flat, in[:1], dataset.Options{})
	wantErr(t, err, flat, "2 input_*.pb files for the model's 1 inputs")
}

// TestPBBackendSuite opens real ONNX test_data_set folders from Debian's
// libonnx-testdata against their models' declared inputs.
func TestPBBackendSuite(t *testing.T) {
	const root = "/usr/share/libonnx-testdata/data"
	for _, name := range []string{"node/test_add", "node/test_conv_with_strides_padding", "pytorch-converted/test_Conv2d"} {
		dir := filepath.Join(root, name)
		m, err := onnxio.Load(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Fatalf("%v (install Debian's libonnx-testdata; make test does it)", err)
		}
		var in []onnxio.ValueInfo
		for _, v := range m.Graph().Inputs() {
			in = append(in, onnxio.DescribeValue(v))
		}
		s, err := dataset.Open(dir, in, dataset.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		bs := drain(t, s)
		s.Close()
		ref, err := onnxio.ReadTensorFile(filepath.Join(dir, "test_data_set_0", "input_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ref.Float32s()
		got, err := bs[0].Inputs[in[0].Name].Float32s()
		if err != nil || len(bs) < 1 || !sameBits(got, want) || bs[0].N != int(ref.Shape[0]) {
			t.Errorf("%s: %d batches, N=%d, first input differs from input_0.pb (%v)", name, len(bs), bs[0].N, err)
		}
	}
}
