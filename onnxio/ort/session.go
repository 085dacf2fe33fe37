package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"
)

// Options configures a session.
type Options struct {
	// IntraOpThreads and InterOpThreads: 0 lets ORT choose.
	IntraOpThreads int
	InterOpThreads int
	// OptLevel is "disable", "basic", "extended" or "all" (default).
	OptLevel string
	// Provider is "cpu" (default), "cuda" or "tensorrt".
	Provider string
	// Outputs to fetch, graph outputs or any intermediate tensor; empty
	// means the graph's outputs.
	Outputs []string
	// AllowSpinning keeps ORT's intra-op threads spinning after a run. Off
	// by default: when several sessions are timed in one process, spinning
	// threads steal cores from the next session.
	AllowSpinning bool
	// OptimizedModelPath, if set, makes ORT write the graph it optimized.
	OptimizedModelPath string
	// ProfilePrefix, if set, enables ORT's profiler: Close writes the
	// profile, a JSON file whose name starts with this prefix.
	ProfilePrefix string
}

// Session is an ONNX Runtime inference session over an in-memory model.
type Session struct {
	s       *ort.DynamicAdvancedSession
	opts    *ort.SessionOptions
	Inputs  []onnxio.ValueInfo
	Outputs []string
	tmpDir  string
	dummy   bool

	// The model as given to ORT and the input names, kept for the
	// preallocated-output path (see Bound.Run).
	mp         *onnxpb.ModelProto
	inputNames []string
	o          Options
	prealloc   bool
	probe      *ort.DynamicAdvancedSession
	probeOpts  *ort.SessionOptions
	outTypes   []onnxio.DType
}

const dummyInput = "__shrink_unused_input"

// NewSession creates a session for m. Requested intermediate outputs are
// added to a copy of the model as graph outputs (their type left for ORT to
// infer); m itself is not changed.
func NewSession(m *onnxio.Model, o Options) (*Session, error) {
	if _, err := Init(""); err != nil {
		return nil, err
	}
	mp := m.Proto
	g := m.Graph()
	outs := o.Outputs
	if len(outs) == 0 {
		for _, v := range mp.Graph.Output {
			outs = append(outs, v.GetName())
		}
	}
	var extra []string
	for _, name := range outs {
		if !g.IsGraphOutput(name) {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		mp = proto.Clone(mp).(*onnxpb.ModelProto)
		for _, name := range extra {
			mp.Graph.Output = append(mp.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String(name)})
		}
	}
	var inputs []onnxio.ValueInfo
	for _, v := range g.Inputs() {
		inputs = append(inputs, onnxio.DescribeValue(v))
	}
	dummy := false
	if len(inputs) == 0 {
		// onnxruntime_go cannot run a session without inputs: give the
		// model one it ignores, fed by Bind.
		if len(extra) == 0 {
			mp = proto.Clone(mp).(*onnxpb.ModelProto)
		}
		mp.Graph.Input = append(mp.Graph.Input, &onnxpb.ValueInfoProto{Name: proto.String(dummyInput), Type: onnxio.TensorType(onnxio.Float32, []int64{1})})
		dummy = true
	}
	opts, err := sessionOptions(o)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(inputs))
	for i, v := range inputs {
		names[i] = v.Name
	}
	if dummy {
		names = []string{dummyInput}
	}
	s := &Session{opts: opts, Inputs: inputs, Outputs: outs, dummy: dummy, mp: mp, inputNames: names, o: o}
	if proto.Size(mp) <= onnxio.MaxProtoBytes {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
		if err != nil {
			opts.Destroy()
			return nil, err
		}
		s.s, err = ort.NewDynamicAdvancedSessionWithONNXData(b, names, outs, opts)
		if err != nil {
			opts.Destroy()
			return nil, refused(err, mp)
		}
		return s, nil
	}
	// Too big for one protobuf: go through a file with external data.
	dir, err := os.MkdirTemp("", "shrink-ort-")
	if err != nil {
		opts.Destroy()
		return nil, err
	}
	s.tmpDir = dir
	path := filepath.Join(dir, "model.onnx")
	big := &onnxio.Model{Proto: mp}
	if err := big.Save(path, onnxio.SaveOptions{ExternalThreshold: onnxio.DefaultExternalThreshold}); err != nil {
		s.Close()
		return nil, err
	}
	s.s, err = ort.NewDynamicAdvancedSession(path, names, outs, opts)
	if err != nil {
		s.Close()
		return nil, refused(err, mp)
	}
	return s, nil
}

