package opinfo

import "github.com/shrinkml/shrink/onnxio/onnxpb"

// The table: one record per default-domain op type. Facts from the ONNX
// operator specification (onnx/docs/Operators.md).

var table = map[string]*Op{}

func add(ops ...*Op) {
	for _, o := range ops {
		if _, dup := table[o.Type]; dup {
			panic("opinfo: " + o.Type + " twice in the table")
		}
		table[o.Type] = o
	}
}

// Input and output builders: every axis NoAxis unless set.
func in(name string, r Role) Input {
	return Input{Name: name, Role: r, Out: NoAxis, In: NoAxis, Rows: NoAxis, Kernel: NoAxis}
}
func data(name string) Input { return in(name, Data) }
func ctrl(name string) Input { i := in(name, Control); i.Optional = true; return i }
func param(name string, r Role, optional bool) Input {
	i := in(name, r)
	i.Out, i.Optional = 0, optional
	return i
}
func variadic(i Input) Input { i.Variadic = true; return i }
func out(name string) Output { return Output{Name: name, Role: Data, Out: NoAxis, Rows: NoAxis} }
func optOut(name string, r Role) Output {
	o := out(name)
	o.Role, o.Optional = r, true
	return o
}

// op builds a record with no working axis.
func op(typ string, f Family, fl Flow, ins []Input, outs []Output) *Op {
	return &Op{Type: typ, Family: f, Flow: fl, Inputs: ins, Outputs: outs, Channel: NoAxis, AxisDefault: NoAxis}
}

func withAxis(o *Op, attr string, def Axis, toEnd bool) *Op {
	o.AxisAttr, o.AxisDefault, o.ToEnd = attr, def, toEnd
	return o
}

func withAxes(o *Op, attr string, input int, def []int) *Op {
	o.AxesAttr, o.AxesInput, o.AxesDefault = attr, input, def
	return o
}

var y = []Output{out("Y")}

