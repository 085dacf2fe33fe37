// Package dataset reads model inputs and labels: .npy, .npz, ONNX
// test_data_set_* folders of .pb tensors, image folders (one subfolder per
// class) and CSV. Data is streamed in batches matching the model's batch
// dimension, so a data set larger than memory is never loaded whole, and it
// is checked against the model's inputs (dtype, shape) before anything runs.
package dataset

import (
	"context"

	"github.com/shrinkml/shrink/onnxio"
)

// Batch is one batch of model inputs and, when known, their labels.
type Batch struct {
	// Inputs maps each model input name to a tensor whose first dimension
	// is the batch size N (or, for a model without a batch dimension, the
	// tensor exactly as the model declares it, N = 1).
	Inputs map[string]*onnxio.Tensor
	// Labels has N entries when labels were given, else nil.
	Labels []int64
	// N is the number of samples in the batch.
	N int
	// Index is the position of the batch's first sample in the data set.
	Index int
}

// Source streams batches. Next returns io.EOF after the last batch.
type Source interface {
	Next(ctx context.Context) (*Batch, error)
	// Len is the number of samples, or -1 if unknown before reading.
	Len() int
	// Reset rewinds to the first sample (for a second pass).
	Reset() error
	Close() error
}

// Options controls how a data set is read.
type Options struct {
	// BatchSize is the number of samples per batch; 0 means the model's
	// fixed batch size, or 1 for a dynamic batch dimension... see docs.
	BatchSize int
	// Limit stops after this many samples (0: all).
	Limit int
	// Labels is a path to labels (.npy of integers, or text, one per line).
	Labels string

	// Image folders.
	Resize []int     // [h, w] or [short side]
	Crop   []int     // [h, w] center crop
	Mean   []float32 // per channel, after Scale
	Std    []float32 // per channel, after Scale
	Layout string    // "nchw" (default) or "nhwc"
	Scale  float32   // multiply pixel values (0..255) by this first; default 1/255

	// CSV: the columns that form the input (default: all but the label
	// column), and the label column, by header name.
	Columns     []string
	LabelColumn string
}