// NewSessionFromBytes gives ORT the serialized model exactly as given (the
// bytes are decoded only to learn the input and output names). It is used to
// compare shrink's re-saved models against the untouched originals.
func NewSessionFromBytes(data []byte, o Options) (*Session, error) {
	if _, err := Init(""); err != nil {
		return nil, err
	}
	m, err := onnxio.LoadBytes(data)
	if err != nil {
		return nil, err
	}
	graphInputs := m.Graph().Inputs()
	if len(graphInputs) == 0 || len(o.Outputs) > 0 {
		return NewSession(m, o)
	}
	var inputs []onnxio.ValueInfo
	var names, outs []string
	for _, v := range graphInputs {
		inputs = append(inputs, onnxio.DescribeValue(v))
		names = append(names, v.GetName())
	}
	for _, v := range m.Proto.Graph.Output {
		outs = append(outs, v.GetName())
	}
	opts, err := sessionOptions(o)
	if err != nil {
		return nil, err
	}
	ds, err := ort.NewDynamicAdvancedSessionWithONNXData(data, names, outs, opts)
	if err != nil {
		opts.Destroy()
		return nil, refused(err, m.Proto)
	}
	return &Session{s: ds, opts: opts, Inputs: inputs, Outputs: outs, mp: m.Proto, inputNames: names, o: o}, nil
}

func cleanErr(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "Error creating C session: ")
	s = strings.TrimPrefix(s, "Error creating C session from file: ")
	return strings.ReplaceAll(s, "\n", " ")
}

func sessionOptions(o Options) (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*ort.SessionOptions, error) {
		opts.Destroy()
		return nil, err
	}
	if o.IntraOpThreads > 0 {
		if err := opts.SetIntraOpNumThreads(o.IntraOpThreads); err != nil {
			return fail(err)
		}
	}
	if o.InterOpThreads > 0 {
		if err := opts.SetInterOpNumThreads(o.InterOpThreads); err != nil {
			return fail(err)
		}
	}
	var level ort.GraphOptimizationLevel = ort.GraphOptimizationLevelEnableAll
	switch o.OptLevel {
	case "", "all":
	case "disable", "none":
		level = ort.GraphOptimizationLevelDisableAll
	case "basic":
		level = ort.GraphOptimizationLevelEnableBasic
	case "extended":
		level = ort.GraphOptimizationLevelEnableExtended
	default:
		return fail(fmt.Errorf("unknown graph optimization level %q (want disable, basic, extended or all)", o.OptLevel))
	}
	if err := opts.SetGraphOptimizationLevel(level); err != nil {
		return fail(err)
	}
	spin := "0"
	if o.AllowSpinning {
		spin = "1"
	}
	if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", spin); err != nil {
		return fail(err)
	}
	if err := opts.AddSessionConfigEntry("session.inter_op.allow_spinning", spin); err != nil {
		return fail(err)
	}
	if o.OptimizedModelPath != "" {
		if err := opts.SetOptimizedModelFilePath(o.OptimizedModelPath); err != nil {
			return fail(err)
		}
	}
	if o.ProfilePrefix != "" {
		if err := opts.EnableProfiling(o.ProfilePrefix); err != nil {
			return fail(err)
		}
	}
	if err := appendProvider(opts, o.Provider); err != nil {
		return fail(err)
	}
	return opts, nil
}

// ErrProvider is wrapped by errors about unavailable execution providers.
var ErrProvider = errors.New("execution provider not available")

