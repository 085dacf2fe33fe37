package opinfo

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// backendRoot is where Debian's libonnx-testdata installs the ONNX backend
// test suite (make test installs it).
const backendRoot = "/usr/share/libonnx-testdata/data"

// suiteModel is one backend-suite model with every tensor the test data
// gives a value to: weights, graph inputs and graph outputs.
type suiteModel struct {
	dir     string
	m       *onnxio.Model
	tensors map[string]*onnxio.Tensor
}

func loadSuiteModel(t *testing.T, dir string) *suiteModel {
	t.Helper()
	m, err := onnxio.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	sm := &suiteModel{dir: dir, m: m, tensors: map[string]*onnxio.Tensor{}}
	g := m.Graph()
	for _, r := range g.Weights() {
		if w, err := r.Tensor(); err == nil {
			sm.tensors[r.Name] = w
		}
	}
	read := func(kind string, i int, name string) {
		p := filepath.Join(dir, "test_data_set_0", fmt.Sprintf("%s_%d.pb", kind, i))
		if tt, err := onnxio.ReadTensorFile(p); err == nil {
			sm.tensors[name] = tt
		}
	}
	for i, v := range g.Inputs() {
		read("input", i, v.GetName())
	}
	for i, v := range g.P.Output {
		read("output", i, v.GetName())
	}
	return sm
}

// shapes returns what the test data says of a node's tensors.
func (sm *suiteModel) shapes(n *onnxpb.NodeProto) Shapes {
	s := Shapes{Opset: sm.m.Opset("")}
	for _, name := range n.Input {
		var shape, value []int64
		if t := sm.tensors[name]; t != nil {
			shape = append([]int64{}, t.Shape...)
			if t.DType == onnxio.Int64 && t.Len() <= 16 {
				value, _ = t.Int64s()
			}
		}
		s.In, s.Values = append(s.In, shape), append(s.Values, value)
	}
	for _, name := range n.Output {
		var shape []int64
		if t := sm.tensors[name]; t != nil {
			shape = append([]int64{}, t.Shape...)
		}
		s.Out = append(s.Out, shape)
	}
	return s
}

func suiteDirs(t *testing.T, pattern string, min int) []string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(backendRoot, pattern))
	if len(dirs) < min {
		t.Fatalf("found %d backend models matching %s under %s, want at least %d: install Debian's libonnx-testdata (make test does)", len(dirs), pattern, backendRoot, min)
	}
	return dirs
}

// TestSuiteWeightAxes walks every Conv, ConvTranspose, Gemm and MatMul of
// the suite's pytorch-converted models and operator tests and checks the
// table's axes against the real tensors: the weight's In axis (times the
// group for Conv) is the data input's channel count, its Out axis (times
// the group for ConvTranspose) the output's, the bias has one entry per
// output channel, FanIn is the per-output sum length, and ChannelMap
// links exactly those axes.
func TestSuiteWeightAxes(t *testing.T) {
	var dirs []string
	dirs = append(dirs, suiteDirs(t, "pytorch-converted/*", 82)...)
	dirs = append(dirs, suiteDirs(t, "pytorch-operator/*", 30)...)
	for _, p := range []string{"node/test_*conv*", "node/test_gemm*", "node/test_matmul_*"} {
		dirs = append(dirs, suiteDirs(t, p, 3)...)
	}
	checked := map[string]int{}
	for _, dir := range dirs {
		sm := loadSuiteModel(t, dir)
		for _, n := range sm.m.Proto.Graph.Node {
			if !IsCompute(n.GetOpType()) {
				continue
			}
			s := sm.shapes(n)
			known := s.out(0) != nil
			for i, in := range n.Input {
				known = known && (in == "" || s.in(i) != nil)
			}
			if !known {
				continue // an intermediate tensor: no shape in the test data
			}
			name := filepath.Base(dir) + "/" + n.GetOpType()
			checkComputeAxes(t, name, n, s)
			checked[n.GetOpType()]++
		}
	}
	t.Logf("checked %v", checked)
	for _, op := range []string{"Conv", "ConvTranspose", "Gemm", "MatMul"} {
		if checked[op] < 2 {
			t.Errorf("only %d %s nodes checked", checked[op], op)
		}
	}
}

