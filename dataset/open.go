package dataset

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
)

// DefaultBatchSize is the batch size for a model whose batch dimension is
// dynamic when Options.BatchSize is 0.
const DefaultBatchSize = 32

// Open opens the data set at path for a model with the given inputs (in
// the model's order) and checks it against them: element types, shapes
// (every fixed dimension after the batch dimension), the number of
// samples against the labels and the batch size. The format follows the
// path: a .npy file (one input), a .npz file (one member per input, named
// after it), a .csv file, or a folder of ONNX test_data_set_* subfolders or
// input_*.pb files, or else of images (one subfolder per class). Every
// error is one line naming the file and, where it applies, the input.
// Batches holding NaN or infinite values are refused when they are read,
// naming the input and the sample (see finiteSource).
func Open(path string, inputs []onnxio.ValueInfo, opts Options) (Source, error) {
	if len(inputs) == 0 {
		return nil, fmt.Errorf("%s: the model has no inputs to feed", path)
	}
	for _, in := range inputs {
		if in.Kind != "" && in.Kind != "tensor" {
			return nil, fmt.Errorf("%s: input %q is a %s; only tensor inputs can be fed from files", path, in.Name, in.Kind)
		}
	}
	if opts.BatchSize < 0 || opts.Limit < 0 {
		return nil, fmt.Errorf("%s: batch size %d and limit %d must not be negative", path, opts.BatchSize, opts.Limit)
	}
	st, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: no such file or folder", path)
		}
		return nil, err
	}
	if st.IsDir() && !isONNXFolder(path) {
		return openImages(path, inputs, opts) // pixels are finite
	}
	src, err := open(path, st.IsDir(), inputs, opts)
	if err != nil {
		return nil, err
	}
	return &finiteSource{Source: src, path: path}, nil
}

// open picks the reader of stored numbers by the path's form.
func open(path string, dir bool, inputs []onnxio.ValueInfo, opts Options) (Source, error) {
	if dir {
		return openPB(path, inputs, opts)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		return openNpy(path, inputs, opts)
	case ".npz":
		return openNpz(path, inputs, opts)
	case ".csv":
		return openCSV(path, inputs, opts)
	case ".pb":
		return nil, fmt.Errorf("%s: give the folder holding input_*.pb (or test_data_set_* folders), not one .pb file", path)
	}
	return nil, fmt.Errorf("%s: unknown data format (want .npy, .npz, .csv, a folder of test_data_set_* or input_*.pb, or an image folder)", path)
}

// batchPlan is how samples are grouped: size rows per batch, and whether
// that size is the model's (fixed) or the user's.
type batchPlan struct {
	size  int
	fixed bool
	// scalar is set when the model's inputs have no batch dimension (rank
	// 0): the data is one sample fed as is.
	scalar bool
	// axes holds the inputs whose batch axis is not 0 (see Batch.Axes):
	// the model's batch dimension elsewhere in their shape, or -1 for a
	// rank-0 input among batched ones (the same value in every batch).
	axes map[string]int
}

// axis is input name's batch axis (-1: none).
func (p batchPlan) axis(name string) int {
	if a, ok := p.axes[name]; ok {
		return a
	}
	return 0
}

// skip is the axis checkInput leaves to the plan for input name.
func (p batchPlan) skip(name string) int {
	if p.scalar {
		return -1
	}
	return p.axis(name)
}

// planBatches reads the batch dimension off the model's inputs. The batch
// dimension is the symbolic first dimension of the inputs ("batch"); an
// input whose first dimension is something else but which has that
// symbol further in is batched along that axis (a recurrent state
// [2, batch, 128]). A rank-0 input among batched ones takes one value for
// every batch. A model whose inputs are all rank 0 is fed one sample.
func planBatches(path string, inputs []onnxio.ValueInfo, opts Options) (batchPlan, error) {
	scalars := 0
	sym := ""
	for _, in := range inputs {
		if in.Shape != nil && len(in.Shape) == 0 {
			scalars++
		} else if sym == "" && len(in.Shape) > 0 && in.Shape[0].Value <= 0 && in.Shape[0].Param != "" {
			sym = in.Shape[0].Param
		}
	}
	if scalars == len(inputs) {
		return batchPlan{size: 1, fixed: true, scalar: true}, nil
	}
	fixed, from := int64(0), ""
	axes := map[string]int{}
	for _, in := range inputs {
		if in.Shape != nil && len(in.Shape) == 0 {
			axes[in.Name] = -1
			continue
		}
		if len(in.Shape) == 0 {
			continue // unknown rank
		}
		ax := 0
		if sym != "" && in.Shape[0].Param != sym {
			for i, d := range in.Shape {
				if d.Param == sym {
					ax = i
					break
				}
			}
		}
		if ax != 0 {
			axes[in.Name] = ax
		}
		d := in.Shape[ax].Value
		if d <= 0 {
			continue
		}
		if fixed != 0 && d != fixed {
			return batchPlan{}, fmt.Errorf("%s: inputs %q and %q have different fixed batch sizes %d and %d", path, from, in.Name, fixed, d)
		}
		fixed, from = d, in.Name
	}
	if len(axes) == 0 {
		axes = nil
	}
	if fixed > 0 {
		if opts.BatchSize != 0 && !opts.BatchDefault && int64(opts.BatchSize) != fixed {
			return batchPlan{}, fmt.Errorf("%s: input %q has a fixed batch size of %d; batch size %d cannot be used", path, from, fixed, opts.BatchSize)
		}
		return batchPlan{size: int(fixed), fixed: true, axes: axes}, nil
	}
	n := opts.BatchSize
	if n == 0 {
		n = DefaultBatchSize
	}
	return batchPlan{size: n, axes: axes}, nil
}

