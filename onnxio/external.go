package onnxio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// forEachTensor calls fn for every TensorProto in the model: initializers,
// sparse initializers, tensor attributes of nodes (Constant values among
// them), in subgraphs and functions too, in a fixed order.
func forEachTensor(m *onnxpb.ModelProto, fn func(t *onnxpb.TensorProto) error) error {
	if err := forEachTensorInGraph(m.Graph, fn); err != nil {
		return err
	}
	for _, f := range m.Functions {
		for _, n := range f.Node {
			if err := forEachTensorInNode(n, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func forEachTensorInGraph(g *onnxpb.GraphProto, fn func(t *onnxpb.TensorProto) error) error {
	if g == nil {
		return nil
	}
	for _, t := range g.Initializer {
		if err := fn(t); err != nil {
			return err
		}
	}
	for _, s := range g.SparseInitializer {
		if err := forEachSparse(s, fn); err != nil {
			return err
		}
	}
	for _, n := range g.Node {
		if err := forEachTensorInNode(n, fn); err != nil {
			return err
		}
	}
	return nil
}

func forEachSparse(s *onnxpb.SparseTensorProto, fn func(t *onnxpb.TensorProto) error) error {
	if s.Values != nil {
		if err := fn(s.Values); err != nil {
			return err
		}
	}
	if s.Indices != nil {
		return fn(s.Indices)
	}
	return nil
}

func forEachTensorInNode(n *onnxpb.NodeProto, fn func(t *onnxpb.TensorProto) error) error {
	for _, a := range n.Attribute {
		if a.T != nil {
			if err := fn(a.T); err != nil {
				return err
			}
		}
		for _, t := range a.Tensors {
			if err := fn(t); err != nil {
				return err
			}
		}
		if a.SparseTensor != nil {
			if err := forEachSparse(a.SparseTensor, fn); err != nil {
				return err
			}
		}
		for _, st := range a.SparseTensors {
			if err := forEachSparse(st, fn); err != nil {
				return err
			}
		}
		if err := forEachTensorInGraph(a.G, fn); err != nil {
			return err
		}
		for _, g := range a.Graphs {
			if err := forEachTensorInGraph(g, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// externalRef is a parsed external_data entry list.
type externalRef struct {
	location       string
	offset, length int64
	hasLength      bool
}

func parseExternal(t *onnxpb.TensorProto) (externalRef, error) {
	var r externalRef
	for _, kv := range t.ExternalData {
		switch kv.GetKey() {
		case "location":
			r.location = kv.GetValue()
		case "offset":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return r, fmt.Errorf("tensor %q: bad external data offset %q", t.GetName(), kv.GetValue())
			}
			r.offset = v
		case "length":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return r, fmt.Errorf("tensor %q: bad external data length %q", t.GetName(), kv.GetValue())
			}
			r.length, r.hasLength = v, true
		}
	}
	if r.location == "" {
		return r, fmt.Errorf("tensor %q: external data without a location", t.GetName())
	}
	return r, nil
}

// ConfinedPath resolves an external-data location against dir and refuses
// any location that could reach outside dir: absolute paths, ".."
// components, and symbolic links that resolve outside it.
func ConfinedPath(dir, location string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("external data %q: the model was not loaded from a file, so there is no folder to read it from", location)
	}
	loc := filepath.FromSlash(strings.ReplaceAll(location, `\`, "/"))
	if filepath.IsAbs(loc) || strings.HasPrefix(location, "/") || strings.HasPrefix(location, `\`) || (len(location) > 1 && location[1] == ':') {
		return "", fmt.Errorf("external data location %q is an absolute path; it must be relative to the model's folder", location)
	}
	for _, part := range strings.Split(filepath.ToSlash(loc), "/") {
		if part == ".." {
			return "", fmt.Errorf("external data location %q leaves the model's folder (\"..\")", location)
		}
	}
	full := filepath.Join(dir, loc)
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("external data %q: %w", location, err)
	}
	realFull, err := filepath.EvalSymlinks(full)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("external data file %q not found beside the model", location)
		}
		return "", fmt.Errorf("external data %q: %w", location, err)
	}
	rel, err := filepath.Rel(realDir, realFull)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("external data location %q resolves outside the model's folder (symbolic link to %s)", location, realFull)
	}
	return realFull, nil
}

// loadExternal reads every tensor stored in external data into raw_data and
// clears its external fields, so the in-memory model is self-contained.
func (m *Model) loadExternal(dir string) error {
	files := map[string]*os.File{}
	sizes := map[string]int64{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	seen := map[string]bool{}
	return forEachTensor(m.Proto, func(t *onnxpb.TensorProto) error {
		if t.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
			return nil
		}
		ref, err := parseExternal(t)
		if err != nil {
			return err
		}
		path, err := ConfinedPath(dir, ref.location)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", t.GetName(), err)
		}
		f, ok := files[path]
		if !ok {
			f, err = os.Open(path)
			if err != nil {
				return fmt.Errorf("tensor %q: %w", t.GetName(), err)
			}
			st, err := f.Stat()
			if err != nil {
				f.Close()
				return err
			}
			if !st.Mode().IsRegular() {
				f.Close()
				return fmt.Errorf("tensor %q: external data %q is not a regular file", t.GetName(), ref.location)
			}
			files[path], sizes[path] = f, st.Size()
		}
		n, err := NumElements(t.Dims)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", t.GetName(), err)
		}
		want := DType(t.GetDataType()).RawBytes(n)
		if want < 0 {
			return fmt.Errorf("tensor %q: %s tensors cannot be stored as external data", t.GetName(), DType(t.GetDataType()))
		}
		length := ref.length
		if !ref.hasLength {
			length = sizes[path] - ref.offset
		}
		if length != want {
			return fmt.Errorf("tensor %q: external data length %d does not match shape %v of %s (%d bytes)", t.GetName(), length, t.Dims, DType(t.GetDataType()), want)
		}
		if ref.offset > sizes[path] || length > sizes[path]-ref.offset {
			return fmt.Errorf("tensor %q: external data %q is %d bytes, too short for offset %d + length %d", t.GetName(), ref.location, sizes[path], ref.offset, length)
		}
		buf := make([]byte, length)
		if _, err := f.ReadAt(buf, ref.offset); err != nil && !(err == io.EOF && length == 0) {
			return fmt.Errorf("tensor %q: reading %q: %w", t.GetName(), ref.location, err)
		}
		t.RawData = buf
		t.ExternalData = nil
		t.DataLocation = nil
		m.ExternalBytes += length
		if !seen[ref.location] {
			seen[ref.location] = true
			m.ExternalFiles = append(m.ExternalFiles, ref.location)
		}
		return nil
	})
}

// externalized records the tensors externalize changed, their original
// data and the external file's layout; restore undoes it.
type externalized struct {
	tensors []*onnxpb.TensorProto
	raw     [][]byte
	offsets []int64
	size    int64
}

const externalAlign = 64

// externalize points every initializer of at least threshold bytes at the
// file named location, laid out at 64-byte aligned offsets (writeTo writes
// that file).
func externalize(m *onnxpb.ModelProto, threshold int64, location string) (*externalized, error) {
	x := &externalized{}
	var walk func(g *onnxpb.GraphProto) error
	walk = func(g *onnxpb.GraphProto) error {
		if g == nil {
			return nil
		}
		for _, t := range g.Initializer {
			if DType(t.GetDataType()) == String || t.Segment != nil {
				continue
			}
			if t.RawData == nil {
				// Move typed-field data to raw_data so it can go out of line.
				tt, err := TensorFromProto(t)
				if err != nil {
					return err
				}
				if int64(tt.Len())*int64(max(tt.DType.Size(), 1)) < threshold {
					continue
				}
				p, err := tt.ToProto()
				if err != nil {
					return err
				}
				t.FloatData, t.Int32Data, t.Int64Data, t.DoubleData, t.Uint64Data = nil, nil, nil, nil, nil
				t.RawData = p.RawData
			}
			if int64(len(t.RawData)) < threshold {
				continue
			}
			off := (x.size + externalAlign - 1) / externalAlign * externalAlign
			x.tensors = append(x.tensors, t)
			x.raw = append(x.raw, t.RawData)
			x.offsets = append(x.offsets, off)
			x.size = off + int64(len(t.RawData))
			t.ExternalData = []*onnxpb.StringStringEntryProto{
				{Key: proto.String("location"), Value: proto.String(location)},
				{Key: proto.String("offset"), Value: proto.String(strconv.FormatInt(off, 10))},
				{Key: proto.String("length"), Value: proto.String(strconv.Itoa(len(t.RawData)))},
			}
			t.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
			t.RawData = nil
		}
		for _, n := range g.Node {
			for _, a := range n.Attribute {
				if err := walk(a.G); err != nil {
					return err
				}
				for _, sg := range a.Graphs {
					if err := walk(sg); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if err := walk(m.Graph); err != nil {
		x.restore()
		return nil, err
	}
	return x, nil
}

func (x *externalized) restore() {
	for i, t := range x.tensors {
		t.RawData = x.raw[i]
		t.ExternalData = nil
		t.DataLocation = nil
	}
}

func (x *externalized) writeTo(w io.Writer) error {
	var pos int64
	var pad [externalAlign]byte
	for i, raw := range x.raw {
		if gap := x.offsets[i] - pos; gap > 0 {
			if _, err := w.Write(pad[:gap]); err != nil {
				return err
			}
		}
		if _, err := w.Write(raw); err != nil {
			return err
		}
		pos = x.offsets[i] + int64(len(raw))
	}
	return nil
}
