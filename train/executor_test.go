package train

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

func TestUnsupportedFailsAtBuild(t *testing.T) {
	cases := []struct {
		name, op, node string
		model          *onnxio.Model
	}{
		{"unknown op", "Foo", "Foo_1", newGB(13).input("x", onnxio.Float32, 2).
			node("Relu", []string{"x"}, []string{"h"}).node("Foo", []string{"h"}, []string{"y"}).output("y").model()},
		{"other domain", "com.microsoft:FusedGemm", "y", func() *onnxio.Model {
			m := newGB(13).input("x", onnxio.Float32, 2).model()
			m.Proto.Graph.Node = []*onnxpb.NodeProto{{OpType: proto.String("FusedGemm"), Domain: proto.String("com.microsoft"), Input: []string{"x"}, Output: []string{"y"}}}
			return m
		}()},
		{"float64 input", "input", "x", newGB(13).input("x", onnxio.Float64, 2).node("Relu", []string{"x"}, []string{"y"}).output("y").model()},
		{"cast to float16", "Cast", "Cast_0", newGB(13).input("x", onnxio.Float32, 2).
			node("Cast", []string{"x"}, []string{"y"}, aInt("to", int64(onnxio.Float16))).output("y").model()},
		{"float op on ints", "Relu", "Relu_0", newGB(14).input("x", onnxio.Int32, 2).node("Relu", []string{"x"}, []string{"y"}).output("y").model()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.model, Options{})
			var ue *onnxio.UnsupportedError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v (%T), want *onnxio.UnsupportedError", err, err)
			}
			if ue.Op != c.op || ue.Node != c.node {
				t.Errorf("UnsupportedError{Node: %q, Op: %q}, want node %q op %q", ue.Node, ue.Op, c.node, c.op)
			}
			if !strings.HasPrefix(err.Error(), "not implemented: op "+c.op+" at node ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

// mlpModel is a small MLP with weights in initializers and one weight in
// a Constant node.
func mlpModel(in, hidden, out int64, seed uint64) *onnxio.Model {
	r := rand.New(rand.NewPCG(seed, 1))
	w1 := randTensor(r, "w1", []int64{hidden, in}, uniformAway(-0.3, 0.3))
	w2 := randTensor(r, "w2", []int64{out, hidden}, uniformAway(-0.3, 0.3))
	b1 := randTensor(r, "b1", []int64{hidden}, uniformAway(-0.1, 0.1))
	b := newGB(13).input("x", onnxio.Float32, -1, in).
		init("w1", w1.Shape, w1.Data).init("b1", b1.Shape, b1.Data).
		node("Gemm", []string{"x", "w1", "b1"}, []string{"h"}, aInt("transB", 1)).
		node("Relu", []string{"h"}, []string{"a"}).
		node("Gemm", []string{"a", "w2", "b2"}, []string{"logits"}, aInt("transB", 1)).
		output("logits")
	b.init("w2", w2.Shape, w2.Data)
	// b2 lives in a Constant node.
	bt, _ := onnxio.NewTensor("", []int64{out}, make([]float32, out))
	bp, _ := bt.ToProto()
	b.g.Node = append([]*onnxpb.NodeProto{{OpType: proto.String("Constant"), Name: proto.String("b2_const"), Output: []string{"b2"},
		Attribute: []*onnxpb.AttributeProto{{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: bp}}}}, b.g.Node...)
	return b.model()
}

// blobs is a separable toy classification problem.
func blobs(n, in, classes int, seed uint64) ([]float32, []int64) {
	r := rand.New(rand.NewPCG(seed, 2))
	centers := make([]float32, classes*in)
	for i := range centers {
		centers[i] = 2*r.Float32() - 1
	}
	x := make([]float32, n*in)
	y := make([]int64, n)
	for i := 0; i < n; i++ {
		c := r.IntN(classes)
		y[i] = int64(c)
		for j := 0; j < in; j++ {
			x[i*in+j] = centers[c*in+j] + 0.3*float32(r.NormFloat64())
		}
	}
	return x, y
}

func trainSteps(t *testing.T, e *Executor, opt Optimizer, steps int, x []float32, y []int64, in, classes int, mode Mode) float32 {
	t.Helper()
	n := len(y)
	grad := make([]float32, n*classes)
	var loss float32
	for s := 0; s < steps; s++ {
		xt := &onnxio.Tensor{Name: "x", DType: onnxio.Float32, Shape: []int64{int64(n), int64(in)}, Data: x}
		outs, err := e.Forward(bg, map[string]*onnxio.Tensor{"x": xt}, mode)
		if err != nil {
			t.Fatal(err)
		}
		loss, err = CrossEntropy(outs[0].Data.([]float32), classes, y, grad)
		if err != nil {
			t.Fatal(err)
		}
		e.ZeroGrad()
		if err := e.Backward(bg, map[string][]float32{"logits": grad}); err != nil {
			t.Fatal(err)
		}
		opt.Step(e.Params(), 0.05)
	}
	return loss
}

// TestTrainWriteBack trains a small MLP, writes the weights back into the
// model (initializers and a Constant node), and checks the saved model runs
// in ORT with the engine's outputs while everything else is unchanged.
func TestTrainWriteBack(t *testing.T) {
	ortReady(t)
	m := mlpModel(8, 16, 3, 1)
	orig := m.Clone()
	e, err := New(m, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range e.Params() {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "w1,b1,w2,b2" {
		t.Fatalf("params %v, want w1,b1,w2,b2 (the Constant node's b2 included)", names)
	}
	x, y := blobs(64, 8, 3, 3)
	first := trainSteps(t, e, NewSGD(SGDConfig{Momentum: 0.9}), 1, x, y, 8, 3, Training)
	last := trainSteps(t, e, NewSGD(SGDConfig{Momentum: 0.9}), 60, x, y, 8, 3, Training)
	if !(last < first*0.5) {
		t.Fatalf("loss %g after training, %g before: not learning", last, first)
	}
	if err := e.WriteWeights(m); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trained.onnx")
	if err := m.Save(path, onnxio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	saved, err := onnxio.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// Only the weights changed.
	if len(saved.Proto.Graph.Node) != len(orig.Proto.Graph.Node) {
		t.Fatalf("node count changed")
	}
	for i, n := range saved.Proto.Graph.Node {
		o := orig.Proto.Graph.Node[i]
		if n.GetOpType() == "Constant" {
			if n.GetName() != o.GetName() || n.Output[0] != o.Output[0] {
				t.Errorf("Constant node renamed")
			}
			continue
		}
		if !proto.Equal(n, o) {
			t.Errorf("node %s changed", n.GetName())
		}
	}
	for _, name := range []string{"w1", "b1", "w2", "b2"} {
		before, _ := orig.Graph().Weight(name)
		after, err := saved.Graph().Weight(name)
		if err != nil {
			t.Fatal(err)
		}
		if !shapeEq64(before.Shape, after.Shape) || closeTo(after, before, 1e-6) == nil {
			t.Errorf("weight %s: shape %v→%v, values unchanged=%v", name, before.Shape, after.Shape, closeTo(after, before, 1e-6) == nil)
		}
	}
	xt := &onnxio.Tensor{Name: "x", DType: onnxio.Float32, Shape: []int64{64, 8}, Data: x}
	got, err := e.Forward(bg, map[string]*onnxio.Tensor{"x": xt}, Inference)
	if err != nil {
		t.Fatal(err)
	}
	want, err := runORT(saved, map[string]*onnxio.Tensor{"x": xt})
	if err != nil {
		t.Fatal(err)
	}
	if err := closeTo(got[0], want[0], 1e-5); err != nil {
		t.Errorf("saved model in ORT vs engine: %v", err)
	}
}

func shapeEq64(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMemoryPolicy checks that inference keeps only live activations, that
// training keeps what backward needs and releases it after, and that a
// second step with the same shapes allocates no new buffers.
func TestMemoryPolicy(t *testing.T) {
	// A deep chain of wide layers: at most a couple of activations are
	// live at once in inference.
	const width, depth, batch = 256, 8, 32
	b := newGB(13).input("x", onnxio.Float32, batch, width)
	r := rand.New(rand.NewPCG(1, 1))
	prev := "x"
	for i := 0; i < depth; i++ {
		w := randTensor(r, "w", []int64{width, width}, uniformAway(-0.1, 0.1))
		wn, hn, an := "w"+string(rune('a'+i)), "h"+string(rune('a'+i)), "a"+string(rune('a'+i))
		b.init(wn, w.Shape, w.Data).node("MatMul", []string{prev, wn}, []string{hn}).node("Tanh", []string{hn}, []string{an})
		prev = an
	}
	b.output(prev)
	e, err := New(b.model(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor(r, "x", []int64{batch, width}, uniformAway(-1, 1))
	act := int64(batch * width * 4) // bytes of one activation
	run := func(mode Mode) MemStats {
		e.ResetPeak()
		if _, err := e.Forward(bg, map[string]*onnxio.Tensor{"x": x}, mode); err != nil {
			t.Fatal(err)
		}
		st := e.MemStats()
		if mode != Inference {
			if err := e.Backward(bg, map[string][]float32{prev: make([]float32, batch*width)}); err != nil {
				t.Fatal(err)
			}
		}
		return st
	}
	inf := run(Inference)
	t.Logf("one activation %d bytes; inference peak %d", act, inf.PeakBytes)
	if inf.PeakBytes > 3*act {
		t.Errorf("inference peak %d bytes, want at most 3 activations (%d): activations are kept past their last use", inf.PeakBytes, 3*act)
	}
	tr := run(Training)
	t.Logf("training: %d bytes live after forward, peak %d", tr.LiveBytes, tr.PeakBytes)
	// Backward of MatMul needs its input, of Tanh its output: one of each
	// per layer, about 2*depth activations.
	if tr.LiveBytes < int64(depth)*act {
		t.Errorf("after a training forward %d bytes live, want at least %d (what backward needs)", tr.LiveBytes, int64(depth)*act)
	}
	after := e.MemStats()
	if after.LiveBytes > act+act/2 {
		t.Errorf("after backward %d bytes still live, want only the output (%d)", after.LiveBytes, act)
	}
	allocs := e.MemStats().Allocs
	run(Training)
	run(Inference)
	run(Training)
	if got := e.MemStats().Allocs; got != allocs {
		t.Errorf("steps after the first allocated %d new buffers; the pool should reuse them", got-allocs)
	}
}

// TestDeterministic trains two executors with the same seed (dropout on)
// and checks the weights agree bit for bit.
func TestDeterministic(t *testing.T) {
	build := func() *Executor {
		m := mlpModel(8, 32, 3, 4)
		// Insert dropout after the Relu.
		for _, n := range m.Proto.Graph.Node {
			if n.GetOpType() == "Gemm" && n.Input[0] == "a" {
				n.Input[0] = "ad"
			}
		}
		m.Proto.Graph.Node = append(m.Proto.Graph.Node, &onnxpb.NodeProto{OpType: proto.String("Dropout"), Name: proto.String("drop"), Input: []string{"a", "ratio"}, Output: []string{"ad"}})
		rt, _ := onnxio.NewTensor("ratio", nil, []float32{0.25})
		rp, _ := rt.ToProto()
		m.Proto.Graph.Initializer = append(m.Proto.Graph.Initializer, rp)
		m.Graph().Reindex()
		e, err := New(m, Options{Seed: 42, Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	x, y := blobs(64, 8, 3, 5)
	e1, e2 := build(), build()
	trainSteps(t, e1, NewAdam(AdamConfig{}), 5, x, y, 8, 3, Training)
	trainSteps(t, e2, NewAdam(AdamConfig{}), 5, x, y, 8, 3, Training)
	for i, p := range e1.Params() {
		q := e2.Params()[i]
		for j := range p.Data {
			if math.Float32bits(p.Data[j]) != math.Float32bits(q.Data[j]) {
				t.Fatalf("%s[%d]: %g vs %g", p.Name, j, p.Data[j], q.Data[j])
			}
		}
	}
	// Dropout really is on in Training mode and off in Inference mode.
	xt := &onnxio.Tensor{Name: "x", DType: onnxio.Float32, Shape: []int64{64, 8}, Data: x}
	o1, _ := e1.Forward(bg, map[string]*onnxio.Tensor{"x": xt}, Inference)
	a := append([]float32(nil), o1[0].Data.([]float32)...)
	o2, _ := e1.Forward(bg, map[string]*onnxio.Tensor{"x": xt}, Inference)
	if closeTo(o2[0], &onnxio.Tensor{DType: onnxio.Float32, Shape: o2[0].Shape, Data: a}, 0) != nil {
		t.Error("inference is not repeatable")
	}
	o3, _ := e1.Forward(bg, map[string]*onnxio.Tensor{"x": xt}, Training)
	if closeTo(o3[0], &onnxio.Tensor{DType: onnxio.Float32, Shape: o3[0].Shape, Data: a}, 1e-3) == nil {
		t.Error("training forward equals inference forward: dropout inactive")
	}
}

func TestBatchNormRunningStats(t *testing.T) {
	b := newGB(15).input("x", onnxio.Float32, 4, 2, 3).
		init("s", []int64{2}, []float32{1, 2}).init("bias", []int64{2}, []float32{0, 1}).
		init("mean", []int64{2}, []float32{0.5, -1}).init("var", []int64{2}, []float32{2, 3}).
		node("BatchNormalization", []string{"x", "s", "bias", "mean", "var"}, []string{"y"}, aFloat("momentum", 0.8)).output("y")
	m := b.model()
	e, err := New(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Params()) != 2 {
		t.Fatalf("params %d, want scale and bias only (running stats are state)", len(e.Params()))
	}
	r := rand.New(rand.NewPCG(1, 1))
	x := randTensor(r, "x", []int64{4, 2, 3}, uniformAway(-2, 3))
	xs := x.Data.([]float32)
	// Inference leaves the statistics alone.
	if _, err := e.Forward(bg, map[string]*onnxio.Tensor{"x": x}, Inference); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Forward(bg, map[string]*onnxio.Tensor{"x": x}, Training); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteWeights(m); err != nil {
		t.Fatal(err)
	}
	for c, name := range []string{"mean", "var"} {
		_ = c
		w, _ := m.Graph().Weight(name)
		got := w.Data.([]float32)
		for ch := 0; ch < 2; ch++ {
			var s, q float64
			for n := 0; n < 4; n++ {
				for i := 0; i < 3; i++ {
					s += float64(xs[(n*2+ch)*3+i])
				}
			}
			mu := s / 12
			for n := 0; n < 4; n++ {
				for i := 0; i < 3; i++ {
					d := float64(xs[(n*2+ch)*3+i]) - mu
					q += d * d
				}
			}
			old := []float64{0.5, -1}[ch]
			batch := mu
			if name == "var" {
				old = []float64{2, 3}[ch]
				batch = q / 12
			}
			want := 0.8*old + 0.2*batch
			if math.Abs(float64(got[ch])-want) > 1e-5 {
				t.Errorf("running %s[%d] = %g, want %g", name, ch, got[ch], want)
			}
		}
	}
}

func TestBackwardErrors(t *testing.T) {
	e, err := New(mlpModel(4, 5, 2, 1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Backward(bg, map[string][]float32{"logits": make([]float32, 6)}); !errors.Is(err, ErrNoForward) {
		t.Errorf("backward before forward: %v", err)
	}
	x := &onnxio.Tensor{Name: "x", DType: onnxio.Float32, Shape: []int64{3, 4}, Data: make([]float32, 12)}
	if _, err := e.Forward(bg, map[string]*onnxio.Tensor{"x": x}, Inference); err != nil {
		t.Fatal(err)
	}
	if err := e.Backward(bg, map[string][]float32{"logits": make([]float32, 6)}); !errors.Is(err, ErrNoForward) {
		t.Errorf("backward after an inference forward: %v", err)
	}
	if _, err := e.Forward(bg, map[string]*onnxio.Tensor{"x": x}, Training); err != nil {
		t.Fatal(err)
	}
	if err := e.Backward(bg, map[string][]float32{"logits": make([]float32, 5)}); err == nil {
		t.Error("a gradient of the wrong size was accepted")
	}
	if _, err := e.Forward(bg, map[string]*onnxio.Tensor{"y": x}, Inference); err == nil {
		t.Error("a missing input was accepted")
	}
	bad := &onnxio.Tensor{Name: "x", DType: onnxio.Float32, Shape: []int64{3, 5}, Data: make([]float32, 15)}
	if _, err := e.Forward(bg, map[string]*onnxio.Tensor{"x": bad}, Inference); err == nil || !strings.Contains(err.Error(), "Gemm") {
		t.Errorf("a mis-shaped input: %v", err)
	}
}

// TestMaskKeepsZeros trains with a mask and checks masked weights stay 0.
func TestMaskKeepsZeros(t *testing.T) {
	for _, opt := range []Optimizer{NewSGD(SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 1e-3}), NewAdam(AdamConfig{}), NewAdamW(AdamConfig{})} {
		e, err := New(mlpModel(8, 16, 3, 2), Options{})
		if err != nil {
			t.Fatal(err)
		}
		w := e.Param("w1")
		mask := make([]bool, len(w.Data))
		for i := range mask {
			mask[i] = i%3 != 0
		}
		if err := e.SetMask("w1", mask); err != nil {
			t.Fatal(err)
		}
		before := append([]float32(nil), w.Data...)
		x, y := blobs(32, 8, 3, 1)
		trainSteps(t, e, opt, 10, x, y, 8, 3, Training)
		changed := 0
		for i, keep := range mask {
			if !keep && w.Data[i] != 0 {
				t.Fatalf("%T: masked w1[%d] = %g", opt, i, w.Data[i])
			}
			if keep && w.Data[i] != before[i] {
				changed++
			}
		}
		if changed == 0 {
			t.Fatalf("%T: unmasked weights did not train", opt)
		}
	}
}

func TestResetParams(t *testing.T) {
	e, err := New(mlpModel(8, 16, 3, 2), Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.ResetParams(7)
	w1 := append([]float32(nil), e.Param("w1").Data...)
	bound := float32(1 / math.Sqrt(8))
	for _, v := range w1 {
		if v < -bound || v > bound {
			t.Fatalf("w1 entry %g outside ±%g", v, bound)
		}
	}
	b2 := e.Param("b2").Data
	nonzero := false
	for _, v := range b2 {
		nonzero = nonzero || v != 0
		if math.Abs(float64(v)) > 1/math.Sqrt(16) {
			t.Fatalf("b2 entry %g outside ±1/4", v)
		}
	}
	if !nonzero {
		t.Fatal("b2 not initialized")
	}
	e.ResetParams(7)
	for i, v := range e.Param("w1").Data {
		if v != w1[i] {
			t.Fatal("ResetParams is not deterministic")
		}
	}
}

func TestValueAndInputGrad(t *testing.T) {
	e, err := New(mlpModel(4, 5, 2, 1), Options{Outputs: []string{"a"}, InputGrads: true})
	if err != nil {
		t.Fatal(err)
	}
	x := &onnxio.Tensor{Name: "x", DType: onnxio.Float32, Shape: []int64{3, 4}, Data: []float32{1, 2, 3, 4, -1, -2, -3, -4, 0.5, 0, -0.5, 1}}
	if _, err := e.Forward(bg, map[string]*onnxio.Tensor{"x": x}, EvalGrad); err != nil {
		t.Fatal(err)
	}
	a, err := e.Value("a")
	if err != nil || len(a.Data.([]float32)) != 15 {
		t.Fatalf("Value(a): %v", err)
	}
	if _, err := e.Value("h"); err == nil {
		t.Error("a released activation was readable")
	}
	// Backward from the kept intermediate: d sum(a) / d x.
	ones := make([]float32, 15)
	for i := range ones {
		ones[i] = 1
	}
	if err := e.Backward(bg, map[string][]float32{"a": ones}); err != nil {
		t.Fatal(err)
	}
	g, err := e.InputGrad("x")
	if err != nil {
		t.Fatal(err)
	}
	w1, _ := mlpModel(4, 5, 2, 1).Graph().Weight("w1")
	b1, _ := mlpModel(4, 5, 2, 1).Graph().Weight("b1")
	wf, bf := w1.Data.([]float32), b1.Data.([]float32)
	xs := x.Data.([]float32)
	for r := 0; r < 3; r++ {
		for j := 0; j < 4; j++ {
			var want float32
			for k := 0; k < 5; k++ {
				h := bf[k]
				for i := 0; i < 4; i++ {
					h += xs[r*4+i] * wf[k*4+i]
				}
				if h > 0 {
					want += wf[k*4+j]
				}
			}
			if math.Abs(float64(g[r*4+j]-want)) > 1e-5 {
				t.Errorf("dx[%d,%d] = %g, want %g", r, j, g[r*4+j], want)
			}
		}
	}
}
