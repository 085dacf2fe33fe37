package onnxio

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Graph wraps a GraphProto with a producer/consumer index. The index is
// rebuilt lazily after edits made through Graph's methods; after editing P
// directly, call Reindex.
type Graph struct {
	P *onnxpb.GraphProto

	dirty     bool
	producer  map[string]*onnxpb.NodeProto
	consumers map[string][]*onnxpb.NodeProto
	inits     map[string]*onnxpb.TensorProto
	names     map[string]bool
}

// NewGraph indexes g.
func NewGraph(g *onnxpb.GraphProto) *Graph {
	return &Graph{P: g, dirty: true}
}

// Reindex marks the index stale; it is rebuilt on next use.
func (g *Graph) Reindex() { g.dirty = true }

func (g *Graph) index() {
	if !g.dirty {
		return
	}
	g.producer = map[string]*onnxpb.NodeProto{}
	g.consumers = map[string][]*onnxpb.NodeProto{}
	g.inits = map[string]*onnxpb.TensorProto{}
	g.names = map[string]bool{}
	for _, t := range g.P.Initializer {
		g.inits[t.GetName()] = t
		g.names[t.GetName()] = true
	}
	for _, v := range g.P.Input {
		g.names[v.GetName()] = true
	}
	for _, n := range g.P.Node {
		for _, o := range n.Output {
			if o != "" {
				g.producer[o] = n
				g.names[o] = true
			}
		}
		g.names[n.GetName()] = true
		seen := map[string]bool{}
		for _, in := range nodeInputs(n) {
			if in == "" || seen[in] {
				continue
			}
			seen[in] = true
			g.consumers[in] = append(g.consumers[in], n)
		}
	}
	g.dirty = false
}

// nodeInputs lists a node's explicit inputs followed by the outer-scope
// names its subgraphs use (implicit inputs).
func nodeInputs(n *onnxpb.NodeProto) []string {
	ins := append([]string(nil), n.Input...)
	for _, a := range n.Attribute {
		if a.G != nil {
			ins = append(ins, implicitInputs(a.G)...)
		}
		for _, sg := range a.Graphs {
			ins = append(ins, implicitInputs(sg)...)
		}
	}
	return ins
}

