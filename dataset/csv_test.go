package dataset_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
)

func TestCSVRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := writeText(t, filepath.Join(dir, "iris.csv"),
		"sepal_length,sepal_width,petal_length,petal_width,target\n"+
			"5.1,3.5,1.4,0.2,0\n"+
			"7.0, 3.2,4.7,1.4,1\n"+
			"6.3,3.3,6.0,2.5,2.0\n"+
			"1e30,1e-3,-2,-0,1\n")
	in := []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 4)}
	s, err := dataset.Open(p, in, dataset.Options{LabelColumn: "target", BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := []float32{5.1, 3.5, 1.4, 0.2, 7.0, 3.2, 4.7, 1.4, 6.3, 3.3, 6.0, 2.5}
	for pass := range 2 {
		bs := drain(t, s)
		got, labels := concat(t, bs, "x")
		if len(bs) != 2 || !sameBits(got[:12], want) || len(labels) != 4 || labels[1] != 1 || labels[2] != 2 {
			t.Fatalf("pass %d: %d batches, data %v, labels %v", pass, len(bs), got, labels)
		}
		if got[12] != 1e30 || got[13] != 1e-3 {
			t.Fatalf("last row: %v", got[12:])
		}
		s.Reset()
	}
	// Reset in the middle of a pass.
	s.Next(context.Background())
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	b, err := s.Next(context.Background())
	if err != nil || b.Index != 0 || b.Inputs["x"].Data.([]float32)[0] != 5.1 {
		t.Fatalf("after Reset: %+v, %v", b, err)
	}
	// Chosen columns, in the chosen order.
	s2, err := dataset.Open(p, []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 2)}, dataset.Options{Columns: []string{"petal_width", "sepal_length"}, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	got, labels := concat(t, drain(t, s2), "x")
	s2.Close()
	if !sameBits(got, []float32{0.2, 5.1, 1.4, 7.0}) || labels != nil {
		t.Errorf("columns: %v labels %v", got, labels)
	}
	// Errors.
	_, err = dataset.Open(p, in, dataset.Options{})
	wantErr(t, err, p, `input "x"`, "expected float32 [batch,4]", "found float32 [?,5]", "5 columns")
	_, err = dataset.Open(p, in, dataset.Options{LabelColumn: "species"})
	wantErr(t, err, p, `no label column "species"`, "target")
	_, err = dataset.Open(p, []onnxio.ValueInfo{vi("x", onnxio.Float64, -1, 4)}, dataset.Options{LabelColumn: "target"})
	wantErr(t, err, p, `input "x"`, "expected float64 [batch,4]", "found float32")
	bad := writeText(t, filepath.Join(dir, "bad.csv"), "a,b\n1,2\n3,\n")
	_, err = dataset.Open(bad, []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 2)}, dataset.Options{})
	wantErr(t, err, bad+":3:3", "empty cell")
	badLabel := writeText(t, filepath.Join(dir, "badlabel.csv"), "a,y\n1,2\n3,2.5\n")
	_, err = dataset.Open(badLabel, []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 1)}, dataset.Options{LabelColumn: "y"})
	wantErr(t, err, badLabel+":3", `"2.5" is not an integer`)
	empty := writeText(t, filepath.Join(dir, "empty.csv"), "")
	_, err = dataset.Open(empty, in, dataset.Options{})
	wantErr(t, err, empty, "empty")
	head := writeText(t, filepath.Join(dir, "head.csv"), "a,b\n")
	_, err = dataset.Open(head, []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 2)}, dataset.Options{})
	wantErr(t, err, head, "no data rows")
}
