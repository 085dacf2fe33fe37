package opinfo

import (
	"errors"
	"math"
	"slices"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

var (
	// ErrUnknown says the table has no facts for an op (or its domain is
	// not the default ONNX domain).
	ErrUnknown = errors.New("op not in the op-facts table")
	// ErrNoMap says a known op does not carry the asked axis through
	// cleanly for this node (its indices mix with others, or the shapes
	// needed to tell are missing).
	ErrNoMap = errors.New("channel does not map cleanly")
)

// Role says what an input or output is to its op.
type Role uint8

const (
	// Data is an activation: computed per sample by the graph.
	Data Role = iota
	// Weight is a learned kernel or matrix with output- and input-channel
	// axes (Conv's W, Gemm's and MatMul's B). MatMul's B may also be an
	// activation (attention); whether a node's weight is a constant is the
	// graph's business (onnxio.Graph.IsWeight).
	Weight
	// Bias is added per output channel (Conv's B, Gemm's C) or per channel
	// (a normalization's B).
	Bias
	// Scale multiplies per channel (a normalization's scale, PRelu's slope).
	Scale
	// Stat is a running statistic (BatchNormalization's mean and variance,
	// as inputs and training outputs; LayerNormalization's Mean output).
	Stat
	// Control is read for its value, not as per-sample data: shapes, axes,
	// indices, bounds, pads, scales, ratios.
	Control
)

func (r Role) String() string {
	return [...]string{"data", "weight", "bias", "scale", "stat", "control"}[r]
}

// Family says what an op computes.
type Family uint8

const (
	// Compute ops carry a weight and sum over input channels (Conv,
	// ConvTranspose, Gemm, MatMul).
	Compute Family = iota
	// Normalization ops normalize along some axes, with optional
	// per-channel scale and bias (BatchNormalization, LayerNormalization…).
	Normalization
	// Activation ops apply a function per element or along an axis (Relu,
	// Sigmoid, PRelu, Softmax…).
	Activation
	// Arithmetic ops combine broadcast operands elementwise (Add, Mul…).
	Arithmetic
	// Pool ops work over spatial windows (MaxPool, GlobalAveragePool…).
	Pool
	// Reduction ops reduce over axes (ReduceMean, ArgMax…).
	Reduction
	// Movement ops move or copy values without arithmetic (Identity, Cast,
	// Dropout at inference, Reshape, Concat, Slice, Resize, Pad…).
	Movement
	// ShapeOf ops read only their input's shape (Shape, Size).
	ShapeOf
)

func (f Family) String() string {
	return [...]string{"compute", "normalization", "activation", "arithmetic", "pool", "reduction", "movement", "shape"}[f]
}

// Flow says how the indices along an axis of an op's data pass through
// it; ChannelMap applies it to a node.
type Flow uint8

const (
	// FlowCompute: input channels end here (summed over with the weight's
	// In axis), output channels start here (the weight's Out axis, the
	// bias, the output's channel axis); Rows axes pass straight through.
	FlowCompute Flow = iota
	// FlowSame: every axis of the data input is the same axis of each
	// data output (unary elementwise ops, Identity, Cast, Dropout).
	FlowSame
	// FlowChannel: as FlowSame, plus per-channel parameters (axis 0)
	// indexed by the data's Channel axis (BatchNormalization,
	// InstanceNormalization).
	FlowChannel
	// FlowBroadcast: all operands broadcast to the output (numpy rules),
	// so an axis is coupled across every operand where it is not 1 (Add,
	// Mul, Sub, Div, PRelu, Where…).
	FlowBroadcast
	// FlowAlong: as FlowSame, but the op mixes values along its axis or
	// axes (Softmax, LayerNormalization, LRN): removing indices there
	// changes the values of those kept. Parameters broadcast from the back.
	FlowAlong
	// FlowSpatial: the batch and channel axes (0 and 1) pass; the others
	// are windowed or resampled (pools, Resize, Pad).
	FlowSpatial
	// FlowReduce: the reduced axes end here; the others pass, renumbered
	// when keepdims is 0.
	FlowReduce
	// FlowConcat: the inputs occupy consecutive ranges of the output's
	// axis; the other axes are coupled across all inputs.
	FlowConcat
	// FlowSplit: the outputs are consecutive ranges of the input's axis.
	FlowSplit
	// FlowSlice: the output is a range of the input (step 1 only).
	FlowSlice
	// FlowReshape: axes matched by their sizes (Reshape, Flatten, Squeeze,
	// Unsqueeze): kept, merged (a stride) or split (whole blocks).
	FlowReshape
	// FlowTranspose: axes permuted by the perm attribute.
	FlowTranspose
	// FlowGather: the axes other than the gathered one pass.
	FlowGather
	// FlowShape: only the input's shape is read; nothing passes, but the
	// output's value changes when a dimension does.
	FlowShape
)

func (f Flow) String() string {
	return [...]string{"compute", "same", "channel", "broadcast", "along", "spatial", "reduce", "concat", "split", "slice", "reshape", "transpose", "gather", "shape"}[f]
}

// Axis is an axis as the table states it: non-negative counts from the
// front, negative from the back (-1 is the last); NoAxis: none.
type Axis int8

// NoAxis says a tensor has no such axis.
const NoAxis Axis = math.MinInt8

// Resolve returns the axis for a tensor of the given rank, or -1 when it
// has none or the rank does not reach it.
func (a Axis) Resolve(rank int) int {
	if a == NoAxis {
		return -1
	}
	i := int(a)
	if i < 0 {
		i += rank
	}
	if i < 0 || i >= rank {
		return -1
	}
	return i
}

// Promote says how a compute op reads a 1-D operand.
type Promote uint8

const (
	// AsIs: the operand has its own rank.
	AsIs Promote = iota
	// PrependOne: a 1-D operand [K] is read as [1, K] (MatMul's A).
	PrependOne
	// AppendOne: a 1-D operand [K] is read as [K, 1] (MatMul's B).
	AppendOne
)

// Input describes one input of an op.
type Input struct {
	Name string // the ONNX schema's name (X, W, B…)
	Role Role
	// Optional inputs may be absent (an empty name or past the end).
	Optional bool
	// Variadic: this input repeats to the end of the list (Concat, Sum).
	Variadic bool
	// Out is the axis indexed by the op's output channels (a weight, a
	// bias, a per-channel parameter), In the axis indexed by its input
	// channels (a weight, the data input of a compute op), Rows an axis
	// that passes straight to the output (Conv's batch, Gemm's and
	// MatMul's M). NoAxis where there is none.
	Out, In, Rows Axis
	// Swap names the attribute that, when non-zero, swaps Out and In (and
	// In and Rows for a data input): Gemm's transA and transB.
	Swap string
	// Vector says how a 1-D operand is read (MatMul).
	Vector Promote
	// Kernel is the first kernel axis of a weight (Conv, ConvTranspose:
	// 2); the axes from it on are the receptive field. NoAxis otherwise.
	Kernel Axis
	// MinRank and MaxRank bound the rank the op accepts (0: no bound).
	MinRank, MaxRank int
}

// Output describes one output of an op.
type Output struct {
	Name     string
	Role     Role // Data, or Stat for running statistics
	Optional bool
	// Out and Rows as for inputs: the output's channel axis (compute ops)
	// and the axis passed straight from the data input.
	Out, Rows Axis
}

// Legacy is how an op worked before an opset version.
type Legacy struct {
	Before      int64 // the first opset with the current behaviour
	AxisDefault Axis
	ToEnd       bool
	// PerChannel: parameters indexed the Channel axis on their axis 0
	// instead of broadcasting (PRelu's slope before opset 7).
	PerChannel bool
}

// Op is what the table knows about one op type.
type Op struct {
	Type    string
	Family  Family
	Flow    Flow
	Inputs  []Input
	Outputs []Output
	// Channel is the data axis that per-channel parameters index
	// (BatchNormalization, InstanceNormalization: 1), NoAxis when none.
	Channel Axis
	// AxisAttr names the attribute holding the axis the op works along
	// ("" when fixed), AxisDefault its default (NoAxis: none), ToEnd that
	// the op works along every axis from there to the last.
	AxisAttr    string
	AxisDefault Axis
	ToEnd       bool
	// AxesAttr names the attribute listing several axes (Reduce*,
	// MeanVarianceNormalization); from some opset they are input
	// AxesInput instead (0: never). AxesDefault applies when neither is
	// given (nil: every axis).
	AxesAttr    string
	AxesInput   int
	AxesDefault []int
	// Legacy is the behaviour of older opsets (Softmax before 13, PRelu
	// before 7).
	Legacy *Legacy
	// Group names the group attribute (Conv, ConvTranspose): input and
	// output channels are split into that many equal blocks and block g of
	// the output reads only block g of the input. Depthwise when each
	// block holds one input channel.
	Group string
	// BatchBroadcast: the axes before the last two broadcast between the
	// operands and the output (MatMul).
	BatchBroadcast bool
	// macs counts per sample and returns the batch (compute ops only).
	macs func(n *onnxpb.NodeProto, s Shapes) (perSample, batch int64, err error)
}

// Input returns the description of input i, following a variadic tail.
func (o *Op) Input(i int) (Input, bool) {
	if i < 0 {
		return Input{}, false
	}
	if i < len(o.Inputs) {
		return o.Inputs[i], true
	}
	if k := len(o.Inputs); k > 0 && o.Inputs[k-1].Variadic {
		return o.Inputs[k-1], true
	}
	return Input{}, false
}

// Output returns the description of output i, following a variadic
// tail (Split's outputs).
func (o *Op) Output(i int) (Output, bool) {
	if i < 0 {
		return Output{}, false
	}
	if i < len(o.Outputs) {
		return o.Outputs[i], true
	}
	if o.Flow == FlowSplit && len(o.Outputs) > 0 {
		return o.Outputs[len(o.Outputs)-1], true
	}
	return Output{}, false
}

// Find returns the index of the first input with the role, or -1.
func (o *Op) Find(r Role) int {
	for i, in := range o.Inputs {
		if in.Role == r {
			return i
		}
	}
	return -1
}

// Lookup returns the facts of a default-domain op type. The record is
// shared: callers must not modify it.
func Lookup(op string) (*Op, bool) {
	o, ok := table[op]
	return o, ok
}

// ForNode returns the facts of a node's op, or false when its domain is
// not the default one or the op is not in the table.
func ForNode(n *onnxpb.NodeProto) (*Op, bool) {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return nil, false
	}
	return Lookup(n.GetOpType())
}

