package opinfo

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// node builds a test node: inputs and outputs named by position (an empty
// name is an absent optional input), attributes as name, value pairs
// (int, []int64 or string).
func node(op string, nIn, nOut int, attrs ...any) *onnxpb.NodeProto {
	var ins, outs []string
	for i := range nIn {
		ins = append(ins, fmt.Sprintf("i%d", i))
	}
	for i := range nOut {
		outs = append(outs, fmt.Sprintf("o%d", i))
	}
	n := onnxio.NewNode(op, op+"_test", ins, outs)
	for i := 0; i+1 < len(attrs); i += 2 {
		name := attrs[i].(string)
		switch v := attrs[i+1].(type) {
		case int:
			onnxio.SetAttrInt(n, name, int64(v))
		case []int64:
			onnxio.SetAttrInts(n, name, v)
		case string:
			onnxio.SetAttrString(n, name, v)
		}
	}
	return n
}

func sh(dims ...int64) []int64 { return dims }

// describe renders a map as sorted tokens: "out0@1" is output 0, axis 1,
// identity; suffixes: "[lo,hi)" a range, "+k" an offset, "/bN" whole
// blocks of N, "*wN" N wide, "xR/P" repeated R times P apart; "mixed".
func describe(m Map) string {
	var toks []string
	for _, l := range m.Links {
		s := "in"
		if l.Port.Out {
			s = "out"
		}
		s += fmt.Sprintf("%d@%d", l.Port.Index, l.Axis)
		x := l.Map
		if x.Lo != 0 || x.Hi != Unbounded {
			s += fmt.Sprintf("[%d,%d)", x.Lo, x.Hi)
		}
		if x.Offset != 0 {
			s += fmt.Sprintf("%+d", x.Offset)
		}
		if x.Block > 1 {
			s += fmt.Sprintf("/b%d", x.Block)
		}
		if x.Width > 1 {
			s += fmt.Sprintf("*w%d", x.Width)
		}
		if x.Repeat > 1 {
			s += fmt.Sprintf("x%d/%d", x.Repeat, x.Period)
		}
		toks = append(toks, s)
	}
	slices.Sort(toks)
	if m.Groups > 1 {
		toks = append(toks, fmt.Sprintf("groups%d", m.Groups))
	}
	if m.Mixed {
		toks = append(toks, "mixed")
	}
	return strings.Join(toks, " ")
}

type mapCase struct {
	name string
	n    *onnxpb.NodeProto
	s    Shapes
	from Port
	axis int
	want string // describe's output, or "nomap" / "unknown"
}

func runMapCases(t *testing.T, cases []mapCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ChannelMap(c.n, c.s, c.from, c.axis)
			got := describe(m)
			switch {
			case errors.Is(err, ErrNoMap):
				got = "nomap"
			case errors.Is(err, ErrUnknown):
				got = "unknown"
			case err != nil:
				t.Fatalf("unexpected error %v", err)
			}
			if got != c.want {
				t.Errorf("ChannelMap(%s, %s, axis %d) = %q (err %v), want %q", c.n.GetOpType(), portName(c.from), c.axis, got, err, c.want)
			}
		})
	}
}

