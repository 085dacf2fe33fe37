package quantize

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/transform"
	"github.com/shrinkml/shrink/validate"
)

// chain: x → Gemm g0 → Relu → Gemm g1 → Relu → Gemm g2 → y.
func chain(t *testing.T) (*onnxio.Model, map[string][]int64) {
	var nodes []*onnxpb.NodeProto
	var inits []*onnxio.Tensor
	in := "x"
	for i := 0; i < 3; i++ {
		w := randTensor("w"+string(rune('0'+i)), uint64(20+i), 0.3, 8, 8)
		inits = append(inits, w)
		g := node("Gemm", []string{in, w.Name}, "h"+string(rune('0'+i)))
		g.Name = strPtr("g" + string(rune('0'+i)))
		nodes = append(nodes, g)
		in = g.Output[0]
		if i < 2 {
			r := node("Relu", []string{in}, "r"+string(rune('0'+i)))
			nodes = append(nodes, r)
			in = r.Output[0]
		}
	}
	nodes[len(nodes)-1].Output[0] = "y"
	return mkModel(t, 13, []vi{{"x", []int64{-1, 8}}}, inits, nodes, []string{"y"}), map[string][]int64{"x": {8, 8}}
}

func strPtr(s string) *string { return &s }

func int8Nodes(rep *Report) string {
	var out []string
	for _, n := range rep.Nodes {
		if n.Int8 && n.Kind == Compute.String() {
			out = append(out, n.Name)
		}
	}
	return strings.Join(out, ",")
}

func TestNodeSelection(t *testing.T) {
	needORT(t)
	cases := []struct {
		o    Options
		want string
		why  string // float reason of g0 or the first float node
	}{
		{Options{}, "g0,g1,g2", ""},
		{Options{Exclude: []string{"g1"}}, "g0,g2", "excluded (--exclude g1)"},
		{Options{Exclude: []string{"re:^g[02]$"}}, "g1", "excluded (--exclude re:^g[02]$)"},
		{Options{KeepFirst: 1}, "g1,g2", "first 1 compute node kept float (--keep-first)"},
		{Options{KeepLast: 2}, "g0", "last 2 compute nodes kept float (--keep-last)"},
		{Options{OpTypes: []string{"Gemm"}}, "g0,g1,g2", "op type not selected (--op-types)"}, // the Relus
	}
	for _, c := range cases {
		m, shapes := chain(t)
		_, rep := quantizeCase(t, m, shapes, c.o)
		if got := int8Nodes(rep); got != c.want {
			t.Errorf("%+v: int8 %q, want %q", c.o, got, c.want)
		}
		if c.why != "" {
			found := false
			for _, n := range rep.Nodes {
				found = found || n.FloatReason == c.why
			}
			if !found {
				t.Errorf("%+v: no node kept float because %q:\n%s", c.o, c.why, rep.Table())
			}
		}
	}
}

func TestExclusionMatchingNothingIsAnError(t *testing.T) {
	m, shapes := chain(t)
	for _, ex := range []string{"nope", "re:^zz"} {
		_, _, err := Quantize(context.Background(), m, Options{Calib: randSource(shapes, 1, 1), Exclude: []string{"g0", ex}})
		var fe *transform.FieldError
		if !errors.As(err, &fe) || fe.Field != "Exclude" || !strings.Contains(err.Error(), ex) {
			t.Errorf("exclude %q: %v", ex, err)
		}
	}
	_, _, err := Quantize(context.Background(), m, Options{Calib: randSource(shapes, 1, 1), Exclude: []string{"re:("}})
	var fe *transform.FieldError
	if !errors.As(err, &fe) || fe.Field != "Exclude" {
		t.Errorf("bad regexp: %v", err)
	}
}

