package dataset_test

import (
	"context"
	"io"
	"slices"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
)

// Head cuts every input and the labels to the first n samples, for every
// element type the data sets produce (int16, uint32 and strings included).
func TestHeadCutsEveryInput(t *testing.T) {
	mk := func(name string, shape []int64, data any) *onnxio.Tensor {
		return &onnxio.Tensor{Name: name, DType: onnxio.Float32, Shape: shape, Data: data}
	}
	b := &dataset.Batch{N: 3, Index: 6, Labels: []int64{7, 8, 9}, Inputs: map[string]*onnxio.Tensor{
		"f": mk("f", []int64{3, 2}, []float32{1, 2, 3, 4, 5, 6}),
		"h": mk("h", []int64{3}, []int16{-1, -2, -3}),
		"u": mk("u", []int64{3, 1}, []uint32{10, 20, 30}),
		"s": mk("s", []int64{3}, []string{"a", "b", "c"}),
	}}
	h, err := dataset.Head(b, 2)
	if err != nil {
		t.Fatal(err)
	}
	if h.N != 2 || h.Index != 6 || !slices.Equal(h.Labels, []int64{7, 8}) {
		t.Fatalf("head %+v", h)
	}
	if got := h.Inputs["f"]; !slices.Equal(got.Shape, []int64{2, 2}) || !slices.Equal(got.Data.([]float32), []float32{1, 2, 3, 4}) {
		t.Errorf("f: %v %v", got.Shape, got.Data)
	}
	if got := h.Inputs["h"].Data.([]int16); !slices.Equal(got, []int16{-1, -2}) {
		t.Errorf("h: %v", got)
	}
	if got := h.Inputs["u"].Data.([]uint32); !slices.Equal(got, []uint32{10, 20}) {
		t.Errorf("u: %v", got)
	}
	if got := h.Inputs["s"].Data.([]string); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("s: %v", got)
	}
	if same, _ := dataset.Head(b, 3); same != b {
		t.Error("Head(b, b.N) copied the batch")
	}
	scalar := &dataset.Batch{N: 2, Inputs: map[string]*onnxio.Tensor{"x": mk("x", nil, []float32{1})}}
	if _, err := dataset.Head(scalar, 1); err == nil {
		t.Error("a scalar input was cut")
	}
}

func TestBatchesRewinds(t *testing.T) {
	x := &onnxio.Tensor{Name: "x", DType: onnxio.Float32, Shape: []int64{2}, Data: []float32{1, 2}}
	a := &dataset.Batch{N: 2, Inputs: map[string]*onnxio.Tensor{"x": x}}
	b := &dataset.Batch{N: 1, Index: 2, Inputs: map[string]*onnxio.Tensor{"x": x}}
	src := dataset.Batches(a, b)
	if src.Len() != 3 {
		t.Fatalf("Len %d", src.Len())
	}
	for pass := 0; pass < 2; pass++ {
		var got []*dataset.Batch
		for {
			bt, err := src.Next(context.Background())
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, bt)
		}
		if len(got) != 2 || got[0] != a || got[1] != b {
			t.Fatalf("pass %d: %v", pass, got)
		}
		if err := src.Reset(); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Next(ctx); err == nil {
		t.Error("Next ignored a cancelled context")
	}
}
