package validate

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// linearModel builds y = x·W + b with x [N, in] (N symbolic) and y [N, out].
func linearModel(t testing.TB, w []float32, b []float32, in, out int) *onnxio.Model {
	t.Helper()
	wt, err := onnxio.NewTensor("W", []int64{int64(in), int64(out)}, w)
	if err != nil {
		t.Fatal(err)
	}
	bt, err := onnxio.NewTensor("B", []int64{int64(out)}, b)
	if err != nil {
		t.Fatal(err)
	}
	wp, _ := wt.ToProto()
	bp, _ := bt.ToProto()
	dyn := func(name string, d int) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxio.Float32)),
			Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
				{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
				{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}},
			}},
		}}}}
	}
	g := &onnxpb.GraphProto{
		Name:        proto.String("linear"),
		Node:        []*onnxpb.NodeProto{onnxio.NewNode("MatMul", "mm", []string{"x", "W"}, []string{"xw"}), onnxio.NewNode("Add", "add", []string{"xw", "B"}, []string{"y"})},
		Initializer: []*onnxpb.TensorProto{wp, bp},
		Input:       []*onnxpb.ValueInfoProto{dyn("x", in)},
		Output:      []*onnxpb.ValueInfoProto{dyn("y", out)},
	}
	mp := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
		Graph:       g,
	}
	return &onnxio.Model{Proto: mp}
}

// forward is the reference: y = x·W + b in float64.
func forward(x []float32, w, b []float32, in, out int) []float32 {
	n := len(x) / in
	y := make([]float32, n*out)
	for i := 0; i < n; i++ {
		for j := 0; j < out; j++ {
			s := float64(b[j])
			for k := 0; k < in; k++ {
				s += float64(x[i*in+k]) * float64(w[k*out+j])
			}
			y[i*out+j] = float32(s)
		}
	}
	return y
}

func randFloats(r *rand.Rand, n int, scale float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((r.Float64()*2 - 1) * scale)
	}
	return out
}

func saveModel(t testing.TB, m *onnxio.Model, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := m.Save(p, onnxio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// memSource is an in-memory dataset.Source over rows of one input "x".
type memSource struct {
	x      []float32
	width  int
	labels []int64 // nil: no labels
	batch  int
	pos    int
	nexts  int
}

func (s *memSource) Len() int { return len(s.x) / s.width }

func (s *memSource) Next(ctx context.Context) (*dataset.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := s.Len()
	if s.pos >= n {
		return nil, io.EOF
	}
	s.nexts++
	end := min(s.pos+s.batch, n)
	rows := end - s.pos
	t, err := onnxio.NewTensor("x", []int64{int64(rows), int64(s.width)}, append([]float32(nil), s.x[s.pos*s.width:end*s.width]...))
	if err != nil {
		return nil, err
	}
	b := &dataset.Batch{Inputs: map[string]*onnxio.Tensor{"x": t}, N: rows, Index: s.pos}
	if s.labels != nil {
		b.Labels = append([]int64(nil), s.labels[s.pos:end]...)
	}
	s.pos = end
	return b, nil
}

func (s *memSource) Reset() error { s.pos = 0; return nil }
func (s *memSource) Close() error { return nil }

func near(a, b, tol float64) bool {
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}