// checkCount applies Limit to a data set of n samples and checks a fixed
// batch size divides what is left.
func (p batchPlan) checkCount(path string, n int, opts Options) (int, error) {
	if opts.Limit > 0 && opts.Limit < n {
		n = opts.Limit
	}
	if n == 0 {
		return 0, fmt.Errorf("%s: no samples", path)
	}
	if p.fixed && n%p.size != 0 {
		return 0, fmt.Errorf("%s: %d samples do not fill whole batches of the model's fixed batch size %d (last batch partial); use --limit %d, or a model with a dynamic batch dimension", path, n, p.size, n/p.size*p.size)
	}
	return n, nil
}

// shapeString prints a model shape as [batch,1,28,28].
func shapeString(dims []onnxio.Dim) string {
	if dims == nil {
		return "[any rank]"
	}
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func intsString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// checkInput checks data of element type dt and shape against model input
// in: the element type, the rank, and every fixed dimension but the sample
// axis skip (which the batch plan checks; -1: none, the data must match
// the whole declared shape).
func checkInput(path string, in onnxio.ValueInfo, dt onnxio.DType, shape []int64, skip int) error {
	mismatch := func(why string) error {
		return fmt.Errorf("%s: input %q: expected %s %s, found %s %s (%s)", path, in.Name, in.DType, shapeString(in.Shape), dt, intsString(shape), why)
	}
	if dt != in.DType {
		return mismatch("element type differs")
	}
	if in.Shape == nil {
		return nil
	}
	if len(shape) != len(in.Shape) {
		return mismatch(fmt.Sprintf("rank %d, want %d", len(shape), len(in.Shape)))
	}
	for i, d := range in.Shape {
		if i == skip {
			continue // the sample axis: checked by the batch plan
		}
		if d.Value > 0 && shape[i] != d.Value {
			return mismatch(fmt.Sprintf("dimension %d is %d, want %d", i, shape[i], d.Value))
		}
	}
	return nil
}

// rowReader reads consecutive samples of every input.
type rowReader interface {
	// read returns samples [pos, pos+n) of each input, as tensors [n, ...].
	read(ctx context.Context, pos, n int) (map[string]*onnxio.Tensor, error)
	reset() error
	close() error
}

// rowSource batches a rowReader.
type rowSource struct {
	path   string
	total  int
	plan   batchPlan
	pos    int
	r      rowReader
	labels []int64
	closed bool
}

func (s *rowSource) Len() int { return s.total }

func (s *rowSource) Next(ctx context.Context) (*Batch, error) {
	if s.closed {
		return nil, fmt.Errorf("%s: data set is closed", s.path)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.pos >= s.total {
		return nil, io.EOF
	}
	n := min(s.plan.size, s.total-s.pos)
	in, err := s.r.read(ctx, s.pos, n)
	if err != nil {
		return nil, err
	}
	if s.plan.scalar {
		for _, t := range in {
			t.Shape = t.Shape[1:]
		}
	}
	b := &Batch{Inputs: in, Axes: s.plan.axes, N: n, Index: s.pos}
	if s.labels != nil {
		b.Labels = s.labels[s.pos : s.pos+n]
	}
	s.pos += n
	return b, nil
}

func (s *rowSource) Reset() error {
	if s.closed {
		return fmt.Errorf("%s: data set is closed", s.path)
	}
	s.pos = 0
	return s.r.reset()
}

func (s *rowSource) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.r.close()
}

// attachLabels loads opts.Labels (when set, replacing given) and checks
// their count against the data's n samples, then cuts them to the limit.
func attachLabels(path string, n, limit int, given []int64, opts Options) ([]int64, error) {
	labels := given
	if opts.Labels != "" {
		l, err := ReadLabels(opts.Labels)
		if err != nil {
			return nil, err
		}
		if len(l) != n {
			return nil, fmt.Errorf("%s: %d labels for the %d samples of %s", opts.Labels, len(l), n, path)
		}
		labels = l
	}
	if labels == nil {
		return nil, nil
	}
	if len(labels) != n {
		return nil, fmt.Errorf("%s: %d labels for %d samples", path, len(labels), n)
	}
	return labels[:limit], nil
}

func needOneInput(path, format string, inputs []onnxio.ValueInfo) error {
	if len(inputs) != 1 {
		names := make([]string, len(inputs))
		for i, in := range inputs {
			names[i] = fmt.Sprintf("%q", in.Name)
		}
		return fmt.Errorf("%s: a %s feeds one input, the model has %d (%s); use a .npz with one member per input or an ONNX test_data_set folder", path, format, len(inputs), strings.Join(names, ", "))
	}
	return nil
}