func TestChannelMapCompute(t *testing.T) {
	conv := Shapes{In: [][]int64{sh(2, 16, 8, 8), sh(32, 16, 3, 3), sh(32)}, Out: [][]int64{sh(2, 32, 6, 6)}}
	dw := Shapes{In: [][]int64{sh(2, 8, 8, 8), sh(16, 1, 3, 3), sh(16)}, Out: [][]int64{sh(2, 16, 6, 6)}}
	grouped := Shapes{In: [][]int64{sh(2, 8, 8, 8), sh(16, 4, 3, 3)}, Out: [][]int64{sh(2, 16, 6, 6)}}
	convT := Shapes{In: [][]int64{sh(2, 16, 4, 4), sh(16, 8, 3, 3), sh(8)}, Out: [][]int64{sh(2, 8, 6, 6)}}
	convTdw := Shapes{In: [][]int64{sh(2, 4, 4, 4), sh(4, 2, 3, 3), sh(8)}, Out: [][]int64{sh(2, 8, 6, 6)}}
	convTg := Shapes{In: [][]int64{sh(2, 16, 4, 4), sh(16, 4, 3, 3), sh(8)}, Out: [][]int64{sh(2, 8, 6, 6)}}
	gemmT := Shapes{In: [][]int64{sh(5, 784), sh(300, 784), sh(1, 300)}, Out: [][]int64{sh(5, 300)}}
	gemmTA := Shapes{In: [][]int64{sh(784, 5), sh(784, 300), sh(5, 1)}, Out: [][]int64{sh(5, 300)}}
	attn := Shapes{In: [][]int64{sh(2, 4, 28, 16), sh(2, 4, 16, 28)}, Out: [][]int64{sh(2, 4, 28, 28)}}
	bcast := Shapes{In: [][]int64{sh(2, 4, 28, 16), sh(16, 64)}, Out: [][]int64{sh(2, 4, 28, 64)}}
	vecB := Shapes{In: [][]int64{sh(3, 16), sh(16)}, Out: [][]int64{sh(3)}}
	vecA := Shapes{In: [][]int64{sh(16), sh(16, 8)}, Out: [][]int64{sh(8)}}
	runMapCases(t, []mapCase{
		{"conv weight out", node("Conv", 3, 1), conv, In(1), 0, "in2@0 out0@1"},
		{"conv output channel", node("Conv", 3, 1), conv, Out(0), 1, "in1@0 in2@0"},
		{"conv bias", node("Conv", 3, 1), conv, In(2), 0, "in1@0 out0@1"},
		{"conv input channel ends", node("Conv", 3, 1), conv, In(0), 1, "in1@1"},
		{"conv weight in", node("Conv", 3, 1), conv, In(1), 1, "in0@1"},
		{"conv batch", node("Conv", 3, 1), conv, In(0), 0, "out0@0"},
		{"conv spatial", node("Conv", 3, 1), conv, In(0), 2, "nomap"},
		{"conv kernel", node("Conv", 3, 1), conv, In(1), 2, "nomap"},
		{"conv negative axis", node("Conv", 3, 1), conv, Out(0), -3, "in1@0 in2@0"},
		{"conv without bias", node("Conv", 2, 1), conv, In(1), 0, "out0@1"},
		{"depthwise input", node("Conv", 3, 1, "group", 8), dw, In(0), 1, "in1@0*w2 in2@0*w2 out0@1*w2"},
		{"depthwise output", node("Conv", 3, 1, "group", 8), dw, Out(0), 1, "in0@1/b2 in1@0 in2@0"},
		{"depthwise weight axis 1", node("Conv", 3, 1, "group", 8), dw, In(1), 1, "nomap"},
		{"grouped output", node("Conv", 2, 1, "group", 2), grouped, Out(0), 1, "in1@0 groups2"},
		{"grouped weight out", node("Conv", 2, 1, "group", 2), grouped, In(1), 0, "out0@1 groups2"},
		{"grouped position in group", node("Conv", 2, 1, "group", 2), grouped, In(1), 1, "in0@1x2/4"},
		{"grouped input", node("Conv", 2, 1, "group", 2), grouped, In(0), 1, "nomap"},
		{"convtranspose grouped input", node("ConvTranspose", 3, 1, "group", 2), convTg, In(0), 1, "in1@0 groups2"},
		{"convtranspose grouped position", node("ConvTranspose", 3, 1, "group", 2), convTg, In(1), 1, "in2@0x2/4 out0@1x2/4"},
		{"convtranspose grouped output", node("ConvTranspose", 3, 1, "group", 2), convTg, Out(0), 1, "nomap"},
		{"grouped batch", node("Conv", 2, 1, "group", 2), grouped, Out(0), 0, "in0@0"},
		{"convtranspose weight out", node("ConvTranspose", 3, 1), convT, In(1), 1, "in2@0 out0@1"},
		{"convtranspose input", node("ConvTranspose", 3, 1), convT, In(0), 1, "in1@0"},
		{"convtranspose depthwise input", node("ConvTranspose", 3, 1, "group", 4), convTdw, In(0), 1, "in1@0 in2@0*w2 out0@1*w2"},
		{"convtranspose depthwise output", node("ConvTranspose", 3, 1, "group", 4), convTdw, Out(0), 1, "in0@1/b2 in1@0/b2 in2@0"},
		{"convtranspose depthwise weight axis 1", node("ConvTranspose", 3, 1, "group", 4), convTdw, In(1), 1, "nomap"},
		{"gemm transB out", node("Gemm", 3, 1, "transB", 1), gemmT, In(1), 0, "in2@1 out0@1"},
		{"gemm transB in", node("Gemm", 3, 1, "transB", 1), gemmT, In(0), 1, "in1@1"},
		{"gemm rows, bias broadcast", node("Gemm", 3, 1, "transB", 1), gemmT, Out(0), 0, "in0@0"},
		{"gemm bias broadcast axis", node("Gemm", 3, 1, "transB", 1), gemmT, In(2), 0, "nomap"},
		{"gemm transA rows", node("Gemm", 3, 1, "transA", 1), gemmTA, In(0), 1, "in2@0 out0@0"},
		{"gemm transA K", node("Gemm", 3, 1, "transA", 1), gemmTA, In(0), 0, "in1@0"},
		{"gemm transA out", node("Gemm", 3, 1, "transA", 1), gemmTA, Out(0), 1, "in1@1"},
		{"matmul heads", node("MatMul", 2, 1), attn, In(0), 1, "in1@1 out0@1"},
		{"matmul K", node("MatMul", 2, 1), attn, In(0), 3, "in1@2"},
		{"matmul N", node("MatMul", 2, 1), attn, In(1), 3, "out0@3"},
		{"matmul M", node("MatMul", 2, 1), attn, Out(0), 2, "in0@2"},
		{"matmul batch from output", node("MatMul", 2, 1), attn, Out(0), 0, "in0@0 in1@0"},
		{"matmul broadcast weight", node("MatMul", 2, 1), bcast, In(0), 1, "out0@1"},
		{"matmul weight N", node("MatMul", 2, 1), bcast, In(1), 1, "out0@3"},
		{"matmul weight K", node("MatMul", 2, 1), bcast, In(1), 0, "in0@3"},
		{"matmul 1-D B: rows", node("MatMul", 2, 1), vecB, In(0), 0, "out0@0"},
		{"matmul 1-D B: K", node("MatMul", 2, 1), vecB, In(1), 0, "in0@1"},
		{"matmul 1-D A: K", node("MatMul", 2, 1), vecA, In(0), 0, "in1@0"},
		{"matmul 1-D A: N", node("MatMul", 2, 1), vecA, Out(0), 0, "in1@1"},
		{"shapes missing", node("Conv", 3, 1), Shapes{}, In(1), 0, "nomap"},
	})
}