// implicitInputs returns the names a subgraph reads from enclosing scopes.
func implicitInputs(g *onnxpb.GraphProto) []string {
	local := map[string]bool{}
	for _, v := range g.Input {
		local[v.GetName()] = true
	}
	for _, t := range g.Initializer {
		local[t.GetName()] = true
	}
	for _, n := range g.Node {
		for _, o := range n.Output {
			local[o] = true
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range g.Node {
		for _, in := range nodeInputs(n) {
			if in != "" && !local[in] && !seen[in] {
				seen[in] = true
				out = append(out, in)
			}
		}
	}
	for _, o := range g.Output {
		if !local[o.GetName()] && !seen[o.GetName()] {
			seen[o.GetName()] = true
			out = append(out, o.GetName())
		}
	}
	return out
}

// Producer returns the node that outputs tensor name, or nil for graph
// inputs, initializers and unknown names.
func (g *Graph) Producer(name string) *onnxpb.NodeProto {
	g.index()
	return g.producer[name]
}

// Consumers returns the nodes that read tensor name (each once), including
// nodes whose subgraphs read it.
func (g *Graph) Consumers(name string) []*onnxpb.NodeProto {
	g.index()
	return g.consumers[name]
}

// IsGraphOutput reports whether name is one of the graph's outputs.
func (g *Graph) IsGraphOutput(name string) bool {
	for _, o := range g.P.Output {
		if o.GetName() == name {
			return true
		}
	}
	return false
}

// Inputs returns the graph inputs that are not initializers (older IR
// versions list initializers among the inputs too).
func (g *Graph) Inputs() []*onnxpb.ValueInfoProto {
	g.index()
	var out []*onnxpb.ValueInfoProto
	for _, v := range g.P.Input {
		if _, ok := g.inits[v.GetName()]; !ok {
			out = append(out, v)
		}
	}
	return out
}

// TopoOrder returns the nodes in a topological order that keeps the file's
// order wherever it is already valid. It fails on a cycle.
func (g *Graph) TopoOrder() ([]*onnxpb.NodeProto, error) {
	g.index()
	pos := map[*onnxpb.NodeProto]int{}
	for i, n := range g.P.Node {
		pos[n] = i
	}
	indeg := make([]int, len(g.P.Node))
	succ := make([][]int, len(g.P.Node))
	for i, n := range g.P.Node {
		seen := map[int]bool{}
		for _, in := range nodeInputs(n) {
			if p, ok := g.producer[in]; ok {
				j := pos[p]
				if !seen[j] {
					seen[j] = true
					indeg[i]++
					succ[j] = append(succ[j], i)
				}
			}
		}
	}
	// A min-heap on file position keeps the original order when valid.
	ready := &intHeap{}
	for i, d := range indeg {
		if d == 0 {
			ready.push(i)
		}
	}
	out := make([]*onnxpb.NodeProto, 0, len(g.P.Node))
	for ready.len() > 0 {
		i := ready.pop()
		out = append(out, g.P.Node[i])
		for _, j := range succ[i] {
			indeg[j]--
			if indeg[j] == 0 {
				ready.push(j)
			}
		}
	}
	if len(out) != len(g.P.Node) {
		for i, d := range indeg {
			if d > 0 {
				n := g.P.Node[i]
				return nil, fmt.Errorf("graph has a cycle through node %q (%s)", n.GetName(), n.GetOpType())
			}
		}
	}
	return out, nil
}

// Sort reorders the graph's nodes topologically (see TopoOrder).
func (g *Graph) Sort() error {
	order, err := g.TopoOrder()
	if err != nil {
		return err
	}
	g.P.Node = order
	return nil
}

type intHeap struct{ a []int }

func (h *intHeap) len() int { return len(h.a) }
func (h *intHeap) push(v int) {
	h.a = append(h.a, v)
	i := len(h.a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h.a[p] <= h.a[i] {
			break
		}
		h.a[p], h.a[i] = h.a[i], h.a[p]
		i = p
	}
}
func (h *intHeap) pop() int {
	top := h.a[0]
	last := len(h.a) - 1
	h.a[0] = h.a[last]
	h.a = h.a[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.a) && h.a[l] < h.a[m] {
			m = l
		}
		if r < len(h.a) && h.a[r] < h.a[m] {
			m = r
		}
		if m == i {
			break
		}
		h.a[i], h.a[m] = h.a[m], h.a[i]
		i = m
	}
	return top
}

// AddNode appends a node (Sort restores topological order if needed).
func (g *Graph) AddNode(n *onnxpb.NodeProto) {
	g.P.Node = append(g.P.Node, n)
	g.dirty = true
}

// RemoveNode deletes a node; it does not rewire its consumers.
func (g *Graph) RemoveNode(n *onnxpb.NodeProto) {
	for i, m := range g.P.Node {
		if m == n {
			g.P.Node = append(g.P.Node[:i], g.P.Node[i+1:]...)
			break
		}
	}
	g.dirty = true
}

// ReplaceUses makes every consumer of tensor old read tensor new instead,
// including graph outputs if outputs is true.
func (g *Graph) ReplaceUses(old, new string, outputs bool) {
	for _, n := range g.P.Node {
		for i, in := range n.Input {
			if in == old {
				n.Input[i] = new
			}
		}
	}
	if outputs {
		for _, o := range g.P.Output {
			if o.GetName() == old {
				o.Name = proto.String(new)
			}
		}
	}
	g.dirty = true
}

// SetInput sets input i of node n.
func (g *Graph) SetInput(n *onnxpb.NodeProto, i int, name string) {
	n.Input[i] = name
	g.dirty = true
}

// UniqueName returns base, or base with a numeric suffix, that no tensor,
// node or initializer of the graph uses yet, and reserves it.
func (g *Graph) UniqueName(base string) string {
	g.index()
	name := base
	for i := 1; g.names[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	g.names[name] = true
	return name
}

// RemoveUnused deletes nodes whose outputs nobody reads (and are not graph
// outputs), repeatedly, then initializers nobody reads. It returns how many
// nodes and initializers it removed.
func (g *Graph) RemoveUnused() (nodes, inits int) {
	for {
		g.index()
		removed := false
		keep := g.P.Node[:0]
		for _, n := range g.P.Node {
			used := false
			for _, o := range n.Output {
				if o != "" && (len(g.consumers[o]) > 0 || g.IsGraphOutput(o)) {
					used = true
					break
				}
			}
			if used || len(n.Output) == 0 {
				keep = append(keep, n)
			} else {
				nodes++
				removed = true
			}
		}
		g.P.Node = keep
		g.dirty = true
		if !removed {
			break
		}
	}
	g.index()
	keepInit := g.P.Initializer[:0]
	for _, t := range g.P.Initializer {
		if len(g.consumers[t.GetName()]) > 0 || g.IsGraphOutput(t.GetName()) {
			keepInit = append(keepInit, t)
		} else {
			inits++
		}
	}
	g.P.Initializer = keepInit
	// Drop graph inputs that named removed initializers (IR < 4 style).
	keepIn := g.P.Input[:0]
	for _, v := range g.P.Input {
		if _, wasInit := g.inits[v.GetName()]; wasInit && len(g.consumers[v.GetName()]) == 0 && !g.IsGraphOutput(v.GetName()) {
			continue
		}
		keepIn = append(keepIn, v)
	}
	g.P.Input = keepIn
	g.dirty = true
	return nodes, inits
}

// WeightSource says where a weight lives.
type WeightSource string

const (
	FromInitializer WeightSource = "initializer"
	FromConstant    WeightSource = "constant"
)

// WeightRef locates one weight tensor.
type WeightRef struct {
	Name   string
	Source WeightSource
	DType  DType
	Shape  []int64
	// Count is the number of elements.
	Count int64
	tp    *onnxpb.TensorProto
	node  *onnxpb.NodeProto
}

// Weights lists every weight of the main graph: initializers first, in file
// order, then the outputs of Constant nodes whose value is a tensor or a
// list of numbers.
func (g *Graph) Weights() []WeightRef {
	var out []WeightRef
	for _, t := range g.P.Initializer {
		out = append(out, initializerRef(t))
	}
	for _, n := range g.P.Node {
		if !isConstant(n) || len(n.Output) != 1 {
			continue
		}
		if r, ok := constantRef(n); ok {
			out = append(out, r)
		}
	}
	return out
}

func initializerRef(t *onnxpb.TensorProto) WeightRef {
	n, _ := NumElements(t.Dims)
	return WeightRef{Name: t.GetName(), Source: FromInitializer, DType: DType(t.GetDataType()), Shape: t.Dims, Count: n, tp: t}
}

// isConstant reports whether n is a default-domain Constant node.
func isConstant(n *onnxpb.NodeProto) bool {
	return n.GetOpType() == "Constant" && (n.GetDomain() == "" || n.GetDomain() == "ai.onnx")
}

func constantRef(n *onnxpb.NodeProto) (WeightRef, bool) {
	for _, a := range n.Attribute {
		r := WeightRef{Name: n.Output[0], Source: FromConstant, node: n}
		switch a.GetName() {
		case "value":
			if a.T == nil {
				return r, false
			}
			r.tp = a.T
			r.DType = DType(a.T.GetDataType())
			r.Shape = a.T.Dims
			r.Count, _ = NumElements(a.T.Dims)
		case "value_float":
			r.DType, r.Count = Float32, 1
		case "value_floats":
			r.DType, r.Count, r.Shape = Float32, int64(len(a.Floats)), []int64{int64(len(a.Floats))}
		case "value_int":
			r.DType, r.Count = Int64, 1
		case "value_ints":
			r.DType, r.Count, r.Shape = Int64, int64(len(a.Ints)), []int64{int64(len(a.Ints))}
		case "sparse_value":
			if a.SparseTensor == nil {
				return r, false
			}
			r.DType = DType(a.SparseTensor.GetValues().GetDataType())
			r.Shape = a.SparseTensor.Dims
			r.Count, _ = NumElements(a.SparseTensor.Dims)
		default:
			continue
		}
		return r, true
	}
	return WeightRef{}, false
}

func (g *Graph) findWeight(name string) (WeightRef, bool) {
	g.index()
	if t, ok := g.inits[name]; ok {
		return initializerRef(t), true
	}
	if p := g.producer[name]; p != nil && isConstant(p) {
		return constantRef(p)
	}
	return WeightRef{}, false
}

// IsWeight reports whether name is an initializer or a Constant's output.
func (g *Graph) IsWeight(name string) bool {
	_, ok := g.findWeight(name)
	return ok
}

// Weight decodes the weight called name, wherever it lives.
func (g *Graph) Weight(name string) (*Tensor, error) {
	r, ok := g.findWeight(name)
	if !ok {
		return nil, fmt.Errorf("%q is not a weight (initializer or Constant)", name)
	}
	return r.Tensor()
}

// Tensor decodes the referenced weight.
func (r WeightRef) Tensor() (*Tensor, error) {
	if r.tp != nil {
		t, err := TensorFromProto(r.tp)
		if err != nil {
			return nil, err
		}
		t.Name = r.Name
		return t, nil
	}
	if r.node == nil {
		return nil, fmt.Errorf("weight %q has no data", r.Name)
	}
	for _, a := range r.node.Attribute {
		switch a.GetName() {
		case "value_float":
			return &Tensor{Name: r.Name, DType: Float32, Data: []float32{a.GetF()}}, nil
		case "value_floats":
			return &Tensor{Name: r.Name, DType: Float32, Shape: []int64{int64(len(a.Floats))}, Data: append([]float32(nil), a.Floats...)}, nil
		case "value_int":
			return &Tensor{Name: r.Name, DType: Int64, Data: []int64{a.GetI()}}, nil
		case "value_ints":
			return &Tensor{Name: r.Name, DType: Int64, Shape: []int64{int64(len(a.Ints))}, Data: append([]int64(nil), a.Ints...)}, nil
		case "sparse_value":
			return nil, fmt.Errorf("weight %q: sparse Constant values are not supported", r.Name)
		}
	}
	return nil, fmt.Errorf("weight %q has no data", r.Name)
}

// SetWeight replaces the data (and possibly dtype and shape) of the weight
// called name where it lives: the initializer is rewritten in place, a
// Constant node gets a new `value` tensor. Other parts of the model are
// left untouched.
func (g *Graph) SetWeight(name string, t *Tensor) error {
	r, ok := g.findWeight(name)
	if !ok {
		return fmt.Errorf("%q is not a weight (initializer or Constant)", name)
	}
	p, err := t.ToProto()
	if err != nil {
		return err
	}
	p.Name = proto.String(name)
	if r.Source == FromInitializer {
		p.DocString = r.tp.DocString
		proto.Reset(r.tp)
		proto.Merge(r.tp, p)
		// keep the graph input's declared type consistent (IR < 4 models)
		for _, v := range g.P.Input {
			if v.GetName() == name {
				v.Type = TensorType(t.DType, t.Shape)
			}
		}
		return nil
	}
	p.Name = nil
	r.node.Attribute = []*onnxpb.AttributeProto{{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: p}}
	return nil
}

// AddInitializer adds a new initializer; the name must be unused.
func (g *Graph) AddInitializer(t *Tensor) error {
	g.index()
	if g.names[t.Name] {
		return fmt.Errorf("name %q is already used in the graph", t.Name)
	}
	p, err := t.ToProto()
	if err != nil {
		return err
	}
	g.P.Initializer = append(g.P.Initializer, p)
	g.dirty = true
	return nil
}

// TensorType builds a tensor TypeProto with fixed dims.
func TensorType(dt DType, shape []int64) *onnxpb.TypeProto {
	s := &onnxpb.TensorShapeProto{}
	for _, d := range shape {
		s.Dim = append(s.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(dt)), Shape: s}}}
}

