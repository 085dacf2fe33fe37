// Package onnxio is shrink's in-memory ONNX model: loading and saving,
// typed tensors, and graph editing. Every transform reads and writes
// models through it.
//
//   - model.go, external.go, save.go: Load reads a model and every tensor
//     it keeps in external data, confined to the model's folder and checked
//     against the file before any allocation, so a Model depends on no file
//     afterwards; Save writes deterministic bytes to a temporary file and
//     renames it into place (external data first), switching to external
//     data past the 2 GiB protobuf limit.
//   - tensor.go, dtype.go, tensorfile.go: Tensor holds typed Go slices
//     (float32, int8, float16 as uint16 bits, …) with conversion to and
//     from TensorProto and ONNX's .pb tensor files.
//   - graph.go: Graph indexes a model's nodes by producer and consumer,
//     orders them topologically, edits them, and treats initializers and
//     Constant nodes as one notion of weights.
//   - attr.go, stats.go: node attributes, parameter statistics, and
//     UnsupportedError, the typed "not implemented: op X at node Y" error
//     the CLI maps to exit code 4.
//
// The generated protobuf types live in onnxio/onnxpb; ONNX Runtime
// sessions in onnxio/ort; facts about op types (which inputs are weights,
// channel axes, MACs) in onnxio/opinfo.
package onnxio
