package train

import (
	"math/rand/v2"

	"github.com/shrinkml/shrink/onnxio"
)

// opCase is a small model exercising one op (or a few): its forward pass is
// compared with ONNX Runtime and its gradients with finite differences.
type opCase struct {
	name  string
	opset int64
	ins   []tin
	build func(b *gb)
	mode  Mode // for the gradient check; EvalGrad when zero
	// distinct draws inputs as distinct, well separated values (max pooling).
	distinct bool
	rtol     float64 // gradient tolerance; default 1e-2
	noORT    bool    // ORT cannot run it (training-only behaviour)
}

type tin struct {
	name  string
	shape []int64
	gen   func(*rand.Rand) float32
}

func in(name string, shape ...int64) tin { return tin{name: name, shape: shape} }

func (t tin) with(gen func(*rand.Rand) float32) tin { t.gen = gen; return t }

var positive = uniformAway(0.5, 2)

// unaryCase is a one-input float op.
func unaryCase(name, op string, opset int64, gen func(*rand.Rand) float32, attrs ...any) opCase {
	return opCase{name: name, opset: opset, ins: []tin{in("x", 2, 3, 5).with(gen)}, build: func(b *gb) {
		b.node(op, []string{"x"}, []string{"y"}, attrList(attrs)...).output("y")
	}}
}

func attrList(a []any) []*onnxpbAttr {
	out := make([]*onnxpbAttr, len(a))
	for i, v := range a {
		out[i] = v.(*onnxpbAttr)
	}
	return out
}

func binCase(name, op string, sa, sb []int64, genB func(*rand.Rand) float32) opCase {
	return opCase{name: name, opset: 17, ins: []tin{in("a", sa...), in("b", sb...).with(genB)}, build: func(b *gb) {
		b.node(op, []string{"a", "b"}, []string{"y"}).output("y")
	}}
}

func i64(v ...int64) []int64 { return v }

