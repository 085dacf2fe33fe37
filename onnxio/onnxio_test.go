package onnxio

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// tinyModel builds X[?,4] -> Gemm(W[3,4]ᵀ, B[3]) -> Relu -> Y, with W as an
// initializer and B as a Constant node.
func tinyModel(t *testing.T) *Model {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, 12)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	wt, _ := NewTensor("W", []int64{3, 4}, w)
	wp, err := wt.ToProto()
	if err != nil {
		t.Fatal(err)
	}
	bt, _ := NewTensor("", []int64{3}, []float32{0.5, -1, 2})
	bp, _ := bt.ToProto()
	gemm := NewNode("Gemm", "gemm", []string{"X", "W", "B"}, []string{"H"})
	SetAttrInt(gemm, "transB", 1)
	cst := NewNode("Constant", "bias", nil, []string{"B"})
	cst.Attribute = []*onnxpb.AttributeProto{{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: bp}}
	relu := NewNode("Relu", "relu", []string{"H"}, []string{"Y"})
	x := &onnxpb.ValueInfoProto{Name: proto.String("X"), Type: TensorType(Float32, []int64{2, 4})}
	x.Type.GetTensorType().Shape.Dim[0] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}}
	y := &onnxpb.ValueInfoProto{Name: proto.String("Y"), Type: TensorType(Float32, []int64{2, 3})}
	mp := &onnxpb.ModelProto{
		IrVersion:    proto.Int64(8),
		ProducerName: proto.String("shrink-test"),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name:        proto.String("tiny"),
			Node:        []*onnxpb.NodeProto{relu, gemm, cst}, // deliberately out of order
			Initializer: []*onnxpb.TensorProto{wp},
			Input:       []*onnxpb.ValueInfoProto{x},
			Output:      []*onnxpb.ValueInfoProto{y},
		},
	}
	return &Model{Proto: mp}
}

func TestTopoOrderAndIndex(t *testing.T) {
	m := tinyModel(t)
	g := m.Graph()
	order, err := g.TopoOrder()
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range order {
		ops = append(ops, n.GetOpType())
	}
	if got := strings.Join(ops, ","); got != "Constant,Gemm,Relu" {
		t.Fatalf("topological order %s", got)
	}
	if p := g.Producer("H"); p == nil || p.GetName() != "gemm" {
		t.Fatalf("producer of H = %v", p)
	}
	if c := g.Consumers("W"); len(c) != 1 || c[0].GetName() != "gemm" {
		t.Fatalf("consumers of W = %v", c)
	}
	// A cycle is reported, not looped on.
	g.P.Node[1].Input[0] = "Y" // gemm reads relu's output; relu reads gemm's
	g.Reindex()
	if _, err := g.TopoOrder(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle not detected: %v", err)
	}
}

func TestWeightsInitializerAndConstant(t *testing.T) {
	m := tinyModel(t)
	g := m.Graph()
	ws := g.Weights()
	if len(ws) != 2 || ws[0].Source != FromInitializer || ws[1].Source != FromConstant {
		t.Fatalf("weights %+v", ws)
	}
	b, err := g.Weight("B")
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := b.Float32s(); len(f) != 3 || f[1] != -1 {
		t.Fatalf("constant B = %v", f)
	}
	// SetWeight on both kinds, with a dtype change for W.
	q, _ := NewTensor("W", []int64{3, 4}, make([]int8, 12))
	q.Data.([]int8)[5] = -7
	if err := g.SetWeight("W", q); err != nil {
		t.Fatal(err)
	}
	nb, _ := NewTensor("B", []int64{3}, []float32{1, 2, 3})
	if err := g.SetWeight("B", nb); err != nil {
		t.Fatal(err)
	}
	w2, _ := g.Weight("W")
	if w2.DType != Int8 || w2.Data.([]int8)[5] != -7 {
		t.Fatalf("W after SetWeight: %v %v", w2.DType, w2.Data)
	}
	b2, _ := g.Weight("B")
	if f, _ := b2.Float32s(); f[2] != 3 {
		t.Fatalf("B after SetWeight: %v", f)
	}
	if g.P.Node[2].GetOpType() != "Constant" {
		t.Fatal("SetWeight moved the Constant node")
	}
	st, _, err := m.ParamStats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Count != 15 || st.Zero != 11 || st.Initializers != 1 || st.Constants != 1 {
		t.Fatalf("param stats %+v", st)
	}
}

