package quantize

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/validate"
)

// The upgraded model computes what the original does: checked in ORT on an
// opset-7 model built with every attribute-to-input conversion, on the
// real opset-9 PP-OCRv4 recognizer, and on the backend suite's Gemm-6
// model (which ORT cannot run at all before the upgrade) against the
// suite's reference output.
func TestUpgradeOpsetKeepsSemantics(t *testing.T) {
	needORT(t)
	bn := []*onnxio.Tensor{randTensor("gamma", 1, 1, 4), randTensor("beta", 2, 1, 4), randTensor("mean", 3, 1, 4), {Name: "var", DType: onnxio.Float32, Shape: []int64{4}, Data: []float32{1, 2, 0.5, 3}}}
	nodes := []*onnxpb.NodeProto{
		withFloat(withFloat(node("Clip", []string{"x"}, "c"), "min", -0.5), "max", 0.7),
		withInts(node("Unsqueeze", []string{"c"}, "u"), "axes", 0),
		withInts(node("Squeeze", []string{"u"}, "s"), "axes", 0),
		withInts(withInts(withInts(node("Slice", []string{"s"}, "sl"), "starts", 1), "ends", 3), "axes", 2),
		withInt(node("BatchNormalization", []string{"sl", "gamma", "beta", "mean", "var"}, "b"), "spatial", 1),
		node("Dropout", []string{"b"}, "d"),
		withInt(node("Softmax", []string{"d"}, "y"), "axis", 3),
	}
	m := mkModel(t, 7, []vi{{"x", []int64{2, 4, 5, 6}}}, bn, nodes, []string{"y"})
	up := m.Clone()
	if err := upgradeOpset(up, map[string]int{"d": 4}); err != nil {
		t.Fatal(err)
	}
	if up.Opset("") != TargetOpset || up.Proto.GetIrVersion() < 7 {
		t.Fatalf("opset %d, IR %d", up.Opset(""), up.Proto.GetIrVersion())
	}
	in := map[string]*onnxio.Tensor{"x": randTensor("x", 5, 1, 2, 4, 5, 6)}
	if sq := outputSQNR(t, m, up, in); sq < 100 {
		t.Fatalf("upgraded model differs: SQNR %.1f dB", sq)
	}
	// Softmax over an inner axis has other semantics before 13: refused.
	if err := upgradeOpset(m.Clone(), map[string]int{"d": 5}); err == nil {
		t.Fatal("Softmax on a non-last axis upgraded")
	}

	rec := ocrModel(t, "ch_PP-OCRv4_rec_infer.onnx")
	x := textImages(t, 3, 1, 48, 320, [3]float32{0.5, 0.5, 0.5}, [3]float32{0.5, 0.5, 0.5})
	ranks := map[string]int{}
	for _, n := range rec.Proto.Graph.Node {
		if n.GetOpType() == "Softmax" {
			ranks[n.Input[0]] = map[int64]int{2: 3, 3: 4}[onnxio.AttrInt(n, "axis", 1)]
		}
	}
	upRec := rec.Clone()
	if err := upgradeOpset(upRec, ranks); err != nil {
		t.Fatal(err)
	}
	if sq := outputSQNR(t, rec, upRec, map[string]*onnxio.Tensor{"x": x}); sq < 100 {
		t.Fatalf("upgraded recognizer differs: SQNR %.1f dB", sq)
	}

	dir := filepath.Join(backendRoot, "pytorch-converted", "test_Linear")
	lin, err := onnxio.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := upgradeOpset(lin, nil); err != nil {
		t.Fatal(err)
	}
	src, err := dataset.Open(dir, validate.Inputs(lin), dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := runModel(t, lin, b.Inputs, 1)
	ref, err := onnxio.ReadTensorFile(filepath.Join(dir, "test_data_set_0", "output_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	if sq := sqnrDB([]*onnxio.Tensor{ref}, got); sq < 100 {
		t.Fatalf("upgraded Gemm-6 model: SQNR %.1f dB against the suite's reference", sq)
	}
}

func TestUnconvertibleOldOpsetIsUnsupported(t *testing.T) {
	nodes := []*onnxpb.NodeProto{
		node("Conv", []string{"x", "W"}, "c"),
		withFloats(node("Upsample", []string{"c"}, "y"), "scales", 1, 1, 2, 2),
	}
	m := mkModel(t, 8, []vi{{"x", []int64{1, 2, 4, 4}}}, []*onnxio.Tensor{randTensor("W", 1, 1, 2, 2, 1, 1)}, nodes, []string{"y"})
	_, _, err := Quantize(context.Background(), m, Options{Mode: Dynamic})
	var ue *onnxio.UnsupportedError
	if !errors.As(err, &ue) || ue.Op != "Upsample" || ue.Node != "Upsample_1" {
		t.Fatalf("got %v, want an UnsupportedError naming Upsample_1", err)
	}
}

func TestFoldBatchNorm(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_cnn_bn.onnx")
	f := m.Clone()
	n, err := foldBatchNorm(f)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || opCounts(f)["BatchNormalization"] != 0 {
		t.Fatalf("folded %d, ops %v", n, opCounts(f))
	}
	in := mnistSource(t, 0, 64, 64).batches[0].Inputs
	if sq := outputSQNR(t, m, f, in); sq < 80 {
		t.Fatalf("folded model differs: SQNR %.1f dB", sq)
	}
	// Quantizing the BN model then gives the same int8 graph as the folded
	// fixture.
	qm, rep, err := Quantize(context.Background(), m, Options{Calib: trainSource(t, 128, 64)})
	if err != nil {
		t.Fatal(err)
	}
	if opCounts(qm)["BatchNormalization"] != 0 || rep.Quantized != 4 {
		t.Fatalf("ops %v, %d int8", opCounts(qm), rep.Quantized)
	}
}

func withFloats(n *onnxpb.NodeProto, name string, v ...float32) *onnxpb.NodeProto {
	n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v})
	return n
}