func checkComputeAxes(t *testing.T, name string, n *onnxpb.NodeProto, s Shapes) {
	t.Helper()
	x, w, y := s.in(0), s.in(1), s.out(0)
	wa, ok := WeightAxes(n, w)
	if !ok {
		t.Errorf("%s: weight %v does not resolve", name, w)
		return
	}
	xa, _ := InputAxes(n, 0, len(x))
	g := Groups(n)
	cin, cout := w[wa.In], w[wa.Out]
	switch n.GetOpType() {
	case "Conv":
		cin *= g
	case "ConvTranspose":
		cout *= g
	}
	if x[xa.In] != cin {
		t.Errorf("%s: input %v has %d channels on axis %d, the weight %v says %d", name, x, x[xa.In], xa.In, w, cin)
	}
	ya := Axes{Out: -1}
	for _, l := range mustMap(t, name, n, s, In(1), wa.Out).Links {
		if l.Port == Out(0) {
			ya.Out = l.Axis
		}
		if l.Port == In(2) && s.in(2)[l.Axis] != cout {
			t.Errorf("%s: bias %v does not have the %d output channels", name, s.in(2), cout)
		}
	}
	if ya.Out < 0 || y[ya.Out] != cout {
		t.Errorf("%s: ChannelMap from the weight's Out axis %d reaches output axis %d of %v, want %d channels", name, wa.Out, ya.Out, y, cout)
	}
	// FanIn: the sum each output value computes, counted from the shapes.
	wantFan := cin / g
	if strings.HasPrefix(n.GetOpType(), "Conv") {
		wantFan *= prod(w[2:])
	}
	if fan, ok := FanIn(n, w); !ok || fan != wantFan {
		t.Errorf("%s: FanIn %d (%v) for input %v weight %v group %d", name, fan, ok, x, w, g)
	}
	if g == 1 {
		m := mustMap(t, name, n, s, In(0), xa.In)
		if len(m.Outputs()) != 0 || len(m.Links) != 1 || m.Links[0].Port != In(1) || m.Links[0].Axis != wa.In {
			t.Errorf("%s: input channels map to %s, want the weight's In axis %d only", name, describe(m), wa.In)
		}
	}
}

func mustMap(t *testing.T, name string, n *onnxpb.NodeProto, s Shapes, p Port, axis int) Map {
	t.Helper()
	m, err := ChannelMap(n, s, p, axis)
	if err != nil {
		t.Errorf("%s: ChannelMap(%s, axis %d): %v", name, portName(p), axis, err)
	}
	return m
}

// TestSuiteParamAxes checks per-channel parameters against the suite's
// real tensors: from the data's channel axis (BatchNormalization,
// InstanceNormalization, PRelu: 1; LayerNormalization: the last),
// ChannelMap links every parameter that has one entry per channel, on an
// axis of that size, and none that broadcasts.
func TestSuiteParamAxes(t *testing.T) {
	var dirs []string
	for _, p := range []string{"pytorch-converted/test_BatchNorm*", "pytorch-converted/test_PReLU*", "node/test_batchnorm*", "node/test_instancenorm*", "node/test_layer_normalization*", "node/test_prelu*"} {
		dirs = append(dirs, suiteDirs(t, p, 2)...)
	}
	checked := map[string]int{}
	for _, dir := range dirs {
		sm := loadSuiteModel(t, dir)
		for _, n := range sm.m.Proto.Graph.Node {
			o, ok := ForNode(n)
			if !ok || (o.Family != Normalization && o.Type != "PRelu") {
				continue
			}
			s := sm.shapes(n)
			x := s.in(0)
			if len(x) < 2 {
				continue
			}
			axis := 1
			if o.Type == "LayerNormalization" {
				axis = len(x) - 1
				if a := onnxio.AttrInt(n, "axis", -1); a != -1 && a != int64(len(x)-1) {
					continue // normalized over several axes: checked in the unit tests
				}
			}
			m, err := ChannelMap(n, s, In(0), axis)
			if err != nil {
				t.Errorf("%s: %v", dir, err)
				continue
			}
			linked := map[int]bool{}
			for _, l := range m.Links {
				if l.Port.Out {
					continue
				}
				linked[l.Port.Index] = true
				if d := s.in(l.Port.Index)[l.Axis]; d != x[axis] {
					t.Errorf("%s: %s linked on axis %d of %v, want %d entries", dir, o.Inputs[min(l.Port.Index, len(o.Inputs)-1)].Name, l.Axis, s.in(l.Port.Index), x[axis])
				}
			}
			for i := 1; i < len(n.Input); i++ {
				p := s.in(i)
				if n.Input[i] == "" || p == nil {
					continue
				}
				perChannel := slices.Contains(p, x[axis]) && x[axis] > 1
				if perChannel != linked[i] {
					t.Errorf("%s: input %d %v (data %v): linked %v, has one entry per channel %v", dir, i, p, x, linked[i], perChannel)
				}
			}
			checked[o.Type]++
		}
	}
	t.Logf("checked %v", checked)
	if len(checked) < 4 {
		t.Errorf("only %v checked", checked)
	}
}