// providerErr shortens ORT's message about a provider it cannot load to
// the part a user can act on.
func providerErr(name string, err error) error {
	msg := cleanErr(err)
	if i := strings.Index(msg, "Failed to load library "); i >= 0 {
		lib := msg[i+len("Failed to load library "):]
		if j := strings.Index(lib, " with error"); j >= 0 {
			lib = lib[:j]
		}
		msg = fmt.Sprintf("the ONNX Runtime library has no %s provider (%s not found); use a GPU build of ONNX Runtime %s with --ort-lib", name, filepath.Base(lib), LibVersion)
	}
	return fmt.Errorf("%w: %s: %s", ErrProvider, name, msg)
}

func appendProvider(opts *ort.SessionOptions, p string) error {
	switch p {
	case "", "cpu":
		return nil
	case "cuda":
		// Never pass nil options: onnxruntime_go crashes on them.
		co, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return providerErr("cuda", err)
		}
		defer co.Destroy()
		if err := co.Update(map[string]string{"device_id": "0"}); err != nil {
			return providerErr("cuda", err)
		}
		if err := opts.AppendExecutionProviderCUDA(co); err != nil {
			return providerErr("cuda", err)
		}
		return nil
	case "tensorrt":
		to, err := ort.NewTensorRTProviderOptions()
		if err != nil {
			return providerErr("tensorrt", err)
		}
		defer to.Destroy()
		if err := to.Update(map[string]string{"device_id": "0"}); err != nil {
			return providerErr("tensorrt", err)
		}
		if err := opts.AppendExecutionProviderTensorRT(to); err != nil {
			return providerErr("tensorrt", err)
		}
		return nil
	}
	return fmt.Errorf("unknown execution provider %q (want cpu, cuda or tensorrt)", p)
}

// Close releases the session.
func (s *Session) Close() {
	if s.s != nil {
		s.s.Destroy()
		s.s = nil
	}
	if s.opts != nil {
		s.opts.Destroy()
		s.opts = nil
	}
	if s.probe != nil {
		s.probe.Destroy()
		s.probeOpts.Destroy()
		s.probe = nil
	}
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
		s.tmpDir = ""
	}
}

// Run feeds inputs (by input name, all of them) and returns the requested
// outputs in the order of s.Outputs.
func (s *Session) Run(inputs map[string]*onnxio.Tensor) ([]*onnxio.Tensor, error) {
	b, err := s.Bind(inputs)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return b.Run()
}

// Bound holds ORT values for one set of inputs, so the same inputs can be
// run many times without conversion (latency measurement).
type Bound struct {
	s      *Session
	values []ort.Value
}

// Bind converts inputs to ORT values.
func (s *Session) Bind(inputs map[string]*onnxio.Tensor) (*Bound, error) {
	b := &Bound{s: s}
	if s.dummy {
		v, err := ort.NewTensor(ort.NewShape(1), []float32{0})
		if err != nil {
			return nil, err
		}
		b.values = append(b.values, v)
	}
	for _, in := range s.Inputs {
		t, ok := inputs[in.Name]
		if !ok {
			b.Close()
			return nil, fmt.Errorf("missing input %q", in.Name)
		}
		v, err := ToValue(t)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		b.values = append(b.values, v)
	}
	if len(inputs) > len(s.Inputs) {
		for name := range inputs {
			found := false
			for _, in := range s.Inputs {
				found = found || in.Name == name
			}
			if !found {
				b.Close()
				return nil, fmt.Errorf("the model has no input %q", name)
			}
		}
	}
	return b, nil
}

// Run runs the session on the bound inputs.
//
// Outputs are normally allocated by ORT. onnxruntime_go cannot hand back
// scalar (rank-0) outputs nor outputs of types without a Go type (float16,
// bfloat16): for a session that has such outputs, Run switches to a second
// path that first runs a probe session computing every output's shape and
// then runs the model into preallocated outputs.
func (b *Bound) Run() ([]*onnxio.Tensor, error) {
	s := b.s
	if !s.prealloc {
		outs := make([]ort.Value, len(s.Outputs))
		err := s.s.Run(b.values, outs)
		if err == nil {
			defer destroyAll(outs)
			return convertOutputs(s.Outputs, outs)
		}
		destroyAll(outs)
		if !strings.Contains(err.Error(), "Error creating tensor from ort") {
			return nil, runErr(err)
		}
		s.prealloc = true
	}
	outs, err := b.preallocated()
	if err != nil {
		destroyAll(outs)
		return nil, err
	}
	if err := s.s.Run(b.values, outs); err != nil {
		destroyAll(outs)
		return nil, runErr(err)
	}
	defer destroyAll(outs)
	return convertOutputs(s.Outputs, outs)
}

