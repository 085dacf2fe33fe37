package opinfo

import (
	"fmt"
	"slices"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// ChannelMap says which of node n's other inputs and outputs change
// together with indices along axis `axis` of port `from`, and how the
// indices map onto them: the facts a structured pruner needs to grow a
// dependency group one node at a time. Forward (from an input) it follows
// the indices to the outputs and the coupled inputs (the other operand of
// an Add, a BatchNormalization's parameters, a Conv's weight along its
// input-channel axis); backward (from an output) it finds the inputs that
// produce them. A negative axis counts from the back of the port's shape.
//
// It returns ErrUnknown for an op the table does not know and ErrNoMap
// when the indices do not map cleanly for this node or the shapes needed
// to tell are missing from s.
func ChannelMap(n *onnxpb.NodeProto, s Shapes, from Port, axis int) (Map, error) {
	o, ok := ForNode(n)
	if !ok {
		return Map{}, fmt.Errorf("%s node %q: %w", n.GetOpType(), n.GetName(), ErrUnknown)
	}
	c := &mapper{n: n, o: o, s: s, from: from}
	if !c.present(from) {
		return Map{}, c.noMap("the node has no %s", portName(from))
	}
	if axis < 0 {
		r := c.rank(from)
		if r < 0 {
			return Map{}, c.noMap("rank of %s unknown", portName(from))
		}
		axis += r
	}
	if r := c.rank(from); axis < 0 || r >= 0 && axis >= r {
		return Map{}, c.noMap("axis %d out of range for %s", axis, portName(from))
	}
	c.axis = axis
	c.flow = o.Flow
	if c.legacy() && o.Legacy.PerChannel {
		c.flow = FlowChannel
	}
	var err error
	switch c.flow {
	case FlowCompute:
		err = c.compute()
	case FlowSame, FlowChannel, FlowAlong:
		err = c.same()
	case FlowBroadcast:
		err = c.broadcast()
	case FlowSpatial:
		err = c.spatial()
	case FlowReduce:
		err = c.reduce()
	case FlowConcat:
		err = c.concat()
	case FlowSplit:
		err = c.split()
	case FlowSlice:
		err = c.slice()
	case FlowReshape:
		err = c.reshape()
	case FlowTranspose:
		err = c.transpose()
	case FlowGather:
		err = c.gather()
	case FlowShape:
		if from.Out {
			err = c.noMap("a shape value carries no channels")
		}
	}
	return c.m, err
}

func portName(p Port) string {
	if p.Out {
		return fmt.Sprintf("output %d", p.Index)
	}
	return fmt.Sprintf("input %d", p.Index)
}

type mapper struct {
	n    *onnxpb.NodeProto
	o    *Op
	s    Shapes
	from Port
	axis int
	flow Flow // the op's flow at the model's opset
	m    Map
}

// legacy reports whether the model's opset predates the op's current
// behaviour.
func (c *mapper) legacy() bool {
	return c.o.Legacy != nil && c.s.Opset > 0 && c.s.Opset < c.o.Legacy.Before
}

func (c *mapper) noMap(format string, args ...any) error {
	return fmt.Errorf("%s node %q: %w: %s", c.n.GetOpType(), c.n.GetName(), ErrNoMap, fmt.Sprintf(format, args...))
}

func (c *mapper) present(p Port) bool {
	names := c.n.Input
	if p.Out {
		names = c.n.Output
	}
	return p.Index >= 0 && p.Index < len(names) && names[p.Index] != ""
}

func (c *mapper) shape(p Port) []int64 {
	if p.Out {
		return c.s.out(p.Index)
	}
	return c.s.in(p.Index)
}

// rank returns the port's rank, or -1 when its shape is unknown.
func (c *mapper) rank(p Port) int {
	if sh := c.shape(p); sh != nil {
		return len(sh)
	}
	return -1
}

// dim returns the size of axis a of port p, or -1 when unknown.
func (c *mapper) dim(p Port, a int) int64 {
	sh := c.shape(p)
	if a < 0 || a >= len(sh) {
		return -1
	}
	return sh[a]
}

func (c *mapper) role(p Port) Role {
	if p.Out {
		if o, ok := c.o.Output(p.Index); ok {
			return o.Role
		}
		return Data
	}
	if i, ok := c.o.Input(p.Index); ok {
		return i.Role
	}
	return Control
}

// ports lists the node's present ports with the given roles.
func (c *mapper) ports(out bool, roles ...Role) []Port {
	names := c.n.Input
	if out {
		names = c.n.Output
	}
	var ps []Port
	for i, name := range names {
		p := Port{Out: out, Index: i}
		if name != "" && slices.Contains(roles, c.role(p)) {
			ps = append(ps, p)
		}
	}
	return ps
}

func (c *mapper) link(p Port, axis int, x Index) {
	if p == c.from {
		return
	}
	c.m.Links = append(c.m.Links, Link{Port: p, Role: c.role(p), Axis: axis, Map: x})
}

// dataPorts are the inputs and outputs with Role Data.
func (c *mapper) dataPorts() []Port {
	return append(c.ports(false, Data), c.ports(true, Data)...)
}

// same handles FlowSame, FlowChannel and FlowAlong: data axes map to
// themselves; per-channel parameters (axis 0) follow the Channel axis;
// parameters of an Along op broadcast from the back; Stat outputs keep
// the axes the op does not work along.
func (c *mapper) same() error {
	role := c.role(c.from)
	rank := max(c.rank(In(0)), c.rank(Out(0)))
	work, err := c.workAxes(rank)
	if err != nil {
		return err
	}
	isParam := func(r Role) bool { return r == Scale || r == Bias || r == Stat }
	params := c.ports(false, Scale, Bias, Stat)
	stats := c.ports(true, Stat)
	// dataAxis is the data axis the traced indices live on.
	dataAxis := c.axis
	switch {
	case role == Data:
	case c.flow == FlowChannel && isParam(role):
		if c.axis != 0 {
			return c.noMap("a per-channel parameter has one axis")
		}
		dataAxis = c.o.Channel.Resolve(max(rank, 2))
	case c.flow == FlowAlong && !c.from.Out && isParam(role):
		pr := c.rank(c.from)
		if rank < 0 || pr < 0 {
			return c.noMap("ranks unknown")
		}
		dataAxis = c.axis + rank - pr
	case c.flow == FlowAlong && c.from.Out && role == Stat:
		if work.has(c.axis) {
			return c.noMap("a statistic has size 1 along the normalized axes")
		}
	default:
		return c.noMap("%s is not data", portName(c.from))
	}
	for _, p := range c.dataPorts() {
		c.link(p, dataAxis, Identity())
	}
	c.m.Mixed = work.has(dataAxis)
	switch c.flow {
	case FlowChannel:
		if dataAxis == c.o.Channel.Resolve(max(rank, 2)) {
			for _, p := range append(params, stats...) {
				if c.dim(p, 0) != 1 { // a single shared value does not change
					c.link(p, 0, Identity())
				}
			}
		}
	case FlowAlong:
		for _, p := range params {
			pr := c.rank(p)
			if pr < 0 || rank < 0 {
				return c.noMap("shape of %s unknown", portName(p))
			}
			if a := dataAxis - (rank - pr); a >= 0 && c.dim(p, a) != 1 {
				c.link(p, a, Identity())
			}
		}
		if !c.m.Mixed {
			for _, p := range stats {
				c.link(p, dataAxis, Identity())
			}
		}
	}
	return nil
}

// axisSet is a set of axes: those listed and, when from >= 0, every
// axis from `from` on (the rank need not be known).
type axisSet struct {
	list []int
	from int
}

func (w axisSet) has(a int) bool { return slices.Contains(w.list, a) || w.from >= 0 && a >= w.from }

// workAxes returns the axes an op works along, for a data tensor of the
// given rank (-1: unknown).
func (c *mapper) workAxes(rank int) (axisSet, error) {
	o := c.o
	none := axisSet{from: -1}
	if o.AxesAttr != "" {
		axes, ok := c.axesList()
		if !ok {
			return none, c.noMap("axes unknown")
		}
		if axes == nil {
			return axisSet{from: 0}, nil
		}
		list, err := c.normAxes(axes, rank)
		return axisSet{list: list, from: -1}, err
	}
	def, toEnd := o.AxisDefault, o.ToEnd
	if c.legacy() && !o.Legacy.PerChannel {
		def, toEnd = o.Legacy.AxisDefault, o.Legacy.ToEnd
	}
	if def == NoAxis && o.AxisAttr == "" {
		return none, nil
	}
	a := int(def)
	if o.AxisAttr != "" {
		a = int(onnxio.AttrInt(c.n, o.AxisAttr, int64(def)))
	}
	if a < 0 {
		if rank < 0 {
			return none, c.noMap("rank unknown")
		}
		a += rank
	}
	if toEnd {
		return axisSet{from: a}, nil
	}
	return axisSet{list: []int{a}, from: -1}, nil
}

// axesList reads an op's axes from the attribute, the axes input or the
// default; nil means every axis; false: the axes input is not a known
// constant.
func (c *mapper) axesList() ([]int, bool) {
	var v []int64
	switch {
	case onnxio.Attr(c.n, c.o.AxesAttr) != nil:
		v = onnxio.AttrInts(c.n, c.o.AxesAttr, nil)
	case c.o.AxesInput > 0 && c.present(In(c.o.AxesInput)):
		v = c.s.value(c.o.AxesInput)
		if v == nil {
			return nil, false
		}
	default:
		return slices.Clone(c.o.AxesDefault), true
	}
	out := make([]int, len(v))
	for i, a := range v {
		out[i] = int(a)
	}
	if len(out) == 0 {
		return nil, true
	}
	return out, true
}

func (c *mapper) normAxes(axes []int, rank int) ([]int, error) {
	out := make([]int, 0, len(axes))
	for _, a := range axes {
		if a < 0 {
			if rank < 0 {
				return nil, c.noMap("rank unknown")
			}
			a += rank
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// broadcast handles FlowBroadcast: operands align from the back with the
// output; an axis couples every operand whose size there is not 1.
func (c *mapper) broadcast() error {
	ops := c.ports(false, Data, Scale)
	outs := c.ports(true, Data)
	if c.role(c.from) == Control {
		return c.noMap("%s is not data", portName(c.from))
	}
	R := c.rank(Out(0))
	for _, p := range ops {
		if r := c.rank(p); r < 0 {
			return c.noMap("shape of %s unknown", portName(p))
		} else if c.o.Type != "Expand" {
			R = max(R, r)
		}
	}
	if R < 0 {
		return c.noMap("output rank unknown")
	}
	oa := c.axis
	if !c.from.Out {
		oa = c.axis + R - c.rank(c.from)
		if c.dim(c.from, c.axis) == 1 && c.dim(Out(0), oa) != 1 {
			return c.noMap("axis %d of %s is broadcast", c.axis, portName(c.from))
		}
	}
	for _, p := range outs {
		c.link(p, oa, Identity())
	}
	for _, p := range ops {
		if a := oa - (R - c.rank(p)); a >= 0 && c.dim(p, a) != 1 {
			c.link(p, a, Identity())
		}
	}
	return nil
}

// spatial handles FlowSpatial: batch and channel pass when their size is
// kept; the other axes are windowed.
func (c *mapper) spatial() error {
	if c.role(c.from) != Data {
		return c.noMap("%s is not data", portName(c.from))
	}
	if c.axis > 1 {
		return c.noMap("axis %d is spatial", c.axis)
	}
	for _, p := range c.dataPorts() {
		if d, e := c.dim(p, c.axis), c.dim(c.from, c.axis); d >= 0 && e >= 0 && d != e {
			return c.noMap("axis %d changes size (%d → %d)", c.axis, e, d)
		}
		c.link(p, c.axis, Identity())
	}
	return nil
}

// reduce handles FlowReduce.
func (c *mapper) reduce() error {
	if c.role(c.from) != Data {
		return c.noMap("%s is not data", portName(c.from))
	}
	rank := c.rank(In(0))
	keep := onnxio.AttrInt(c.n, "keepdims", 1) != 0
	if rank < 0 && keep {
		rank = c.rank(Out(0))
	}
	if rank < 0 {
		return c.noMap("rank unknown")
	}
	red, err := c.workAxes(rank)
	if err != nil {
		return err
	}
	if c.o.AxesAttr != "" && onnxio.AttrInt(c.n, "noop_with_empty_axes", 0) != 0 {
		if axes, _ := c.axesList(); axes == nil {
			red = axisSet{from: -1}
		}
	}
	var kept []int // input axes that reach the output, in order
	for i := range rank {
		if !red.has(i) {
			kept = append(kept, i)
		}
	}
	if !c.from.Out {
		if red.has(c.axis) {
			c.m.Mixed = true
			return nil
		}
		oa := c.axis
		if !keep {
			oa = slices.Index(kept, c.axis)
		}
		c.link(Out(0), oa, Identity())
		return nil
	}
	ia := c.axis
	if !keep {
		if c.axis >= len(kept) {
			return c.noMap("axis %d out of range", c.axis)
		}
		ia = kept[c.axis]
	} else if red.has(c.axis) {
		return c.noMap("axis %d is reduced to size 1", c.axis)
	}
	c.link(In(0), ia, Identity())
	return nil
}

// axisAttr resolves the op's single axis attribute against a rank.
func (c *mapper) axisAttr(rank int) (int, error) {
	a := int(onnxio.AttrInt(c.n, c.o.AxisAttr, int64(c.o.AxisDefault)))
	if c.o.AxisDefault == NoAxis && onnxio.Attr(c.n, c.o.AxisAttr) == nil {
		return 0, c.noMap("attribute %s missing", c.o.AxisAttr)
	}
	if a < 0 {
		if rank < 0 {
			return 0, c.noMap("rank unknown")
		}
		a += rank
	}
	return a, nil
}

// concat handles FlowConcat.
func (c *mapper) concat() error {
	ins := c.ports(false, Data)
	rank := c.rank(Out(0))
	for _, p := range ins {
		rank = max(rank, c.rank(p))
	}
	ax, err := c.axisAttr(rank)
	if err != nil {
		return err
	}
	if c.axis != ax {
		for _, p := range append(ins, Out(0)) {
			c.link(p, c.axis, Identity())
		}
		return nil
	}
	var off int64
	for _, p := range ins {
		d := c.dim(p, ax)
		if d < 0 {
			return c.noMap("size of %s along axis %d unknown", portName(p), ax)
		}
		switch {
		case c.from.Out:
			c.link(p, ax, Index{Lo: off, Hi: off + d})
		case p == c.from:
			c.link(Out(0), ax, Index{Hi: d, Offset: off})
		}
		off += d
	}
	return nil
}

// split handles FlowSplit: the outputs' sizes along the axis come from
// their shapes, else from the split attribute or input.
func (c *mapper) split() error {
	if c.role(c.from) != Data {
		return c.noMap("%s is not data", portName(c.from))
	}
	outs := c.ports(true, Data)
	ax, err := c.axisAttr(max(c.rank(In(0)), c.rank(Out(0))))
	if err != nil {
		return err
	}
	if c.axis != ax {
		for _, p := range append(outs, In(0)) {
			c.link(p, c.axis, Identity())
		}
		return nil
	}
	sizes := make([]int64, len(outs))
	split := onnxio.AttrInts(c.n, "split", nil)
	if split == nil {
		split = c.s.value(1)
	}
	for i, p := range outs {
		sizes[i] = c.dim(p, ax)
		if sizes[i] < 0 && len(split) == len(outs) {
			sizes[i] = split[i]
		}
		if sizes[i] < 0 {
			if d := c.dim(In(0), ax); d >= 0 && split == nil && d%int64(len(outs)) == 0 {
				sizes[i] = d / int64(len(outs))
			} else {
				return c.noMap("size of %s along axis %d unknown", portName(p), ax)
			}
		}
	}
	var off int64
	for i, p := range outs {
		switch {
		case !c.from.Out:
			c.link(p, ax, Index{Lo: off, Hi: off + sizes[i]})
		case p == c.from:
			c.link(In(0), ax, Index{Hi: sizes[i], Offset: off})
		}
		off += sizes[i]
	}
	return nil
}

// slice handles FlowSlice (step 1 only).
func (c *mapper) slice() error {
	if c.role(c.from) != Data {
		return c.noMap("%s is not data", portName(c.from))
	}
	other := Out(0)
	if c.from.Out {
		other = In(0)
	}
	dim := c.dim(In(0), c.axis)
	starts, ends, axes, steps, known := c.sliceParams()
	if !known {
		if d, e := c.dim(In(0), c.axis), c.dim(Out(0), c.axis); d >= 0 && d == e {
			c.link(other, c.axis, Identity())
			return nil
		}
		return c.noMap("slice bounds unknown")
	}
	rank := max(c.rank(In(0)), c.rank(Out(0)))
	for i, a := range axes {
		if a < 0 {
			if rank < 0 {
				return c.noMap("rank unknown")
			}
			a += int64(rank)
		}
		if int(a) != c.axis {
			continue
		}
		if i < len(steps) && steps[i] != 1 {
			return c.noMap("step %d", steps[i])
		}
		if dim < 0 {
			return c.noMap("size of axis %d unknown", c.axis)
		}
		clamp := func(v int64) int64 {
			if v < 0 {
				v += dim
			}
			return min(max(v, 0), dim)
		}
		lo, hi := clamp(starts[i]), clamp(ends[i])
		hi = max(hi, lo)
		if c.from.Out {
			c.link(other, c.axis, Index{Hi: hi - lo, Offset: lo})
		} else {
			c.link(other, c.axis, Index{Lo: lo, Hi: hi})
		}
		return nil
	}
	c.link(other, c.axis, Identity())
	return nil
}

// sliceParams reads starts, ends, axes and steps from the attributes
// (opset < 10) or the constant inputs.
func (c *mapper) sliceParams() (starts, ends, axes, steps []int64, ok bool) {
	if onnxio.Attr(c.n, "starts") != nil {
		starts, ends = onnxio.AttrInts(c.n, "starts", nil), onnxio.AttrInts(c.n, "ends", nil)
		axes = onnxio.AttrInts(c.n, "axes", nil)
	} else {
		starts, ends = c.s.value(1), c.s.value(2)
		if starts == nil || ends == nil {
			return nil, nil, nil, nil, false
		}
		if c.present(In(3)) {
			if axes = c.s.value(3); axes == nil {
				return nil, nil, nil, nil, false
			}
		}
		if c.present(In(4)) {
			if steps = c.s.value(4); steps == nil {
				return nil, nil, nil, nil, false
			}
		}
	}
	if len(ends) != len(starts) {
		return nil, nil, nil, nil, false
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	return starts, ends, axes, steps, len(axes) == len(starts)
}

// transpose handles FlowTranspose.
func (c *mapper) transpose() error {
	rank := max(c.rank(In(0)), c.rank(Out(0)))
	perm := onnxio.AttrInts(c.n, "perm", nil)
	if perm == nil {
		if rank < 0 {
			return c.noMap("rank unknown")
		}
		for i := rank - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if c.from.Out {
		if c.axis >= len(perm) {
			return c.noMap("axis %d out of range", c.axis)
		}
		c.link(In(0), int(perm[c.axis]), Identity())
		return nil
	}
	j := slices.Index(perm, int64(c.axis))
	if j < 0 {
		return c.noMap("axis %d not in perm", c.axis)
	}
	c.link(Out(0), j, Identity())
	return nil
}

// gather handles FlowGather: the axes other than the gathered one pass;
// the indices' axes take its place.
func (c *mapper) gather() error {
	if c.role(c.from) != Data {
		return c.noMap("%s is not data", portName(c.from))
	}
	idx := c.shape(In(1))
	if idx == nil {
		return c.noMap("shape of the indices unknown")
	}
	q := len(idx)
	rank := c.rank(In(0))
	if rank < 0 && c.rank(Out(0)) >= 0 {
		rank = c.rank(Out(0)) - q + 1
	}
	ax, err := c.axisAttr(rank)
	if err != nil {
		return err
	}
	if !c.from.Out {
		switch {
		case c.axis == ax:
			return c.noMap("axis %d is gathered", ax)
		case c.axis < ax:
			c.link(Out(0), c.axis, Identity())
		default:
			c.link(Out(0), c.axis-1+q, Identity())
		}
		return nil
	}
	switch {
	case c.axis < ax:
		c.link(In(0), c.axis, Identity())
	case c.axis >= ax+q:
		c.link(In(0), c.axis-q+1, Identity())
	default:
		return c.noMap("axis %d comes from the indices", c.axis)
	}
	return nil
}
