// Package train is shrink's Go-native engine for ONNX graphs: it runs a
// model forward in inference or training mode, back-propagates from any
// loss to every trainable float weight, updates the weights with SGD, Adam
// or AdamW, and writes them back into the model. Distillation, pruning
// recovery and quantization-aware training are built on it.
//
// A typical step:
//
//	e, err := train.New(model, train.Options{Seed: 1})
//	opt := train.NewAdam(train.AdamConfig{})
//	...
//	outs, err := e.Forward(ctx, map[string]*onnxio.Tensor{"input": x}, train.Training)
//	loss, err := train.CrossEntropy(outs[0].Data.([]float32), 10, labels, grad)
//	err = e.Backward(ctx, map[string][]float32{"logits": grad})
//	opt.Step(e.Params(), lr)
//	e.ZeroGrad()
//	...
//	err = e.WriteWeights(model) // then onnxio Save
//
// New builds an executor: a plan over the graph's topological order in which
// every node is bound to an op implementation, element types are inferred
// and an op the engine lacks fails with *onnxio.UnsupportedError. Shapes are
// resolved when the graph runs, so the batch size may change between steps.
// Activation buffers come from a pool and go back to it as soon as nothing
// needs them any more: in Inference mode after the last node that reads
// them, in Training and EvalGrad modes after the backward step of the last
// node that needs them; the pool keeps them for the next step.
//
// An Executor is not safe for concurrent use. Results are deterministic for
// a given seed and thread count.
package train
