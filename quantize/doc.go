// Package quantize turns a float32 ONNX model into a scale-based int8 one
// that ONNX Runtime runs with integer kernels, and explains what it did.
//
// The pieces, each small and separately tested:
//
//   - params.go: scale and zero-point math. Weights are symmetric int8
//     (scale = max|w|/127, zero point 0), per tensor or per output channel;
//     activations are uint8 asymmetric or int8 symmetric; biases are int32
//     with scale s_input·s_weight. Rounding is half to even with saturation
//     (the kernels package does the arithmetic).
//   - calib.go: the Calibrator interface and its factory (minmax,
//     percentile, entropy), over histograms that merge across batches so
//     memory does not grow with the number of calibration samples.
//   - collect.go: runs ONNX Runtime over the calibration data, exposing
//     intermediate tensors in chunks so a large model never holds all its
//     activations at once.
//   - registry.go and ops_*.go: one small handler per op family (Conv,
//     ConvTranspose, MatMul, Gemm, Add, Mul, Concat, pools, Relu/Clip,
//     shape pass-through ops) that says which inputs are quantized as
//     activations, weights and biases, and how the node is written in
//     QOperator and dynamic form. The op facts themselves (which input is
//     the weight, its output-channel axis, MAC counts) come from
//     onnxio/opinfo.
//   - plan.go: node selection (op types, exclusions, first/last layer,
//     presets) and the decision of which tensors carry quantization.
//   - qdq.go, qoperator.go, dynamic.go: the three writers.
//   - run.go: orchestration of one Quantize call (quantize.go sets it up:
//     options, opset upgrade, BatchNorm folding, calibration).
//   - speed.go and speedaware.go: ORT profiling of float and quantized
//     models; nodes whose int8 form is slower on this CPU go back to float
//     when the model without them is faster end to end.
//   - accuracy.go: per-node sensitivity and the accuracy-aware fallback
//     under Options.Env.Budget.
//   - explain.go and report.go: the explain table, output and per-node
//     SQNR, and the JSON document (docs/schemas/quantize.schema.json).
//
// Every measurement (timing, fidelity, accuracy, the budget's gate) goes
// through package validate, the one place shrink measures models, so a
// budget means in quantize what the same gate means in `shrink compare`.
// Options carry the transform's shared environment (transform.Env);
// option errors are *transform.FieldError values naming the field.
//
// The package never prints: progress goes through internal/progress and
// everything worth saying ends up in the Report.
package quantize