func runErr(err error) error {
	return fmt.Errorf("ONNX Runtime: %s", strings.TrimPrefix(cleanErr(err), "Error running network: "))
}

func convertOutputs(names []string, outs []ort.Value) ([]*onnxio.Tensor, error) {
	res := make([]*onnxio.Tensor, len(outs))
	for i, o := range outs {
		t, err := FromValue(names[i], o)
		if err != nil {
			return nil, err
		}
		res[i] = t
	}
	return res, nil
}

const probeSuffix = "__shrink_shape"

// preallocated computes the output shapes with the probe session and
// allocates ORT values of the right type and size for every output.
func (b *Bound) preallocated() ([]ort.Value, error) {
	s := b.s
	if s.probe == nil {
		pm := proto.Clone(s.mp).(*onnxpb.ModelProto)
		var probeOuts []string
		pm.Graph.Output = nil
		for _, name := range s.Outputs {
			pm.Graph.Output = append(pm.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String(name)})
		}
		for _, name := range s.Outputs {
			so := name + probeSuffix
			pm.Graph.Node = append(pm.Graph.Node, onnxio.NewNode("Shape", so, []string{name}, []string{so}))
			pm.Graph.Output = append(pm.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String(so)})
			probeOuts = append(probeOuts, so)
		}
		bytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(pm)
		if err != nil {
			return nil, err
		}
		_, outInfo, err := ort.GetInputOutputInfoWithONNXData(bytes)
		if err != nil {
			return nil, fmt.Errorf("ONNX Runtime: output types: %s", cleanErr(err))
		}
		s.outTypes = make([]onnxio.DType, len(s.Outputs))
		for i := range s.Outputs {
			s.outTypes[i] = onnxio.DType(outInfo[i].DataType)
		}
		opts, err := sessionOptions(Options{IntraOpThreads: s.o.IntraOpThreads, InterOpThreads: s.o.InterOpThreads, Provider: s.o.Provider})
		if err != nil {
			return nil, err
		}
		ps, err := ort.NewDynamicAdvancedSessionWithONNXData(bytes, s.inputNames, probeOuts, opts)
		if err != nil {
			opts.Destroy()
			return nil, fmt.Errorf("ONNX Runtime: shape probe: %s", cleanErr(err))
		}
		s.probe, s.probeOpts = ps, opts
	}
	shapes := make([]ort.Value, len(s.Outputs))
	if err := s.probe.Run(b.values, shapes); err != nil {
		destroyAll(shapes)
		return nil, runErr(err)
	}
	outs := make([]ort.Value, len(s.Outputs))
	for i, sv := range shapes {
		st, ok := sv.(*ort.Tensor[int64])
		if !ok {
			destroyAll(shapes)
			return outs, fmt.Errorf("output %q: shape probe returned %T", s.Outputs[i], sv)
		}
		v, err := allocValue(s.outTypes[i], append([]int64(nil), st.GetData()...))
		if err != nil {
			destroyAll(shapes)
			return outs, fmt.Errorf("output %q: %w", s.Outputs[i], err)
		}
		outs[i] = v
	}
	destroyAll(shapes)
	return outs, nil
}

