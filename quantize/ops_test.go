package quantize

import (
	"context"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// opCase is one small model per handler, with what each writer must
// produce: ONNX Runtime quantizer-style checks of op counts, the dtype of
// every quantized tensor, and the numerics of the quantized model against
// the float one.
type opCase struct {
	name   string
	build  func(t testing.TB) (*onnxio.Model, map[string][]int64)
	ops    []string // op types to quantize (nil: defaults)
	q, dq  int      // QDQ: QuantizeLinear and DequantizeLinear nodes written
	fused  []string // ops ORT's optimized QDQ graph must contain
	qop    []string // ops the QOperator model must contain
	dyn    []string // ops the dynamic model must contain (nil: no dynamic form)
	sqnr   float64  // minimum output SQNR in dB of each writer's model
	axis   int64    // per-channel axis of the (first) weight DequantizeLinear, -1 none
	noRelu bool     // the Relu must be folded away (QOperator) / by ORT (QDQ)
	// wrapped: ORT has no integer kernel; the float op runs on int8
	// weights behind DequantizeLinear in both formats.
	wrapped bool
}

func opCases() []opCase {
	w := func(name string, seed uint64, shape ...int64) *onnxio.Tensor {
		return randTensor(name, seed, 0.3, shape...)
	}
	return []opCase{
		{name: "Conv", build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			return mkModel(t, 13, []vi{{"x", []int64{-1, 4, 8, 8}}}, []*onnxio.Tensor{w("W", 1, 6, 4, 3, 3), w("B", 2, 6)},
				[]*onnxpb.NodeProto{withInts(node("Conv", []string{"x", "W", "B"}, "y"), "pads", 1, 1, 1, 1)}, []string{"y"}), map[string][]int64{"x": {4, 4, 8, 8}}
		}, q: 2, dq: 4, fused: []string{"QLinearConv"}, qop: []string{"QLinearConv"}, dyn: []string{"ConvInteger", "DynamicQuantizeLinear"}, sqnr: 30, axis: 0},
		{name: "ConvGroupRelu", build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			return mkModel(t, 13, []vi{{"x", []int64{-1, 4, 8, 8}}}, []*onnxio.Tensor{w("W", 3, 4, 2, 3, 3)},
				[]*onnxpb.NodeProto{withInt(node("Conv", []string{"x", "W"}, "c"), "group", 2), node("Relu", []string{"c"}, "y")}, []string{"y"}), map[string][]int64{"x": {4, 4, 8, 8}}
		}, q: 2, dq: 3, fused: []string{"QLinearConv"}, qop: []string{"QLinearConv"}, dyn: []string{"ConvInteger"}, sqnr: 30, axis: 0, noRelu: true},
		{name: "ConvTranspose", build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			return mkModel(t, 13, []vi{{"x", []int64{-1, 4, 5, 5}}}, []*onnxio.Tensor{w("W", 4, 4, 3, 2, 2), w("B", 5, 3)},
				[]*onnxpb.NodeProto{withInts(node("ConvTranspose", []string{"x", "W", "B"}, "y"), "strides", 2, 2)}, []string{"y"}), map[string][]int64{"x": {4, 4, 5, 5}}
		}, q: 2, dq: 4, fused: []string{"ConvTranspose"}, qop: []string{"ConvTranspose", "DequantizeLinear"}, sqnr: 30, axis: 1, wrapped: true},
		{name: "MatMulWeight", build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			return mkModel(t, 13, []vi{{"x", []int64{-1, 16}}}, []*onnxio.Tensor{w("W", 6, 16, 8)},
				[]*onnxpb.NodeProto{node("MatMul", []string{"x", "W"}, "y")}, []string{"y"}), map[string][]int64{"x": {8, 16}}
		}, q: 1, dq: 2, fused: []string{"com.microsoft:MatMulIntegerToFloat"}, qop: []string{"com.microsoft:MatMulIntegerToFloat"}, dyn: []string{"com.microsoft:DynamicQuantizeMatMul"}, sqnr: 30, axis: 1},
		{name: "MatMulActivations", build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			return mkModel(t, 13, []vi{{"a", []int64{-1, 4, 8}}, {"b", []int64{-1, 8, 4}}}, nil,
				[]*onnxpb.NodeProto{node("MatMul", []string{"a", "b"}, "y")}, []string{"y"}), map[string][]int64{"a": {4, 4, 8}, "b": {4, 8, 4}}
		}, q: 2, dq: 2, fused: []string{"com.microsoft:MatMulIntegerToFloat"}, qop: []string{"com.microsoft:MatMulIntegerToFloat"}, sqnr: 30, axis: -1},
		{name: "GemmReluGemm", build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			g1 := withFloat(withFloat(withInt(node("Gemm", []string{"x", "W1", "C1"}, "h"), "transB", 1), "alpha", 0.5), "beta", 2)
			return mkModel(t, 13, []vi{{"x", []int64{-1, 16}}}, []*onnxio.Tensor{w("W1", 7, 8, 16), w("C1", 8, 8), w("W2", 9, 8, 4), w("C2", 10, 4)},
				[]*onnxpb.NodeProto{g1, node("Relu", []string{"h"}, "r"), node("Gemm", []string{"r", "W2", "C2"}, "y")}, []string{"y"}), map[string][]int64{"x": {8, 16}}
		}, q: 2, dq: 6, fused: []string{"com.microsoft:QGemm"}, qop: []string{"com.microsoft:QGemm"}, dyn: []string{"com.microsoft:DynamicQuantizeMatMul"}, sqnr: 30, axis: 0, noRelu: true},
		{name: "AddConst", ops: []string{"Add"}, build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			return mkModel(t, 13, []vi{{"x", []int64{-1, 8}}}, []*onnxio.Tensor{w("c", 11, 8)},
				[]*onnxpb.NodeProto{node("Add", []string{"x", "c"}, "y")}, []string{"y"}), map[string][]int64{"x": {8, 8}}
		}, q: 2, dq: 3, fused: []string{"com.microsoft:QLinearAdd"}, qop: []string{"com.microsoft:QLinearAdd"}, sqnr: 30, axis: -1},
		{name: "Mul", ops: []string{"Mul"}, build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			return mkModel(t, 13, []vi{{"a", []int64{-1, 8}}, {"b", []int64{-1, 8}}}, nil,
				[]*onnxpb.NodeProto{node("Mul", []string{"a", "b"}, "y")}, []string{"y"}), map[string][]int64{"a": {8, 8}, "b": {8, 8}}
		}, q: 3, dq: 3, fused: []string{"com.microsoft:QLinearMul"}, qop: []string{"com.microsoft:QLinearMul"}, sqnr: 25, axis: -1}, // a product of two normals is heavy-tailed
		{name: "Concat", ops: []string{"Concat"}, build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			return mkModel(t, 13, []vi{{"a", []int64{-1, 2, 4}}, {"b", []int64{-1, 3, 4}}}, nil,
				[]*onnxpb.NodeProto{withInt(node("Concat", []string{"a", "b"}, "y"), "axis", 1)}, []string{"y"}), map[string][]int64{"a": {4, 2, 4}, "b": {4, 3, 4}}
		}, q: 3, dq: 3, fused: []string{"com.microsoft:QLinearConcat"}, qop: []string{"com.microsoft:QLinearConcat"}, sqnr: 30, axis: -1},
		{name: "ConvAveragePool", ops: []string{"Conv", "AveragePool"}, build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			return mkModel(t, 13, []vi{{"x", []int64{-1, 3, 8, 8}}}, []*onnxio.Tensor{w("W", 12, 4, 3, 3, 3)},
				[]*onnxpb.NodeProto{node("Conv", []string{"x", "W"}, "c"), withInts(withInts(node("AveragePool", []string{"c"}, "y"), "kernel_shape", 2, 2), "strides", 2, 2)}, []string{"y"}), map[string][]int64{"x": {4, 3, 8, 8}}
		}, q: 3, dq: 4, fused: []string{"QLinearConv", "com.microsoft:QLinearAveragePool"}, qop: []string{"QLinearConv", "com.microsoft:QLinearAveragePool"}, sqnr: 30, axis: 0},
		{name: "ConvGlobalAveragePool", ops: []string{"Conv", "GlobalAveragePool"}, build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			return mkModel(t, 13, []vi{{"x", []int64{-1, 3, 8, 8}}}, []*onnxio.Tensor{w("W", 13, 4, 3, 3, 3)},
				[]*onnxpb.NodeProto{node("Conv", []string{"x", "W"}, "c"), node("GlobalAveragePool", []string{"c"}, "y")}, []string{"y"}), map[string][]int64{"x": {4, 3, 8, 8}}
		}, q: 3, dq: 4, fused: []string{"QLinearConv", "com.microsoft:QLinearGlobalAveragePool"}, qop: []string{"QLinearConv", "com.microsoft:QLinearGlobalAveragePool"}, sqnr: 30, axis: 0},
		{name: "ConvMaxPoolFlattenGemm", build: func(t testing.TB) (*onnxio.Model, map[string][]int64) {
			return mkModel(t, 13, []vi{{"x", []int64{-1, 2, 8, 8}}}, []*onnxio.Tensor{w("W", 14, 4, 2, 3, 3), w("G", 15, 36, 5)},
				[]*onnxpb.NodeProto{node("Conv", []string{"x", "W"}, "c"), node("Relu", []string{"c"}, "r"),
					withInts(withInts(node("MaxPool", []string{"r"}, "p"), "kernel_shape", 2, 2), "strides", 2, 2),
					node("Flatten", []string{"p"}, "f"), node("Gemm", []string{"f", "G"}, "y")}, []string{"y"}), map[string][]int64{"x": {4, 2, 8, 8}}
		}, q: 4, dq: 6, fused: []string{"QLinearConv", "com.microsoft:QGemm"}, qop: []string{"QLinearConv", "MaxPool", "com.microsoft:QGemm"}, sqnr: 30, axis: 0, noRelu: true},
	}
}