func TestChannelMapElementwise(t *testing.T) {
	x := sh(2, 8, 5, 5)
	bn := Shapes{In: [][]int64{x, sh(8), sh(8), sh(8), sh(8)}, Out: [][]int64{x}}
	in := Shapes{In: [][]int64{x, sh(8), sh(8)}, Out: [][]int64{x}}
	add := Shapes{In: [][]int64{x, sh(8, 1, 1)}, Out: [][]int64{x}}
	prelu := Shapes{In: [][]int64{x, sh(8, 1, 1)}, Out: [][]int64{x}}
	ln := Shapes{In: [][]int64{sh(2, 28, 64), sh(64), sh(64)}, Out: [][]int64{sh(2, 28, 64), sh(2, 28, 1), sh(2, 28, 1)}}
	sm := Shapes{In: [][]int64{sh(2, 4, 28, 28)}, Out: [][]int64{sh(2, 4, 28, 28)}}
	runMapCases(t, []mapCase{
		{"relu", node("Relu", 1, 1), Shapes{}, In(0), 1, "out0@1"},
		{"relu back", node("Relu", 1, 1), Shapes{}, Out(0), 3, "in0@3"},
		{"clip min is control", node("Clip", 3, 1), Shapes{}, In(1), 0, "nomap"},
		{"dropout mask", node("Dropout", 1, 2), Shapes{}, In(0), 1, "out0@1 out1@1"},
		{"identity", node("Identity", 1, 1), Shapes{}, In(0), 1, "out0@1"},
		{"cast", node("Cast", 1, 1, "to", 1), Shapes{}, Out(0), 1, "in0@1"},
		{"batchnorm channel", node("BatchNormalization", 5, 1), bn, In(0), 1, "in1@0 in2@0 in3@0 in4@0 out0@1"},
		{"batchnorm scale", node("BatchNormalization", 5, 1), bn, In(1), 0, "in0@1 in2@0 in3@0 in4@0 out0@1"},
		{"batchnorm spatial", node("BatchNormalization", 5, 1), bn, In(0), 2, "out0@2"},
		{"batchnorm running mean output", node("BatchNormalization", 5, 3), bn, Out(1), 0, "in0@1 in1@0 in2@0 in3@0 in4@0 out0@1 out2@0"},
		{"instancenorm channel", node("InstanceNormalization", 3, 1), in, Out(0), 1, "in0@1 in1@0 in2@0"},
		{"instancenorm spatial mixes", node("InstanceNormalization", 3, 1), in, In(0), 3, "out0@3 mixed"},
		{"add bias broadcast", node("Add", 2, 1), add, In(0), 1, "in1@0 out0@1"},
		{"add spatial: bias has size 1", node("Add", 2, 1), add, In(0), 2, "out0@2"},
		{"add from bias", node("Add", 2, 1), add, In(1), 0, "in0@1 out0@1"},
		{"add from broadcast axis", node("Add", 2, 1), add, In(1), 1, "nomap"},
		{"residual add", node("Add", 2, 1), Shapes{In: [][]int64{x, x}, Out: [][]int64{x}}, Out(0), 1, "in0@1 in1@1"},
		{"sum of three", node("Sum", 3, 1), Shapes{In: [][]int64{x, x, sh(5)}, Out: [][]int64{x}}, In(2), 0, "in0@3 in1@3 out0@3"},
		{"where", node("Where", 3, 1), Shapes{In: [][]int64{sh(1, 1, 5, 5), x, x}, Out: [][]int64{x}}, In(1), 1, "in2@1 out0@1"},
		{"prelu slope", node("PRelu", 2, 1), prelu, In(0), 1, "in1@0 out0@1"},
		{"prelu opset 6: slope per channel", node("PRelu", 2, 1), Shapes{In: [][]int64{x, sh(8)}, Out: [][]int64{x}, Opset: 6}, In(0), 1, "in1@0 out0@1"},
		{"prelu opset 6: from the slope", node("PRelu", 2, 1), Shapes{In: [][]int64{x, sh(8)}, Out: [][]int64{x}, Opset: 6}, In(1), 0, "in0@1 out0@1"},
		{"prelu opset 6: shared slope", node("PRelu", 2, 1), Shapes{In: [][]int64{x, sh(1)}, Out: [][]int64{x}, Opset: 6}, In(0), 1, "out0@1"},
		{"prelu shared slope", node("PRelu", 2, 1), Shapes{In: [][]int64{x, sh(1)}, Out: [][]int64{x}}, In(0), 1, "out0@1"},
		{"expand", node("Expand", 2, 1), Shapes{In: [][]int64{sh(8, 1), sh(3)}, Out: [][]int64{sh(2, 8, 6)}}, In(0), 0, "out0@1"},
		{"layernorm normalized axis", node("LayerNormalization", 3, 3), ln, In(0), 2, "in1@0 in2@0 out0@2 mixed"},
		{"layernorm token axis", node("LayerNormalization", 3, 3), ln, In(0), 1, "out0@1 out1@1 out2@1"},
		{"layernorm scale", node("LayerNormalization", 3, 1), ln, In(1), 0, "in0@2 in2@0 out0@2 mixed"},
		{"layernorm mean output on normalized axis", node("LayerNormalization", 3, 3), ln, Out(1), 2, "nomap"},
		{"softmax opset 13 last axis", node("Softmax", 1, 1), Shapes{In: sm.In, Out: sm.Out, Opset: 13}, In(0), 3, "out0@3 mixed"},
		{"softmax opset 13 heads pass", node("Softmax", 1, 1), Shapes{In: sm.In, Out: sm.Out, Opset: 13}, In(0), 1, "out0@1"},
		{"softmax opset 11 coerces to 2-D", node("Softmax", 1, 1), Shapes{In: sm.In, Out: sm.Out, Opset: 11}, In(0), 2, "out0@2 mixed"},
		{"softmax opset 11 axis 0 passes", node("Softmax", 1, 1), Shapes{In: sm.In, Out: sm.Out, Opset: 11}, In(0), 0, "out0@0"},
		{"softmax axis attribute", node("Softmax", 1, 1, "axis", 1), sm, In(0), 1, "out0@1 mixed"},
		{"lrn mixes channels", node("LRN", 1, 1, "size", 3), Shapes{}, In(0), 1, "out0@1 mixed"},
		{"maxpool channel", node("MaxPool", 1, 2), Shapes{}, In(0), 1, "out0@1 out1@1"},
		{"maxpool spatial", node("MaxPool", 1, 1), Shapes{}, In(0), 2, "nomap"},
		{"global pool channel back", node("GlobalAveragePool", 1, 1), Shapes{}, Out(0), 1, "in0@1"},
		{"resize keeps channels", node("Resize", 3, 1), Shapes{In: [][]int64{x}, Out: [][]int64{sh(2, 8, 10, 10)}}, In(0), 1, "out0@1"},
		{"pad on channels", node("Pad", 2, 1), Shapes{In: [][]int64{x}, Out: [][]int64{sh(2, 10, 5, 5)}}, In(0), 1, "nomap"},
		{"shape reads only the shape", node("Shape", 1, 1), Shapes{}, In(0), 1, ""},
		{"shape output", node("Shape", 1, 1), Shapes{}, Out(0), 0, "nomap"},
	})
}

