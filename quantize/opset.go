package quantize

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TargetOpset is the default-domain opset a quantized model imports:
// DequantizeLinear has a per-channel axis from opset 13, and ONNX Runtime
// creates its fused integer nodes (QLinearConv, …) at the model's opset, so
// a model below 10 cannot be fused at all.
const TargetOpset = 13

// opsetRule upgrades one node from version `from` of its op to
// TargetOpset, or returns a reason it cannot.
type opsetRule func(u *upgrader, n *onnxpb.NodeProto, from int64) string

// upgrader rewrites a model's default-domain nodes to TargetOpset.
type upgrader struct {
	m     *onnxio.Model
	b     *builder
	ranks map[string]int // tensor ranks observed, for Softmax and friends
}

// sameAt13 lists ops whose semantics and attributes at every version
// below 13 that shrink may meet are those of version 13 (new versions only
// widened types or added optional inputs).
var sameAt13 = map[string]bool{}

func init() {
	for _, op := range []string{"Conv", "ConvTranspose", "MatMul", "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu",
		"HardSigmoid", "Softplus", "Softsign", "Transpose", "Flatten", "Identity", "Constant", "GlobalAveragePool",
		"GlobalMaxPool", "MaxPool", "AveragePool", "Exp", "Log", "Sqrt", "Abs", "Neg", "Floor", "Ceil", "Reciprocal",
		"Shape", "Gather", "Erf", "Not", "Equal", "Less", "Greater", "Where", "ReduceMean", "ReduceMax", "ReduceMin",
		"ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare", "Expand", "ConstantOfShape",
		"Range", "InstanceNormalization", "LRN", "DepthToSpace", "SpaceToDepth", "ArgMax", "ArgMin", "Sign", "Mod",
		"And", "Or", "Xor", "IsNaN", "IsInf", "Einsum", "MatMulInteger", "NonZero", "GatherElements", "GatherND",
		"CumSum", "Round", "Sin", "Cos", "HardSwish", "Mish", "Celu", "ThresholdedRelu", "Size", "EyeLike",
		"OneHot", "GlobalLpPool", "LpNormalization", "MeanVarianceNormalization", "Trilu"} {
		sameAt13[op] = true
	}
}

// minSame lists ops that are unchanged up to 13 only from a given version.
var minSame = map[string]int64{
	"Cast": 6, "Tile": 6, "Reshape": 5, "Concat": 4, "Resize": 11, "Clip": 11, "Pad": 11, "Slice": 10,
	"TopK": 10, "Gemm": 7, "BatchNormalization": 9, "Dropout": 12, "Squeeze": 13, "Unsqueeze": 13,
	"Split": 13, "ReduceSum": 13, "Softmax": 13, "LogSoftmax": 13, "Hardmax": 13,
	"Add": 7, "Sub": 7, "Mul": 7, "Div": 7, "Pow": 7, "PRelu": 7, "Sum": 8, "Max": 8, "Min": 8, "Mean": 8,
}

var opsetRules = map[string]opsetRule{
	"Add": legacyBroadcast, "Sub": legacyBroadcast, "Mul": legacyBroadcast, "Div": legacyBroadcast,
	"Pow": legacyBroadcast, "PRelu": legacyBroadcast, "Sum": dropAttrs("consumed_inputs"),
	"Max": dropAttrs("consumed_inputs"), "Min": dropAttrs("consumed_inputs"), "Mean": dropAttrs("consumed_inputs"),
	"Gemm": dropAttrs("broadcast"), "BatchNormalization": upgradeBN, "Dropout": upgradeDropout,
	"Squeeze": attrToInput("axes", onnxio.Int64), "Unsqueeze": attrToInput("axes", onnxio.Int64),
	"ReduceSum": attrToInput("axes", onnxio.Int64), "Split": attrToInput("split", onnxio.Int64),
	"Slice": upgradeSlice, "Clip": upgradeClip, "Pad": upgradePad, "Reshape": attrToInput("shape", onnxio.Int64),
	"Concat": upgradeConcat, "TopK": upgradeTopK,
	"Softmax": upgradeSoftmax, "LogSoftmax": upgradeSoftmax, "Hardmax": upgradeSoftmax,
}

