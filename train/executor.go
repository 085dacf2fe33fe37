package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

type slotKind uint8

const (
	kindActivation slotKind = iota
	kindInput
	kindWeight
)

type slot struct {
	name     string
	kind     slotKind
	dtype    onnxio.DType
	val      *tensor
	grad     *tensor
	param    *Param
	weight   *tensor // the weight's value (kindWeight)
	rg       bool    // requires a gradient
	keep     bool    // a graph output or requested output: kept after Forward
	state    bool    // running statistics that training updates
	producer int
	ref      onnxio.WeightRef
}

type step struct {
	node   *onnxpb.NodeProto
	op     op
	in     []int // slot indices, -1 for an absent optional input
	out    []int // slot indices, -1 for an absent optional output
	grad   gradSpec
	want   []bool // per input: Backward computes its gradient
	active bool   // some input wants a gradient
}

// Executor runs one model's graph forward and backward.
type Executor struct {
	opts    Options
	opset   int64
	slots   []*slot
	byName  map[string]int
	steps   []*step
	inputs  []int
	outputs []int
	params  []*Param
	pool    pool
	rng     *rand.Rand
	threads int

	// releaseAfter[mode][i] lists the slots whose data is released after
	// forward step i (mode 0: Inference, 1: with backward); releaseBack[i]
	// those released after backward step i.
	releaseAfter [2][][]int
	releaseBack  [][]int

	lastMode Mode
	ran      bool // a forward pass ran and backward has not consumed it

	precision Precision // in effect
	precNote  string    // why it differs from Options.Precision
}