func TestHandlersQDQ(t *testing.T) {
	needORT(t)
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			m, shapes := c.build(t)
			qm, rep := quantizeCase(t, m, shapes, Options{OpTypes: c.ops})
			ops := opCounts(qm)
			if ops["QuantizeLinear"] != c.q || ops["DequantizeLinear"] != c.dq {
				t.Errorf("QuantizeLinear %d, DequantizeLinear %d; want %d, %d (ops %v)", ops["QuantizeLinear"], ops["DequantizeLinear"], c.q, c.dq, ops)
			}
			checkQDQDtypes(t, qm, c.axis)
			fused := ortOptimizedOps(t, qm)
			for _, op := range c.fused {
				// ORT's NHWC pass turns QLinearConv into its com.microsoft
				// channels-last form.
				if fused[op] == 0 && fused["com.microsoft:"+op] == 0 {
					t.Errorf("ORT did not fuse into %s: optimized graph %v", op, fused)
				}
			}
			if c.noRelu && fused["Relu"] != 0 {
				t.Errorf("ORT kept the Relu: %v", fused)
			}
			checkNumerics(t, m, qm, shapes, c.sqnr)
			if rep.Quantized == 0 {
				t.Error("report: nothing quantized")
			}
		})
	}
}

func TestHandlersQOperator(t *testing.T) {
	needORT(t)
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			m, shapes := c.build(t)
			qm, _ := quantizeCase(t, m, shapes, Options{OpTypes: c.ops, Format: QOperator})
			ops := opCounts(qm)
			for _, op := range c.qop {
				if ops[op] == 0 {
					t.Errorf("no %s in %v", op, ops)
				}
			}
			if c.noRelu && ops["Relu"] != 0 {
				t.Errorf("Relu not folded: %v", ops)
			}
			if ops["DequantizeLinear"] > 0 && !c.wrapped {
				// Only the graph outputs' boundary dequantizes.
				if ops["DequantizeLinear"] > len(qm.Proto.Graph.Output) {
					t.Errorf("%d DequantizeLinear in a QOperator model: %v", ops["DequantizeLinear"], ops)
				}
			}
			checkNumerics(t, m, qm, shapes, c.sqnr)
		})
	}
}

