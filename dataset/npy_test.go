package dataset_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
	"codeberg.org/sbinet/npyio/npz"
	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
)

func TestNpyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	data := iota32(10 * 3 * 2)
	data[7] = float32(math.Copysign(0, -1))
	data[8] = -math.MaxFloat32
	data[9] = math.SmallestNonzeroFloat32
	p := writeNpy(t, filepath.Join(dir, "x.npy"), tensor(t, "x", []int64{10, 3, 2}, data))
	lp := writeNpy(t, filepath.Join(dir, "y.npy"), tensor(t, "y", []int64{10}, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}))
	s, err := dataset.Open(p, []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 3, 2)}, dataset.Options{BatchSize: 4, Labels: lp})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != 10 {
		t.Errorf("Len %d, want 10", s.Len())
	}
	for pass := range 2 {
		bs := drain(t, s)
		if got := sizes(bs); len(got) != 3 || got[0] != 4 || got[1] != 4 || got[2] != 2 {
			t.Fatalf("pass %d: batch sizes %v, want [4 4 2]", pass, got)
		}
		got, labels := concat(t, bs, "x")
		if !sameBits(got, data) {
			t.Fatalf("pass %d: data %v, want %v", pass, got, data)
		}
		for i, l := range labels {
			if l != int64(i) {
				t.Fatalf("pass %d: labels %v", pass, labels)
			}
		}
		if err := s.Reset(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNpyDefaultBatchAndLimit checks the default batch size of a dynamic
// batch dimension, and Limit.
func TestNpyDefaultBatchAndLimit(t *testing.T) {
	p := writeNpy(t, filepath.Join(t.TempDir(), "x.npy"), tensor(t, "x", []int64{70, 2}, iota32(140)))
	in := []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 2)}
	s, err := dataset.Open(p, in, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := sizes(drain(t, s)); len(got) != 3 || got[0] != dataset.DefaultBatchSize || got[2] != 70-2*dataset.DefaultBatchSize {
		t.Errorf("batch sizes %v with the default batch size", got)
	}
	s.Close()
	s, err = dataset.Open(p, in, dataset.Options{Limit: 5, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, _ := concat(t, drain(t, s), "x")
	if s.Len() != 5 || !sameBits(got, iota32(10)) {
		t.Errorf("limit 5: Len %d, data %v", s.Len(), got)
	}
}

// TestNpyFixedBatch: a fixed batch dimension sets the batch size, and a
// final partial batch is an error reported at Open.
func TestNpyFixedBatch(t *testing.T) {
	dir := t.TempDir()
	p := writeNpy(t, filepath.Join(dir, "x.npy"), tensor(t, "x", []int64{6, 2}, iota32(12)))
	in := []onnxio.ValueInfo{vi("x", onnxio.Float32, 3, 2)}
	s, err := dataset.Open(p, in, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := sizes(drain(t, s)); len(got) != 2 || got[0] != 3 || got[1] != 3 {
		t.Errorf("batch sizes %v, want [3 3]", got)
	}
	s.Close()
	_, err = dataset.Open(p, []onnxio.ValueInfo{vi("x", onnxio.Float32, 4, 2)}, dataset.Options{})
	wantErr(t, err, p, "6 samples", "fixed batch size 4", "--limit 4")
	_, err = dataset.Open(p, in, dataset.Options{BatchSize: 2})
	wantErr(t, err, p, `input "x"`, "fixed batch size of 3", "batch size 2")
}

// TestNpyReadByNpyio checks WriteNpy's files against an independent
// reader, and that files written by npyio are read back exactly.
func TestNpyReadByNpyio(t *testing.T) {
	dir := t.TempDir()
	data := iota32(12)
	p := writeNpy(t, filepath.Join(dir, "a.npy"), tensor(t, "x", []int64{4, 3}, data))
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := npyio.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if sh := r.Header.Descr.Shape; len(sh) != 2 || sh[0] != 4 || sh[1] != 3 || strings.Trim(r.Header.Descr.Type, "'") != "<f4" {
		t.Fatalf("npyio reads header %v", r.Header)
	}
	var back []float32
	if err := r.Read(&back); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !sameBits(back, data) {
		t.Fatalf("npyio reads %v, want %v", back, data)
	}

	// npyio writes int32 and float64 slices as 1-d arrays.
	var buf bytes.Buffer
	ints := []int32{5, -7, 1 << 30, 3, 0}
	if err := npyio.Write(&buf, ints); err != nil {
		t.Fatal(err)
	}
	ip := filepath.Join(dir, "ints.npy")
	os.WriteFile(ip, buf.Bytes(), 0o644)
	s, err := dataset.Open(ip, []onnxio.ValueInfo{vi("i", onnxio.Int32, -1)}, dataset.Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []int32
	for _, b := range drain(t, s) {
		got = append(got, b.Inputs["i"].Data.([]int32)...)
	}
	s.Close()
	if len(got) != len(ints) || got[2] != 1<<30 || got[1] != -7 {
		t.Errorf("int32 from npyio: %v, want %v", got, ints)
	}
	// Labels written by npyio as int32.
	lp := filepath.Join(dir, "labels.npy")
	buf.Reset()
	npyio.Write(&buf, []int32{3, 1, 4})
	os.WriteFile(lp, buf.Bytes(), 0o644)
	l, err := dataset.ReadLabels(lp)
	if err != nil || len(l) != 3 || l[0] != 3 || l[2] != 4 {
		t.Errorf("labels from npyio: %v, %v", l, err)
	}
}

// TestNpyBigEndian reads a '>f4' array (numpy's dtype('>f4')).
func TestNpyBigEndian(t *testing.T) {
	var data []byte
	for _, v := range []float32{1.5, -2, 1e-3} {
		data = binary.BigEndian.AppendUint32(data, math.Float32bits(v))
	}
	b := rawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", data)
	p := filepath.Join(t.TempDir(), "be.npy")
	os.WriteFile(p, b, 0o644)
	s, err := dataset.Open(p, []onnxio.ValueInfo{vi("x", onnxio.Float32, -1)}, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, _ := concat(t, drain(t, s), "x")
	if !sameBits(got, []float32{1.5, -2, 1e-3}) {
		t.Errorf("big-endian data %v", got)
	}
}

// TestNpzRoundTrip: members named after the inputs, stored (np.savez) and
// deflated (np.savez_compressed, npyio's npz writer).
func TestNpzRoundTrip(t *testing.T) {
	dir := t.TempDir()
	a := tensor(t, "a", []int64{5, 2}, iota32(10))
	bdata := []int64{10, 11, 12, 13, 14}
	in := []onnxio.ValueInfo{vi("a", onnxio.Float32, -1, 2), vi("b", onnxio.Int64, -1)}

	stored := filepath.Join(dir, "stored.npz")
	f, _ := os.Create(stored)
	zw := zip.NewWriter(f)
	for _, x := range []*onnxio.Tensor{a, tensor(t, "b", []int64{5}, bdata), tensor(t, "extra", []int64{1}, []float32{1})} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: x.Name + ".npy", Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if err := dataset.WriteNpy(w, x); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	f.Close()

	deflated := filepath.Join(dir, "deflated.npz")
	if err := npz.Write(deflated, map[string]any{"a.npy": iota32(10), "b.npy": bdata}); err != nil {
		t.Fatal(err)
	}
	// npyio writes 1-d arrays: declare a as 1-d for that file.
	inFlat := []onnxio.ValueInfo{vi("a", onnxio.Float32, -1), vi("b", onnxio.Int64, -1)}

	for _, c := range []struct {
		path string
		in   []onnxio.ValueInfo
		n    int
	}{{stored, in, 5}, {deflated, inFlat, 10}} {
		opts := dataset.Options{BatchSize: 2}
		if c.n == 10 {
			// 10 values of a against 5 of b: a sample count mismatch.
			_, err := dataset.Open(c.path, c.in, opts)
			wantErr(t, err, c.path, `input "a" has 10 samples`, `input "b" has 5`)
			continue
		}
		s, err := dataset.Open(c.path, c.in, opts)
		if err != nil {
			t.Fatal(err)
		}
		for pass := range 2 {
			bs := drain(t, s)
			got, _ := concat(t, bs, "a")
			var gotB []int64
			for _, b := range bs {
				gotB = append(gotB, b.Inputs["b"].Data.([]int64)...)
			}
			if !sameBits(got, iota32(10)) || len(gotB) != 5 || gotB[4] != 14 {
				t.Errorf("%s pass %d: a=%v b=%v", c.path, pass, got, gotB)
			}
			s.Reset()
		}
		s.Close()
	}

	// Deflated members, streamed sequentially: two inputs of equal length.
	deflated2 := filepath.Join(dir, "deflated2.npz")
	if err := npz.Write(deflated2, map[string]any{"a.npy": iota32(5), "b.npy": bdata}); err != nil {
		t.Fatal(err)
	}
	s, err := dataset.Open(deflated2, inFlat, dataset.Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for pass := range 2 {
		bs := drain(t, s)
		got, _ := concat(t, bs, "a")
		if !sameBits(got, iota32(5)) || len(bs) != 3 || bs[2].Inputs["b"].Data.([]int64)[0] != 14 {
			t.Errorf("deflated pass %d: a=%v", pass, got)
		}
		if err := s.Reset(); err != nil {
			t.Fatal(err)
		}
	}
	// A mid-stream Reset rewinds a deflated member.
	s.Next(context.Background())
	s.Reset()
	b, err := s.Next(context.Background())
	if err != nil || b.Index != 0 || b.Inputs["a"].Data.([]float32)[0] != iota32(1)[0] {
		t.Errorf("after Reset: %+v, %v", b, err)
	}
	_, err = dataset.Open(deflated2, []onnxio.ValueInfo{vi("a", onnxio.Float32, -1), vi("c", onnxio.Int64, -1)}, dataset.Options{})
	wantErr(t, err, deflated2, `input "c"`, "c.npy")
}

func TestReadLabelsText(t *testing.T) {
	dir := t.TempDir()
	p := writeText(t, filepath.Join(dir, "l.txt"), "# header comment\n3\n 1 \n\n4\n")
	l, err := dataset.ReadLabels(p)
	if err != nil || len(l) != 3 || l[0] != 3 || l[1] != 1 || l[2] != 4 {
		t.Errorf("labels %v, %v", l, err)
	}
	bad := writeText(t, filepath.Join(dir, "bad.txt"), "1\n2\ncat\n")
	_, err = dataset.ReadLabels(bad)
	wantErr(t, err, bad+":3", `"cat"`)
	fl := writeNpy(t, filepath.Join(dir, "f.npy"), tensor(t, "y", []int64{2}, []float32{1, 2}))
	_, err = dataset.ReadLabels(fl)
	wantErr(t, err, fl, "integers", "<f4")
}

// TestNpyAllDTypes round-trips every dtype .npy has through WriteNpy and
// Open (and npyio's header reader agrees on the descriptor).
func TestNpyAllDTypes(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		descr string
		data  any
	}{
		{"<f4", []float32{1, -2.5, 3}},
		{"<f8", []float64{1, -2.5, 1e300}},
		{"|i1", []int8{-128, 0, 127}},
		{"|u1", []uint8{0, 128, 255}},
		{"<i2", []int16{-32768, 1, 32767}},
		{"<u2", []uint16{0, 1, 65535}},
		{"<i4", []int32{-1 << 31, 1, 1<<31 - 1}},
		{"<u4", []uint32{0, 1, 1<<32 - 1}},
		{"<i8", []int64{-1 << 63, 1, 1<<63 - 1}},
		{"<u8", []uint64{0, 1, 1<<64 - 1}},
		{"|b1", []bool{true, false, true}},
	}
	for _, c := range cases {
		x := tensor(t, "x", []int64{3}, c.data)
		p := writeNpy(t, filepath.Join(dir, x.DType.String()+".npy"), x)
		f, _ := os.Open(p)
		r, err := npyio.NewReader(f)
		f.Close()
		if err != nil || strings.Trim(r.Header.Descr.Type, "'") != c.descr {
			t.Errorf("%s: npyio reads %v, %v", c.descr, r, err)
			continue
		}
		s, err := dataset.Open(p, []onnxio.ValueInfo{vi("x", x.DType, -1)}, dataset.Options{BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		bs := drain(t, s)
		s.Close()
		got := fmt.Sprint(bs[0].Inputs["x"].Data, bs[1].Inputs["x"].Data)
		d := reflect.ValueOf(c.data)
		want := fmt.Sprint(d.Slice(0, 2).Interface(), d.Slice(2, 3).Interface())
		if got != want || bs[0].Inputs["x"].DType != x.DType {
			t.Errorf("%s: read %s, want %s", c.descr, got, want)
		}
	}
	// A scalar array feeds a scalar input as is.
	p := writeNpy(t, filepath.Join(dir, "scalar.npy"), tensor(t, "s", nil, []float32{7}))
	s, err := dataset.Open(p, []onnxio.ValueInfo{vi("s", onnxio.Float32)}, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bs := drain(t, s)
	s.Close()
	if len(bs) != 1 || len(bs[0].Inputs["s"].Shape) != 0 || bs[0].Inputs["s"].Data.([]float32)[0] != 7 {
		t.Errorf("scalar: %+v", bs)
	}
	_, err = dataset.Open(p, []onnxio.ValueInfo{vi("s", onnxio.Float32, -1)}, dataset.Options{})
	wantErr(t, err, p, `input "s"`, "expected float32 [batch]", "found float32 []")
}
