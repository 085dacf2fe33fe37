package quantize

import (
	"context"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// A Loop whose body multiplies its carried value by an initializer of the
// main graph (W) and adds a bias held by the body itself (B, a Constant):
// dynamic mode quantizes the body's Gemm with weights from both scopes,
// and ONNX Runtime runs the result close to the float model.
func TestDynamicQuantizesLoopBody(t *testing.T) {
	needORT(t)
	w := randTensor("W", 7, 0.3, 16, 16)
	bt := randTensor("", 8, 0.1, 16)
	bp, _ := bt.ToProto()
	cst := onnxio.NewNode("Constant", "bias", nil, []string{"B"})
	cst.Attribute = []*onnxpb.AttributeProto{{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: bp}}
	gemm := onnxio.NewNode("Gemm", "body_gemm", []string{"x_in", "W", "B"}, []string{"h"})
	relu := onnxio.NewNode("Relu", "body_relu", []string{"h"}, []string{"x_out"})
	cond := onnxio.NewNode("Identity", "body_cond", []string{"cond_in"}, []string{"cond_out"})
	valueInfo := func(name string, dt onnxio.DType, shape []int64) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: onnxio.TensorType(dt, shape)}
	}
	body := &onnxpb.GraphProto{Name: proto.String("body"),
		Node:   []*onnxpb.NodeProto{cst, gemm, relu, cond},
		Input:  []*onnxpb.ValueInfoProto{valueInfo("i", onnxio.Int64, nil), valueInfo("cond_in", onnxio.Bool, nil), valueInfo("x_in", onnxio.Float32, []int64{4, 16})},
		Output: []*onnxpb.ValueInfoProto{valueInfo("cond_out", onnxio.Bool, nil), valueInfo("x_out", onnxio.Float32, []int64{4, 16})},
	}
	trip, _ := onnxio.NewTensor("trip", nil, []int64{3})
	keep, _ := onnxio.NewTensor("keep", nil, []bool{true})
	loop := onnxio.NewNode("Loop", "loop", []string{"trip", "keep", "x"}, []string{"y"})
	loop.Attribute = []*onnxpb.AttributeProto{{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: body}}
	m := mkModel(t, 17, []vi{{"x", []int64{4, 16}}}, []*onnxio.Tensor{w, trip, keep}, []*onnxpb.NodeProto{loop}, []string{"y"})
	qm, rep, err := Quantize(context.Background(), m, Options{Mode: Dynamic})
	if err != nil {
		t.Fatal(err)
	}
	body = qm.Proto.Graph.Node[0].Attribute[0].G
	var ops []string
	for _, n := range body.Node {
		ops = append(ops, n.GetOpType())
	}
	// The Gemm became DynamicQuantizeMatMul; the bias Constant it alone
	// read became an initializer of the body.
	found := map[string]bool{}
	for _, n := range body.Node {
		found[n.GetOpType()] = true
	}
	if rep.Quantized != 1 || len(body.Node) != 3 || found["Gemm"] || found["Constant"] || len(body.Initializer) == 0 {
		t.Fatalf("%d int8 nodes; body ops %v, %d initializers", rep.Quantized, ops, len(body.Initializer))
	}
	if !found["DynamicQuantizeMatMul"] || qm.Graph().IsWeight("W") {
		t.Fatalf("body ops %v; float W still in the main graph: %v", ops, qm.Graph().IsWeight("W"))
	}
	x := randTensor("x", 9, 1, 4, 16)
	if sq := outputSQNR(t, m, qm, map[string]*onnxio.Tensor{"x": x}); sq < 25 {
		t.Fatalf("SQNR %.1f dB", sq)
	}
}
