package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/ort"
	"google.golang.org/protobuf/proto"
)

// gb builds small ONNX models for tests.
type gb struct {
	g     *onnxpb.GraphProto
	opset int64
}

func newGB(opset int64) *gb {
	return &gb{g: &onnxpb.GraphProto{Name: proto.String("test")}, opset: opset}
}

func (b *gb) input(name string, dt onnxio.DType, shape ...int64) *gb {
	b.g.Input = append(b.g.Input, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: onnxio.TensorType(dt, shape)})
	return b
}

func (b *gb) init(name string, shape []int64, data any) *gb {
	t, err := onnxio.NewTensor(name, shape, data)
	if err != nil {
		panic(err)
	}
	p, err := t.ToProto()
	if err != nil {
		panic(err)
	}
	b.g.Initializer = append(b.g.Initializer, p)
	return b
}

func (b *gb) node(op string, ins, outs []string, attrs ...*onnxpb.AttributeProto) *gb {
	n := &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(fmt.Sprintf("%s_%d", op, len(b.g.Node))), Input: ins, Output: outs, Attribute: attrs}
	b.g.Node = append(b.g.Node, n)
	return b
}

func (b *gb) output(names ...string) *gb {
	for _, n := range names {
		b.g.Output = append(b.g.Output, &onnxpb.ValueInfoProto{Name: proto.String(n)})
	}
	return b
}

func (b *gb) model() *onnxio.Model {
	ir := int64(8)
	if b.opset >= 19 {
		ir = 9
	}
	return &onnxio.Model{Proto: &onnxpb.ModelProto{
		IrVersion:   proto.Int64(ir),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(b.opset)}},
		Graph:       b.g,
	}}
}

func aInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}
func aInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}
func aFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}
func aString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// ortReady initializes ONNX Runtime once; tests that compare against it
// fail (not skip) when it is missing.
func ortReady(t testing.TB) {
	t.Helper()
	if _, err := ort.Init(""); err != nil {
		t.Fatalf("ONNX Runtime is needed as the reference (run `make setup`): %v", err)
	}
}

// runORT runs m in ONNX Runtime (single-threaded, optimizations off, so
// the reference is ORT's plain kernels).
func runORT(m *onnxio.Model, inputs map[string]*onnxio.Tensor) ([]*onnxio.Tensor, error) {
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 1, InterOpThreads: 1, OptLevel: "disable"})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Run(inputs)
}

// closeTo compares got with want elementwise: |g-w| <= rtol*|w| + atol,
// with atol = rtol * 1e-2 * max(1, max|w|) so that values near zero are
// judged against the tensor's scale.
func closeTo(got, want *onnxio.Tensor, rtol float64) error {
	if len(got.Shape) != len(want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	for i := range got.Shape {
		if got.Shape[i] != want.Shape[i] {
			return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
		}
	}
	if want.DType != onnxio.Float32 {
		gi, err1 := intValues(got)
		wi, err2 := intValues(want)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("types %s and %s", got.DType, want.DType)
		}
		if got.DType != want.DType {
			return fmt.Errorf("type %s, want %s", got.DType, want.DType)
		}
		for i := range wi {
			if gi[i] != wi[i] {
				return fmt.Errorf("element %d: %d, want %d", i, gi[i], wi[i])
			}
		}
		return nil
	}
	g, ok1 := got.Data.([]float32)
	w, ok2 := want.Data.([]float32)
	if !ok1 || !ok2 {
		return fmt.Errorf("types %s and %s", got.DType, want.DType)
	}
	scale := 1.0
	for _, v := range w {
		if a := math.Abs(float64(v)); a > scale && !math.IsInf(a, 0) {
			scale = a
		}
	}
	atol := rtol * 1e-2 * scale
	for i := range w {
		a, b := float64(g[i]), float64(w[i])
		if math.IsNaN(b) {
			if !math.IsNaN(a) {
				return fmt.Errorf("element %d: %g, want NaN", i, a)
			}
			continue
		}
		if math.IsInf(b, 0) {
			if a != b {
				return fmt.Errorf("element %d: %g, want %g", i, a, b)
			}
			continue
		}
		if math.Abs(a-b) > rtol*math.Abs(b)+atol {
			return fmt.Errorf("element %d of %d: %g, want %g (diff %.3g)", i, len(w), a, b, a-b)
		}
	}
	return nil
}

