package opinfo

// Channel maps of compute ops (Conv, ConvTranspose, Gemm, MatMul) and of
// the reshaping ops.

import "github.com/shrinkml/shrink/onnxio"

// portAxes is one port of a compute node with its resolved axes.
type portAxes struct {
	p  Port
	ax Axes
}

// axis returns the port's axis of a set ("in", "out", "rows").
func (pa portAxes) axis(set string) int {
	switch set {
	case "in":
		return pa.ax.In
	case "out":
		return pa.ax.Out
	}
	return pa.ax.Rows
}

// computePorts resolves the axes of every present port of a compute node.
func (c *mapper) computePorts() ([]portAxes, error) {
	var all []portAxes
	for i, inp := range c.o.Inputs {
		if !c.present(In(i)) {
			continue
		}
		sh := c.shape(In(i))
		if sh == nil {
			return nil, c.noMap("shape of input %d unknown", i)
		}
		ax, ok := inp.resolve(c.n, len(sh))
		if !ok {
			return nil, c.noMap("input %d of rank %d", i, len(sh))
		}
		all = append(all, portAxes{In(i), ax})
	}
	for j, o := range c.o.Outputs {
		if !c.present(Out(j)) {
			continue
		}
		sh := c.shape(Out(j))
		if sh == nil {
			return nil, c.noMap("shape of output %d unknown", j)
		}
		r := len(sh)
		ax := Axes{Out: o.Out.Resolve(r), In: -1, Rows: o.Rows.Resolve(r)}
		if c.o.Type == "MatMul" {
			// A 1-D operand's promoted axis is removed from the output.
			ra, rb := c.rank(In(0)), c.rank(In(1))
			if ra == 1 {
				ax.Rows = -1
			}
			if rb == 1 {
				ax.Out = -1
				if ra > 1 {
					ax.Rows = r - 1
				}
			}
		}
		all = append(all, portAxes{Out(j), ax})
	}
	return all, nil
}

// compute handles FlowCompute. Three sets of axes change together: the
// input channels (the data input's In axis and the weight's: they end
// here), the output channels (the weight's Out axis, the bias, the
// output's channel axis) and the rows (Conv's batch, Gemm's and MatMul's
// M). A bias that broadcasts (size 1 along an axis) is not linked there.
// Depthwise Conv and ConvTranspose join input and output channels; other
// groupings do not map.
func (c *mapper) compute() error {
	all, err := c.computePorts()
	if err != nil {
		return err
	}
	var self portAxes
	for _, pa := range all {
		if pa.p == c.from {
			self = pa
		}
	}
	set := ""
	for _, k := range []string{"in", "out", "rows"} {
		if self.axis(k) == c.axis {
			set = k
		}
	}
	if set == "" {
		if c.o.BatchBroadcast {
			return c.batch()
		}
		return c.noMap("axis %d of %s is not a channel axis", c.axis, portName(c.from))
	}
	broadcast := func(pa portAxes, a int) bool {
		return c.role(pa.p) == Bias && c.dim(pa.p, a) == 1 && c.dim(Out(0), pa.axisOnOutput(set, all)) != 1
	}
	if broadcast(self, c.axis) {
		return c.noMap("axis %d of %s is broadcast", c.axis, portName(c.from))
	}
	if g := Groups(c.n); g > 1 && set != "rows" {
		return c.grouped(all, set, g)
	}
	for _, pa := range all {
		if a := pa.axis(set); a >= 0 && !broadcast(pa, a) {
			c.link(pa.p, a, Identity())
		}
	}
	return nil
}

// axisOnOutput returns output 0's axis of a set.
func (pa portAxes) axisOnOutput(set string, all []portAxes) int {
	for _, q := range all {
		if q.p == Out(0) {
			return q.axis(set)
		}
	}
	return -1
}

// grouped handles a Conv or ConvTranspose with group > 1.
//
// Depthwise (one input channel per group): each input channel c owns
// m = C_out/C_in output channels [c·m, (c+1)·m). The "narrow" axes hold
// one index per input channel (X's channels; ConvTranspose's W axis 0),
// the "wide" ones m (the output's channels, the bias; Conv's W axis 0).
//
// Otherwise: the axes that hold every channel of one side in g blocks
// (Conv: the output channels, W axis 0, the bias; ConvTranspose: the
// input channels and W axis 0) map to each other with Groups = g. The
// weight's axis 1 holds positions within a group: position p maps to the
// other side's channels p, p+s, p+2s… (one per group). The other side's
// channels do not map on their own: trace them from the weight's axis 1.
func (c *mapper) grouped(all []portAxes, set string, g int64) error {
	w := c.shape(In(1))
	if dw, m := Depthwise(c.n, w); dw {
		return c.depthwise(all, m)
	}
	if len(w) < 2 {
		return c.noMap("weight shape unknown")
	}
	whole := "out" // the side W axis 0 belongs to
	if c.o.Type == "ConvTranspose" {
		whole = "in"
	}
	other := map[string]string{"in": "out", "out": "in"}[whole]
	fromW1 := c.from == In(1) && c.axis == 1
	switch {
	case fromW1:
		for _, pa := range all {
			if a := pa.axis(other); a >= 0 && pa.p != In(1) {
				c.link(pa.p, a, Index{Hi: Unbounded, Repeat: g, Period: w[1]})
			}
		}
	case set == whole:
		for _, pa := range all {
			if a := pa.axis(whole); a >= 0 {
				c.link(pa.p, a, Identity())
			}
		}
		c.m.Groups = g
	default:
		return c.noMap("group %d: these channels map only through the weight's axis 1 (positions within a group)", g)
	}
	return nil
}