// New builds an executor for m. It fails with *onnxio.UnsupportedError
// (naming the node and op) if the graph uses an op, attribute or element
// type the engine does not implement. The executor copies the weights it
// needs; m is read again only by WriteWeights.
func New(m *onnxio.Model, o Options) (*Executor, error) {
	g := m.Graph()
	order, err := g.TopoOrder()
	if err != nil {
		return nil, err
	}
	e := &Executor{opts: o, opset: m.Opset(""), byName: map[string]int{}}
	e.threads = o.Threads
	if e.threads <= 0 {
		e.threads = runtime.GOMAXPROCS(0)
	}
	e.SetSeed(o.Seed)
	switch o.Precision {
	case FP32:
	case BF16:
		e.precision = BF16
		if kernels.BF16() == "" {
			e.precision = FP32
			e.precNote = "bf16 precision needs AMX-BF16 tiles, which this CPU (or the kernels implementation in use) lacks: training in fp32"
		}
	default:
		return nil, fmt.Errorf("precision %v: want FP32 or BF16", o.Precision)
	}
	if e.opset == 0 {
		e.opset = 1
	}

	add := func(s *slot) int {
		e.byName[s.name] = len(e.slots)
		e.slots = append(e.slots, s)
		return len(e.slots) - 1
	}
	// Graph inputs.
	for _, v := range g.Inputs() {
		vi := onnxio.DescribeValue(v)
		if vi.Kind != "tensor" {
			return nil, &onnxio.UnsupportedError{Node: vi.Name, Op: "input", Reason: vi.Kind + " inputs"}
		}
		if !supportedDType(vi.DType) {
			return nil, &onnxio.UnsupportedError{Node: vi.Name, Op: "input", Reason: "element type " + vi.DType.String()}
		}
		e.inputs = append(e.inputs, add(&slot{name: vi.Name, kind: kindInput, dtype: vi.DType, producer: -1}))
	}
	// Weights: initializers and Constant nodes.
	constOut := map[*onnxpb.NodeProto]bool{}
	for _, w := range g.Weights() {
		if _, dup := e.byName[w.Name]; dup {
			continue // a name defined twice (a malformed graph) keeps its first meaning
		}
		if w.Source == onnxio.FromConstant {
			constOut[g.Producer(w.Name)] = true
		}
		add(&slot{name: w.Name, kind: kindWeight, dtype: w.DType, producer: -1, ref: w})
	}
	for _, n := range order {
		if constOut[n] {
			continue
		}
		st := &step{node: n}
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			return nil, &onnxio.UnsupportedError{Node: nodeName(n), Op: d + ":" + n.GetOpType()}
		}
		bld, ok := registry[n.GetOpType()]
		if !ok {
			return nil, &onnxio.UnsupportedError{Node: nodeName(n), Op: n.GetOpType()}
		}
		b := &buildCtx{node: n, opset: e.opset, nOut: len(n.Output)}
		for _, name := range n.Input {
			if name == "" {
				st.in = append(st.in, -1)
				b.in = append(b.in, onnxio.Undefined)
				b.consts = append(b.consts, nil)
				continue
			}
			idx, ok := e.byName[name]
			if !ok {
				return nil, fmt.Errorf("node %q (%s) reads %q, which nothing produces", nodeName(n), n.GetOpType(), name)
			}
			s := e.slots[idx]
			if !supportedDType(s.dtype) {
				return nil, &onnxio.UnsupportedError{Node: nodeName(n), Op: n.GetOpType(), Reason: fmt.Sprintf("input %q is %s", name, s.dtype)}
			}
			if s.kind == kindWeight && s.weight == nil {
				if err := e.loadWeight(s); err != nil {
					return nil, &onnxio.UnsupportedError{Node: nodeName(n), Op: n.GetOpType(), Reason: err.Error()}
				}
			}
			st.in = append(st.in, idx)
			b.in = append(b.in, s.dtype)
			b.consts = append(b.consts, s.weight)
		}
		res, err := bld(b)
		if err != nil {
			return nil, err
		}
		if len(res.out) != len(n.Output) {
			return nil, fmt.Errorf("node %q (%s): %d outputs, the op produces %d", nodeName(n), n.GetOpType(), len(n.Output), len(res.out))
		}
		st.op, st.grad = res.op, res.grad
		for j, name := range n.Output {
			if name == "" {
				st.out = append(st.out, -1)
				continue
			}
			if !supportedDType(res.out[j]) {
				return nil, &onnxio.UnsupportedError{Node: nodeName(n), Op: n.GetOpType(), Reason: "output type " + res.out[j].String()}
			}
			st.out = append(st.out, add(&slot{name: name, kind: kindActivation, dtype: res.out[j], producer: len(e.steps)}))
		}
		for _, k := range res.stateInputs {
			if k < len(st.in) && st.in[k] >= 0 && e.slots[st.in[k]].kind == kindWeight && e.slots[st.in[k]].dtype == onnxio.Float32 {
				e.slots[st.in[k]].state = true
			}
		}
		e.steps = append(e.steps, st)
	}
	for _, v := range m.Proto.Graph.Output {
		idx, ok := e.byName[v.GetName()]
		if !ok {
			return nil, fmt.Errorf("graph output %q is not produced by any node", v.GetName())
		}
		s := e.slots[idx]
		if s.kind == kindWeight && s.weight == nil {
			if err := e.loadWeight(s); err != nil {
				return nil, &onnxio.UnsupportedError{Node: s.name, Op: "output", Reason: err.Error()}
			}
		}
		s.keep = true
		e.outputs = append(e.outputs, idx)
	}
	for _, name := range o.Outputs {
		idx, ok := e.byName[name]
		if !ok {
			return nil, fmt.Errorf("requested output %q is not a tensor of the graph", name)
		}
		e.slots[idx].keep = true
	}
	if !o.noFusion {
		e.fuse()
	}
	if err := e.chooseParams(o); err != nil {
		return nil, err
	}
	e.plan()
	return e, nil
}

func nodeName(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	if len(n.Output) > 0 {
		return n.Output[0]
	}
	return n.GetOpType()
}

// loadWeight decodes a weight into the executor's own copy.
func (e *Executor) loadWeight(s *slot) error {
	t, err := s.ref.Tensor()
	if err != nil {
		return err
	}
	if !supportedDType(t.DType) {
		return fmt.Errorf("weight %q is %s", s.name, t.DType)
	}
	v, err := fromONNX(t.Clone())
	if err != nil {
		return err
	}
	s.weight = v
	s.dtype = v.dtype
	return nil
}