func TestRemoveUnusedAndUniqueName(t *testing.T) {
	m := tinyModel(t)
	g := m.Graph()
	dead := NewNode("Neg", "dead", []string{"H"}, []string{"Z"})
	g.AddNode(dead)
	extra, _ := NewTensor("unused", []int64{1}, []float32{1})
	if err := g.AddInitializer(extra); err != nil {
		t.Fatal(err)
	}
	if err := g.AddInitializer(extra); err == nil {
		t.Fatal("duplicate initializer name accepted")
	}
	n, i := g.RemoveUnused()
	if n != 1 || i != 1 {
		t.Fatalf("RemoveUnused removed %d nodes, %d initializers; want 1, 1", n, i)
	}
	if name := g.UniqueName("W"); name == "W" {
		t.Fatal("UniqueName returned a used name")
	}
}

func TestTensorProtoForms(t *testing.T) {
	// The same values through raw_data and through the typed fields.
	vals := []int8{-128, -1, 0, 1, 127}
	raw, _ := NewTensor("a", []int64{5}, vals)
	rp, _ := raw.ToProto()
	typed := &onnxpb.TensorProto{Dims: []int64{5}, DataType: proto.Int32(int32(Int8)), Int32Data: []int32{-128, -1, 0, 1, 127}}
	for _, tp := range []*onnxpb.TensorProto{rp, typed} {
		got, err := TensorFromProto(tp)
		if err != nil {
			t.Fatal(err)
		}
		g := got.Data.([]int8)
		for i := range vals {
			if g[i] != vals[i] {
				t.Fatalf("element %d: %d want %d", i, g[i], vals[i])
			}
		}
	}
	// Wrong sizes are errors, not panics or huge allocations.
	bad := &onnxpb.TensorProto{Dims: []int64{1 << 40, 1 << 30}, DataType: proto.Int32(int32(Float32)), RawData: []byte{1, 2, 3, 4}}
	if _, err := TensorFromProto(bad); err == nil {
		t.Fatal("oversized dims accepted")
	}
	short := &onnxpb.TensorProto{Dims: []int64{3}, DataType: proto.Int32(int32(Float32)), RawData: []byte{1, 2, 3, 4}}
	if _, err := TensorFromProto(short); err == nil {
		t.Fatal("short raw_data accepted")
	}
}

func TestFloat16RoundTrip(t *testing.T) {
	for _, f := range []float32{0, 1, -2.5, 65504, 6.1035156e-05, 5.9604645e-08, float32(math.Inf(1))} {
		if got := Float16ToFloat32(Float32ToFloat16(f)); got != f {
			t.Errorf("%g -> %g", f, got)
		}
	}
	if h := Float32ToFloat16(float32(math.NaN())); Float16ToFloat32(h) == Float16ToFloat32(h) {
		t.Error("NaN not preserved")
	}
	// Round half to even: 1 + 2^-11 lies halfway between 1 and 1+2^-10.
	if got := Float16ToFloat32(Float32ToFloat16(1 + 1.0/2048)); got != 1 {
		t.Errorf("halfway case rounded to %g, want 1", got)
	}
	if got := Float16ToFloat32(Float32ToFloat16(70000)); !math.IsInf(float64(got), 1) {
		t.Errorf("overflow gave %g", got)
	}
}