func TestHandlersDynamic(t *testing.T) {
	needORT(t)
	for _, c := range opCases() {
		if c.dyn == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			m, shapes := c.build(t)
			qm, rep := quantizeCase(t, m, shapes, Options{Mode: Dynamic})
			ops := opCounts(qm)
			for _, op := range c.dyn {
				if ops[op] == 0 {
					t.Errorf("no %s in %v", op, ops)
				}
			}
			for _, init := range qm.Proto.Graph.Initializer {
				if d := onnxio.DType(init.GetDataType()); d != onnxio.Float32 && d != onnxio.Int8 && d != onnxio.Uint8 && d != onnxio.Int64 {
					t.Errorf("initializer %s is %s", init.GetName(), d)
				}
			}
			if ops["QuantizeLinear"] != 0 {
				t.Errorf("static QuantizeLinear in a dynamic model: %v", ops)
			}
			checkNumerics(t, m, qm, shapes, c.sqnr-5)
			if rep.Quantized == 0 {
				t.Error("nothing quantized")
			}
		})
	}
}

// quantizeCase calibrates on 4 seeded batches and quantizes without the
// speed step (these models are too small to time meaningfully).
func quantizeCase(t *testing.T, m *onnxio.Model, shapes map[string][]int64, o Options) (*onnxio.Model, *Report) {
	t.Helper()
	o.Calib = randSource(shapes, 4, 1)
	o.Env.Threads = 1
	qm, rep, err := Quantize(context.Background(), m, o)
	if err != nil {
		t.Fatal(err)
	}
	return qm, rep
}