func init() {
	// Compute.
	conv := func(typ string, wOut, wIn Axis, macs func(*onnxpb.NodeProto, Shapes) (int64, int64, error)) *Op {
		x := data("X")
		x.In, x.Rows, x.MinRank = 1, 0, 3
		w := in("W", Weight)
		w.Out, w.In, w.Kernel, w.MinRank = wOut, wIn, 2, 3
		b := param("B", Bias, true)
		o := op(typ, Compute, FlowCompute, []Input{x, w, b}, []Output{{Name: "Y", Role: Data, Out: 1, Rows: 0}})
		o.Group, o.macs = "group", macs
		return o
	}
	gemmA := data("A")
	gemmA.In, gemmA.Rows, gemmA.Swap, gemmA.MinRank, gemmA.MaxRank = 1, 0, "transA", 2, 2
	gemmB := in("B", Weight)
	gemmB.Out, gemmB.In, gemmB.Swap, gemmB.MinRank, gemmB.MaxRank = 1, 0, "transB", 2, 2
	gemmC := param("C", Bias, true)
	gemmC.Out, gemmC.Rows = -1, -2 // broadcast to [M, N]
	gemm := op("Gemm", Compute, FlowCompute, []Input{gemmA, gemmB, gemmC}, []Output{{Name: "Y", Role: Data, Out: 1, Rows: 0}})
	gemm.macs = matMulMACs
	mmA := data("A")
	mmA.In, mmA.Rows, mmA.Vector, mmA.MinRank = -1, -2, PrependOne, 1
	mmB := in("B", Weight)
	mmB.Out, mmB.In, mmB.Vector, mmB.MinRank = -1, -2, AppendOne, 1
	matMul := op("MatMul", Compute, FlowCompute, []Input{mmA, mmB}, []Output{{Name: "Y", Role: Data, Out: -1, Rows: -2}})
	matMul.BatchBroadcast, matMul.macs = true, matMulMACs
	add(conv("Conv", 0, 1, convMACs), conv("ConvTranspose", 1, 0, convTransposeMACs), gemm, matMul)

	// Normalization.
	bn := op("BatchNormalization", Normalization, FlowChannel,
		[]Input{data("X"), param("scale", Scale, false), param("B", Bias, false), param("input_mean", Stat, false), param("input_var", Stat, false)},
		[]Output{out("Y"), {Name: "running_mean", Role: Stat, Optional: true, Out: 0, Rows: NoAxis}, {Name: "running_var", Role: Stat, Optional: true, Out: 0, Rows: NoAxis}})
	bn.Channel = 1
	inorm := withAxis(op("InstanceNormalization", Normalization, FlowChannel,
		[]Input{data("input"), param("scale", Scale, false), param("B", Bias, false)}, []Output{out("output")}), "", 2, true)
	inorm.Channel = 1
	lnScale, lnB := param("Scale", Scale, false), param("B", Bias, true)
	lnScale.Out, lnB.Out = NoAxis, NoAxis // broadcast from the back over the normalized axes
	add(bn, inorm,
		withAxis(op("LayerNormalization", Normalization, FlowAlong, []Input{data("X"), lnScale, lnB},
			[]Output{out("Y"), optOut("Mean", Stat), optOut("InvStdDev", Stat)}), "axis", -1, true),
		withAxis(op("LpNormalization", Normalization, FlowAlong, []Input{data("input")}, []Output{out("output")}), "axis", -1, false),
		withAxis(op("LRN", Normalization, FlowAlong, []Input{data("X")}, y), "", 1, false),
		withAxes(op("MeanVarianceNormalization", Normalization, FlowAlong, []Input{data("X")}, y), "axes", 0, []int{0, 2, 3}),
	)

	// Activations: elementwise.
	for _, t := range []string{"Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish",
		"Tanh", "Softplus", "Softsign", "Gelu", "Mish", "ThresholdedRelu", "Shrink", "Erf", "Exp", "Log", "Sqrt",
		"Reciprocal", "Neg", "Abs", "Ceil", "Floor", "Round", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan",
		"Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Not", "IsNaN", "IsInf"} {
		add(op(t, Activation, FlowSame, []Input{data("X")}, y))
	}
	add(op("Clip", Activation, FlowSame, []Input{data("input"), ctrl("min"), ctrl("max")}, []Output{out("output")}))
	slope := param("slope", Scale, false)
	slope.Out = NoAxis // broadcast to X from the back
	prelu := op("PRelu", Activation, FlowBroadcast, []Input{data("X"), slope}, y)
	prelu.Channel, prelu.Legacy = 1, &Legacy{Before: 7, AxisDefault: NoAxis, PerChannel: true}
	add(prelu)
	for _, t := range []string{"Softmax", "LogSoftmax", "Hardmax"} {
		o := withAxis(op(t, Activation, FlowAlong, []Input{data("input")}, []Output{out("output")}), "axis", -1, false)
		o.Legacy = &Legacy{Before: 13, AxisDefault: 1, ToEnd: true} // coerced to 2-D at axis
		add(o)
	}

	// Arithmetic: broadcast operands.
	for _, t := range []string{"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "LessOrEqual",
		"Greater", "GreaterOrEqual", "And", "Or", "Xor", "BitShift"} {
		add(op(t, Arithmetic, FlowBroadcast, []Input{data("A"), data("B")}, []Output{out("C")}))
	}
	for _, t := range []string{"Sum", "Mean", "Max", "Min"} {
		add(op(t, Arithmetic, FlowBroadcast, []Input{variadic(data("data_0"))}, []Output{out(lower(t))}))
	}
	add(op("Where", Arithmetic, FlowBroadcast, []Input{data("condition"), data("X"), data("Y")}, []Output{out("output")}))

	// Pools and resampling: batch and channel pass.
	for _, t := range []string{"MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"} {
		outs := y
		if t == "MaxPool" {
			outs = []Output{out("Y"), optOut("Indices", Data)}
		}
		add(op(t, Pool, FlowSpatial, []Input{data("X")}, outs))
	}
	add(op("Resize", Movement, FlowSpatial, []Input{data("X"), ctrl("roi"), ctrl("scales"), ctrl("sizes")}, y),
		op("Upsample", Movement, FlowSpatial, []Input{data("X"), ctrl("scales")}, y),
		op("Pad", Movement, FlowSpatial, []Input{data("data"), ctrl("pads"), ctrl("constant_value"), ctrl("axes")}, []Output{out("output")}))

	// Reductions.
	for _, t := range []string{"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
		"ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"} {
		add(withAxes(op(t, Reduction, FlowReduce, []Input{data("data"), ctrl("axes")}, []Output{out("reduced")}), "axes", 1, nil))
	}
	for _, t := range []string{"ArgMax", "ArgMin"} {
		add(withAxis(op(t, Reduction, FlowReduce, []Input{data("data")}, []Output{out("reduced")}), "axis", 0, false))
	}

	// Movement.
	for _, t := range []string{"Identity", "Cast"} {
		add(op(t, Movement, FlowSame, []Input{data("input")}, []Output{out("output")}))
	}
	add(op("CastLike", Movement, FlowSame, []Input{data("input"), ctrl("target_type")}, []Output{out("output")}),
		op("Dropout", Movement, FlowSame, []Input{data("data"), ctrl("ratio"), ctrl("training_mode")}, []Output{out("output"), optOut("mask", Data)}),
		op("Reshape", Movement, FlowReshape, []Input{data("data"), in("shape", Control)}, []Output{out("reshaped")}),
		withAxis(op("Flatten", Movement, FlowReshape, []Input{data("input")}, []Output{out("output")}), "axis", 1, false),
		op("Squeeze", Movement, FlowReshape, []Input{data("data"), ctrl("axes")}, []Output{out("squeezed")}),
		op("Unsqueeze", Movement, FlowReshape, []Input{data("data"), ctrl("axes")}, []Output{out("expanded")}),
		op("Transpose", Movement, FlowTranspose, []Input{data("data")}, []Output{out("transposed")}),
		withAxis(op("Concat", Movement, FlowConcat, []Input{variadic(data("inputs"))}, []Output{out("concat_result")}), "axis", NoAxis, false),
		withAxis(op("Split", Movement, FlowSplit, []Input{data("input"), ctrl("split")}, []Output{out("outputs")}), "axis", 0, false),
		op("Slice", Movement, FlowSlice, []Input{data("data"), ctrl("starts"), ctrl("ends"), ctrl("axes"), ctrl("steps")}, []Output{out("output")}),
		withAxis(op("Gather", Movement, FlowGather, []Input{data("data"), in("indices", Control)}, []Output{out("output")}), "axis", 0, false),
		op("Expand", Movement, FlowBroadcast, []Input{data("input"), in("shape", Control)}, []Output{out("output")}),
		op("Shape", ShapeOf, FlowShape, []Input{data("data")}, []Output{out("shape")}),
		op("Size", ShapeOf, FlowShape, []Input{data("data")}, []Output{out("size")}),
	)
}

func lower(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'A' && b[0] <= 'Z' {
		b[0] += 'a' - 'A'
	}
	return string(b)
}