// chooseParams marks the trainable weights and propagates which values
// need gradients.
func (e *Executor) chooseParams(o Options) error {
	feedsGrad := map[int]bool{}
	for _, st := range e.steps {
		for k, idx := range st.in {
			if idx >= 0 && st.grad.diffIn&(1<<k) != 0 {
				feedsGrad[idx] = true
			}
		}
	}
	for idx, s := range e.slots {
		switch s.kind {
		case kindInput:
			s.rg = o.InputGrads && s.dtype == onnxio.Float32
		case kindWeight:
			if s.weight == nil || s.dtype != onnxio.Float32 || !feedsGrad[idx] || s.state {
				continue
			}
			train := s.ref.Source == onnxio.FromInitializer || s.ref.Count > 1
			if o.Trainable != nil {
				train = o.Trainable(s.ref)
			}
			if !train {
				continue
			}
			shape := make([]int64, len(s.weight.shape))
			for i, d := range s.weight.shape {
				shape[i] = int64(d)
			}
			p := &Param{Name: s.name, Shape: shape, Data: s.weight.f, Grad: make([]float32, len(s.weight.f))}
			s.param = p
			s.rg = true
			e.params = append(e.params, p)
		}
	}
	for _, st := range e.steps {
		st.want = make([]bool, len(st.in))
		for k, idx := range st.in {
			if idx >= 0 && e.slots[idx].rg && st.grad.diffIn&(1<<k) != 0 {
				st.want[k] = true
				st.active = true
			}
		}
		if st.active {
			for j, idx := range st.out {
				if idx >= 0 && e.slots[idx].dtype == onnxio.Float32 && st.grad.constOut&(1<<j) == 0 {
					e.slots[idx].rg = true
				}
			}
		}
	}
	return nil
}

// plan computes when each activation's data is released.
func (e *Executor) plan() {
	n := len(e.steps)
	lastUse := make([]int, len(e.slots))
	for i := range lastUse {
		lastUse[i] = -1
	}
	for i, st := range e.steps {
		for _, idx := range st.in {
			if idx >= 0 {
				lastUse[idx] = i
			}
		}
	}
	// savedUntil: the smallest active step whose backward reads the slot.
	savedUntil := make([]int, len(e.slots))
	for i := range savedUntil {
		savedUntil[i] = -1
	}
	for i, st := range e.steps {
		if !st.active {
			continue
		}
		mark := func(idx int) {
			if idx >= 0 && (savedUntil[idx] < 0 || i < savedUntil[idx]) {
				savedUntil[idx] = i
			}
		}
		for k, idx := range st.in {
			if st.grad.saveIn&(1<<k) != 0 {
				mark(idx)
			}
		}
		for k, idx := range st.out {
			if st.grad.saveOut&(1<<k) != 0 {
				mark(idx)
			}
		}
	}
	for m := range e.releaseAfter {
		e.releaseAfter[m] = make([][]int, n)
	}
	e.releaseBack = make([][]int, n)
	for idx, s := range e.slots {
		if s.kind != kindActivation || s.keep || s.producer < 0 {
			continue // not an activation, kept, or fused away
		}
		at := lastUse[idx]
		if at < 0 {
			at = s.producer
		}
		e.releaseAfter[0][at] = append(e.releaseAfter[0][at], idx)
		if savedUntil[idx] >= 0 {
			e.releaseBack[savedUntil[idx]] = append(e.releaseBack[savedUntil[idx]], idx)
		} else {
			e.releaseAfter[1][at] = append(e.releaseAfter[1][at], idx)
		}
	}
}

// Precision returns the arithmetic the executor's matrix products use:
// Options.Precision, or FP32 where BF16 is not available (see
// PrecisionNote).
func (e *Executor) Precision() Precision { return e.precision }

// PrecisionNote is a one-line notice for the user when the precision in
// effect differs from the one asked for, else "".
func (e *Executor) PrecisionNote() string { return e.precNote }