// opVersion is the version of op resolved by a model importing opset
// `imported`: shrink only needs "is it below minSame".
func upgradeNeeded(op string, imported int64) (bool, bool) {
	if sameAt13[op] {
		return false, true
	}
	v, ok := minSame[op]
	if !ok {
		return false, false
	}
	return imported < v, true
}

// upgradeOpset rewrites m's default-domain nodes and opset import to
// TargetOpset (and the IR version to at least 7, removing graph inputs
// that merely list initializers, as IR ≥ 4 models do not). It changes
// nothing and returns an *onnxio.UnsupportedError naming the first node
// it cannot convert. ranks supplies tensor ranks for the ops whose
// conversion depends on them.
func upgradeOpset(m *onnxio.Model, ranks map[string]int) error {
	from := m.Opset("")
	if from >= TargetOpset {
		return nil
	}
	work := m.Clone()
	u := &upgrader{m: work, b: newBuilder(work), ranks: ranks}
	for _, n := range work.Proto.Graph.Node {
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			continue
		}
		op := n.GetOpType()
		need, known := upgradeNeeded(op, from)
		if !known {
			return &onnxio.UnsupportedError{Node: nodeLabel(n), Op: op, Reason: fmt.Sprintf("cannot upgrade opset %d to %d for quantization (no conversion for this op)", from, TargetOpset)}
		}
		if !need {
			continue
		}
		rule := opsetRules[op]
		if rule == nil {
			return &onnxio.UnsupportedError{Node: nodeLabel(n), Op: op, Reason: fmt.Sprintf("cannot upgrade opset %d to %d for quantization", from, TargetOpset)}
		}
		if why := rule(u, n, from); why != "" {
			return &onnxio.UnsupportedError{Node: nodeLabel(n), Op: op, Reason: fmt.Sprintf("cannot upgrade opset %d to %d for quantization: %s", from, TargetOpset, why)}
		}
	}
	for _, sg := range subgraphs(work.Proto.Graph) {
		if len(sg.Node) > 0 {
			return &onnxio.UnsupportedError{Node: work.Proto.Graph.GetName(), Op: "subgraph", Reason: "models with control-flow subgraphs are not upgraded"}
		}
	}
	work.SetOpset("", TargetOpset)
	if work.Proto.GetIrVersion() < 7 {
		work.Proto.IrVersion = proto.Int64(7)
		inits := map[string]bool{}
		for _, t := range work.Proto.Graph.Initializer {
			inits[t.GetName()] = true
		}
		keep := work.Proto.Graph.Input[:0]
		for _, v := range work.Proto.Graph.Input {
			if !inits[v.GetName()] {
				keep = append(keep, v)
			}
		}
		work.Proto.Graph.Input = keep
	}
	m.Proto = work.Proto
	return nil
}

func subgraphs(g *onnxpb.GraphProto) []*onnxpb.GraphProto {
	var out []*onnxpb.GraphProto
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			if a.G != nil {
				out = append(out, a.G)
			}
			out = append(out, a.Graphs...)
		}
	}
	return out
}

func removeAttr(n *onnxpb.NodeProto, names ...string) {
	keep := n.Attribute[:0]
	for _, a := range n.Attribute {
		drop := false
		for _, s := range names {
			drop = drop || a.GetName() == s
		}
		if !drop {
			keep = append(keep, a)
		}
	}
	n.Attribute = keep
}

func dropAttrs(names ...string) opsetRule {
	return func(u *upgrader, n *onnxpb.NodeProto, from int64) string {
		removeAttr(n, names...)
		return ""
	}
}