func TestChannelMapMovement(t *testing.T) {
	runMapCases(t, []mapCase{
		{"concat input 1", node("Concat", 2, 1, "axis", 1), Shapes{In: [][]int64{sh(2, 16, 4, 4), sh(2, 32, 4, 4)}}, In(1), 1, "out0@1[0,32)+16"},
		{"concat output", node("Concat", 2, 1, "axis", 1), Shapes{In: [][]int64{sh(2, 16, 4, 4), sh(2, 32, 4, 4)}}, Out(0), 1, "in0@1[0,16) in1@1[16,48)"},
		{"concat other axis couples inputs", node("Concat", 2, 1, "axis", -3), Shapes{In: [][]int64{sh(2, 16, 4, 4), sh(2, 32, 4, 4)}}, In(0), 2, "in1@2 out0@2"},
		{"concat without sizes", node("Concat", 2, 1, "axis", 1), Shapes{}, In(0), 1, "nomap"},
		{"split input", node("Split", 2, 2, "axis", 1), Shapes{In: [][]int64{sh(2, 48)}, Out: [][]int64{sh(2, 16), sh(2, 32)}}, In(0), 1, "out0@1[0,16) out1@1[16,48)"},
		{"split output 1", node("Split", 1, 2, "axis", 1), Shapes{In: [][]int64{sh(2, 48)}, Out: [][]int64{sh(2, 16), sh(2, 32)}}, Out(1), 1, "in0@1[0,32)+16"},
		{"split equal without output shapes", node("Split", 1, 3, "axis", 1), Shapes{In: [][]int64{sh(2, 48)}}, In(0), 1, "out0@1[0,16) out1@1[16,32) out2@1[32,48)"},
		{"split other axis", node("Split", 1, 2, "axis", 1), Shapes{}, Out(0), 0, "in0@0 out1@0"},
		{"slice range", node("Slice", 4, 1), Shapes{In: [][]int64{sh(2, 64)}, Values: [][]int64{nil, {8}, {-8}, {1}}}, In(0), 1, "out0@1[8,56)"},
		{"slice back", node("Slice", 4, 1), Shapes{In: [][]int64{sh(2, 64)}, Values: [][]int64{nil, {8}, {-8}, {1}}}, Out(0), 1, "in0@1[0,48)+8"},
		{"slice other axis", node("Slice", 4, 1), Shapes{In: [][]int64{sh(2, 64)}, Values: [][]int64{nil, {8}, {-8}, {1}}}, In(0), 0, "out0@0"},
		{"slice step", node("Slice", 5, 1), Shapes{In: [][]int64{sh(2, 64)}, Values: [][]int64{nil, {0}, {64}, {1}, {2}}}, In(0), 1, "nomap"},
		{"slice attributes (opset 1)", node("Slice", 1, 1, "starts", []int64{2}, "ends", []int64{1 << 40}, "axes", []int64{1}), Shapes{In: [][]int64{sh(2, 64)}}, In(0), 1, "out0@1[2,64)"},
		{"slice unknown bounds", node("Slice", 3, 1), Shapes{In: [][]int64{sh(2, 64)}, Out: [][]int64{sh(2, 10)}}, In(0), 1, "nomap"},
		{"flatten channel", node("Flatten", 1, 1), Shapes{In: [][]int64{sh(4, 64, 5, 5)}}, In(0), 1, "out0@1*w25"},
		{"flatten back", node("Flatten", 1, 1), Shapes{In: [][]int64{sh(4, 64, 5, 5)}, Out: [][]int64{sh(4, 1600)}}, Out(0), 1, "in0@1/b25"},
		{"flatten spatial", node("Flatten", 1, 1), Shapes{In: [][]int64{sh(4, 64, 5, 5)}}, In(0), 2, "out0@1*w5x64/25"},
		{"reshape heads", node("Reshape", 2, 1), Shapes{In: [][]int64{sh(2, 28, 64)}, Out: [][]int64{sh(2, 28, 4, 16)}}, In(0), 2, "out0@2/b16"},
		{"reshape head dim back", node("Reshape", 2, 1), Shapes{In: [][]int64{sh(2, 28, 64)}, Out: [][]int64{sh(2, 28, 4, 16)}}, Out(0), 3, "in0@2x4/16"},
		{"reshape heads back", node("Reshape", 2, 1), Shapes{In: [][]int64{sh(2, 28, 64)}, Out: [][]int64{sh(2, 28, 4, 16)}}, Out(0), 2, "in0@2*w16"},
		{"reshape keeps axis", node("Reshape", 2, 1), Shapes{In: [][]int64{sh(1, 28, 64)}, Out: [][]int64{sh(28, 64)}}, In(0), 2, "out0@1"},
		{"reshape regroups", node("Reshape", 2, 1), Shapes{In: [][]int64{sh(6, 4)}, Out: [][]int64{sh(4, 6)}}, In(0), 0, "nomap"},
		{"reshape shape input", node("Reshape", 2, 1), Shapes{In: [][]int64{sh(6, 4)}, Out: [][]int64{sh(24)}}, In(1), 0, "nomap"},
		{"squeeze", node("Squeeze", 1, 1), Shapes{In: [][]int64{sh(2, 8, 1, 1)}, Out: [][]int64{sh(2, 8)}}, In(0), 1, "out0@1"},
		{"unsqueeze", node("Unsqueeze", 1, 1), Shapes{In: [][]int64{sh(8)}, Out: [][]int64{sh(1, 8, 1, 1)}}, Out(0), 1, "in0@0"},
		{"transpose", node("Transpose", 1, 1, "perm", []int64{0, 2, 1, 3}), Shapes{}, In(0), 1, "out0@2"},
		{"transpose back", node("Transpose", 1, 1, "perm", []int64{0, 2, 3, 1}), Shapes{}, Out(0), 3, "in0@1"},
		{"transpose default perm", node("Transpose", 1, 1), Shapes{In: [][]int64{sh(2, 3, 4)}}, In(0), 0, "out0@2"},
		{"gather q/k/v", node("Gather", 2, 1), Shapes{In: [][]int64{sh(3, 2, 4, 28, 16), {}}}, In(0), 2, "out0@1"},
		{"gather axis", node("Gather", 2, 1, "axis", 1), Shapes{In: [][]int64{sh(3, 8), sh(2, 5)}}, In(0), 1, "nomap"},
		{"gather after axis with 2-D indices", node("Gather", 2, 1), Shapes{In: [][]int64{sh(10, 8), sh(2, 5)}}, In(0), 1, "out0@2"},
		{"gather back", node("Gather", 2, 1), Shapes{In: [][]int64{sh(10, 8), sh(2, 5)}}, Out(0), 2, "in0@1"},
		{"reduce kept axis", node("ReduceMean", 1, 1, "axes", []int64{2, 3}, "keepdims", 0), Shapes{In: [][]int64{sh(2, 8, 5, 5)}}, In(0), 1, "out0@1"},
		{"reduce reduced axis", node("ReduceMean", 1, 1, "axes", []int64{2, 3}), Shapes{In: [][]int64{sh(2, 8, 5, 5)}}, In(0), 2, "mixed"},
		{"reduce back keepdims 0", node("ReduceSum", 2, 1, "keepdims", 0), Shapes{In: [][]int64{sh(2, 8, 5, 5)}, Values: [][]int64{nil, {1}}}, Out(0), 1, "in0@2"},
		{"reduce axes input unknown", node("ReduceSum", 2, 1), Shapes{In: [][]int64{sh(2, 8, 5, 5)}}, In(0), 1, "nomap"},
		{"reduce all", node("ReduceMax", 1, 1), Shapes{In: [][]int64{sh(2, 8)}}, In(0), 0, "mixed"},
		{"reduce noop", node("ReduceMax", 2, 1, "noop_with_empty_axes", 1), Shapes{In: [][]int64{sh(2, 8)}, Values: [][]int64{nil, {}}}, In(0), 1, "out0@1"},
		{"argmax other axis", node("ArgMax", 1, 1, "axis", -1, "keepdims", 0), Shapes{In: [][]int64{sh(2, 8, 10)}}, In(0), 1, "out0@1"},
	})
}