// SetSeed resets the generator Dropout and ResetParams draw from.
func (e *Executor) SetSeed(seed uint64) {
	e.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Params returns the trainable weights in the model's weight order
// (initializers first, then Constant nodes).
func (e *Executor) Params() []*Param { return e.params }

// Param returns the trainable weight called name, or nil.
func (e *Executor) Param(name string) *Param {
	if idx, ok := e.byName[name]; ok {
		return e.slots[idx].param
	}
	return nil
}

// ZeroGrad clears every parameter's gradient.
func (e *Executor) ZeroGrad() {
	for _, p := range e.params {
		clear(p.Grad)
	}
}

// InputNames returns the graph inputs Forward expects.
func (e *Executor) InputNames() []string {
	out := make([]string, len(e.inputs))
	for i, idx := range e.inputs {
		out[i] = e.slots[idx].name
	}
	return out
}

// OutputNames returns the graph outputs, in the order Forward returns them.
func (e *Executor) OutputNames() []string {
	out := make([]string, len(e.outputs))
	for i, idx := range e.outputs {
		out[i] = e.slots[idx].name
	}
	return out
}

// resetRun releases what the previous pass left.
func (e *Executor) resetRun() {
	for _, s := range e.slots {
		if s.grad != nil {
			e.pool.release(s.grad)
			s.grad = nil
		}
		switch s.kind {
		case kindActivation:
			if s.val != nil {
				e.pool.release(s.val)
				s.val = nil
			}
		case kindInput:
			s.val = nil
		}
	}
	e.ran = false
}

// Forward runs the graph on inputs (every graph input, by name) and returns
// the graph outputs in graph order. The returned tensors share the
// executor's memory for float32 and int64 data: they stay valid until the
// next Forward. The engine never writes into the inputs' data.
func (e *Executor) Forward(ctx context.Context, inputs map[string]*onnxio.Tensor, mode Mode) ([]*onnxio.Tensor, error) {
	if mode < Inference || mode > EvalGrad {
		return nil, fmt.Errorf("unknown mode %d", int(mode))
	}
	e.resetRun()
	for _, idx := range e.inputs {
		s := e.slots[idx]
		t, ok := inputs[s.name]
		if !ok {
			return nil, fmt.Errorf("missing input %q", s.name)
		}
		if t.DType != s.dtype {
			return nil, fmt.Errorf("input %q is %s, the model declares %s", s.name, t.DType, s.dtype)
		}
		v, err := fromONNX(t)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", s.name, err)
		}
		s.val = v
	}
	if len(inputs) > len(e.inputs) {
		for name := range inputs {
			if idx, ok := e.byName[name]; !ok || e.slots[idx].kind != kindInput {
				return nil, fmt.Errorf("the model has no input %q", name)
			}
		}
	}
	c := &runCtx{pool: &e.pool, threads: e.threads, train: mode == Training, grad: mode != Inference, rng: e.rng, bf16: e.precision == BF16}
	rel := e.releaseAfter[0]
	if c.grad {
		rel = e.releaseAfter[1]
	}
	ins := make([]*tensor, 0, 8)
	for i, st := range e.steps {
		if err := ctx.Err(); err != nil {
			e.resetRun()
			return nil, err
		}
		ins = ins[:0]
		for _, idx := range st.in {
			ins = append(ins, e.value(idx))
		}
		outs, err := callForward(st, c, ins)
		if err != nil {
			e.resetRun()
			return nil, err
		}
		for j, idx := range st.out {
			o := outs[j]
			if idx < 0 {
				e.pool.release(o)
				continue
			}
			if o == nil {
				e.resetRun()
				return nil, fmt.Errorf("node %q (%s): output %d not computed", nodeName(st.node), st.node.GetOpType(), j)
			}
			if o.dtype != e.slots[idx].dtype {
				e.resetRun()
				return nil, fmt.Errorf("node %q (%s): output %q is %s, expected %s", nodeName(st.node), st.node.GetOpType(), e.slots[idx].name, o.dtype, e.slots[idx].dtype)
			}
			e.slots[idx].val = o
		}
		for _, idx := range rel[i] {
			e.pool.release(e.slots[idx].val)
		}
	}
	e.lastMode = mode
	e.ran = c.grad
	res := make([]*onnxio.Tensor, len(e.outputs))
	for i, idx := range e.outputs {
		res[i] = toONNX(e.slots[idx].name, e.value(idx))
	}
	return res, nil
}

