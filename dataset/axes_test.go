package dataset_test

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
)

// writeNpz stores each tensor as member NAME.npy (uncompressed when store,
// else deflated).
func writeNpz(t *testing.T, path string, store bool, ts ...*onnxio.Tensor) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, x := range ts {
		h := &zip.FileHeader{Name: x.Name + ".npy", Method: zip.Deflate}
		if store {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := dataset.WriteNpy(w, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// A model shaped like Silero VAD: x [batch, 4], a rank-0 sample rate and a
// recurrent state [2, batch, 3] whose batch dimension is its second.
func vadInputs() []onnxio.ValueInfo {
	state := vi("state", onnxio.Float32, 2, -1, 3)
	state.Shape[1].Param = "batch"
	return []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 4), {Name: "sr", DType: onnxio.Int64, Kind: "tensor", Shape: []onnxio.Dim{}}, state}
}

// state[l, b, h] = 100·l + 10·b + h
func vadState(n int) []float32 {
	s := make([]float32, 2*n*3)
	for l := 0; l < 2; l++ {
		for b := 0; b < n; b++ {
			for h := 0; h < 3; h++ {
				s[(l*n+b)*3+h] = float32(100*l + 10*b + h)
			}
		}
	}
	return s
}

// Rank-0 inputs beside batched ones take their one value in every batch;
// an input whose batch dimension is not its first is cut along it.
func TestScalarAndInnerBatchAxisFromNpz(t *testing.T) {
	dir := t.TempDir()
	for _, store := range []bool{true, false} {
		p := writeNpz(t, filepath.Join(dir, "vad.npz"), store,
			tensor(t, "x", []int64{5, 4}, iota32(20)),
			tensor(t, "sr", nil, []int64{16000}),
			tensor(t, "state", []int64{2, 5, 3}, vadState(5)))
		s, err := dataset.Open(p, vadInputs(), dataset.Options{BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		for pass := 0; pass < 2; pass++ {
			bs := drain(t, s)
			if got := sizes(bs); len(got) != 3 || got[0] != 2 || got[2] != 1 {
				t.Fatalf("batch sizes %v", got)
			}
			for _, b := range bs {
				sr := b.Inputs["sr"]
				if len(sr.Shape) != 0 || sr.Data.([]int64)[0] != 16000 || b.Axis("sr") != -1 {
					t.Fatalf("sr %v %v axis %d", sr.Shape, sr.Data, b.Axis("sr"))
				}
				st := b.Inputs["state"]
				if len(st.Shape) != 3 || st.Shape[0] != 2 || st.Shape[1] != int64(b.N) || b.Axis("state") != 1 {
					t.Fatalf("state shape %v axis %d", st.Shape, b.Axis("state"))
				}
				d := st.Data.([]float32)
				for l := 0; l < 2; l++ {
					for k := 0; k < b.N; k++ {
						if want := float32(100*l + 10*(b.Index+k)); d[(l*b.N+k)*3] != want {
							t.Fatalf("batch at %d: state[%d,%d,0] = %g, want %g", b.Index, l, k, d[(l*b.N+k)*3], want)
						}
					}
				}
				// Slice cuts every input along its own axis.
				if b.N == 2 {
					h, err := b.Slice(1, 2)
					if err != nil {
						t.Fatal(err)
					}
					if h.Inputs["state"].Shape[1] != 1 || h.Inputs["state"].Data.([]float32)[3] != float32(100+10*(b.Index+1)) || h.Inputs["x"].Shape[0] != 1 || h.Index != b.Index+1 {
						t.Fatalf("slice: %v %v", h.Inputs["state"].Shape, h.Inputs["state"].Data)
					}
				}
			}
			s.Reset()
		}
		s.Close()
	}
	// The same from a test_data_set folder: one set, one batch.
	pb := filepath.Join(dir, "pb")
	writePB(t, filepath.Join(pb, "test_data_set_0", "input_0.pb"), tensor(t, "x", []int64{1, 4}, iota32(4)))
	writePB(t, filepath.Join(pb, "test_data_set_0", "input_1.pb"), tensor(t, "sr", nil, []int64{8000}))
	writePB(t, filepath.Join(pb, "test_data_set_0", "input_2.pb"), tensor(t, "state", []int64{2, 1, 3}, vadState(1)))
	s, err := dataset.Open(pb, vadInputs(), dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bs := drain(t, s)
	if len(bs) != 1 || bs[0].N != 1 || bs[0].Inputs["sr"].Data.([]int64)[0] != 8000 || bs[0].Inputs["state"].Shape[1] != 1 {
		t.Fatalf("%d batches, %+v", len(bs), bs[0])
	}
	// Mismatched sample counts along the batch axes are one-line errors.
	bad := writeNpz(t, filepath.Join(dir, "bad.npz"), true,
		tensor(t, "x", []int64{5, 4}, iota32(20)),
		tensor(t, "sr", nil, []int64{16000}),
		tensor(t, "state", []int64{2, 4, 3}, vadState(4)))
	_, err = dataset.Open(bad, vadInputs(), dataset.Options{})
	wantErr(t, err, bad, `input "x" has 5 samples, input "state" has 4`)
	// A batched sample rate where the model wants a scalar.
	bad2 := writeNpz(t, filepath.Join(dir, "bad2.npz"), true,
		tensor(t, "x", []int64{5, 4}, iota32(20)),
		tensor(t, "sr", []int64{5}, []int64{1, 2, 3, 4, 5}),
		tensor(t, "state", []int64{2, 5, 3}, vadState(5)))
	_, err = dataset.Open(bad2, vadInputs(), dataset.Options{})
	wantErr(t, err, `input "sr"`, "rank 1, want 0")
}

// A default batch size gives way to a model's fixed batch dimension; a
// requested one that differs is an error.
func TestBatchDefaultYieldsToFixedBatch(t *testing.T) {
	p := writeNpy(t, filepath.Join(t.TempDir(), "x.npy"), tensor(t, "x", []int64{6, 2}, iota32(12)))
	in := []onnxio.ValueInfo{vi("x", onnxio.Float32, 3, 2)}
	s, err := dataset.Open(p, in, dataset.Options{BatchSize: 64, BatchDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := sizes(drain(t, s)); len(got) != 2 || got[0] != 3 {
		t.Fatalf("batch sizes %v", got)
	}
	s.Close()
	_, err = dataset.Open(p, in, dataset.Options{BatchSize: 64})
	wantErr(t, err, "fixed batch size of 3", "batch size 64")
}
