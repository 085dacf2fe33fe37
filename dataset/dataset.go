// Package dataset reads model inputs and labels: .npy, .npz, ONNX
// test_data_set_* folders of .pb tensors, image folders (one subfolder per
// class) and CSV. Data is streamed in batches matching the model's batch
// dimension, so a data set larger than memory is never loaded whole, and it
// is checked against the model's inputs (dtype, shape) before anything runs.
package dataset

import (
	"context"
	"fmt"
	"io"

	"github.com/shrinkml/shrink/onnxio"
)

// Batch is one batch of model inputs and, when known, their labels.
type Batch struct {
	// Inputs maps each model input name to a tensor whose first dimension
	// is the batch size N (or, for a model without a batch dimension, the
	// tensor exactly as the model declares it, N = 1), except for the
	// inputs listed in Axes.
	Inputs map[string]*onnxio.Tensor
	// Axes lists the inputs whose samples are not along their first
	// dimension: the batch axis of an input whose shape puts the model's
	// batch dimension elsewhere (a recurrent state [layers, batch, hidden]),
	// or -1 for a rank-0 input of a model that has batched inputs too (a
	// sample rate: the same value in every batch). nil when every input is
	// batched along its first dimension.
	Axes map[string]int
	// Labels has N entries when labels were given, else nil.
	Labels []int64
	// N is the number of samples in the batch.
	N int
	// Index is the position of the batch's first sample in the data set.
	Index int
}

// Axis returns the batch axis of input name (-1: none; see Axes).
func (b *Batch) Axis(name string) int {
	if a, ok := b.Axes[name]; ok {
		return a
	}
	return 0
}

// Slice returns samples [from, to) of b, each input cut along its batch
// axis (inputs without one are shared as they are), with the labels.
func (b *Batch) Slice(from, to int) (*Batch, error) {
	if from < 0 || to > b.N || from > to {
		return nil, fmt.Errorf("samples [%d,%d) out of a batch of %d", from, to, b.N)
	}
	out := &Batch{Inputs: make(map[string]*onnxio.Tensor, len(b.Inputs)), Axes: b.Axes, N: to - from, Index: b.Index + from}
	if b.Labels != nil {
		out.Labels = b.Labels[from:to]
	}
	for name, t := range b.Inputs {
		ax := b.Axis(name)
		if ax < 0 {
			out.Inputs[name] = t
			continue
		}
		s, err := sliceAxis(t, ax, from, to)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		out.Inputs[name] = s
	}
	return out, nil
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
	// BatchSize is the number of samples per batch for a model whose batch
	// dimension is dynamic; 0 means DefaultBatchSize. A model with a fixed
	// batch dimension B is always fed batches of B (a different non-zero
	// BatchSize is an error). ONNX test_data_set folders ignore it: each
	// set is one batch.
	BatchSize int
	// BatchDefault marks BatchSize as a default rather than a request (the
	// CLI's --batch left unset): a model with a fixed batch dimension then
	// gets its own size instead of an error.
	BatchDefault bool
	// Limit stops after this many samples (0: all).
	Limit int
	// Labels is a path to labels (.npy of integers, or text, one per line).
	// For an image folder it replaces the labels given by the class
	// subfolders.
	Labels string

	// Image folders.
	Resize []int     // [h, w] or [short side] (bilinear, half-pixel centers)
	Crop   []int     // [h, w] or [side]: center crop, after Resize
	Mean   []float32 // per channel (or one for all), after Scale
	Std    []float32 // per channel (or one for all), after Scale
	Layout string    // "nchw" or "nhwc"; "" infers it from the input shape (see docs)
	Scale  float32   // multiply pixel values (0..255) by this first; 0 means 1/255

	// CSV: the columns that form the input (default: all but the label
	// column), and the label column, by header name.
	Columns     []string
	LabelColumn string
}

// Head returns the first n samples of b (every input cut along its batch
// axis, and the labels), sharing b's data where the batch axis is the
// first; b itself when n >= b.N.
func Head(b *Batch, n int) (*Batch, error) {
	if n >= b.N {
		return b, nil
	}
	return b.Slice(0, n)
}

// Batches is a Source over batches already in memory (one calibration
// batch measured again, a test's data). Reset rewinds it; Close does
// nothing.
func Batches(bs ...*Batch) Source {
	n := 0
	for _, b := range bs {
		n += b.N
	}
	return &memory{batches: bs, n: n}
}

type memory struct {
	batches []*Batch
	i, n    int
}

func (m *memory) Next(ctx context.Context) (*Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.i >= len(m.batches) {
		return nil, io.EOF
	}
	m.i++
	return m.batches[m.i-1], nil
}

func (m *memory) Len() int     { return m.n }
func (m *memory) Reset() error { m.i = 0; return nil }
func (m *memory) Close() error { return nil }