func TestOptionErrors(t *testing.T) {
	m, shapes := chain(t)
	src := randSource(shapes, 1, 1)
	gate := func(k validate.GateKind, v float64) validate.Gate { return validate.Gate{Kind: k, Limit: v} }
	for _, c := range []struct {
		o     Options
		field string
	}{
		{Options{Mode: "fast", Calib: src}, "Mode"},
		{Options{Format: "onnx", Calib: src}, "Format"},
		{Options{CalibMethod: "kl", Calib: src}, "CalibMethod"},
		{Options{Percentile: 101, Calib: src}, "Percentile"},
		{Options{Percentile: math.NaN(), Calib: src}, "Percentile"},
		{Options{ActivationType: onnxio.Int32, Calib: src}, "ActivationType"},
		{Options{OpTypes: []string{"LSTM"}, Calib: src}, "OpTypes"},
		{Options{Preset: "cnn", Calib: src}, "Preset"},
		{Options{}, "Calib"}, // static without calibration data
		{Options{KeepFirst: -1, Calib: src}, "KeepFirst"},
		{Options{Calib: src, Env: transform.Env{Threads: -2}}, "Env.Threads"},
		{Options{Calib: src, Env: transform.Env{Budget: []validate.Gate{gate(validate.MaxAccuracyDrop, 1)}}}, "Env.Val"}, // no validation data
		{Options{Calib: src, Env: transform.Env{Val: src, Budget: []validate.Gate{gate(validate.MaxAccuracyDrop, 1), gate(validate.MinAgreement, 0.9)}}}, "Env.Budget"},
		{Options{Calib: src, Env: budget(src, validate.MinSpeedup, 1.2)}, "Env.Budget"}, // not an accuracy gate
		{Options{Calib: src, Env: budget(src, validate.MinAgreement, 1.5)}, "Env.Budget"},
	} {
		_, _, err := Quantize(context.Background(), m, c.o)
		var fe *transform.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: %v, want a FieldError on %s", c.o, err, c.field)
		}
	}
}

// The transformer preset keeps decomposed LayerNorm and GELU float and
// quantizes the MatMuls.
func TestTransformerPreset(t *testing.T) {
	needORT(t)
	w1 := randTensor("w1", 1, 0.3, 8, 8)
	w2 := randTensor("w2", 2, 0.3, 8, 8)
	two := &onnxio.Tensor{Name: "two", DType: onnxio.Float32, Data: []float32{2}}
	eps := &onnxio.Tensor{Name: "eps", DType: onnxio.Float32, Data: []float32{1e-5}}
	sq2 := &onnxio.Tensor{Name: "sq2", DType: onnxio.Float32, Data: []float32{1.4142135}}
	one := &onnxio.Tensor{Name: "one", DType: onnxio.Float32, Data: []float32{1}}
	half := &onnxio.Tensor{Name: "half", DType: onnxio.Float32, Data: []float32{0.5}}
	nodes := []*onnxpb.NodeProto{
		node("MatMul", []string{"x", "w1"}, "m1"),
		// LayerNorm, decomposed
		withInts(node("ReduceMean", []string{"m1"}, "mu"), "axes", -1),
		node("Sub", []string{"m1", "mu"}, "d"),
		node("Pow", []string{"d", "two"}, "d2"),
		withInts(node("ReduceMean", []string{"d2"}, "var"), "axes", -1),
		node("Add", []string{"var", "eps"}, "ve"),
		node("Sqrt", []string{"ve"}, "sd"),
		node("Div", []string{"d", "sd"}, "ln"),
		// GELU, erf form
		node("Div", []string{"ln", "sq2"}, "g1"),
		node("Erf", []string{"g1"}, "g2"),
		node("Add", []string{"g2", "one"}, "g3"),
		node("Mul", []string{"ln", "g3"}, "g4"),
		node("Mul", []string{"g4", "half"}, "g5"),
		node("MatMul", []string{"g5", "w2"}, "y"),
	}
	m := mkModel(t, 13, []vi{{"x", []int64{-1, 8}}}, []*onnxio.Tensor{w1, w2, two, eps, sq2, one, half}, nodes, []string{"y"})
	qm, rep := quantizeCase(t, m, map[string][]int64{"x": {8, 8}}, Options{Preset: Transformer, OpTypes: []string{"MatMul", "Add", "Mul"}})
	if got := int8Nodes(rep); got != "MatMul_0,MatMul_13" {
		t.Errorf("int8 %q\n%s", got, rep.Table())
	}
	for _, n := range rep.Nodes {
		if (n.Op == "Add" || n.Op == "Mul") && (n.Int8 || !strings.Contains(n.FloatReason, "--preset transformer")) {
			t.Errorf("%s %s: int8 %v, reason %q", n.Name, n.Op, n.Int8, n.FloatReason)
		}
	}
	checkNumerics(t, m, qm, map[string][]int64{"x": {8, 8}}, 25)
}

func TestNothingToQuantizeIsUnsupported(t *testing.T) {
	m := mkModel(t, 13, []vi{{"x", []int64{-1, 8}}}, nil, []*onnxpb.NodeProto{node("Relu", []string{"x"}, "y")}, []string{"y"})
	_, _, err := Quantize(context.Background(), m, Options{Calib: randSource(map[string][]int64{"x": {4, 8}}, 1, 1)})
	var ue *onnxio.UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "nothing to quantize") {
		t.Fatalf("%v", err)
	}
	m2, shapes := chain(t)
	_, _, err = Quantize(context.Background(), m2, Options{Calib: randSource(shapes, 1, 1), Exclude: []string{"re:^g"}})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "excluded") {
		t.Fatalf("%v", err)
	}
}