func TestUnknownOps(t *testing.T) {
	for _, n := range []*onnxpb.NodeProto{
		node("NoSuchOp", 1, 1),
		func() *onnxpb.NodeProto {
			n := node("Conv", 2, 1)
			n.Domain = new(string)
			*n.Domain = "com.microsoft"
			return n
		}(),
		node("QLinearConv", 8, 1),
	} {
		if _, ok := ForNode(n); ok {
			t.Errorf("%s (domain %q) is known", n.GetOpType(), n.GetDomain())
		}
		if _, err := ChannelMap(n, Shapes{}, In(0), 1); !errors.Is(err, ErrUnknown) {
			t.Errorf("%s: ChannelMap error %v, want ErrUnknown", n.GetOpType(), err)
		}
		if _, err := MACs(n, Shapes{}); !errors.Is(err, ErrUnknown) {
			t.Errorf("%s: MACs error %v, want ErrUnknown", n.GetOpType(), err)
		}
		if _, ok := WeightAxes(n, sh(8, 8, 3, 3)); ok {
			t.Errorf("%s: WeightAxes resolved", n.GetOpType())
		}
		if _, ok := FanIn(n, sh(8, 8, 3, 3)); ok {
			t.Errorf("%s: FanIn resolved", n.GetOpType())
		}
	}
	n := node("Conv", 2, 1)
	n.Domain = new(string)
	*n.Domain = "ai.onnx"
	if _, ok := ForNode(n); !ok {
		t.Error("Conv in domain ai.onnx is not known")
	}
	if _, err := ChannelMap(node("Relu", 1, 1), Shapes{}, In(3), 0); !errors.Is(err, ErrNoMap) {
		t.Errorf("a port the node lacks: %v", err)
	}
}