// checkQDQDtypes checks the dtype of every quantized tensor of a QDQ
// model: activations uint8 (zero point uint8), weights int8 with zero
// point 0 and the expected per-channel axis, biases int32 with zero point
// 0, scales float32.
func checkQDQDtypes(t *testing.T, m *onnxio.Model, axis int64) {
	t.Helper()
	g := m.Graph()
	weightAxisSeen := false
	for _, n := range m.Proto.Graph.Node {
		switch n.GetOpType() {
		case "QuantizeLinear":
			if d := dtypeOf(m, n.Input[2]); d != onnxio.Uint8 {
				t.Errorf("%s: activation zero point %s, want uint8", n.GetName(), d)
			}
			if d := dtypeOf(m, n.Input[1]); d != onnxio.Float32 {
				t.Errorf("%s: scale %s", n.GetName(), d)
			}
		case "DequantizeLinear":
			in := n.Input[0]
			d := dtypeOf(m, in)
			if zd := dtypeOf(m, n.Input[2]); d != onnxio.Undefined && zd != d {
				t.Errorf("%s: zero point %s for %s data", n.GetName(), zd, d)
			}
			switch d {
			case onnxio.Undefined: // an activation: fed by a QuantizeLinear
				if p := g.Producer(in); p == nil || p.GetOpType() != "QuantizeLinear" {
					t.Errorf("%s reads %q, neither an initializer nor a QuantizeLinear", n.GetName(), in)
				}
			case onnxio.Int8, onnxio.Int32:
				z, _ := g.Weight(n.Input[2])
				zs, _ := z.Int64s()
				for _, v := range zs {
					if v != 0 {
						t.Errorf("%s: %s zero point %d, want 0 (symmetric)", n.GetName(), d, v)
					}
				}
				if d == onnxio.Int8 && !weightAxisSeen {
					weightAxisSeen = true
					got := int64(-1)
					if onnxio.Attr(n, "axis") != nil {
						got = onnxio.AttrInt(n, "axis", 1)
					}
					if got != axis {
						t.Errorf("%s: weight axis %d, want %d", n.GetName(), got, axis)
					}
				}
			case onnxio.Uint8: // a constant operand in the activation type
			default:
				t.Errorf("%s dequantizes %s data", n.GetName(), d)
			}
		}
	}
	if axis >= 0 && !weightAxisSeen {
		t.Error("no int8 weight")
	}
}

// checkNumerics compares the quantized model with the float one on unseen
// inputs (another seed) in ORT.
func checkNumerics(t *testing.T, m, qm *onnxio.Model, shapes map[string][]int64, min float64) {
	t.Helper()
	in := randSource(shapes, 1, 777).batches[0].Inputs
	sq := outputSQNR(t, m, qm, in)
	if !(sq >= min) {
		t.Errorf("output SQNR %.1f dB < %.0f dB", sq, min)
	}
	t.Logf("output SQNR %.1f dB", sq)
}
