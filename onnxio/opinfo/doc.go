// Package opinfo holds what shrink knows about ONNX operators, as data.
//
// Quantization, pruning and the training engine all ask the same questions
// of a node: which inputs are activations, weights and biases; which axis
// of a weight is indexed by output channels and which by input channels;
// what the group attribute does; how a channel of an input reaches the
// outputs; how many multiply-accumulates the node costs. The answers live
// here once, in a table keyed by op type (table.go), so that no verb keeps
// a private copy.
//
// The model, after Torch-Pruning's per-layer pruning functions and
// dependency index mappings, and GoMLX's shape inference kept apart from
// execution:
//
//   - An Op record per op type: its Family (what it computes), its Flow (how
//     channels pass through it), its inputs and outputs with their Role
//     (Data, Weight, Bias, Scale, Stat, Control) and their channel axes (Out:
//     indexed by the op's output channels; In: by its input channels;
//     Rows: passed straight from the data input to the output), the
//     attribute that swaps them (Gemm's transB), the attribute naming the
//     axis the op works along, and the group attribute.
//   - A few pure functions over a node and what is known of its tensors
//     (Shapes): WeightAxes and FanIn resolve a weight's axes for the node's
//     attributes and ranks; Groups and Depthwise read the group attribute;
//     MACs counts multiply-accumulates; ChannelMap says, for indices along
//     one axis of one input or output, which other inputs and outputs of
//     the node change with them and at which indices (identity, an offset
//     for Concat/Split/Slice, a stride for Flatten, whole blocks for a
//     Reshape that splits an axis into heads).
//
// Only the default ONNX domain is described. Constant nodes are not in
// the table: their outputs are weights (onnxio.Graph.Weights). An op the table does not know
// is "not known" (Lookup's false, ErrUnknown): callers refuse the node or,
// in pruning, leave its group whole. A known op whose channel does not map
// cleanly for the node at hand (a grouped but not depthwise Conv, a Slice
// with a step, a Reshape that mixes axes) returns ErrNoMap.
//
// Axes in the table may count from the back (-1 is the last axis); the
// functions resolve them against a rank and return non-negative axes, or
// -1 for "no such axis".
package opinfo
