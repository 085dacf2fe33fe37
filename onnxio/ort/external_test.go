package ort_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/ort"
	ortgo "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"
)

// runPath runs a model file through ORT directly, so ORT itself resolves
// the external data (not shrink's loader).
func runPath(t *testing.T, path string, in map[string]*onnxio.Tensor, inputs, outputs []string) []*onnxio.Tensor {
	t.Helper()
	if _, err := ort.Init(""); err != nil {
		t.Fatal(err)
	}
	s, err := ortgo.NewDynamicAdvancedSession(path, inputs, outputs, nil)
	if err != nil {
		t.Fatalf("ORT on %s: %v", path, err)
	}
	defer s.Destroy()
	vals := make([]ortgo.Value, len(inputs))
	for i, n := range inputs {
		v, err := ort.ToValue(in[n])
		if err != nil {
			t.Fatal(err)
		}
		defer v.Destroy()
		vals[i] = v
	}
	outs := make([]ortgo.Value, len(outputs))
	if err := s.Run(vals, outs); err != nil {
		t.Fatal(err)
	}
	res := make([]*onnxio.Tensor, len(outs))
	for i, o := range outs {
		r, err := ort.FromValue(outputs[i], o)
		if err != nil {
			t.Fatal(err)
		}
		o.Destroy()
		res[i] = r
	}
	return res
}

// TestExternalDataORT moves a real model's weights to external data and
// checks ORT, reading the external file itself, gives bit-identical outputs.
func TestExternalDataORT(t *testing.T) {
	for _, name := range []string{"pytorch-converted/test_Conv2d", "pytorch-converted/test_Conv3d_groups", "pytorch-converted/test_ConvTranspose2d"} {
		dir := filepath.Join(BackendRoot, name)
		m, err := onnxio.Load(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		in, err := onnxio.ReadTensorFile(filepath.Join(dir, "test_data_set_0", "input_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		inName := m.Graph().Inputs()[0].GetName()
		outName := m.Proto.Graph.Output[0].GetName()
		feed := map[string]*onnxio.Tensor{inName: in}
		tmp := t.TempDir()
		inline := filepath.Join(tmp, "inline.onnx")
		ext := filepath.Join(tmp, "ext.onnx")
		if err := m.Save(inline, onnxio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := m.Save(ext, onnxio.SaveOptions{ExternalThreshold: 1}); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(ext + ".data")
		if err != nil || st.Size() == 0 {
			t.Fatalf("%s: no external data written: %v", name, err)
		}
		a := runPath(t, inline, feed, []string{inName}, []string{outName})
		b := runPath(t, ext, feed, []string{inName}, []string{outName})
		if err := compareTensors(b[0], a[0], 0, 0); err != nil {
			t.Errorf("%s: external-data model differs in ORT: %v", name, err)
		}
		re, err := onnxio.Load(ext)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(re.Proto, m.Proto) {
			t.Errorf("%s: external-data round trip changed the model", name)
		}
	}
}

// TestOver2GiB saves a model whose weights exceed the 2 GiB protobuf limit:
// Save must switch to external data by itself, Load must read it back, and
// ORT must run it.
func TestOver2GiB(t *testing.T) {
	const rows, cols = 540_000, 1024 // 2.21 GB of float32
	w := make([]float32, rows*cols)
	for r := 0; r < rows; r += 997 {
		for c := 0; c < cols; c++ {
			w[r*cols+c] = float32(r) + float32(c)/1024
		}
	}
	wt, _ := onnxio.NewTensor("W", []int64{rows, cols}, w)
	wp, err := wt.ToProto()
	if err != nil {
		t.Fatal(err)
	}
	w = nil
	idx := &onnxpb.ValueInfoProto{Name: proto.String("idx"), Type: onnxio.TensorType(onnxio.Int64, []int64{3})}
	out := &onnxpb.ValueInfoProto{Name: proto.String("rows"), Type: onnxio.TensorType(onnxio.Float32, []int64{3, cols})}
	m := &onnxio.Model{Proto: &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name:        proto.String("big"),
			Node:        []*onnxpb.NodeProto{onnxio.NewNode("Gather", "g", []string{"W", "idx"}, []string{"rows"})},
			Initializer: []*onnxpb.TensorProto{wp},
			Input:       []*onnxpb.ValueInfoProto{idx},
			Output:      []*onnxpb.ValueInfoProto{out},
		},
	}}
	if _, err := m.Marshal(); err == nil {
		t.Fatal("Marshal of a >2 GiB model should fail with a clear error")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "big.onnx")
	if err := m.Save(p, onnxio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p + ".data")
	if err != nil || st.Size() < rows*cols*4 {
		t.Fatalf("external data: %v %v", st, err)
	}
	back, err := onnxio.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if back.ExternalBytes != rows*cols*4 {
		t.Fatalf("loaded %d external bytes", back.ExternalBytes)
	}
	if !proto.Equal(back.Proto.Graph.Initializer[0], wp) {
		t.Fatal("the 2.2 GB initializer changed in the round trip")
	}
	back = nil
	sel := []int64{0, 997 * 300, 997 * 541}
	feed := map[string]*onnxio.Tensor{"idx": {Name: "idx", DType: onnxio.Int64, Shape: []int64{3}, Data: sel}}
	got := runPath(t, p, feed, []string{"idx"}, []string{"rows"})
	f := got[0].Data.([]float32)
	for i, r := range sel {
		for _, c := range []int{0, 1, 1023} {
			want := float32(r) + float32(c)/1024
			if f[i*cols+c] != want {
				t.Fatalf("row %d col %d: %g want %g", r, c, f[i*cols+c], want)
			}
		}
	}
}