func (e *Executor) value(idx int) *tensor {
	if idx < 0 {
		return nil
	}
	s := e.slots[idx]
	if s.kind == kindWeight {
		return s.weight
	}
	return s.val
}

// callForward runs one op, turning a panic inside it (a shape the op's
// checks missed) into an error naming the node.
func callForward(st *step, c *runCtx, ins []*tensor) (outs []*tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("node %q (%s): internal error: %v", nodeName(st.node), st.node.GetOpType(), r)
		}
	}()
	outs, err = st.op.forward(c, ins)
	if err != nil {
		return nil, fmt.Errorf("node %q (%s): %w", nodeName(st.node), st.node.GetOpType(), err)
	}
	if len(outs) != len(st.out) {
		return nil, fmt.Errorf("node %q (%s): op returned %d outputs, want %d", nodeName(st.node), st.node.GetOpType(), len(outs), len(st.out))
	}
	return outs, nil
}

func callBackward(st *step, c *runCtx, ins, outs, gouts []*tensor) (gins []*tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("node %q (%s): internal error in backward: %v", nodeName(st.node), st.node.GetOpType(), r)
		}
	}()
	b, ok := st.op.(backwarder)
	if !ok {
		return nil, fmt.Errorf("node %q (%s): op has no backward", nodeName(st.node), st.node.GetOpType())
	}
	gins, err = b.backward(c, ins, outs, gouts, st.want)
	if err != nil {
		return nil, fmt.Errorf("node %q (%s) backward: %w", nodeName(st.node), st.node.GetOpType(), err)
	}
	if len(gins) != len(st.in) {
		return nil, fmt.Errorf("node %q (%s): backward returned %d gradients, want %d", nodeName(st.node), st.node.GetOpType(), len(gins), len(st.in))
	}
	return gins, nil
}

// Value returns a tensor kept after Forward: a graph output, a graph
// input, a weight, or a name listed in Options.Outputs. Its data is shared
// with the executor until the next Forward.
func (e *Executor) Value(name string) (*onnxio.Tensor, error) {
	idx, ok := e.byName[name]
	if !ok {
		return nil, fmt.Errorf("no tensor %q in the graph", name)
	}
	v := e.value(idx)
	if v == nil || (v.f == nil && v.i == nil && v.size() > 0) {
		return nil, fmt.Errorf("tensor %q is not available (list it in Options.Outputs to keep it)", name)
	}
	return toONNX(name, v), nil
}

// WriteWeights stores the trainable weights and the running statistics
// training updates into m (the model the executor was built from, or a copy
// of it), where each lives: initializers in place, Constant nodes get a new
// value. Nothing else in m changes.
func (e *Executor) WriteWeights(m *onnxio.Model) error {
	g := m.Graph()
	for _, s := range e.slots {
		if s.param == nil && !s.state {
			continue
		}
		w := s.weight
		shape := make([]int64, len(w.shape))
		for i, d := range w.shape {
			shape[i] = int64(d)
		}
		t := &onnxio.Tensor{Name: s.name, DType: onnxio.Float32, Shape: shape, Data: append([]float32(nil), w.f...)}
		if err := g.SetWeight(s.name, t); err != nil {
			return fmt.Errorf("write weights: %w", err)
		}
	}
	return nil
}

// MemStats describes the executor's activation memory.
type MemStats struct {
	// LiveBytes is what activations and gradients hold now; PeakBytes the
	// most they held at once since the executor was built (or since
	// ResetPeak); PoolBytes what the pool keeps for reuse.
	LiveBytes, PeakBytes, PoolBytes int64
	// Allocs counts buffers the pool had to allocate (not reuse).
	Allocs int64
}

// MemStats reports activation memory use.
func (e *Executor) MemStats() MemStats {
	return MemStats{LiveBytes: e.pool.live, PeakBytes: e.pool.peak, PoolBytes: e.pool.bytes(), Allocs: e.pool.allocs}
}

// ResetPeak restarts peak tracking at the current live size.
func (e *Executor) ResetPeak() { e.pool.peak = e.pool.live }
