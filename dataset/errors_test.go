package dataset_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
)

var mnistInput = []onnxio.ValueInfo{vi("input", onnxio.Float32, -1, 1, 28, 28)}

func TestErrWrongShape(t *testing.T) {
	p := writeNpy(t, filepath.Join(t.TempDir(), "x.npy"), tensor(t, "x", []int64{2, 1, 28, 27}, make([]float32, 2*28*27)))
	_, err := dataset.Open(p, mnistInput, dataset.Options{})
	wantErr(t, err, p, `input "input"`, "expected float32 [batch,1,28,28]", "found float32 [2,1,28,27]")
	// Wrong rank.
	p2 := writeNpy(t, filepath.Join(t.TempDir(), "flat.npy"), tensor(t, "x", []int64{2, 784}, make([]float32, 2*784)))
	_, err = dataset.Open(p2, mnistInput, dataset.Options{})
	wantErr(t, err, p2, `input "input"`, "expected float32 [batch,1,28,28]", "found float32 [2,784]", "rank 2, want 4")
}

func TestErrWrongDType(t *testing.T) {
	p := writeNpy(t, filepath.Join(t.TempDir(), "x.npy"), tensor(t, "x", []int64{2, 1, 28, 28}, make([]float64, 2*784)))
	_, err := dataset.Open(p, mnistInput, dataset.Options{})
	wantErr(t, err, p, `input "input"`, "expected float32 [batch,1,28,28]", "found float64 [2,1,28,28]")
}

func TestErrTruncatedNpy(t *testing.T) {
	dir := t.TempDir()
	p := writeNpy(t, filepath.Join(dir, "x.npy"), tensor(t, "x", []int64{10, 1, 28, 28}, make([]float32, 10*784)))
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-100], 0o644)
	_, err := dataset.Open(p, mnistInput, dataset.Options{})
	wantErr(t, err, p, "truncated", "[10,1,28,28]", "31360 data bytes", "31260")
	// A header cut short.
	os.WriteFile(p, b[:40], 0o644)
	_, err = dataset.Open(p, mnistInput, dataset.Options{})
	wantErr(t, err, p, "truncated")
	// Truncated labels.
	lp := writeNpy(t, filepath.Join(dir, "y.npy"), tensor(t, "y", []int64{10}, make([]int64, 10)))
	lb, _ := os.ReadFile(lp)
	os.WriteFile(lp, lb[:len(lb)-8], 0o644)
	_, err = dataset.ReadLabels(lp)
	wantErr(t, err, lp, "truncated")
}

func TestErrLabelCount(t *testing.T) {
	dir := t.TempDir()
	p := writeNpy(t, filepath.Join(dir, "x.npy"), tensor(t, "x", []int64{3, 1, 28, 28}, make([]float32, 3*784)))
	lp := writeText(t, filepath.Join(dir, "labels.txt"), "1\n2\n")
	_, err := dataset.Open(p, mnistInput, dataset.Options{Labels: lp})
	wantErr(t, err, lp, "2 labels for the 3 samples of "+p)
	ln := writeNpy(t, filepath.Join(dir, "labels.npy"), tensor(t, "y", []int64{4}, []int64{1, 2, 3, 4}))
	_, err = dataset.Open(p, mnistInput, dataset.Options{Labels: ln, Limit: 2})
	wantErr(t, err, ln, "4 labels for the 3 samples")
}

func TestErrEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := dataset.Open(dir, mnistInput, dataset.Options{})
	wantErr(t, err, dir, "empty")
	// Class subfolders without images.
	os.Mkdir(filepath.Join(dir, "cat"), 0o755)
	writeText(t, filepath.Join(dir, "cat", "notes.txt"), "x")
	_, err = dataset.Open(dir, mnistInput, dataset.Options{})
	wantErr(t, err, dir, "empty", "1 class subfolders")
	// A test_data_set folder without inputs.
	pb := t.TempDir()
	os.Mkdir(filepath.Join(pb, "test_data_set_0"), 0o755)
	_, err = dataset.Open(pb, mnistInput, dataset.Options{})
	wantErr(t, err, filepath.Join(pb, "test_data_set_0"), "no input_*.pb")
}

func TestErrOther(t *testing.T) {
	dir := t.TempDir()
	x := writeNpy(t, filepath.Join(dir, "x.npy"), tensor(t, "x", []int64{3, 1, 28, 28}, make([]float32, 3*784)))
	two := []onnxio.ValueInfo{mnistInput[0], vi("mask", onnxio.Bool, -1)}
	_, err := dataset.Open(x, two, dataset.Options{})
	wantErr(t, err, x, "the model has 2", `"input", "mask"`, ".npz")
	_, err = dataset.Open(filepath.Join(dir, "data.bin"), mnistInput, dataset.Options{})
	wantErr(t, err, "no such file")
	bin := writeText(t, filepath.Join(dir, "data.bin"), "x")
	_, err = dataset.Open(bin, mnistInput, dataset.Options{})
	wantErr(t, err, bin, "unknown data format")
	notNpy := writeText(t, filepath.Join(dir, "bad.npy"), "this is not numpy data at all")
	_, err = dataset.Open(notNpy, mnistInput, dataset.Options{})
	wantErr(t, err, notNpy, "not a .npy file")
	notZip := writeText(t, filepath.Join(dir, "bad.npz"), "PK not really")
	_, err = dataset.Open(notZip, mnistInput, dataset.Options{})
	wantErr(t, err, notZip, "not a .npz")
	_, err = dataset.Open(x, mnistInput, dataset.Options{BatchSize: -1})
	wantErr(t, err, x, "negative")
	_, err = dataset.Open(x, []onnxio.ValueInfo{{Name: "s", Kind: "sequence"}}, dataset.Options{})
	wantErr(t, err, x, `input "s" is a sequence`)
	// Too many bytes after the data.
	b, _ := os.ReadFile(x)
	long := filepath.Join(dir, "long.npy")
	os.WriteFile(long, append(b, 0, 0, 0, 0), 0o644)
	_, err = dataset.Open(long, mnistInput, dataset.Options{})
	wantErr(t, err, long, "4 bytes follow the data")
	// Fortran order.
	fo := filepath.Join(dir, "fortran.npy")
	os.WriteFile(fo, rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", make([]byte, 24)), 0o644)
	_, err = dataset.Open(fo, []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 3)}, dataset.Options{})
	wantErr(t, err, fo, "Fortran")
}