// legacyBroadcast: before opset 7, broadcasting was opt-in (broadcast=1)
// and B could be aligned at `axis`; without axis it is suffix-aligned,
// which is what numpy broadcasting does.
func legacyBroadcast(u *upgrader, n *onnxpb.NodeProto, from int64) string {
	if onnxio.Attr(n, "axis") != nil && onnxio.AttrInt(n, "broadcast", 0) != 0 {
		ra, okA := u.rank(n.Input[0])
		rb, okB := u.rank(n.Input[1])
		if !okA || !okB {
			return "legacy broadcast with an axis on tensors of unknown rank"
		}
		if int(onnxio.AttrInt(n, "axis", 0))+rb != ra {
			return "legacy broadcast aligned at an inner axis"
		}
	}
	removeAttr(n, "broadcast", "axis", "consumed_inputs")
	return ""
}

func (u *upgrader) rank(t string) (int, bool) {
	if w, err := u.m.Graph().Weight(t); err == nil {
		return len(w.Shape), true
	}
	r, ok := u.ranks[t]
	return r, ok
}

func upgradeBN(u *upgrader, n *onnxpb.NodeProto, from int64) string {
	if a := onnxio.Attr(n, "spatial"); a != nil && a.GetI() != 1 {
		return "spatial=0"
	}
	if len(n.Output) > 1 {
		for _, o := range n.Output[1:] {
			if o != "" && len(u.m.Graph().Consumers(o)) > 0 {
				return "training outputs are used"
			}
		}
		n.Output = n.Output[:1]
	}
	removeAttr(n, "spatial", "is_test", "consumed_inputs")
	return ""
}

// upgradeDropout: at inference Dropout is the identity.
func upgradeDropout(u *upgrader, n *onnxpb.NodeProto, from int64) string {
	if len(n.Output) > 1 && n.Output[1] != "" && len(u.m.Graph().Consumers(n.Output[1])) > 0 {
		return "the mask output is used"
	}
	n.OpType = proto.String("Identity")
	n.Input = n.Input[:1]
	n.Output = n.Output[:1]
	n.Attribute = nil
	return ""
}

// attrToInput moves an ints attribute to an int64 initializer input.
func attrToInput(name string, dt onnxio.DType) opsetRule {
	return func(u *upgrader, n *onnxpb.NodeProto, from int64) string {
		a := onnxio.Attr(n, name)
		if a == nil {
			removeAttr(n, "consumed_inputs")
			return ""
		}
		t := u.b.name(nodeLabel(n) + "_" + name)
		if err := u.b.addInit(&onnxio.Tensor{Name: t, DType: onnxio.Int64, Shape: []int64{int64(len(a.Ints))}, Data: append([]int64(nil), a.Ints...)}); err != nil {
			return err.Error()
		}
		removeAttr(n, name)
		n.Input = append(n.Input, t)
		return ""
	}
}

func upgradeSlice(u *upgrader, n *onnxpb.NodeProto, from int64) string {
	starts, ends := onnxio.AttrInts(n, "starts", nil), onnxio.AttrInts(n, "ends", nil)
	if starts == nil || ends == nil {
		return "missing starts/ends"
	}
	ins := []string{n.Input[0]}
	for _, p := range []struct {
		name string
		v    []int64
	}{{"starts", starts}, {"ends", ends}, {"axes", onnxio.AttrInts(n, "axes", nil)}} {
		if p.v == nil {
			continue
		}
		t := u.b.name(nodeLabel(n) + "_" + p.name)
		if err := u.b.addInit(&onnxio.Tensor{Name: t, DType: onnxio.Int64, Shape: []int64{int64(len(p.v))}, Data: append([]int64(nil), p.v...)}); err != nil {
			return err.Error()
		}
		ins = append(ins, t)
	}
	n.Input = ins
	removeAttr(n, "starts", "ends", "axes")
	return ""
}

