package dataset

import (
	"archive/zip"
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
)

// npyArray streams the rows of one .npy array: from a file (or a stored
// .npz member) by offset, or from a compressed .npz member sequentially.
type npyArray struct {
	input    string // model input name
	where    string // file (and member) for messages
	hdr      *NpyHeader
	rows     int   // first dimension (1 for a scalar)
	rowBytes int64 // bytes per row
	rowShape []int64

	// axis is the batch axis (see Batch.Axes): 0, rows are read by
	// offset; > 0, the array is read whole once and cut along it; -1, the
	// array is the same for every batch.
	axis  int
	whole *onnxio.Tensor // the whole array when axis != 0

	ra   io.ReaderAt // random access: data at base
	base int64

	open func() (io.ReadCloser, error) // sequential access
	rc   io.ReadCloser
	br   *bufio.Reader
	seq  int // rows consumed from rc

	buf []byte // raw rows, reused from batch to batch (decodeRaw copies)
}

func newNpyArray(where, input string, h *NpyHeader) *npyArray {
	a := &npyArray{input: input, where: where, hdr: h, rows: 1}
	if len(h.Shape) > 0 {
		a.rows = int(h.Shape[0])
		a.rowShape = h.Shape[1:]
	}
	per, _ := onnxio.NumElements(a.rowShape)
	a.rowBytes = per * int64(h.DType.Size())
	return a
}

// npyFileArray reads the header of the .npy file f (size bytes long); the
// array then reads f by offset. The caller checks the data size
// (checkSize) once it has checked the header.
func npyFileArray(path, input string, f *os.File, size int64) (*npyArray, error) {
	h, err := ReadNpyHeader(bufio.NewReader(io.NewSectionReader(f, 0, min(size, maxNpyHeader+16))))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	a := newNpyArray(path, input, h)
	a.ra, a.base = f, h.DataOffset
	return a, nil
}

// dataBytes is the size of the array's data.
func (a *npyArray) dataBytes() int64 { return int64(a.rows) * a.rowBytes }

// checkSize compares the bytes available after the header with the data
// the header declares.
func (a *npyArray) checkSize(have int64) error {
	want := a.dataBytes()
	if have < want {
		return fmt.Errorf("%s: truncated: the header declares %s %s (%d data bytes) but only %d follow it", a.where, a.hdr.Descr, intsString(a.hdr.Shape), want, have)
	}
	if have > want {
		return fmt.Errorf("%s: %d bytes follow the data the header declares (%s %s)", a.where, have-want, a.hdr.Descr, intsString(a.hdr.Shape))
	}
	return nil
}

// samples is the number of samples along the batch axis (0 for an array
// without one).
func (a *npyArray) samples() int {
	switch {
	case a.axis < 0:
		return 0
	case a.axis == 0:
		return a.rows
	}
	return int(a.hdr.Shape[a.axis])
}

// read returns samples [pos, pos+n) along the batch axis.
func (a *npyArray) read(pos, n int) (*onnxio.Tensor, error) {
	if a.axis == 0 {
		return a.readRows(pos, n)
	}
	if a.whole == nil {
		t, err := a.readRows(0, a.rows)
		if err != nil {
			return nil, err
		}
		t.Shape = append([]int64(nil), a.hdr.Shape...)
		a.whole = t
	}
	if a.axis < 0 {
		return a.whole.Clone(), nil
	}
	t, err := sliceAxis(a.whole, a.axis, pos, pos+n)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", a.where, err)
	}
	return t, nil
}

// readRows returns rows [pos, pos+n) along the first dimension.
func (a *npyArray) readRows(pos, n int) (*onnxio.Tensor, error) {
	size := int64(n) * a.rowBytes
	if int64(cap(a.buf)) < size {
		a.buf = make([]byte, size)
	}
	buf := a.buf[:size]
	if a.ra != nil {
		if _, err := a.ra.ReadAt(buf, a.base+int64(pos)*a.rowBytes); err != nil {
			return nil, fmt.Errorf("%s: reading rows %d..%d: %v", a.where, pos, pos+n-1, err)
		}
	} else {
		if a.rc == nil || pos != a.seq {
			if err := a.rewind(); err != nil {
				return nil, err
			}
			if pos > 0 {
				if _, err := io.CopyN(io.Discard, a.br, int64(pos)*a.rowBytes); err != nil {
					return nil, fmt.Errorf("%s: skipping to row %d: %v", a.where, pos, err)
				}
			}
			a.seq = pos
		}
		if _, err := io.ReadFull(a.br, buf); err != nil {
			return nil, fmt.Errorf("%s: reading rows %d..%d: %v", a.where, pos, pos+n-1, err)
		}
		a.seq += n
	}
	data, err := decodeRaw(a.hdr.DType, buf, a.hdr.BigEndian)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", a.where, err)
	}
	shape := append([]int64{int64(n)}, a.rowShape...)
	return &onnxio.Tensor{Name: a.input, DType: a.hdr.DType, Shape: shape, Data: data}, nil
}

// rewind reopens a sequential member and skips its header.
func (a *npyArray) rewind() error {
	if a.rc != nil {
		a.rc.Close()
		a.rc = nil
	}
	rc, err := a.open()
	if err != nil {
		return fmt.Errorf("%s: %v", a.where, err)
	}
	br := bufio.NewReaderSize(rc, 1<<16)
	if _, err := io.CopyN(io.Discard, br, a.hdr.DataOffset); err != nil {
		rc.Close()
		return fmt.Errorf("%s: %v", a.where, err)
	}
	a.rc, a.br, a.seq = rc, br, 0
	return nil
}

