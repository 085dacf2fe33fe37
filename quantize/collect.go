package quantize

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
)

// Stats is what calibration learned about the model's activations.
type Stats struct {
	Cal Calibrator
	// Shapes holds each observed tensor's shape in the first batch (with
	// the batch dimension), DTypes its element type (non-float tensors are
	// not calibrated).
	Shapes  map[string][]int64
	DTypes  map[string]onnxio.DType
	Samples int
	Batches int
	// Chunks is how many ORT sessions (passes over the data) it took.
	Chunks int
}

func (s *Stats) isFloat(name string) bool { return s.DTypes[name] == onnxio.Float32 }

// collectOptions bounds a calibration run.
type collectOptions struct {
	Limit        int
	ChunkTensors int
	ChunkBytes   int64
	Threads      int
	Provider     string
	Progress     progress.Reporter
}

// collect runs the model over src and feeds every float tensor in names
// to cal. Intermediate tensors are exposed in chunks of at most
// ChunkTensors names, further split while one batch of a chunk's outputs
// exceeds ChunkBytes, so a large model never holds all its activations at
// once; src is read once per chunk (Reset before each pass). Graph inputs
// among names are observed straight from the data.
func collect(ctx context.Context, m *onnxio.Model, src dataset.Source, names []string, cal Calibrator, o collectOptions) (*Stats, error) {
	st := &Stats{Cal: cal, Shapes: map[string][]int64{}, DTypes: map[string]onnxio.DType{}}
	prog := progress.Or(o.Progress)
	g := m.Graph()
	isInput := map[string]bool{}
	for _, v := range g.Inputs() {
		isInput[v.GetName()] = true
	}
	var inputs, inner []string
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] || g.IsWeight(n) {
			continue
		}
		seen[n] = true
		if isInput[n] {
			inputs = append(inputs, n)
		} else {
			inner = append(inner, n)
		}
	}
	var chunks [][]string
	for i := 0; i < len(inner); i += o.ChunkTensors {
		chunks = append(chunks, inner[i:min(i+o.ChunkTensors, len(inner))])
	}
	if len(chunks) == 0 {
		// Inputs only: one pass over the data without a model output fetch.
		chunks = append(chunks, nil)
	}
	first := true
	for len(chunks) > 0 {
		chunk := chunks[0]
		chunks = chunks[1:]
		split, err := collectChunk(ctx, m, src, chunk, inputs, first, st, o, prog)
		if err != nil {
			return nil, err
		}
		if split != nil {
			chunks = append(split, chunks...)
			continue
		}
		st.Chunks++
		first = false
	}
	return st, nil
}

func collectChunk(ctx context.Context, m *onnxio.Model, src dataset.Source, chunk, inputs []string, first bool, st *Stats, o collectOptions, prog progress.Reporter) ([][]string, error) {
	if err := src.Reset(); err != nil {
		return nil, fmt.Errorf("calibration data: %w", err)
	}
	var sess *ort.Session
	if len(chunk) > 0 {
		var err error
		sess, err = ort.NewSession(m, ort.Options{Outputs: chunk, IntraOpThreads: o.Threads, Provider: o.Provider})
		if err != nil {
			return nil, fmt.Errorf("calibration session: %w", err)
		}
		defer sess.Close()
	}
	total := int64(o.Limit)
	if l := src.Len(); l >= 0 && (total <= 0 || int64(l) < total) {
		total = int64(l)
	}
	ph := prog.Phase(fmt.Sprintf("calibrating %d tensors", len(chunk)+len(inputs)*b2i(first)), total)
	defer ph.Done()
	samples, batches := 0, 0
	for o.Limit <= 0 || samples < o.Limit {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := src.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("calibration data: %w", err)
		}
		if o.Limit > 0 && samples+b.N > o.Limit {
			b, err = dataset.Head(b, o.Limit-samples)
			if err != nil {
				return nil, err
			}
		}
		if first {
			for _, name := range inputs {
				t, ok := b.Inputs[name]
				if !ok {
					return nil, fmt.Errorf("calibration data has no input %q", name)
				}
				if err := observe(st, m, b, name, t); err != nil {
					return nil, err
				}
			}
		}
		if sess != nil {
			outs, err := sess.Run(b.Inputs)
			if err != nil {
				return nil, fmt.Errorf("calibration run: %w", err)
			}
			if batches == 0 && len(chunk) > 1 {
				var bytes int64
				for _, t := range outs {
					bytes += int64(t.DType.Size()) * t.Len()
				}
				if bytes > o.ChunkBytes {
					h := len(chunk) / 2
					return [][]string{chunk[:h], chunk[h:]}, nil
				}
			}
			for _, t := range outs {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if err := observe(st, m, b, t.Name, t); err != nil {
					return nil, err
				}
			}
		}
		samples += b.N
		batches++
		ph.Add(int64(b.N))
	}
	if samples == 0 {
		return nil, errors.New("calibration data is empty")
	}
	st.Samples, st.Batches = samples, batches
	return nil, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// observe folds tensor name of batch b into the statistics. A NaN or an
// infinity is an error naming the tensor, the node that produced it and
// the sample: a range cannot be calibrated from it, and the float model
// itself is broken on that input.
func observe(st *Stats, m *onnxio.Model, b *dataset.Batch, name string, t *onnxio.Tensor) error {
	if _, ok := st.Shapes[name]; !ok {
		st.Shapes[name] = append([]int64(nil), t.Shape...)
		st.DTypes[name] = t.DType
	}
	if t.DType != onnxio.Float32 {
		return nil
	}
	if i, v := t.FirstNonFinite(); i >= 0 {
		return nonFiniteActivation(m, b, name, t, i, v)
	}
	st.Cal.Observe(name, t.Data.([]float32))
	return nil
}

// nonFiniteActivation describes value v at flat index i of tensor name.
func nonFiniteActivation(m *onnxio.Model, b *dataset.Batch, name string, t *onnxio.Tensor, i int, v float64) error {
	sample, elem := b.Index, i
	if b.N > 1 && len(t.Shape) > 0 && t.Shape[0] == int64(b.N) {
		per := int(t.Len()) / b.N
		sample, elem = b.Index+i/per, i%per
	}
	p := m.Graph().Producer(name)
	if p == nil {
		return fmt.Errorf("calibration data: input %q, sample %d: %g at element %d; calibration needs finite data", name, sample, v, elem)
	}
	return fmt.Errorf("activation %q (output of node %q, %s) is %g at element %d on calibration sample %d: the float model does not compute finite values on this input; check its weights (shrink inspect) and the data", name, nodeLabel(p), p.GetOpType(), v, elem, sample)
}