func allocValue(dt onnxio.DType, shape []int64) (ort.Value, error) {
	switch dt {
	case onnxio.Float32:
		return emptyValue[float32](shape)
	case onnxio.Float64:
		return emptyValue[float64](shape)
	case onnxio.Int8:
		return emptyValue[int8](shape)
	case onnxio.Uint8:
		return emptyValue[uint8](shape)
	case onnxio.Int16:
		return emptyValue[int16](shape)
	case onnxio.Uint16:
		return emptyValue[uint16](shape)
	case onnxio.Int32:
		return emptyValue[int32](shape)
	case onnxio.Int64:
		return emptyValue[int64](shape)
	case onnxio.Uint32:
		return emptyValue[uint32](shape)
	case onnxio.Uint64:
		return emptyValue[uint64](shape)
	case onnxio.Bool:
		return emptyValue[bool](shape)
	}
	if len(shape) == 0 {
		return nil, fmt.Errorf("scalar outputs of type %s are not supported by onnxruntime_go", dt)
	}
	shp := ort.NewShape(shape...)
	if dt == onnxio.String {
		return ort.NewStringTensor(shp)
	}
	n, err := onnxio.NumElements(shape)
	if err != nil {
		return nil, err
	}
	size := dt.RawBytes(n)
	if size < 0 {
		return nil, fmt.Errorf("outputs of type %s are not supported", dt)
	}
	return ort.NewCustomDataTensor(shp, make([]byte, max(size, 1)), ort.TensorElementDataType(dt))
}

// emptyValue allocates an output of element type T: a scalar for an empty
// shape, else a tensor.
func emptyValue[T ort.TensorData](shape []int64) (ort.Value, error) {
	if len(shape) == 0 {
		return ort.NewEmptyScalar[T]()
	}
	return ort.NewEmptyTensor[T](ort.NewShape(shape...))
}

func destroyAll(vs []ort.Value) {
	for _, v := range vs {
		if v != nil && !reflect.ValueOf(v).IsNil() {
			v.Destroy()
		}
	}
}

// RunDiscard runs the session and throws the outputs away (for timing).
func (b *Bound) RunDiscard() error {
	outs := make([]ort.Value, len(b.s.Outputs))
	err := b.s.s.Run(b.values, outs)
	destroyAll(outs)
	if err != nil {
		return runErr(err)
	}
	return nil
}

// Close releases the bound values.
func (b *Bound) Close() {
	for _, v := range b.values {
		v.Destroy()
	}
	b.values = nil
}

// ToValue converts a tensor to an ORT value (copying its data).
func ToValue(t *onnxio.Tensor) (ort.Value, error) {
	if len(t.Shape) == 0 {
		return scalarValue(t)
	}
	shape := ort.NewShape(t.Shape...)
	switch d := t.Data.(type) {
	case []float32:
		return ort.NewTensor(shape, append([]float32(nil), d...))
	case []string:
		st, err := ort.NewStringTensor(shape)
		if err != nil {
			return nil, err
		}
		if err := st.SetContents(d); err != nil {
			st.Destroy()
			return nil, err
		}
		return st, nil
	}
	raw, err := t.RawBytes()
	if err != nil {
		if b, ok := t.Data.([]byte); ok {
			raw = b
		} else {
			return nil, err
		}
	}
	if len(raw) == 0 {
		// ORT refuses a nil data pointer; give it one byte it will not read.
		raw = make([]byte, 1)
		return ort.NewCustomDataTensor(shape, raw[:1], ort.TensorElementDataType(t.DType))
	}
	return ort.NewCustomDataTensor(shape, raw, ort.TensorElementDataType(t.DType))
}