// depthwise joins input and output channels of a depthwise Conv or
// ConvTranspose; the weight's axis 1 does not map.
func (c *mapper) depthwise(all []portAxes, m int64) error {
	type member struct {
		p    Port
		axis int
		wide bool
	}
	var ms []member
	for _, pa := range all {
		for _, k := range []string{"in", "out"} {
			a := pa.axis(k)
			if a < 0 || pa.p == In(1) && a == 1 {
				continue
			}
			ms = append(ms, member{pa.p, a, k == "out" && !(pa.p == In(1) && c.o.Type == "ConvTranspose")})
		}
	}
	var self *member
	for i := range ms {
		if ms[i].p == c.from && ms[i].axis == c.axis {
			self = &ms[i]
		}
	}
	if self == nil {
		return c.noMap("axis %d of the weight is the position within a group", c.axis)
	}
	for _, q := range ms {
		x := Identity()
		switch {
		case !self.wide && q.wide:
			x.Width = m
		case self.wide && !q.wide:
			x.Block = m
		}
		c.link(q.p, q.axis, x)
	}
	return nil
}

// batch handles MatMul's batch axes: they broadcast from the back between
// A, B and the output.
func (c *mapper) batch() error {
	ports := []Port{In(0), In(1), Out(0)}
	ranks := make([]int, 3)
	for i, p := range ports {
		ranks[i] = c.rank(p)
		if ranks[i] < 2 {
			return c.noMap("axis %d of %s is not a channel or batch axis", c.axis, portName(c.from))
		}
	}
	t := c.rank(c.from) - 2 - c.axis // distance from the last batch axis
	ay := ranks[2] - 2 - t
	if !c.from.Out && c.dim(c.from, c.axis) == 1 && c.dim(Out(0), ay) != 1 {
		return c.noMap("axis %d of %s is broadcast", c.axis, portName(c.from))
	}
	for i, p := range ports {
		if a := ranks[i] - 2 - t; a >= 0 && (p.Out || c.dim(p, a) != 1) {
			c.link(p, a, Identity())
		}
	}
	return nil
}

// reshape handles FlowReshape (Reshape, Flatten, Squeeze, Unsqueeze) from
// the input and output shapes.
func (c *mapper) reshape() error {
	if c.role(c.from) != Data {
		return c.noMap("%s is not data", portName(c.from))
	}
	in, out := c.shape(In(0)), c.shape(Out(0))
	if out == nil && in != nil && c.o.Type == "Flatten" {
		a := int(onnxio.AttrInt(c.n, "axis", 1))
		if a < 0 {
			a += len(in)
		}
		if a >= 0 && a <= len(in) {
			out = []int64{prod(in[:a]), prod(in[a:])}
		}
	}
	if in == nil || out == nil {
		return c.noMap("shapes unknown")
	}
	src, dst, target := in, out, Out(0)
	if c.from.Out {
		src, dst, target = out, in, In(0)
	}
	a, x, why := reshapeAxis(src, dst, c.axis)
	if why != "" {
		return c.noMap("%s", why)
	}
	c.link(target, a, x)
	return nil
}

// reshapeAxis maps axis a of shape src onto shape dst, which holds the
// same elements. Axes of size 1 are ignored; the others are grouped into
// the shortest runs with equal products. In its group, an axis that is
// alone on both sides is kept; one of several merged into one axis maps
// with a stride (and repeats for the axes before it); one split into
// several maps onto the outermost of them in whole blocks.
func reshapeAxis(src, dst []int64, a int) (int, Index, string) {
	if a < 0 || a >= len(src) {
		return 0, Index{}, "axis out of range"
	}
	for _, d := range append(append([]int64(nil), src...), dst...) {
		if d <= 0 {
			return 0, Index{}, "shape with unknown or empty dimensions"
		}
	}
	if prod(src) != prod(dst) {
		return 0, Index{}, "element counts differ"
	}
	if src[a] == 1 {
		return 0, Index{}, "axis of size 1"
	}
	nonOne := func(s []int64) []int {
		var out []int
		for i, d := range s {
			if d != 1 {
				out = append(out, i)
			}
		}
		return out
	}
	si, di := nonOne(src), nonOne(dst)
	i, j := 0, 0
	for i < len(si) && j < len(di) {
		gs, gd := []int{si[i]}, []int{di[j]}
		ps, pd := src[si[i]], dst[di[j]]
		i, j = i+1, j+1
		for ps != pd {
			if ps < pd {
				if i >= len(si) {
					return 0, Index{}, "shapes do not group"
				}
				ps *= src[si[i]]
				gs = append(gs, si[i])
				i++
			} else {
				if j >= len(di) {
					return 0, Index{}, "shapes do not group"
				}
				pd *= dst[di[j]]
				gd = append(gd, di[j])
				j++
			}
		}
		k := -1
		for x, ax := range gs {
			if ax == a {
				k = x
			}
		}
		if k < 0 {
			continue
		}
		switch {
		case len(gs) == 1 && len(gd) == 1:
			return gd[0], Identity(), ""
		case len(gd) == 1:
			w := int64(1)
			for _, ax := range gs[k+1:] {
				w *= src[ax]
			}
			r := int64(1)
			for _, ax := range gs[:k] {
				r *= src[ax]
			}
			return gd[0], Index{Hi: Unbounded, Width: w, Repeat: r, Period: src[a] * w}, ""
		case len(gs) == 1:
			b := int64(1)
			for _, ax := range gd[1:] {
				b *= dst[ax]
			}
			return gd[0], Index{Hi: Unbounded, Block: b}, ""
		default:
			return 0, Index{}, "the axis is regrouped with others"
		}
	}
	return 0, Index{}, "shapes do not group"
}