func TestIndexApply(t *testing.T) {
	for _, c := range []struct {
		x    Index
		src  []int64
		want []int64
		ok   bool
	}{
		{Identity(), []int64{3, 1, 3}, []int64{1, 3}, true},
		{Index{Hi: Unbounded, Offset: 16}, []int64{0, 5}, []int64{16, 21}, true},
		{Index{Lo: 16, Hi: 48}, []int64{3, 16, 20, 47, 48}, []int64{0, 4, 31}, true},
		{Index{Hi: Unbounded, Width: 3}, []int64{0, 2}, []int64{0, 1, 2, 6, 7, 8}, true},
		{Index{Hi: Unbounded, Block: 3}, []int64{3, 4, 5, 0, 1, 2}, []int64{0, 1}, true},
		{Index{Hi: Unbounded, Block: 3}, []int64{3, 4}, nil, false},
		{Index{Hi: Unbounded, Block: 3}, []int64{3, 4, 4}, nil, false},
		{Index{Hi: Unbounded, Repeat: 4, Period: 16}, []int64{1}, []int64{1, 17, 33, 49}, true},
		{Index{Hi: Unbounded, Width: 5, Repeat: 2, Period: 20}, []int64{1}, []int64{5, 6, 7, 8, 9, 25, 26, 27, 28, 29}, true},
	} {
		got, ok := c.x.Apply(c.src)
		if ok != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("%+v.Apply(%v) = %v, %v; want %v, %v", c.x, c.src, got, ok, c.want, c.ok)
		}
	}
	if !Identity().IsIdentity() || (Index{Hi: Unbounded, Width: 2}).IsIdentity() {
		t.Error("IsIdentity")
	}
}