// FromValue converts an ORT output value to a tensor.
func FromValue(name string, v ort.Value) (*onnxio.Tensor, error) {
	if v == nil {
		return nil, fmt.Errorf("output %q: no value", name)
	}
	shape := []int64(v.GetShape())
	t := &onnxio.Tensor{Name: name, Shape: append([]int64(nil), shape...)}
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		t.DType, t.Data = onnxio.Float32, append([]float32(nil), x.GetData()...)
	case *ort.Tensor[float64]:
		t.DType, t.Data = onnxio.Float64, append([]float64(nil), x.GetData()...)
	case *ort.Tensor[int8]:
		t.DType, t.Data = onnxio.Int8, append([]int8(nil), x.GetData()...)
	case *ort.Tensor[uint8]:
		t.DType, t.Data = onnxio.Uint8, append([]uint8(nil), x.GetData()...)
	case *ort.Tensor[int16]:
		t.DType, t.Data = onnxio.Int16, append([]int16(nil), x.GetData()...)
	case *ort.Tensor[uint16]:
		t.DType, t.Data = onnxio.Uint16, append([]uint16(nil), x.GetData()...)
	case *ort.Tensor[int32]:
		t.DType, t.Data = onnxio.Int32, append([]int32(nil), x.GetData()...)
	case *ort.Tensor[int64]:
		t.DType, t.Data = onnxio.Int64, append([]int64(nil), x.GetData()...)
	case *ort.Tensor[uint32]:
		t.DType, t.Data = onnxio.Uint32, append([]uint32(nil), x.GetData()...)
	case *ort.Tensor[uint64]:
		t.DType, t.Data = onnxio.Uint64, append([]uint64(nil), x.GetData()...)
	case *ort.Tensor[bool]:
		t.DType, t.Data = onnxio.Bool, append([]bool(nil), x.GetData()...)
	case *ort.Scalar[float32]:
		t.DType, t.Data = onnxio.Float32, []float32{x.GetData()}
	case *ort.Scalar[float64]:
		t.DType, t.Data = onnxio.Float64, []float64{x.GetData()}
	case *ort.Scalar[int8]:
		t.DType, t.Data = onnxio.Int8, []int8{x.GetData()}
	case *ort.Scalar[uint8]:
		t.DType, t.Data = onnxio.Uint8, []uint8{x.GetData()}
	case *ort.Scalar[int16]:
		t.DType, t.Data = onnxio.Int16, []int16{x.GetData()}
	case *ort.Scalar[uint16]:
		t.DType, t.Data = onnxio.Uint16, []uint16{x.GetData()}
	case *ort.Scalar[int32]:
		t.DType, t.Data = onnxio.Int32, []int32{x.GetData()}
	case *ort.Scalar[int64]:
		t.DType, t.Data = onnxio.Int64, []int64{x.GetData()}
	case *ort.Scalar[uint32]:
		t.DType, t.Data = onnxio.Uint32, []uint32{x.GetData()}
	case *ort.Scalar[uint64]:
		t.DType, t.Data = onnxio.Uint64, []uint64{x.GetData()}
	case *ort.Scalar[bool]:
		t.DType, t.Data = onnxio.Bool, []bool{x.GetData()}
	case *ort.StringTensor:
		s, err := x.GetContents()
		if err != nil {
			return nil, err
		}
		t.DType, t.Data = onnxio.String, s
	case *ort.CustomDataTensor:
		dt := onnxio.DType(x.DataType())
		t.DType = dt
		raw := x.GetData()
		tp := &onnxpb.TensorProto{Dims: t.Shape, DataType: proto.Int32(int32(dt)), RawData: raw}
		if n, _ := onnxio.NumElements(t.Shape); n == 0 {
			tp.RawData = []byte{}
		}
		dec, err := onnxio.TensorFromProto(tp)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		dec.Name = name
		return dec, nil
	default:
		return nil, fmt.Errorf("output %q: %s values are not supported", name, v.GetONNXType())
	}
	return t, nil
}

func scalarValue(t *onnxio.Tensor) (ort.Value, error) {
	switch d := t.Data.(type) {
	case []float32:
		return ort.NewScalar(d[0])
	case []float64:
		return ort.NewScalar(d[0])
	case []int8:
		return ort.NewScalar(d[0])
	case []uint8:
		return ort.NewScalar(d[0])
	case []int16:
		return ort.NewScalar(d[0])
	case []uint16:
		if t.DType == onnxio.Uint16 {
			return ort.NewScalar(d[0])
		}
	case []int32:
		return ort.NewScalar(d[0])
	case []int64:
		return ort.NewScalar(d[0])
	case []uint32:
		return ort.NewScalar(d[0])
	case []uint64:
		return ort.NewScalar(d[0])
	case []bool:
		return ort.NewScalar(d[0])
	case []string:
		st, err := ort.NewStringTensor(nil)
		if err != nil {
			return nil, err
		}
		if err := st.SetContents(d); err != nil {
			st.Destroy()
			return nil, err
		}
		return st, nil
	}
	return nil, fmt.Errorf("scalar inputs of type %s are not supported by onnxruntime_go", t.DType)
}