func intValues(t *onnxio.Tensor) ([]int64, error) {
	if u, ok := t.Data.([]uint16); ok && t.DType == onnxio.Uint16 {
		out := make([]int64, len(u))
		for i, v := range u {
			out[i] = int64(v)
		}
		return out, nil
	}
	if b, ok := t.Data.([]bool); ok {
		out := make([]int64, len(b))
		for i, v := range b {
			if v {
				out[i] = 1
			}
		}
		return out, nil
	}
	return t.Int64s()
}

func randTensor(rng *rand.Rand, name string, shape []int64, gen func(*rand.Rand) float32) *onnxio.Tensor {
	n, _ := onnxio.NumElements(shape)
	d := make([]float32, n)
	for i := range d {
		d[i] = gen(rng)
	}
	return &onnxio.Tensor{Name: name, DType: onnxio.Float32, Shape: append([]int64(nil), shape...), Data: d}
}

// uniformAway draws from U(lo, hi) avoiding a margin around each kink.
func uniformAway(lo, hi float32, kinks ...float32) func(*rand.Rand) float32 {
	return func(r *rand.Rand) float32 {
		for {
			v := lo + (hi-lo)*r.Float32()
			ok := true
			for _, k := range kinks {
				if float32(math.Abs(float64(v-k))) < 0.05 {
					ok = false
				}
			}
			if ok {
				return v
			}
		}
	}
}

var bg = context.Background()

func testdataPath(t testing.TB, name string) string {
	t.Helper()
	p := "../testdata/" + name
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s: %v", p, err)
	}
	return p
}

type onnxpbAttr = onnxpb.AttributeProto

func aTensorInts(name string, v ...int64) *onnxpb.AttributeProto {
	t, _ := onnxio.NewTensor("", []int64{int64(len(v))}, v)
	p, _ := t.ToProto()
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: p}
}

// weightedLoss returns L = Σ R·y over the first output of e run on in in
// the given mode: a scalar whose gradient with respect to that output is R.
func weightedLoss(t *testing.T, e *Executor, in map[string]*onnxio.Tensor, mode Mode, R []float32) func() float64 {
	return func() float64 {
		outs, err := e.Forward(bg, in, mode)
		if err != nil {
			t.Fatal(err)
		}
		var l float64
		for i, v := range outs[0].Data.([]float32) {
			l += float64(v) * float64(R[i])
		}
		return l
	}
}

// argmaxAbs returns the index of the entry of s of largest magnitude, the
// first on ties.
func argmaxAbs(s []float32) int {
	big := 0
	for i, g := range s {
		if math.Abs(float64(g)) > math.Abs(float64(s[big])) {
			big = i
		}
	}
	return big
}

// fdEntry compares analytic, the derivative of loss with respect to
// p.Data[i], with a central difference around l0 = loss(), within
// 3e-2 relative plus absTol. A step that moves a ReLU input across 0 or
// changes a max pool's winner makes the one-sided slopes disagree: such
// points are not differentiable at this step size, and fdEntry returns false
// without checking.
func fdEntry(t *testing.T, p *Param, i int, analytic, l0 float64, loss func() float64, absTol float64) bool {
	t.Helper()
	v := p.Data[i]
	h := float32(1e-3) * max(1, float32(math.Abs(float64(v))))
	p.Data[i] = v + h
	lp := loss()
	p.Data[i] = v - h
	lm := loss()
	p.Data[i] = v
	fwd, bwd := (lp-l0)/float64(h), (l0-lm)/float64(h)
	if math.Abs(fwd-bwd) > 0.03*math.Max(math.Abs(fwd), math.Abs(bwd))+2e-2 {
		return false
	}
	num := (lp - lm) / float64(2*h)
	if math.Abs(analytic-num) > 3e-2*math.Max(math.Abs(analytic), math.Abs(num))+absTol {
		t.Errorf("d/d %s[%d]: analytic %.6g, numeric %.6g", p.Name, i, analytic, num)
	}
	return true
}
