package dataset

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
)

// isONNXFolder reports whether dir holds test_data_set_* folders or
// input_*.pb files.
func isONNXFolder(dir string) bool {
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	for _, s := range sets {
		if st, err := os.Stat(s); err == nil && st.IsDir() {
			return true
		}
	}
	pbs, _ := filepath.Glob(filepath.Join(dir, "input_*.pb"))
	return len(pbs) > 0
}

// numbered sorts paths ending in _N (or _N.pb) by N, then by name.
func numbered(paths []string) {
	num := func(p string) int {
		b := strings.TrimSuffix(filepath.Base(p), ".pb")
		i := strings.LastIndexByte(b, '_')
		n, err := strconv.Atoi(b[i+1:])
		if err != nil {
			return -1
		}
		return n
	}
	sort.SliceStable(paths, func(i, j int) bool {
		a, b := num(paths[i]), num(paths[j])
		if a != b {
			return a < b
		}
		return paths[i] < paths[j]
	})
}

// pbSet is one test_data_set: a file per model input, in the model's
// input order, and its sample count.
type pbSet struct {
	files []string
	n     int
}

// pbSource yields one batch per set.
type pbSource struct {
	path   string
	inputs []onnxio.ValueInfo
	sets   []pbSet
	total  int
	plan   batchPlan
	labels []int64
	next   int
	pos    int
	closed bool
}

func openPB(dir string, inputs []onnxio.ValueInfo, opts Options) (Source, error) {
	plan, err := planBatches(dir, inputs, opts)
	if err != nil {
		return nil, err
	}
	dirs, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	var setDirs []string
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			setDirs = append(setDirs, d)
		}
	}
	if len(setDirs) == 0 {
		setDirs = []string{dir}
	}
	numbered(setDirs)
	s := &pbSource{path: dir, inputs: inputs, plan: plan}
	all := 0 // every sample, beyond the limit too: the labels cover them all
	for _, d := range setDirs {
		files, _ := filepath.Glob(filepath.Join(d, "input_*.pb"))
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no input_*.pb files", d)
		}
		numbered(files)
		set, err := checkPBSet(d, files, inputs, plan)
		if err != nil {
			return nil, err
		}
		all += set.n
		if opts.Limit > 0 && s.total+set.n > opts.Limit {
			set.n = opts.Limit - s.total
		}
		if set.n > 0 {
			s.sets = append(s.sets, set)
		}
		s.total += set.n
	}
	if _, err := plan.checkCount(dir, s.total, Options{}); err != nil {
		return nil, err
	}
	s.labels, err = attachLabels(dir, all, s.total, nil, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// samplesOf is the number of samples of input name's tensor t: along its
// batch axis; -1 for an input without one.
func samplesOf(name string, t *onnxio.Tensor, plan batchPlan) int {
	ax := plan.axis(name)
	switch {
	case plan.scalar:
		return 1
	case ax < 0:
		return -1
	case len(t.Shape) <= ax:
		return 1
	}
	return int(t.Shape[ax])
}

// checkPBSet reads each file of a set once to check it against the model
// (the data is dropped; Next reads it again).
func checkPBSet(dir string, files []string, inputs []onnxio.ValueInfo, plan batchPlan) (pbSet, error) {
	if len(files) != len(inputs) {
		return pbSet{}, fmt.Errorf("%s: %d input_*.pb files for the model's %d inputs", dir, len(files), len(inputs))
	}
	tensors := make([]*onnxio.Tensor, len(files))
	byName := true
	for i, f := range files {
		t, err := onnxio.ReadTensorFile(f)
		if err != nil {
			return pbSet{}, err
		}
		t.Data = nil
		tensors[i] = t
		found := false
		for _, in := range inputs {
			found = found || in.Name == t.Name
		}
		byName = byName && found
	}
	set := pbSet{files: make([]string, len(inputs)), n: -1}
	for i, in := range inputs {
		j := i
		if byName {
			for k, t := range tensors {
				if t.Name == in.Name {
					j = k
				}
			}
		}
		t := tensors[j]
		set.files[i] = files[j]
		if err := checkInput(files[j], in, t.DType, t.Shape, -1); err != nil {
			return pbSet{}, err
		}
		n := samplesOf(in.Name, t, plan)
		if n < 0 {
			continue // one value for the batch
		}
		if set.n >= 0 && n != set.n {
			return pbSet{}, fmt.Errorf("%s: input %q has %d samples, the set's other inputs %d", files[j], in.Name, n, set.n)
		}
		set.n = n
	}
	if plan.fixed && !plan.scalar && set.n != plan.size {
		return pbSet{}, fmt.Errorf("%s: %d samples, the model's fixed batch size is %d", set.files[0], set.n, plan.size)
	}
	return set, nil
}

func (s *pbSource) Len() int { return s.total }

func (s *pbSource) Next(ctx context.Context) (*Batch, error) {
	if s.closed {
		return nil, fmt.Errorf("%s: data set is closed", s.path)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.next >= len(s.sets) {
		return nil, io.EOF
	}
	set := s.sets[s.next]
	b := &Batch{Inputs: map[string]*onnxio.Tensor{}, Axes: s.plan.axes, N: set.n, Index: s.pos}
	for i, in := range s.inputs {
		t, err := onnxio.ReadTensorFile(set.files[i])
		if err != nil {
			return nil, err
		}
		if err := checkInput(set.files[i], in, t.DType, t.Shape, -1); err != nil {
			return nil, err // the file changed since Open
		}
		if ax := s.plan.axis(in.Name); !s.plan.scalar && ax >= 0 && len(t.Shape) > ax && int(t.Shape[ax]) != set.n {
			if t, err = sliceAxis(t, ax, 0, set.n); err != nil {
				return nil, err
			}
		}
		t.Name = in.Name
		b.Inputs[in.Name] = t
	}
	if s.labels != nil {
		b.Labels = s.labels[s.pos : s.pos+set.n]
	}
	s.next++
	s.pos += set.n
	return b, nil
}

func (s *pbSource) Reset() error {
	if s.closed {
		return fmt.Errorf("%s: data set is closed", s.path)
	}
	s.next, s.pos = 0, 0
	return nil
}

func (s *pbSource) Close() error {
	s.closed = true
	return nil
}
