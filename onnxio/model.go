package onnxio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// MaxProtoBytes is the largest serialized model protobuf that ONNX Runtime
// (and every protobuf C++ reader) accepts. Bigger models must keep their
// weights in external data.
const MaxProtoBytes = 2<<30 - 1

// MaxModelFileBytes bounds how much Load reads from a model file.
const MaxModelFileBytes = MaxProtoBytes

// Model is a loaded ONNX model. Proto is the whole protobuf; its tensors hold
// their data inline (external data is read in by Load), so a Model does not
// depend on files after loading. Path is the file it was loaded from ("" for
// bytes).
type Model struct {
	Proto *onnxpb.ModelProto
	Path  string
	// ExternalFiles lists the external-data files (relative locations) the
	// model referenced when loaded.
	ExternalFiles []string
	// ExternalBytes is how many bytes of tensor data came from external files.
	ExternalBytes int64

	graph *Graph
}

// Error is a failure to read or decode a model; it names the file.
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "model: " + e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads an ONNX model from path, resolving external data that must lie
// inside the model's folder.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Path: path, Err: errors.Unwrap(err)}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	if st.IsDir() {
		return nil, &Error{Path: path, Err: errors.New("is a directory, not an .onnx file")}
	}
	if st.Size() > MaxModelFileBytes {
		return nil, &Error{Path: path, Err: fmt.Errorf("file is %d bytes, over the 2 GiB protobuf limit (weights must be in external data)", st.Size())}
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	m, err := decode(data)
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	m.Path = path
	if err := m.loadExternal(filepath.Dir(path)); err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	return m, nil
}

// LoadBytes decodes a model from memory. A model that references external
// data is refused (there is no folder to resolve it against); use
// LoadBytesDir for that.
func LoadBytes(data []byte) (*Model, error) { return LoadBytesDir(data, "") }

// LoadBytesDir decodes a model from memory, resolving external data in dir.
func LoadBytesDir(data []byte, dir string) (*Model, error) {
	m, err := decode(data)
	if err != nil {
		return nil, &Error{Err: err}
	}
	if err := m.loadExternal(dir); err != nil {
		return nil, &Error{Err: err}
	}
	return m, nil
}

func decode(data []byte) (*Model, error) {
	if len(data) == 0 {
		return nil, errors.New("empty file, not an ONNX model")
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("not a valid ONNX model (protobuf decode failed: %v)", firstLine(err.Error()))
	}
	if mp.Graph == nil {
		return nil, errors.New("not a valid ONNX model (no graph)")
	}
	if mp.IrVersion == nil {
		return nil, errors.New("not a valid ONNX model (no ir_version)")
	}
	return &Model{Proto: mp}, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Graph returns the model's main graph with its indexes.
func (m *Model) Graph() *Graph {
	if m.graph == nil || m.graph.P != m.Proto.Graph {
		m.graph = NewGraph(m.Proto.Graph)
	}
	return m.graph
}

// Clone returns a deep copy of the model.
func (m *Model) Clone() *Model {
	return &Model{Proto: proto.Clone(m.Proto).(*onnxpb.ModelProto), Path: m.Path,
		ExternalFiles: append([]string(nil), m.ExternalFiles...), ExternalBytes: m.ExternalBytes}
}

// Opset returns the opset version imported for domain ("" or "ai.onnx" is
// the default domain), or 0 if the model does not import it.
func (m *Model) Opset(domain string) int64 {
	if domain == "ai.onnx" {
		domain = ""
	}
	for _, o := range m.Proto.OpsetImport {
		d := o.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		if d == domain {
			return o.GetVersion()
		}
	}
	return 0
}

// SetOpset imports domain at version, replacing an existing import.
func (m *Model) SetOpset(domain string, version int64) {
	for _, o := range m.Proto.OpsetImport {
		d := o.GetDomain()
		if d == domain || (domain == "" && d == "ai.onnx") {
			o.Version = proto.Int64(version)
			return
		}
	}
	m.Proto.OpsetImport = append(m.Proto.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(domain), Version: proto.Int64(version)})
}

// Metadata returns the value of a metadata_props key.
func (m *Model) Metadata(key string) (string, bool) {
	for _, p := range m.Proto.MetadataProps {
		if p.GetKey() == key {
			return p.GetValue(), true
		}
	}
	return "", false
}

// SetMetadata sets a metadata_props key, replacing an existing value.
func (m *Model) SetMetadata(key, value string) {
	for _, p := range m.Proto.MetadataProps {
		if p.GetKey() == key {
			p.Value = proto.String(value)
			return
		}
	}
	m.Proto.MetadataProps = append(m.Proto.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(key), Value: proto.String(value)})
}

// MetadataMap returns all metadata_props as a map (keys sorted by caller).
func (m *Model) MetadataMap() map[string]string {
	out := map[string]string{}
	for _, p := range m.Proto.MetadataProps {
		out[p.GetKey()] = p.GetValue()
	}
	return out
}

// ShrinkMetadataPrefix starts every metadata key shrink writes.
const ShrinkMetadataPrefix = "shrink."

// Marshal serializes the model deterministically with all data inline.
func (m *Model) Marshal() ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.Proto)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxProtoBytes {
		return nil, fmt.Errorf("model serializes to %d bytes, over the 2 GiB protobuf limit: save it with external data", len(b))
	}
	return b, nil
}