// TestFlattenIndexAgainstLayout checks the Flatten and Reshape index maps
// against the row-major layout itself: every element of input channel c
// lands at a flattened position the map lists, and no other.
func TestFlattenIndexAgainstLayout(t *testing.T) {
	in := sh(2, 3, 4, 5)
	for axis := 1; axis < 4; axis++ {
		for fa := 1; fa <= axis; fa++ {
			n := node("Flatten", 1, 1, "axis", fa)
			m, err := ChannelMap(n, Shapes{In: [][]int64{in}}, In(0), axis)
			if err != nil {
				t.Fatalf("flatten axis %d, channel axis %d: %v", fa, axis, err)
			}
			l := m.Links[0]
			inner := prod(in[fa:])
			for c := int64(0); c < in[axis]; c++ {
				want := map[int64]bool{}
				// Enumerate every element; keep the column of those with
				// index c along axis.
				for e := int64(0); e < prod(in); e++ {
					idx, rem := make([]int64, 4), e
					for d := 3; d >= 0; d-- {
						idx[d], rem = rem%in[d], rem/in[d]
					}
					if idx[axis] == c {
						want[e%inner] = true
					}
				}
				got, ok := l.Map.Apply([]int64{c})
				if !ok || int64(len(got)) != int64(len(want)) || l.Axis != 1 {
					t.Fatalf("flatten axis %d, channel axis %d, c=%d: got %v on axis %d, want %d positions", fa, axis, c, got, l.Axis, len(want))
				}
				for _, g := range got {
					if !want[g] {
						t.Fatalf("flatten axis %d, channel axis %d, c=%d: position %d does not hold channel c", fa, axis, c, g)
					}
				}
			}
		}
	}
}