func (a *npyArray) close() error {
	if a.rc != nil {
		err := a.rc.Close()
		a.rc = nil
		return err
	}
	return nil
}

// npyReader reads the arrays of all inputs.
type npyReader struct {
	arrays []*npyArray
	file   *os.File
}

func (r *npyReader) read(ctx context.Context, pos, n int) (map[string]*onnxio.Tensor, error) {
	out := make(map[string]*onnxio.Tensor, len(r.arrays))
	for _, a := range r.arrays {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t, err := a.read(pos, n)
		if err != nil {
			return nil, err
		}
		out[a.input] = t
	}
	return out, nil
}

func (r *npyReader) reset() error {
	for _, a := range r.arrays {
		if err := a.close(); err != nil {
			return err
		}
	}
	return nil
}

func (r *npyReader) close() error {
	err := r.reset()
	if cerr := r.file.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkArray checks an array against its input and sets its batch axis:
// a scalar .npy is one sample of a model whose inputs are all scalars, or
// the one value of a rank-0 input of a batched model.
func checkArray(a *npyArray, in onnxio.ValueInfo, plan batchPlan) error {
	if err := checkInput(a.where, in, a.hdr.DType, a.hdr.Shape, plan.skip(in.Name)); err != nil {
		return err
	}
	if plan.scalar {
		return nil
	}
	a.axis = plan.axis(in.Name)
	if a.axis >= 0 && len(a.hdr.Shape) <= a.axis {
		return fmt.Errorf("%s: input %q: expected %s %s, found a %s scalar", a.where, in.Name, in.DType, shapeString(in.Shape), a.hdr.DType)
	}
	return nil
}

func newRowSource(path string, r *npyReader, inputs []onnxio.ValueInfo, plan batchPlan, opts Options) (Source, error) {
	rows, from := -1, ""
	for _, a := range r.arrays {
		if a.axis < 0 {
			continue // one value for every batch
		}
		if rows >= 0 && a.samples() != rows {
			return nil, fmt.Errorf("%s: input %q has %d samples, input %q has %d", path, from, rows, a.input, a.samples())
		}
		rows, from = a.samples(), a.input
	}
	if plan.scalar {
		rows = 1
	}
	n, err := plan.checkCount(path, rows, opts)
	if err != nil {
		return nil, err
	}
	labels, err := attachLabels(path, rows, n, nil, opts)
	if err != nil {
		return nil, err
	}
	return &rowSource{path: path, total: n, plan: plan, r: r, labels: labels}, nil
}

func openNpy(path string, inputs []onnxio.ValueInfo, opts Options) (Source, error) {
	if err := needOneInput(path, ".npy file", inputs); err != nil {
		return nil, err
	}
	plan, err := planBatches(path, inputs, opts)
	if err != nil {
		return nil, err
	}
	return withFile(path, func(f *os.File, size int64) (Source, error) {
		a, err := npyFileArray(path, inputs[0].Name, f, size)
		if err != nil {
			return nil, err
		}
		if err := checkArray(a, inputs[0], plan); err != nil {
			return nil, err
		}
		if err := a.checkSize(size - a.hdr.DataOffset); err != nil {
			return nil, err
		}
		return newRowSource(path, &npyReader{arrays: []*npyArray{a}, file: f}, inputs, plan, opts)
	})
}

// withFile opens path and hands the file and its size to build, closing
// the file when build fails (on success the Source owns it).
func withFile(path string, build func(f *os.File, size int64) (Source, error)) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	src, err := build(f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	return src, nil
}

func openNpz(path string, inputs []onnxio.ValueInfo, opts Options) (Source, error) {
	plan, err := planBatches(path, inputs, opts)
	if err != nil {
		return nil, err
	}
	return withFile(path, func(f *os.File, size int64) (Source, error) {
		z, err := zip.NewReader(f, size)
		if err != nil {
			return nil, fmt.Errorf("%s: not a .npz (zip) file: %v", path, err)
		}
		members := map[string]*zip.File{}
		var keys []string
		for _, m := range z.File {
			key := strings.TrimSuffix(m.Name, ".npy")
			members[key] = m
			keys = append(keys, key)
		}
		r := &npyReader{file: f}
		for _, in := range inputs {
			m, ok := members[in.Name]
			if !ok {
				return nil, fmt.Errorf("%s: no member %q for input %q (members: %s)", path, in.Name+".npy", in.Name, strings.Join(keys, ", "))
			}
			a, err := npzArray(path, f, m, in.Name)
			if err != nil {
				return nil, err
			}
			if err := checkArray(a, in, plan); err != nil {
				return nil, err
			}
			r.arrays = append(r.arrays, a)
		}
		return newRowSource(path, r, inputs, plan, opts)
	})
}

// npzArray reads the header of one .npz member; stored members are then
// read by offset, compressed ones sequentially.
func npzArray(path string, f *os.File, m *zip.File, input string) (*npyArray, error) {
	where := path + ":" + m.Name
	rc, err := m.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	h, err := ReadNpyHeader(bufio.NewReader(rc))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	a := newNpyArray(where, input, h)
	if err := a.checkSize(int64(m.UncompressedSize64) - h.DataOffset); err != nil {
		return nil, err
	}
	if m.Method == zip.Store {
		off, err := m.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		if int64(m.CompressedSize64) != int64(m.UncompressedSize64) {
			return nil, fmt.Errorf("%s: stored member with different sizes", where)
		}
		a.ra, a.base = f, off+h.DataOffset
		return a, nil
	}
	a.open = func() (io.ReadCloser, error) {
		rc, err := m.Open()
		if err != nil {
			return nil, err
		}
		return rc, nil
	}
	return a, nil
}