func TestSaveDeterministicAtomicNoOverwrite(t *testing.T) {
	m := tinyModel(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "m.onnx")
	if err := m.Save(p, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(p)
	err := m.Save(p, SaveOptions{})
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("overwrite without Overwrite: %v", err)
	}
	if err := m.Save(p, SaveOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	b2, _ := os.ReadFile(p)
	if string(b1) != string(b2) {
		t.Fatal("saving the same model twice gave different bytes")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	// Saving into a folder that does not exist fails and leaves nothing.
	if err := m.Save(filepath.Join(dir, "nope", "m.onnx"), SaveOptions{}); err == nil {
		t.Fatal("save into a missing folder succeeded")
	}
}

func TestExternalDataRoundTrip(t *testing.T) {
	m := tinyModel(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "ext.onnx")
	if err := m.Save(p, SaveOptions{ExternalThreshold: 16}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p + ".data"); err != nil {
		t.Fatalf("no external data file: %v", err)
	}
	// The saved proto references the file and holds no raw bytes for W.
	raw, _ := os.ReadFile(p)
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(raw, mp); err != nil {
		t.Fatal(err)
	}
	w := mp.Graph.Initializer[0]
	if w.GetDataLocation() != onnxpb.TensorProto_EXTERNAL || len(w.RawData) != 0 {
		t.Fatalf("W not external: %v", w)
	}
	// The in-memory model was not changed by saving.
	if m.Proto.Graph.Initializer[0].GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		t.Fatal("Save left the in-memory model pointing at external data")
	}
	back, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back.Proto, m.Proto) {
		t.Fatal("external-data round trip changed the model")
	}
	if back.ExternalBytes != 48 || len(back.ExternalFiles) != 1 {
		t.Fatalf("external bytes %d files %v", back.ExternalBytes, back.ExternalFiles)
	}
}

// craft writes a model whose W points at location with the given offset and
// length, plus a data file, and returns the model path.
func craft(t *testing.T, dir, location string) string {
	t.Helper()
	m := tinyModel(t)
	w := m.Proto.Graph.Initializer[0]
	w.RawData = nil
	w.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	w.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String(location)}}
	p := filepath.Join(dir, "crafted.onnx")
	b, err := proto.Marshal(m.Proto)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExternalDataConfinement(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "model")
	os.Mkdir(dir, 0o755)
	secret := filepath.Join(root, "secret.bin")
	os.WriteFile(secret, make([]byte, 48), 0o644)
	os.Symlink(secret, filepath.Join(dir, "link.bin"))
	os.WriteFile(filepath.Join(dir, "short.bin"), make([]byte, 8), 0o644)
	cases := map[string]string{
		"../secret.bin":        "leaves the model's folder",
		secret:                 "absolute path",
		"sub/../../secret.bin": "leaves the model's folder",
		"link.bin":             "resolves outside the model's folder",
		"missing.bin":          "not found",
		"short.bin":            "does not match shape",
	}
	for loc, want := range cases {
		p := craft(t, dir, loc)
		_, err := Load(p)
		if err == nil {
			t.Errorf("%s: loaded", loc)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, want) || !strings.Contains(msg, p) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q does not name the file and say %q on one line", loc, msg, want)
		}
	}
	// A model loaded from bytes has no folder: external data is refused.
	b, _ := os.ReadFile(craft(t, dir, "x.bin"))
	if _, err := LoadBytes(b); err == nil || !strings.Contains(err.Error(), "no folder") {
		t.Errorf("LoadBytes with external data: %v", err)
	}
}

func TestLoadBadBytes(t *testing.T) {
	dir := t.TempDir()
	good, _ := proto.Marshal(tinyModel(t).Proto)
	r := rand.New(rand.NewPCG(3, 4))
	junk := make([]byte, 1000)
	for i := range junk {
		junk[i] = byte(r.IntN(256))
	}
	for name, b := range map[string][]byte{
		"empty.onnx":     {},
		"truncated.onnx": good[:len(good)/2],
		"random.onnx":    junk,
		"text.onnx":      []byte("hello, this is not a model\n"),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		_, err := Load(p)
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), p+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q is not one line naming the file", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "absent.onnx")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
