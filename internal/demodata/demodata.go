// Package demodata embeds the default model `shrink demo` compresses: the
// MNIST CNN fixture (testdata/mnist_cnn.onnx, trained and exported by
// testdata/gen/gen_mnist.py). A test keeps the two files identical. The
// MNIST test images come from internal/mnist.
package demodata

import _ "embed"

// ModelName is the file name the demo writes the model under.
const ModelName = "mnist_cnn.onnx"

// Model is the float32 MNIST CNN (input "input" [batch,1,28,28], output
// "logits" [batch,10]).
//
//go:embed mnist_cnn.onnx
var Model []byte