// TestSuiteMACs counts the multiply-accumulates of every Conv,
// ConvTranspose, Gemm and MatMul operator test by running a naive
// implementation of the op's definition (checked against the test's
// expected output) and compares the count with MACs.
func TestSuiteMACs(t *testing.T) {
	var dirs []string
	for _, p := range []string{"node/test_*conv*", "node/test_gemm*", "node/test_matmul_*", "pytorch-converted/test_Conv*", "pytorch-converted/test_Linear*"} {
		dirs = append(dirs, suiteDirs(t, p, 2)...)
	}
	counted := 0
	for _, dir := range dirs {
		sm := loadSuiteModel(t, dir)
		for _, n := range sm.m.Proto.Graph.Node {
			if !IsCompute(n.GetOpType()) {
				continue
			}
			name := filepath.Base(dir)
			s := sm.shapes(n)
			var ins []*onnxio.Tensor
			for _, in := range n.Input {
				ins = append(ins, sm.tensors[in])
			}
			want := sm.tensors[n.Output[0]]
			if ins[0] == nil || ins[1] == nil || want == nil {
				continue
			}
			got, macs, err := naive(n, ins, want.Shape)
			if err != nil {
				t.Fatalf("%s: naive %s: %v", name, n.GetOpType(), err)
			}
			if got != nil {
				if d := maxRelDiff(t, got, want); d > 1e-4 {
					t.Errorf("%s: the naive %s differs from the expected output by %g: the reference count is not the op", name, n.GetOpType(), d)
				}
			}
			c, err := MACs(n, s)
			if err != nil {
				t.Errorf("%s: MACs: %v", name, err)
				continue
			}
			if c.Total != macs {
				t.Errorf("%s: MACs %d, the naive %s performed %d", name, c.Total, n.GetOpType(), macs)
			}
			if batch := want.Shape[0]; len(want.Shape) > 1 && c.PerSample*batch != c.Total {
				t.Errorf("%s: per sample %d × batch %d ≠ %d", name, c.PerSample, batch, c.Total)
			}
			counted++
		}
	}
	t.Logf("%d nodes counted", counted)
	if counted < 30 {
		t.Errorf("only %d nodes counted", counted)
	}
}

func maxRelDiff(t *testing.T, got []float64, want *onnxio.Tensor) float64 {
	w, err := want.Float32s()
	if err != nil || len(w) != len(got) {
		t.Fatalf("expected output: %v (%d values, computed %d)", err, len(w), len(got))
	}
	d := 0.0
	for i := range w {
		d = max(d, math.Abs(got[i]-float64(w[i]))/(1+math.Abs(float64(w[i]))))
	}
	return d
}

// TestSuiteNoPanics runs every function over every node of the whole
// backend suite with what the test data knows of its tensors: known ops
// answer or return ErrNoMap, unknown ones ErrUnknown, and nothing panics.
func TestSuiteNoPanics(t *testing.T) {
	dirs := suiteDirs(t, "*/*", 1000)
	known, unknown := 0, map[string]bool{}
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
			continue
		}
		sm := loadSuiteModel(t, dir)
		for _, n := range sm.m.Proto.Graph.Node {
			s := sm.shapes(n)
			_, isKnown := ForNode(n)
			if !isKnown {
				unknown[n.GetOpType()] = true
			} else {
				known++
			}
			for p, names := range [][]string{n.Input, n.Output} {
				for i := range names {
					port := Port{Out: p == 1, Index: i}
					sh := s.in(i)
					if port.Out {
						sh = s.out(i)
					}
					for a := range max(len(sh), 2) {
						_, err := ChannelMap(n, s, port, a)
						switch {
						case !isKnown && !errors.Is(err, ErrUnknown):
							t.Errorf("%s: unknown op %s: %v", dir, n.GetOpType(), err)
						case isKnown && err != nil && !errors.Is(err, ErrNoMap):
							t.Errorf("%s: %s: %v", dir, n.GetOpType(), err)
						}
					}
				}
			}
			if _, err := MACs(n, s); isKnown && err != nil && IsCompute(n.GetOpType()) && s.in(0) != nil && s.in(1) != nil && s.out(0) != nil {
				t.Errorf("%s: MACs: %v", dir, err)
			}
		}
	}
	var names []string
	for op := range unknown {
		names = append(names, op)
	}
	t.Logf("%d known nodes; ops not in the table: %s", known, strings.Join(names, " "))
	if known < 800 {
		t.Errorf("only %d nodes of known ops", known)
	}
}
