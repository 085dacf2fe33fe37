package quantize

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
	"google.golang.org/protobuf/proto"
)

// memSource is an in-memory dataset.Source over fixed batches.
type memSource struct {
	batches []*dataset.Batch
	i       int
	n       int
}

func (s *memSource) Next(ctx context.Context) (*dataset.Batch, error) {
	if s.i >= len(s.batches) {
		return nil, io.EOF
	}
	s.i++
	return s.batches[s.i-1], nil
}
func (s *memSource) Len() int     { return s.n }
func (s *memSource) Reset() error { s.i = 0; return nil }
func (s *memSource) Close() error { return nil }

// mnistSource streams MNIST test images [from, from+count) in batches.
func mnistSource(t testing.TB, from, count, batch int) *memSource {
	t.Helper()
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	s := &memSource{n: count}
	for i := from; i < from+count; i += batch {
		n := min(batch, from+count-i)
		x, err := onnxio.NewTensor("input", []int64{int64(n), 1, mnist.Rows, mnist.Cols}, set.Float32NCHW(i, n))
		if err != nil {
			t.Fatal(err)
		}
		s.batches = append(s.batches, &dataset.Batch{Inputs: map[string]*onnxio.Tensor{"input": x}, Labels: set.Int64Labels(i, n), N: n, Index: i - from})
	}
	return s
}

func needORT(t testing.TB) {
	t.Helper()
	if _, err := ort.Init(""); err != nil {
		t.Fatalf("%v (run `make setup` to install ONNX Runtime)", err)
	}
}

func fixture(t testing.TB, name string) *onnxio.Model {
	t.Helper()
	p := filepath.Join("..", "testdata", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s missing: %v", p, err)
	}
	m, err := onnxio.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// vi declares a graph input or output.
type vi struct {
	name  string
	shape []int64 // -1: a symbolic batch dimension
}

// mkModel builds a model importing the default opset (and com.microsoft
// when asked) from inputs, initializers, nodes and outputs.
func mkModel(t testing.TB, opset int64, inputs []vi, inits []*onnxio.Tensor, nodes []*onnxpb.NodeProto, outputs []string) *onnxio.Model {
	t.Helper()
	g := &onnxpb.GraphProto{Name: proto.String("test")}
	for _, v := range inputs {
		s := &onnxpb.TensorShapeProto{}
		for _, d := range v.shape {
			if d < 0 {
				s.Dim = append(s.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}})
			} else {
				s.Dim = append(s.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
			}
		}
		g.Input = append(g.Input, &onnxpb.ValueInfoProto{Name: proto.String(v.name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxio.Float32)), Shape: s}}}})
	}
	for _, w := range inits {
		p, err := w.ToProto()
		if err != nil {
			t.Fatal(err)
		}
		g.Initializer = append(g.Initializer, p)
	}
	for i, n := range nodes {
		if n.GetName() == "" {
			n.Name = proto.String(fmt.Sprintf("%s_%d", n.GetOpType(), i))
		}
	}
	g.Node = nodes
	for _, o := range outputs {
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(o)})
	}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}}}
	return &onnxio.Model{Proto: mp}
}

// randTensor fills a tensor with seeded normal values times scale.
func randTensor(name string, seed uint64, scale float32, shape ...int64) *onnxio.Tensor {
	r := rand.New(rand.NewPCG(seed, 99))
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	d := make([]float32, n)
	for i := range d {
		d[i] = scale * float32(r.NormFloat64())
	}
	return &onnxio.Tensor{Name: name, DType: onnxio.Float32, Shape: append([]int64(nil), shape...), Data: d}
}

// randSource serves `batches` batches of seeded random inputs.
func randSource(inputs map[string][]int64, batches int, seed uint64) *memSource {
	s := &memSource{}
	for b := 0; b < batches; b++ {
		in := map[string]*onnxio.Tensor{}
		n := 0
		k := uint64(0)
		names := make([]string, 0, len(inputs))
		for name := range inputs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			shape := inputs[name]
			in[name] = randTensor(name, seed+uint64(b)*131+k, 1, shape...)
			n = int(shape[0])
			k++
		}
		s.batches = append(s.batches, &dataset.Batch{Inputs: in, N: n, Index: b * n})
		s.n += n
	}
	return s
}

// opCounts counts a model's nodes by op type ("domain:op" outside the
// default domain).
func opCounts(m *onnxio.Model) map[string]int {
	out := map[string]int{}
	for _, c := range m.Graph().OpHistogram() {
		out[c.Op] = c.Count
	}
	return out
}

// ortOptimizedOps runs ORT with all optimizations and returns the op counts
// of the graph it wrote.
func ortOptimizedOps(t testing.TB, m *onnxio.Model) map[string]int {
	t.Helper()
	p := filepath.Join(t.TempDir(), "optimized.onnx")
	s, err := ort.NewSession(m, ort.Options{OptimizedModelPath: p, IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	om, err := onnxio.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return opCounts(om)
}

// outputSQNR runs both models on in and returns the SQNR of b's outputs
// against a's in dB.
func outputSQNR(t testing.TB, a, b *onnxio.Model, in map[string]*onnxio.Tensor) float64 {
	t.Helper()
	return sqnrDB(runModel(t, a, in, 1), runModel(t, b, in, 1))
}

// runModel runs m on in in ONNX Runtime and returns its graph outputs.
func runModel(t testing.TB, m *onnxio.Model, in map[string]*onnxio.Tensor, threads int) []*onnxio.Tensor {
	t.Helper()
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: threads})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sqnrDB is the SQNR of got against ref in dB over every value of every
// float32 tensor, computed here in float64.
func sqnrDB(ref, got []*onnxio.Tensor) float64 {
	var sig, noise float64
	for k := range ref {
		x, ok1 := ref[k].Data.([]float32)
		y, ok2 := got[k].Data.([]float32)
		if !ok1 || !ok2 {
			continue
		}
		for i := range x {
			d := float64(x[i]) - float64(y[i])
			sig += float64(x[i]) * float64(x[i])
			noise += d * d
		}
	}
	return 10 * math.Log10(sig/noise)
}

// budget is an environment with validation data and one accuracy gate.
func budget(val dataset.Source, kind validate.GateKind, limit float64) transform.Env {
	return transform.Env{Val: val, Budget: []validate.Gate{{Kind: kind, Limit: limit}}}
}

// dtypeOf returns the element type of an initializer, or Undefined.
func dtypeOf(m *onnxio.Model, name string) onnxio.DType {
	for _, t := range m.Proto.Graph.Initializer {
		if t.GetName() == name {
			return onnxio.DType(t.GetDataType())
		}
	}
	return onnxio.Undefined
}

func node(op string, in []string, out ...string) *onnxpb.NodeProto {
	return onnxio.NewNode(op, "", in, out)
}

func withInts(n *onnxpb.NodeProto, name string, v ...int64) *onnxpb.NodeProto {
	onnxio.SetAttrInts(n, name, v)
	return n
}

func withInt(n *onnxpb.NodeProto, name string, v int64) *onnxpb.NodeProto {
	onnxio.SetAttrInt(n, name, v)
	return n
}

func withFloat(n *onnxpb.NodeProto, name string, v float32) *onnxpb.NodeProto {
	onnxio.SetAttrFloat(n, name, v)
	return n
}