// Dim is one dimension of a value's declared shape: a fixed size, a
// symbolic name, or unknown (Value -1, Param "").
type Dim struct {
	Value int64
	Param string
}

func (d Dim) String() string {
	switch {
	case d.Param != "":
		return d.Param
	case d.Value >= 0:
		return strconv.FormatInt(d.Value, 10)
	}
	return "?"
}

// ValueInfo is a graph input's or output's declared type.
type ValueInfo struct {
	Name  string
	DType DType
	// Shape is nil when the rank is unknown.
	Shape []Dim
	// Kind is "tensor", "sequence", "map", "optional" or "sparse_tensor".
	Kind string
}

// DescribeValue decodes a ValueInfoProto.
func DescribeValue(v *onnxpb.ValueInfoProto) ValueInfo {
	vi := ValueInfo{Name: v.GetName(), Kind: "tensor"}
	t := v.GetType()
	switch {
	case t.GetTensorType() != nil:
		tt := t.GetTensorType()
		vi.DType = DType(tt.GetElemType())
		if tt.Shape != nil {
			vi.Shape = []Dim{}
			for _, d := range tt.Shape.Dim {
				vi.Shape = append(vi.Shape, toDim(d))
			}
		}
	case t.GetSparseTensorType() != nil:
		vi.Kind = "sparse_tensor"
		vi.DType = DType(t.GetSparseTensorType().GetElemType())
	case t.GetSequenceType() != nil:
		vi.Kind = "sequence"
	case t.GetMapType() != nil:
		vi.Kind = "map"
	case t.GetOptionalType() != nil:
		vi.Kind = "optional"
	}
	return vi
}

func toDim(d *onnxpb.TensorShapeProto_Dimension) Dim {
	switch v := d.Value.(type) {
	case *onnxpb.TensorShapeProto_Dimension_DimValue:
		return Dim{Value: v.DimValue}
	case *onnxpb.TensorShapeProto_Dimension_DimParam:
		return Dim{Value: -1, Param: v.DimParam}
	}
	return Dim{Value: -1}
}

// OpHistogram counts the main graph's nodes by op type ("domain:Op" for
// domains other than the default), sorted by count then name.
func (g *Graph) OpHistogram() []OpCount {
	m := map[string]int{}
	for _, n := range g.P.Node {
		op := n.GetOpType()
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			op = d + ":" + op
		}
		m[op]++
	}
	out := make([]OpCount, 0, len(m))
	for k, v := range m {
		out = append(out, OpCount{Op: k, Count: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Op < out[j].Op
	})
	return out
}

// OpCount is one row of an op histogram.
type OpCount struct {
	Op    string `json:"op"`
	Count int    `json:"count"`
}
