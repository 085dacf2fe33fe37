package dataset_test

import (
	"archive/zip"
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
)

// NaN and infinite inputs are refused when their batch is read, in every
// format, with one line naming the file, the input and the sample.
func TestNonFiniteDataRefused(t *testing.T) {
	dir := t.TempDir()
	in := []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 4)}
	data := iota32(40) // 10 samples of 4
	data[3*4+2] = float32(math.Inf(1))
	x := tensor(t, "x", []int64{10, 4}, data)
	npy := writeNpy(t, filepath.Join(dir, "x.npy"), x)

	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("x.npy")
	if err := dataset.WriteNpy(w, x); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	npz := filepath.Join(dir, "x.npz")
	os.WriteFile(npz, zb.Bytes(), 0o644)

	csv := writeText(t, filepath.Join(dir, "x.csv"), "a,b,c,d\n1,2,3,4\n5,6,7,8\n9,NaN,1,2\n")

	pb := filepath.Join(dir, "pb")
	writePB(t, filepath.Join(pb, "test_data_set_0", "input_0.pb"), tensor(t, "x", []int64{2, 4}, iota32(8)))
	bad := iota32(8)
	bad[5] = float32(math.Inf(-1))
	writePB(t, filepath.Join(pb, "test_data_set_1", "input_0.pb"), tensor(t, "x", []int64{2, 4}, bad))

	for _, c := range []struct {
		path   string
		sample string
		value  string
	}{
		{npy, "sample 3", "+Inf at element 2"},
		{npz, "sample 3", "+Inf at element 2"},
		{csv, "sample 2", "NaN at element 1"},
		{pb, "sample 3", "-Inf at element 1"},
	} {
		s, err := dataset.Open(c.path, in, dataset.Options{BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		var last error
		for i := 0; i < 10 && last == nil; i++ {
			_, last = s.Next(t.Context())
		}
		s.Close()
		wantErr(t, last, c.path, `input "x"`, c.sample, c.value, "finite")
	}
}