func opCases() []opCase {
	cs := []opCase{
		// Gemm: every transpose combination and C broadcast.
		{name: "Gemm", opset: 13, ins: []tin{in("a", 3, 5), in("b", 5, 4), in("c", 4)}, build: func(b *gb) {
			b.node("Gemm", []string{"a", "b", "c"}, []string{"y"}, aFloat("alpha", 0.7), aFloat("beta", 1.3)).output("y")
		}},
		{name: "Gemm/transA", opset: 13, ins: []tin{in("a", 5, 3), in("b", 5, 4), in("c", 3, 1)}, build: func(b *gb) {
			b.node("Gemm", []string{"a", "b", "c"}, []string{"y"}, aInt("transA", 1)).output("y")
		}},
		{name: "Gemm/transB", opset: 13, ins: []tin{in("a", 3, 5), in("b", 4, 5), in("c", 3, 4)}, build: func(b *gb) {
			b.node("Gemm", []string{"a", "b", "c"}, []string{"y"}, aInt("transB", 1), aFloat("beta", 0.5)).output("y")
		}},
		{name: "Gemm/transAB", opset: 13, ins: []tin{in("a", 5, 3), in("b", 4, 5), in("c")}, build: func(b *gb) {
			b.node("Gemm", []string{"a", "b", "c"}, []string{"y"}, aInt("transA", 1), aInt("transB", 1), aFloat("alpha", -1.5)).output("y")
		}},
		{name: "Gemm/noC", opset: 13, ins: []tin{in("a", 7, 1), in("b", 1, 9)}, build: func(b *gb) {
			b.node("Gemm", []string{"a", "b"}, []string{"y"}).output("y")
		}},
		// MatMul: plain, folded batch, broadcast batch, 1-D operands.
		{name: "MatMul", opset: 13, ins: []tin{in("a", 3, 5), in("b", 5, 4)}, build: mm},
		{name: "MatMul/batchFold", opset: 13, ins: []tin{in("a", 2, 3, 5), in("b", 5, 4)}, build: mm},
		{name: "MatMul/broadcast", opset: 13, ins: []tin{in("a", 2, 1, 3, 5), in("b", 3, 5, 4)}, build: mm},
		{name: "MatMul/batched", opset: 13, ins: []tin{in("a", 2, 3, 5), in("b", 2, 5, 4)}, build: mm},
		{name: "MatMul/vecMat", opset: 13, ins: []tin{in("a", 5), in("b", 2, 5, 4)}, build: mm},
		{name: "MatMul/matVec", opset: 13, ins: []tin{in("a", 2, 3, 5), in("b", 5)}, build: mm},
		// Broadcasting binary ops.
		binCase("Add/broadcast", "Add", i64(2, 3, 4), i64(3, 1), nil),
		binCase("Add/same", "Add", i64(3, 4), i64(3, 4), nil),
		binCase("Sub/broadcast", "Sub", i64(4), i64(2, 3, 4), nil),
		binCase("Mul/broadcast", "Mul", i64(2, 1, 4), i64(1, 3, 1), nil),
		binCase("Mul/scalar", "Mul", i64(2, 3), i64(), nil),
		binCase("Div/broadcast", "Div", i64(2, 3, 4), i64(3, 1), positive),
		binCase("Div/oddSizes", "Div", i64(7, 1, 13), i64(5, 1), positive),
		{name: "Pow", opset: 17, ins: []tin{in("a", 2, 3).with(positive), in("b", 3)}, build: func(b *gb) {
			b.node("Pow", []string{"a", "b"}, []string{"y"}).output("y")
		}},
		{name: "Pow/intExponent", opset: 17, ins: []tin{in("a", 2, 3)}, build: func(b *gb) {
			b.init("e", nil, []int64{3}).node("Pow", []string{"a", "e"}, []string{"y"}).output("y")
		}},
		// Unary.
		unaryCase("Neg", "Neg", 13, nil),
		unaryCase("Relu", "Relu", 14, uniformAway(-2, 2, 0)),
		unaryCase("LeakyRelu", "LeakyRelu", 16, uniformAway(-2, 2, 0), aFloat("alpha", 0.1)),
		unaryCase("Sigmoid", "Sigmoid", 13, uniformAway(-4, 4)),
		unaryCase("Tanh", "Tanh", 13, nil),
		unaryCase("Erf", "Erf", 13, nil),
		unaryCase("Gelu", "Gelu", 20, uniformAway(-3, 3)),
		unaryCase("Gelu/tanh", "Gelu", 20, uniformAway(-3, 3), aString("approximate", "tanh")),
		unaryCase("HardSigmoid", "HardSigmoid", 6, uniformAway(-3, 3, -4.0/3, 2), aFloat("alpha", 0.3), aFloat("beta", 0.4)),
		unaryCase("HardSwish", "HardSwish", 14, uniformAway(-4, 4, -3, 3)),
		unaryCase("Sqrt", "Sqrt", 13, positive),
		unaryCase("Exp", "Exp", 13, nil),
		unaryCase("Log", "Log", 13, positive),
		unaryCase("Abs", "Abs", 13, uniformAway(-2, 2, 0)),
		unaryCase("Reciprocal", "Reciprocal", 13, positive),
		unaryCase("Softplus", "Softplus", 1, nil),
		unaryCase("Softsign", "Softsign", 1, uniformAway(-2, 2, 0)),
		unaryCase("Elu", "Elu", 6, uniformAway(-2, 2, 0), aFloat("alpha", 0.7)),
		unaryCase("Selu", "Selu", 6, uniformAway(-2, 2, 0)),
		unaryCase("Identity", "Identity", 16, nil),
		{name: "Clip", opset: 13, ins: []tin{in("x", 3, 5).with(uniformAway(-2, 2, -0.5, 1))}, build: func(b *gb) {
			b.init("lo", nil, []float32{-0.5}).init("hi", nil, []float32{1}).
				node("Clip", []string{"x", "lo", "hi"}, []string{"y"}).output("y")
		}},
		{name: "Clip/attrs", opset: 6, ins: []tin{in("x", 3, 5).with(uniformAway(-2, 2, -0.5, 1))}, build: func(b *gb) {
			b.node("Clip", []string{"x"}, []string{"y"}, aFloat("min", -0.5), aFloat("max", 1)).output("y")
		}},
		// Softmax family, new and old axis semantics.
		unaryCase("Softmax/axis1", "Softmax", 13, nil, aInt("axis", 1)),
		unaryCase("Softmax/last", "Softmax", 13, nil),
		unaryCase("Softmax/coerced", "Softmax", 11, nil, aInt("axis", 1)),
		unaryCase("LogSoftmax/axis0", "LogSoftmax", 13, nil, aInt("axis", 0)),
		unaryCase("LogSoftmax/coerced", "LogSoftmax", 11, nil, aInt("axis", 2)),
		// Shapes.
		{name: "Flatten", opset: 13, ins: []tin{in("x", 2, 3, 4, 5)}, build: func(b *gb) {
			b.node("Flatten", []string{"x"}, []string{"y"}, aInt("axis", 2)).output("y")
		}},
		{name: "Reshape", opset: 14, ins: []tin{in("x", 2, 3, 4)}, build: func(b *gb) {
			b.init("s", []int64{3}, []int64{0, -1, 2}).node("Reshape", []string{"x", "s"}, []string{"y"}).output("y")
		}},
		{name: "Transpose", opset: 13, ins: []tin{in("x", 2, 3, 4)}, build: func(b *gb) {
			b.node("Transpose", []string{"x"}, []string{"y"}, aInts("perm", 2, 0, 1)).output("y")
		}},
		{name: "Transpose/default", opset: 13, ins: []tin{in("x", 2, 3, 5)}, build: func(b *gb) {
			b.node("Transpose", []string{"x"}, []string{"y"}).output("y")
		}},
		{name: "Squeeze", opset: 13, ins: []tin{in("x", 2, 1, 3, 1)}, build: func(b *gb) {
			b.init("ax", []int64{1}, []int64{-1}).node("Squeeze", []string{"x", "ax"}, []string{"y"}).output("y")
		}},
		{name: "Squeeze/attr", opset: 11, ins: []tin{in("x", 2, 1, 3, 1)}, build: func(b *gb) {
			b.node("Squeeze", []string{"x"}, []string{"y"}).output("y")
		}},
		{name: "Unsqueeze", opset: 13, ins: []tin{in("x", 2, 3)}, build: func(b *gb) {
			b.init("ax", []int64{2}, []int64{0, -1}).node("Unsqueeze", []string{"x", "ax"}, []string{"y"}).output("y")
		}},
		{name: "Unsqueeze/attr", opset: 11, ins: []tin{in("x", 2, 3)}, build: func(b *gb) {
			b.node("Unsqueeze", []string{"x"}, []string{"y"}, aInts("axes", 1)).output("y")
		}},
		{name: "Concat", opset: 13, ins: []tin{in("a", 2, 1, 3), in("b", 2, 4, 3), in("c", 2, 2, 3)}, build: func(b *gb) {
			b.node("Concat", []string{"a", "b", "c"}, []string{"y"}, aInt("axis", -2)).output("y")
		}},
		{name: "Split", opset: 13, ins: []tin{in("x", 2, 5, 3)}, build: func(b *gb) {
			b.init("s", []int64{2}, []int64{2, 3}).node("Split", []string{"x", "s"}, []string{"y0", "y1"}, aInt("axis", 1)).output("y0", "y1")
		}},
		{name: "Split/uneven", opset: 18, ins: []tin{in("x", 7, 2)}, build: func(b *gb) {
			b.node("Split", []string{"x"}, []string{"y0", "y1", "y2"}, aInt("num_outputs", 3)).output("y0", "y2")
		}},
		{name: "Slice", opset: 13, ins: []tin{in("x", 4, 6, 5)}, build: func(b *gb) {
			b.init("st", []int64{2}, []int64{-1, 1}).init("en", []int64{2}, []int64{-100, 5}).
				init("ax", []int64{2}, []int64{1, 2}).init("sp", []int64{2}, []int64{-2, 3}).
				node("Slice", []string{"x", "st", "en", "ax", "sp"}, []string{"y"}).output("y")
		}},
		{name: "Slice/attrs", opset: 9, ins: []tin{in("x", 4, 6)}, build: func(b *gb) {
			b.node("Slice", []string{"x"}, []string{"y"}, aInts("starts", 1, 2), aInts("ends", 3, 1000)).output("y")
		}},
		{name: "Gather", opset: 13, ins: []tin{in("x", 3, 4, 2)}, build: func(b *gb) {
			b.init("i", []int64{2, 2}, []int64{0, -1, 2, 0}).node("Gather", []string{"x", "i"}, []string{"y"}, aInt("axis", 1)).output("y")
		}},
		{name: "Expand", opset: 13, ins: []tin{in("x", 3, 1)}, build: func(b *gb) {
			b.init("s", []int64{3}, []int64{2, 1, 4}).node("Expand", []string{"x", "s"}, []string{"y"}).output("y")
		}},
		{name: "Cast", opset: 13, ins: []tin{in("x", 2, 3)}, build: func(b *gb) {
			b.node("Cast", []string{"x"}, []string{"y"}, aInt("to", int64(onnxio.Float32))).output("y")
		}},
		{name: "Dropout/inference", opset: 13, ins: []tin{in("x", 4, 5)}, build: func(b *gb) {
			b.node("Dropout", []string{"x"}, []string{"y"}).output("y")
		}},
		{name: "Dropout/training", opset: 13, mode: Training, noORT: true, ins: []tin{in("x", 4, 5)}, build: func(b *gb) {
			b.init("r", nil, []float32{0.3}).node("Dropout", []string{"x", "r"}, []string{"y"}).output("y")
		}},
		// Shape arithmetic feeding a Reshape (a dynamic flatten).
		{name: "ShapeSubgraph", opset: 13, ins: []tin{in("x", 2, 3, 4)}, build: func(b *gb) {
			b.init("i0", nil, []int64{0}).init("m1", []int64{1}, []int64{-1}).init("ax", []int64{1}, []int64{0}).
				node("Shape", []string{"x"}, []string{"s"}).
				node("Gather", []string{"s", "i0"}, []string{"n"}).
				node("Unsqueeze", []string{"n", "ax"}, []string{"n1"}).
				node("Concat", []string{"n1", "m1"}, []string{"shape"}, aInt("axis", 0)).
				node("Reshape", []string{"x", "shape"}, []string{"y"}).
				node("Cast", []string{"s"}, []string{"sf"}, aInt("to", int64(onnxio.Float32))).
				node("ConstantOfShape", []string{"shape2"}, []string{"z"}).
				node("Constant", nil, []string{"shape2"}, aTensorInts("value", 2)).
				node("Range", []string{"r0", "r1", "r2"}, []string{"rg"}).
				init("r0", nil, []int64{1}).init("r1", nil, []int64{9}).init("r2", nil, []int64{3}).
				output("y", "sf", "z", "rg")
		}},
		// Convolutions.
		{name: "Conv/groupsStridePadDilation", opset: 13, ins: []tin{in("x", 2, 4, 9, 8), in("w", 6, 2, 3, 2), in("bias", 6)}, build: func(b *gb) {
			b.node("Conv", []string{"x", "w", "bias"}, []string{"y"}, aInt("group", 2), aInts("strides", 2, 1),
				aInts("pads", 1, 0, 2, 1), aInts("dilations", 1, 2)).output("y")
		}},
		{name: "Conv/1d", opset: 13, ins: []tin{in("x", 2, 3, 11), in("w", 4, 3, 3)}, build: func(b *gb) {
			b.node("Conv", []string{"x", "w"}, []string{"y"}, aInts("pads", 1, 1), aInts("strides", 2)).output("y")
		}},
		{name: "Conv/3d", opset: 13, ins: []tin{in("x", 1, 2, 4, 5, 4), in("w", 3, 2, 2, 3, 2), in("bias", 3)}, build: func(b *gb) {
			b.node("Conv", []string{"x", "w", "bias"}, []string{"y"}, aInts("pads", 0, 1, 0, 1, 1, 1)).output("y")
		}},
		{name: "Conv/depthwise", opset: 13, ins: []tin{in("x", 2, 3, 6, 6), in("w", 3, 1, 3, 3)}, build: func(b *gb) {
			b.node("Conv", []string{"x", "w"}, []string{"y"}, aInt("group", 3), aInts("pads", 1, 1, 1, 1)).output("y")
		}},
		{name: "Conv/sameUpper", opset: 13, ins: []tin{in("x", 1, 2, 7, 5), in("w", 2, 2, 3, 3)}, build: func(b *gb) {
			b.node("Conv", []string{"x", "w"}, []string{"y"}, aString("auto_pad", "SAME_UPPER"), aInts("strides", 2, 2)).output("y")
		}},
		{name: "Conv/sameLower1x1", opset: 13, ins: []tin{in("x", 3, 4, 5, 5), in("w", 2, 4, 1, 1)}, build: func(b *gb) {
			b.node("Conv", []string{"x", "w"}, []string{"y"}, aString("auto_pad", "SAME_LOWER")).output("y")
		}},
		{name: "ConvTranspose", opset: 13, ins: []tin{in("x", 2, 4, 3, 4), in("w", 4, 3, 3, 2), in("bias", 6)}, build: func(b *gb) {
			b.node("ConvTranspose", []string{"x", "w", "bias"}, []string{"y"}, aInt("group", 2), aInts("strides", 2, 1),
				aInts("pads", 1, 0, 0, 1), aInts("output_padding", 1, 0)).output("y")
		}},
		{name: "ConvTranspose/dilated1d", opset: 13, ins: []tin{in("x", 2, 3, 5), in("w", 3, 2, 3)}, build: func(b *gb) {
			b.node("ConvTranspose", []string{"x", "w"}, []string{"y"}, aInts("dilations", 2), aInts("strides", 3)).output("y")
		}},
		{name: "ConvTranspose/outputShape", opset: 13, ins: []tin{in("x", 1, 2, 3, 3), in("w", 2, 3, 3, 3)}, build: func(b *gb) {
			b.node("ConvTranspose", []string{"x", "w"}, []string{"y"}, aInts("strides", 2, 2), aInts("output_shape", 6, 7)).output("y")
		}},
		{name: "ConvTranspose/outputShapeBeyond", opset: 13, ins: []tin{in("x", 1, 1, 3, 3), in("w", 1, 2, 3, 3)}, build: func(b *gb) {
			b.node("ConvTranspose", []string{"x", "w"}, []string{"y"}, aInts("strides", 3, 2), aInts("output_shape", 10, 8)).output("y")
		}},
		{name: "ConvTranspose/3d", opset: 13, ins: []tin{in("x", 1, 2, 2, 3, 2), in("w", 2, 2, 2, 2, 2)}, build: func(b *gb) {
			b.node("ConvTranspose", []string{"x", "w"}, []string{"y"}, aString("auto_pad", "SAME_UPPER"), aInts("strides", 1, 2, 2)).output("y")
		}},
		{name: "Resize/nearestAsymmetricFloor", opset: 11, ins: []tin{in("x", 1, 2, 3, 4)}, build: func(b *gb) {
			b.init("roi", []int64{0}, []float32{}).init("sc", []int64{4}, []float32{1, 1, 2, 1.5}).
				node("Resize", []string{"x", "roi", "sc"}, []string{"y"}, aString("coordinate_transformation_mode", "asymmetric"), aString("nearest_mode", "floor")).output("y")
		}},
		{name: "Resize/nearestHalfPixel", opset: 13, ins: []tin{in("x", 2, 1, 5, 4)}, build: func(b *gb) {
			b.init("sz", []int64{4}, []int64{2, 1, 3, 7}).
				node("Resize", []string{"x", "", "", "sz"}, []string{"y"}).output("y")
		}},
		{name: "Resize/linearHalfPixel", opset: 13, ins: []tin{in("x", 1, 2, 3, 4)}, build: func(b *gb) {
			b.init("sc", []int64{4}, []float32{1, 1, 2, 0.75}).
				node("Resize", []string{"x", "", "sc"}, []string{"y"}, aString("mode", "linear")).output("y")
		}},
		{name: "Resize/linearAlignCorners", opset: 13, ins: []tin{in("x", 1, 2, 4, 3)}, build: func(b *gb) {
			b.init("sz", []int64{4}, []int64{1, 2, 7, 5}).
				node("Resize", []string{"x", "", "", "sz"}, []string{"y"}, aString("mode", "linear"), aString("coordinate_transformation_mode", "align_corners")).output("y")
		}},
		{name: "Resize/linearPytorch", opset: 13, ins: []tin{in("x", 1, 1, 6, 5)}, build: func(b *gb) {
			b.init("sz", []int64{4}, []int64{1, 1, 3, 8}).
				node("Resize", []string{"x", "", "", "sz"}, []string{"y"}, aString("mode", "linear"), aString("coordinate_transformation_mode", "pytorch_half_pixel")).output("y")
		}},
		{name: "Upsample", opset: 9, ins: []tin{in("x", 1, 2, 2, 3)}, build: func(b *gb) {
			b.init("sc", []int64{4}, []float32{1, 1, 2, 3}).node("Upsample", []string{"x", "sc"}, []string{"y"}).output("y")
		}},
		// Pooling.
		{name: "MaxPool", opset: 12, distinct: true, ins: []tin{in("x", 2, 2, 7, 6)}, build: func(b *gb) {
			b.node("MaxPool", []string{"x"}, []string{"y"}, aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1)).output("y")
		}},
		{name: "MaxPool/ceilDilated", opset: 12, distinct: true, ins: []tin{in("x", 1, 2, 8, 7)}, build: func(b *gb) {
			b.node("MaxPool", []string{"x"}, []string{"y", "idx"}, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2),
				aInts("dilations", 2, 1), aInt("ceil_mode", 1)).output("y", "idx")
		}},
		// 2×2 windows with stride 2 run the kernels' pooling (odd sizes leave a row and column out).
		{name: "MaxPool/2x2", opset: 12, distinct: true, ins: []tin{in("x", 2, 3, 7, 5)}, build: func(b *gb) {
			b.node("MaxPool", []string{"x"}, []string{"y"}, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)).output("y")
		}},
		{name: "AveragePool/2x2", opset: 11, ins: []tin{in("x", 2, 2, 6, 35)}, build: func(b *gb) {
			b.node("AveragePool", []string{"x"}, []string{"y"}, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)).output("y")
		}},
		{name: "MaxPool/1d", opset: 12, distinct: true, ins: []tin{in("x", 2, 3, 9)}, build: func(b *gb) {
			b.node("MaxPool", []string{"x"}, []string{"y"}, aInts("kernel_shape", 3), aInts("strides", 2)).output("y")
		}},
		{name: "MaxPool/3d", opset: 12, distinct: true, ins: []tin{in("x", 1, 2, 4, 4, 5)}, build: func(b *gb) {
			b.node("MaxPool", []string{"x"}, []string{"y"}, aInts("kernel_shape", 2, 2, 2), aInts("pads", 0, 0, 1, 1, 1, 0)).output("y")
		}},
		{name: "AveragePool/includePad", opset: 11, ins: []tin{in("x", 2, 2, 7, 6)}, build: func(b *gb) {
			b.node("AveragePool", []string{"x"}, []string{"y"}, aInts("kernel_shape", 3, 3), aInts("strides", 2, 2),
				aInts("pads", 1, 1, 1, 1), aInt("count_include_pad", 1)).output("y")
		}},
		{name: "AveragePool/excludePadCeil", opset: 11, ins: []tin{in("x", 1, 3, 8, 7)}, build: func(b *gb) {
			b.node("AveragePool", []string{"x"}, []string{"y"}, aInts("kernel_shape", 3, 2), aInts("strides", 2, 2),
				aInts("pads", 1, 0, 1, 1), aInt("ceil_mode", 1)).output("y")
		}},
		{name: "GlobalAveragePool", opset: 13, ins: []tin{in("x", 2, 3, 4, 5)}, build: func(b *gb) {
			b.node("GlobalAveragePool", []string{"x"}, []string{"y"}).output("y")
		}},
		// Normalization.
		{name: "BatchNormalization/training", opset: 15, mode: Training, ins: []tin{in("x", 4, 3, 2, 3), in("s", 3), in("bias", 3)}, build: bnModel},
		{name: "BatchNormalization/inference", opset: 15, ins: []tin{in("x", 4, 3, 2, 3), in("s", 3), in("bias", 3)}, build: bnModel},
		{name: "LayerNormalization", opset: 17, ins: []tin{in("x", 3, 2, 5), in("s", 5), in("bias", 5)}, build: func(b *gb) {
			b.node("LayerNormalization", []string{"x", "s", "bias"}, []string{"y"}).output("y")
		}},
		{name: "LayerNormalization/axis1", opset: 17, ins: []tin{in("x", 3, 2, 5), in("s", 2, 5)}, build: func(b *gb) {
			b.node("LayerNormalization", []string{"x", "s"}, []string{"y", "mean", "inv"}, aInt("axis", 1), aFloat("epsilon", 1e-3)).output("y", "mean", "inv")
		}},
		// Relus fused into the node before them (see fuse.go).
		{name: "Gemm+Relu", opset: 13, ins: []tin{in("a", 4, 6), in("b", 5, 6), in("c", 5)}, build: func(b *gb) {
			b.node("Gemm", []string{"a", "b", "c"}, []string{"h"}, aInt("transB", 1)).node("Relu", []string{"h"}, []string{"y"}).output("y")
		}},
		{name: "Conv+Relu", opset: 13, ins: []tin{in("x", 2, 3, 6, 5), in("w", 4, 3, 3, 3), in("bias", 4)}, build: func(b *gb) {
			b.node("Conv", []string{"x", "w", "bias"}, []string{"h"}, aInts("pads", 1, 0, 1, 1)).node("Relu", []string{"h"}, []string{"y"}).output("y")
		}},
		{name: "BatchNormalization+Relu/training", opset: 15, mode: Training, ins: []tin{in("x", 4, 3, 2, 3), in("s", 3), in("bias", 3)}, build: bnReluModel},
		{name: "BatchNormalization+Relu/inference", opset: 15, ins: []tin{in("x", 4, 3, 2, 3), in("s", 3), in("bias", 3)}, build: bnReluModel},
		// Reductions.
		{name: "ReduceMean", opset: 13, ins: []tin{in("x", 2, 3, 4)}, build: func(b *gb) {
			b.node("ReduceMean", []string{"x"}, []string{"y"}, aInts("axes", 1, -1), aInt("keepdims", 0)).output("y")
		}},
		{name: "ReduceMean/input", opset: 18, ins: []tin{in("x", 2, 3, 4)}, build: func(b *gb) {
			b.init("ax", []int64{1}, []int64{1}).node("ReduceMean", []string{"x", "ax"}, []string{"y"}).output("y")
		}},
		{name: "ReduceMean/all", opset: 13, ins: []tin{in("x", 2, 3, 4)}, build: func(b *gb) {
			b.node("ReduceMean", []string{"x"}, []string{"y"}).output("y")
		}},
		{name: "ReduceSum", opset: 13, ins: []tin{in("x", 2, 3, 4)}, build: func(b *gb) {
			b.init("ax", []int64{1}, []int64{0}).node("ReduceSum", []string{"x", "ax"}, []string{"y"}, aInt("keepdims", 0)).output("y")
		}},
		// Beyond the core list.
		unaryCase("Sin", "Sin", 7, nil),
		unaryCase("Cos", "Cos", 7, nil),
		unaryCase("Floor", "Floor", 13, uniformAway(-2, 2, -1, 0, 1)),
		unaryCase("Ceil", "Ceil", 13, uniformAway(-2, 2, -1, 0, 1)),
		unaryCase("Round", "Round", 11, uniformAway(-2, 2, -1.5, -0.5, 0.5, 1.5)),
		unaryCase("Sign", "Sign", 13, uniformAway(-2, 2, 0)),
		{name: "PRelu", opset: 16, ins: []tin{in("x", 2, 3, 4).with(uniformAway(-2, 2, 0)), in("slope", 3, 1)}, build: func(b *gb) {
			b.node("PRelu", []string{"x", "slope"}, []string{"y"}).output("y")
		}},
		{name: "Max", opset: 13, distinct: true, ins: []tin{in("a", 2, 3), in("b", 3), in("c", 2, 1)}, build: func(b *gb) {
			b.node("Max", []string{"a", "b", "c"}, []string{"y"}).output("y")
		}},
		{name: "Min", opset: 13, distinct: true, ins: []tin{in("a", 2, 3), in("b", 3)}, build: func(b *gb) {
			b.node("Min", []string{"a", "b"}, []string{"y"}).output("y")
		}},
		{name: "Sum", opset: 13, ins: []tin{in("a", 2, 3), in("b", 3), in("c", 2, 1)}, build: func(b *gb) {
			b.node("Sum", []string{"a", "b", "c"}, []string{"y"}).output("y")
		}},
		{name: "Mean", opset: 13, ins: []tin{in("a", 2, 3), in("b", 1, 3)}, build: func(b *gb) {
			b.node("Mean", []string{"a", "b"}, []string{"y"}).output("y")
		}},
		{name: "WhereCompare", opset: 16, ins: []tin{in("a", 2, 3, 4), in("b", 3, 1)}, build: func(b *gb) {
			b.init("zero", nil, []float32{0}).
				node("Greater", []string{"a", "zero"}, []string{"pos"}).
				node("Less", []string{"b", "zero"}, []string{"neg"}).
				node("Xor", []string{"pos", "neg"}, []string{"x1"}).
				node("Not", []string{"x1"}, []string{"cond"}).
				node("Equal", []string{"b", "b"}, []string{"eq"}).
				node("And", []string{"cond", "eq"}, []string{"c2"}).
				node("Or", []string{"c2", "neg"}, []string{"c3"}).
				node("Where", []string{"c3", "a", "b"}, []string{"y"}).
				node("LessOrEqual", []string{"a", "b"}, []string{"le"}).
				node("GreaterOrEqual", []string{"a", "b"}, []string{"ge"}).
				output("y", "le", "ge")
		}},
		{name: "ReduceMax", opset: 13, distinct: true, ins: []tin{in("x", 2, 3, 4)}, build: func(b *gb) {
			b.node("ReduceMax", []string{"x"}, []string{"y"}, aInts("axes", 0, 2)).output("y")
		}},
		{name: "ReduceMin", opset: 18, distinct: true, ins: []tin{in("x", 2, 3, 4)}, build: func(b *gb) {
			b.init("ax", []int64{1}, []int64{1}).node("ReduceMin", []string{"x", "ax"}, []string{"y"}, aInt("keepdims", 0)).output("y")
		}},
		{name: "GlobalMaxPool", opset: 13, distinct: true, ins: []tin{in("x", 2, 3, 4, 3)}, build: func(b *gb) {
			b.node("GlobalMaxPool", []string{"x"}, []string{"y"}).output("y")
		}},
		{name: "Pad/constant", opset: 13, ins: []tin{in("x", 2, 3, 4)}, build: func(b *gb) {
			b.init("p", []int64{6}, []int64{0, 1, -1, 1, 2, 0}).init("v", nil, []float32{0.5}).
				node("Pad", []string{"x", "p", "v"}, []string{"y"}).output("y")
		}},
		{name: "Pad/reflect", opset: 13, ins: []tin{in("x", 1, 2, 4, 5)}, build: func(b *gb) {
			b.init("p", []int64{8}, []int64{0, 0, 2, 3, 0, 0, 3, 1}).
				node("Pad", []string{"x", "p"}, []string{"y"}, aString("mode", "reflect")).output("y")
		}},
		{name: "Pad/edgeAttr", opset: 2, ins: []tin{in("x", 2, 3)}, build: func(b *gb) {
			b.node("Pad", []string{"x"}, []string{"y"}, aString("mode", "edge"), aInts("pads", 1, 2, 2, 0)).output("y")
		}},
		{name: "Tile", opset: 13, ins: []tin{in("x", 2, 1, 3)}, build: func(b *gb) {
			b.init("r", []int64{3}, []int64{2, 3, 1}).node("Tile", []string{"x", "r"}, []string{"y"}).output("y")
		}},
		{name: "InstanceNormalization", opset: 6, ins: []tin{in("x", 2, 3, 4, 2), in("s", 3), in("bias", 3)}, build: func(b *gb) {
			b.node("InstanceNormalization", []string{"x", "s", "bias"}, []string{"y"}, aFloat("epsilon", 1e-3)).output("y")
		}},
		{name: "SoftmaxCrossEntropyLoss", opset: 13, ins: []tin{in("x", 3, 4, 2), in("w", 4)}, build: func(b *gb) {
			b.init("t", []int64{3, 2}, []int64{0, 3, -1, 2, 1, 1}).
				node("SoftmaxCrossEntropyLoss", []string{"x", "t", "w"}, []string{"loss", "logp"}, aInt("ignore_index", -1)).output("loss", "logp")
		}},
		{name: "SoftmaxCrossEntropyLoss/none", opset: 13, ins: []tin{in("x", 4, 3)}, build: func(b *gb) {
			b.init("t", []int64{4}, []int32{2, 0, 1, 2}).
				node("SoftmaxCrossEntropyLoss", []string{"x", "t"}, []string{"loss"}, aString("reduction", "none")).output("loss")
		}},
		{name: "NegativeLogLikelihoodLoss", opset: 13, ins: []tin{in("x", 3, 4, 2), in("w", 4).with(positive)}, build: func(b *gb) {
			b.init("t", []int64{3, 2}, []int64{0, 3, 1, 2, 1, 1}).
				node("NegativeLogLikelihoodLoss", []string{"x", "t", "w"}, []string{"loss"}, aString("reduction", "sum")).output("loss")
		}},
		// A small network with trainable initializers.
		{name: "MLP", opset: 13, ins: []tin{in("x", 4, 6)}, build: func(b *gb) {
			r := rand.New(rand.NewPCG(7, 7))
			w1 := randTensor(r, "w1", []int64{5, 6}, uniformAway(-1, 1))
			w2 := randTensor(r, "w2", []int64{3, 5}, uniformAway(-1, 1))
			b.init("w1", w1.Shape, w1.Data).init("b1", []int64{5}, []float32{0.1, -0.2, 0.3, 0.05, -0.1}).
				init("w2", w2.Shape, w2.Data).init("b2", []int64{3}, []float32{0.2, 0, -0.1}).
				node("Gemm", []string{"x", "w1", "b1"}, []string{"h"}, aInt("transB", 1)).
				node("Tanh", []string{"h"}, []string{"a"}).
				node("Gemm", []string{"a", "w2", "b2"}, []string{"z"}, aInt("transB", 1)).
				node("LogSoftmax", []string{"z"}, []string{"y"}, aInt("axis", 1)).output("y")
		}},
	}
	return cs
}

func mm(b *gb) { b.node("MatMul", []string{"a", "b"}, []string{"y"}).output("y") }

func bnModel(b *gb) {
	b.init("mean", []int64{3}, []float32{0.1, -0.2, 0.3}).init("var", []int64{3}, []float32{0.5, 1.5, 0.8}).
		node("BatchNormalization", []string{"x", "s", "bias", "mean", "var"}, []string{"y"}, aFloat("epsilon", 1e-3)).output("y")
}

func bnReluModel(b *gb) {
	b.init("mean", []int64{3}, []float32{0.1, -0.2, 0.3}).init("var", []int64{3}, []float32{0.5, 1.5, 0.8}).
		node("BatchNormalization", []string{"x", "s", "bias", "mean", "var"}, []string{"h"}, aFloat("epsilon", 1e-3)).
		node("Relu", []string{"h"}, []string{"y"}).output("y")
}