// Known lists the op types in the table, sorted.
func Known() []string {
	out := make([]string, 0, len(table))
	for k := range table {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// IsCompute reports whether op is a default-domain op that carries a
// weight and sums over input channels (Conv, ConvTranspose, MatMul,
// Gemm).
func IsCompute(op string) bool {
	o, ok := table[op]
	return ok && o.Family == Compute
}

// Groups returns a node's group count (1 for ops without groups).
func Groups(n *onnxpb.NodeProto) int64 {
	o, ok := ForNode(n)
	if !ok || o.Group == "" {
		return 1
	}
	return max(onnxio.AttrInt(n, o.Group, 1), 1)
}

// Depthwise reports whether a grouped Conv or ConvTranspose node, with
// weight shape w, gives each group one input channel (group > 1 and
// group = C_in). It returns the channel multiplier C_out / C_in too.
func Depthwise(n *onnxpb.NodeProto, w []int64) (bool, int64) {
	g := Groups(n)
	if g <= 1 || len(w) < 2 {
		return false, 0
	}
	switch n.GetOpType() {
	case "Conv": // W [C_out, C_in/g, k…]
		if w[1] == 1 && w[0]%g == 0 {
			return true, w[0] / g
		}
	case "ConvTranspose": // W [C_in, C_out/g, k…]
		if w[0] == g {
			return true, w[1]
		}
	}
	return false, 0
}

// Axes are an input's channel axes resolved for one node: non-negative,
// or -1 where the tensor has none.
type Axes struct{ Out, In, Rows int }

// InputAxes resolves input i's channel axes for node n and the input's
// rank: it applies the Swap attribute and the 1-D promotion, and returns
// false when the op is not known or the rank is outside the op's bounds.
func InputAxes(n *onnxpb.NodeProto, i, rank int) (Axes, bool) {
	o, ok := ForNode(n)
	if !ok {
		return Axes{-1, -1, -1}, false
	}
	in, ok := o.Input(i)
	if !ok {
		return Axes{-1, -1, -1}, false
	}
	return in.resolve(n, rank)
}

func (in Input) resolve(n *onnxpb.NodeProto, rank int) (Axes, bool) {
	none := Axes{-1, -1, -1}
	if in.MinRank > 0 && rank < in.MinRank || in.MaxRank > 0 && rank > in.MaxRank {
		return none, false
	}
	out, inAx, rows := in.Out, in.In, in.Rows
	if in.Swap != "" && onnxio.AttrInt(n, in.Swap, 0) != 0 {
		if in.Role == Data {
			inAx, rows = rows, inAx
		} else {
			out, inAx = inAx, out
		}
	}
	r := rank
	if rank == 1 && in.Vector != AsIs {
		r = 2
	}
	a := Axes{out.Resolve(r), inAx.Resolve(r), rows.Resolve(r)}
	if r != rank {
		// Map the promoted [1, K] or [K, 1] back onto [K].
		added := 0
		if in.Vector == AppendOne {
			added = 1
		}
		fix := func(x int) int {
			switch {
			case x < 0 || x == added:
				return -1
			case in.Vector == PrependOne:
				return x - 1
			}
			return x
		}
		a = Axes{fix(a.Out), fix(a.In), fix(a.Rows)}
	}
	return a, true
}

// WeightAxes resolves the output- and input-channel axes of node n's
// weight (its first input with Role Weight) of shape w.
func WeightAxes(n *onnxpb.NodeProto, w []int64) (Axes, bool) {
	o, ok := ForNode(n)
	if !ok {
		return Axes{-1, -1, -1}, false
	}
	i := o.Find(Weight)
	if i < 0 {
		return Axes{-1, -1, -1}, false
	}
	return InputAxes(n, i, len(w))
}

// Receptive returns the product of a weight's kernel axes (1 for a
// matrix).
func Receptive(n *onnxpb.NodeProto, w []int64) int64 {
	o, ok := ForNode(n)
	if !ok {
		return 1
	}
	i := o.Find(Weight)
	if i < 0 || o.Inputs[i].Kernel == NoAxis {
		return 1
	}
	k := o.Inputs[i].Kernel.Resolve(len(w))
	if k < 0 {
		return 1
	}
	return prod(w[k:])
}

// FanIn returns how many inputs each output of node n sums over per
// weight position: the weight's input channels in one group times its
// receptive field (Conv: C_in/g·k; ConvTranspose: C_in/g·k; Gemm and
// MatMul: K). It returns false when the op has no weight or w's rank does
// not fit it.
func FanIn(n *onnxpb.NodeProto, w []int64) (int64, bool) {
	a, ok := WeightAxes(n, w)
	if !ok || a.In < 0 {
		return 0, false
	}
	fan := w[a.In]
	if n.GetOpType() == "ConvTranspose" {
		// W [C_in, C_out/g, k…]: the In axis holds every group.
		fan /= Groups(n)
	}
	return fan * Receptive(n, w), true
}

func prod(s []int64) int64 {
	p := int64(1)
	for _, d := range s {
		p *= d
	}
	return p
}