func upgradeClip(u *upgrader, n *onnxpb.NodeProto, from int64) string {
	ins := []string{n.Input[0], "", ""}
	for i, name := range []string{"min", "max"} {
		if a := onnxio.Attr(n, name); a != nil {
			t := u.b.name(nodeLabel(n) + "_" + name)
			if err := u.b.addInit(&onnxio.Tensor{Name: t, DType: onnxio.Float32, Data: []float32{a.GetF()}}); err != nil {
				return err.Error()
			}
			ins[i+1] = t
		}
	}
	for len(ins) > 1 && ins[len(ins)-1] == "" {
		ins = ins[:len(ins)-1]
	}
	n.Input = ins
	removeAttr(n, "min", "max", "consumed_inputs")
	return ""
}

func upgradePad(u *upgrader, n *onnxpb.NodeProto, from int64) string {
	pads := onnxio.AttrInts(n, "pads", onnxio.AttrInts(n, "paddings", nil))
	if pads == nil {
		return "missing pads"
	}
	t := u.b.name(nodeLabel(n) + "_pads")
	if err := u.b.addInit(&onnxio.Tensor{Name: t, DType: onnxio.Int64, Shape: []int64{int64(len(pads))}, Data: append([]int64(nil), pads...)}); err != nil {
		return err.Error()
	}
	ins := []string{n.Input[0], t}
	if a := onnxio.Attr(n, "value"); a != nil && a.GetF() != 0 {
		v := u.b.name(nodeLabel(n) + "_value")
		if err := u.b.addInit(&onnxio.Tensor{Name: v, DType: onnxio.Float32, Data: []float32{a.GetF()}}); err != nil {
			return err.Error()
		}
		ins = append(ins, v)
	}
	n.Input = ins
	removeAttr(n, "pads", "paddings", "value")
	return ""
}

func upgradeConcat(u *upgrader, n *onnxpb.NodeProto, from int64) string {
	if onnxio.Attr(n, "axis") == nil {
		onnxio.SetAttrInt(n, "axis", 1)
	}
	return ""
}

func upgradeTopK(u *upgrader, n *onnxpb.NodeProto, from int64) string {
	a := onnxio.Attr(n, "k")
	if a == nil {
		return "missing k"
	}
	t := u.b.name(nodeLabel(n) + "_k")
	if err := u.b.addInit(&onnxio.Tensor{Name: t, DType: onnxio.Int64, Shape: []int64{1}, Data: []int64{a.GetI()}}); err != nil {
		return err.Error()
	}
	n.Input = append(n.Input[:1], t)
	removeAttr(n, "k")
	return ""
}

// upgradeSoftmax: before 13, Softmax coerced its input to 2-D at axis;
// that equals the 13 semantics (one axis) when axis is the last one.
func upgradeSoftmax(u *upgrader, n *onnxpb.NodeProto, from int64) string {
	axis := onnxio.AttrInt(n, "axis", 1)
	r, ok := u.rank(n.Input[0])
	if !ok {
		return "input rank unknown"
	}
	if axis < 0 {
		axis += int64(r)
	}
	if axis != int64(r-1) {
		return fmt.Sprintf("axis %d of a rank-%d input is not the last", axis, r)
	}
	onnxio.SetAttrInt(n, "axis", -1)
	return ""
}

// rankNeeds lists the tensors whose rank upgradeOpset needs.
func rankNeeds(m *onnxio.Model) []string {
	var out []string
	from := m.Opset("")
	for _, n := range m.Proto.Graph.Node {
		switch n.GetOpType() {
		case "Softmax", "LogSoftmax", "Hardmax":
			if from < 13 {
				out = append(out, n.Input[0])
			}
		case "Add", "Sub", "Mul", "Div", "Pow", "PRelu":
			if from < 7 && onnxio.Attr(n, "axis") != nil {
				out = append(out, n.Input...)
			}
		}
	}
	return out
}
