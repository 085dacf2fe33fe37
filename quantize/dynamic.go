package quantize

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// dynWriter writes dynamic quantization: weights int8 offline, activations
// quantized by the runtime on each run.
type dynWriter struct {
	b *builder
	p *Plan
}

// dynamicPlan selects the compute nodes that have a dynamic form, in the
// main graph (order) and in the subgraphs of control-flow nodes (scopes,
// whose weights may live in the graphs around them). There is no
// activation calibration; st (optional) only supplies shapes.
func dynamicPlan(g *onnxio.Graph, order []*onnxpb.NodeProto, scopes []*scope, sel *selection, st *Stats, o *Options, float map[*onnxpb.NodeProto]string) (*Plan, error) {
	p := &Plan{Order: order, States: map[*onnxpb.NodeProto]*NodeState{}, Tensors: map[string]Params{}, ActType: onnxio.Uint8, PerTensor: o.PerTensor}
	plan := func(g *onnxio.Graph, n *onnxpb.NodeProto) *NodeState {
		h := handlerFor(n)
		if h == nil || h.Kind != Compute {
			return nil
		}
		s := &NodeState{Node: n, Handler: h}
		p.States[n] = s
		switch {
		case sel.reason[n] != "":
			s.Float = sel.reason[n]
			return s
		case float[n] != "":
			s.Float = float[n]
			return s
		case h.Dynamic == nil:
			s.Float = "no dynamic form"
			return s
		}
		spec, why := h.Spec(g, n)
		if why == "" && spec.Weight < 0 {
			why = "no constant weight"
		}
		if why != "" {
			s.Float = why
			return s
		}
		s.Spec = spec
		s.Quantized = true
		return s
	}
	for _, n := range order {
		plan(g, n)
	}
	for _, sc := range scopes {
		sc.open()
		for _, n := range sc.sg.Node {
			if s := plan(sc.g, n); s != nil {
				p.Sub = append(p.Sub, subState{s, sc})
			}
		}
	}
	return p, nil
}

// subState is the plan's decision for a node of a subgraph, with its scope.
type subState struct {
	*NodeState
	scope *scope
}

// writeDynamic rewrites the planned nodes, those of the main graph then
// those of each subgraph in its scope; a handler may still refuse a node
// (its state then says why).
func writeDynamic(b *builder, p *Plan) error {
	rewrite := func(b *builder, states []*NodeState) error {
		w := &dynWriter{b: b, p: p}
		var drop []*onnxpb.NodeProto
		for _, s := range states {
			why, err := s.Handler.Dynamic(w, s.Node, s.Spec)
			if err != nil {
				return fmt.Errorf("node %q: %w", s.Node.GetName(), err)
			}
			if why != "" {
				s.Quantized, s.Float = false, why
				continue
			}
			drop = append(drop, s.Node)
		}
		for _, n := range drop {
			b.g.RemoveNode(n)
		}
		return nil
	}
	if err := rewrite(b, p.Quantized()); err != nil {
		return err
	}
	var scopes []*scope
	byScope := map[*scope][]*NodeState{}
	for _, s := range p.Sub {
		if !s.Quantized {
			continue
		}
		if _, ok := byScope[s.scope]; !ok {
			scopes = append(scopes, s.scope)
		}
		byScope[s.scope] = append(byScope[s.scope], s.NodeState)
	}
	for _, sc := range scopes {
		if err := rewrite(b.forScope(sc), byScope[sc]); err != nil {
			return err
		}
		if err := sc.commit(); err != nil {
			return err
		}
	}
	return b.finish()
}

// matrixWeight returns weight name as a [K, N] float matrix (transposed
// from [N, K] when trans) scaled by alpha.
func (w *dynWriter) matrixWeight(name string, trans bool, alpha float32) (*onnxio.Tensor, error) {
	t, err := w.b.g.Weight(name)
	if err != nil {
		return nil, err
	}
	f, err := t.Float32s()
	if err != nil {
		return nil, err
	}
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("weight %q is not a matrix", name)
	}
	r, c := int(t.Shape[0]), int(t.Shape[1])
	out := make([]float32, len(f))
	shape := []int64{t.Shape[0], t.Shape[1]}
	if trans {
		shape = []int64{t.Shape[1], t.Shape[0]}
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				out[j*r+i] = f[i*c+j]
			}
		}
	} else {
		copy(out, f)
	}
	if alpha != 1 {
		for i := range out {
			out[i] *= alpha
		}
	}
	return &onnxio.Tensor{Name: name, DType: onnxio.Float32, Shape: shape, Data: out}, nil
}

// dynMatMul writes DynamicQuantizeMatMul(A, B int8 [K,N] per column,
// bias) for a weight already laid out as [K, N].
func (w *dynWriter) dynMatMul(n *onnxpb.NodeProto, a string, wt *onnxio.Tensor, bias *onnxio.Tensor) error {
	axis := 1
	if w.p.PerTensor {
		axis = -1
	}
	wp, err := WeightParams(wt, axis)
	if err != nil {
		return err
	}
	qt, err := QuantizeWeight(w.b.name(wt.Name+"_quantized"), wt, wp)
	if err != nil {
		return err
	}
	if err := w.b.addInit(qt); err != nil {
		return err
	}
	sc, z, err := w.b.params(wt.Name, wp)
	if err != nil {
		return err
	}
	w.b.weightParams[n] = wp
	ins := []string{a, qt.Name, sc, z}
	if bias != nil {
		bias.Name = w.b.name(bias.Name + "_bias")
		if err := w.b.addInit(bias); err != nil {
			return err
		}
		ins = append(ins, bias.Name)
	}
	m := onnxio.NewNode("DynamicQuantizeMatMul", n.GetName(), ins, []string{n.Output[0]})
	m.Domain = proto.String(msDomain)
	w.b.useOpset(msDomain, 1)
	w.b.g.AddNode(m)
	w.b.origin[m] = n
	return nil
}

func matMulDynamic(w *dynWriter, n *onnxpb.NodeProto, s Spec) (string, error) {
	shape, _ := weightShape(w.b.g, n.Input[1])
	if len(shape) != 2 {
		return "dynamic MatMul needs a 2-D weight", nil
	}
	wt, err := w.matrixWeight(n.Input[1], false, 1)
	if err != nil {
		return "", err
	}
	return "", w.dynMatMul(n, n.Input[0], wt, nil)
}

func gemmDynamic(w *dynWriter, n *onnxpb.NodeProto, s Spec) (string, error) {
	if onnxio.AttrInt(n, "transA", 0) != 0 {
		return "transA is not supported by DynamicQuantizeMatMul", nil
	}
	wt, err := w.matrixWeight(n.Input[1], onnxio.AttrInt(n, "transB", 0) != 0, onnxio.AttrFloat(n, "alpha", 1))
	if err != nil {
		return "", err
	}
	var bias *onnxio.Tensor
	if s.Bias >= 0 {
		bt, err := w.b.g.Weight(n.Input[s.Bias])
		if err != nil {
			return "", err
		}
		f, err := bt.Float32s()
		if err != nil {
			return "", err
		}
		beta := onnxio.AttrFloat(n, "beta", 1)
		g := make([]float32, len(f))
		for i, v := range f {
			g[i] = beta * v
		}
		bias = &onnxio.Tensor{Name: n.Input[s.Bias], DType: onnxio.Float32, Shape: []int64{int64(len(g))}, Data: g}
	}
	return "", w.dynMatMul(n, n.Input[0], wt, bias)
}

// convDynamic writes DynamicQuantizeLinear(x) → ConvInteger(x_q, w_q) →
// Cast → ·(x_scale·w_scale) → +bias. ORT's ConvInteger takes uint8
// weights, so they are stored uint8 with zero point 128 (still symmetric:
// scale max|w|/127, codes 1..255).
func convDynamic(w *dynWriter, n *onnxpb.NodeProto, s Spec) (string, error) {
	b := w.b
	wt, err := b.g.Weight(n.Input[1])
	if err != nil {
		return "", err
	}
	axis := 0
	if w.p.PerTensor {
		axis = -1
	}
	wp, err := WeightParams(wt, axis)
	if err != nil {
		return "", err
	}
	q8, err := QuantizeWeight("", wt, wp)
	if err != nil {
		return "", err
	}
	i8 := q8.Data.([]int8)
	u8 := make([]uint8, len(i8))
	for i, v := range i8 {
		u8[i] = uint8(int32(v) + 128)
	}
	qname := b.name(n.Input[1] + "_quantized")
	qt, _ := onnxio.NewTensor(qname, wt.Shape, u8)
	if err := b.addInit(qt); err != nil {
		return "", err
	}
	// ConvInteger takes one weight zero point; the per-channel scales are
	// applied after it, by the Mul.
	zname := b.name(n.Input[1] + "_zero_point")
	zt, _ := onnxio.NewTensor(zname, nil, []uint8{128})
	if err := b.addInit(zt); err != nil {
		return "", err
	}
	rank := len(wt.Shape)
	bshape := make([]int64, rank)
	for i := range bshape {
		bshape[i] = 1
	}
	bshape[1] = int64(len(wp.Scale))
	sname := b.name(n.Input[1] + "_scale")
	if err := b.addInit(&onnxio.Tensor{Name: sname, DType: onnxio.Float32, Shape: bshape, Data: append([]float32(nil), wp.Scale...)}); err != nil {
		return "", err
	}
	b.weightParams[n] = wp
	base := n.Output[0]
	xq, xs, xz := b.name(base+"_x_quantized"), b.name(base+"_x_scale"), b.name(base+"_x_zero_point")
	dq := onnxio.NewNode("DynamicQuantizeLinear", b.name(n.GetName()+"_quantize_input"), []string{n.Input[0]}, []string{xq, xs, xz})
	ci := onnxio.NewNode("ConvInteger", n.GetName(), []string{xq, qname, xz, zname}, []string{b.name(base + "_int32")})
	copyAttrs(ci, n)
	cast := onnxio.NewNode("Cast", b.name(n.GetName()+"_cast"), []string{ci.Output[0]}, []string{b.name(base + "_int32_float")})
	onnxio.SetAttrInt(cast, "to", int64(onnxio.Float32))
	scale := onnxio.NewNode("Mul", b.name(n.GetName()+"_scale"), []string{xs, sname}, []string{b.name(base + "_scale")})
	out := base
	if s.Bias >= 0 {
		out = b.name(base + "_nobias")
	}
	mul := onnxio.NewNode("Mul", b.name(n.GetName()+"_rescale"), []string{cast.Output[0], scale.Output[0]}, []string{out})
	nodes := []*onnxpb.NodeProto{dq, ci, cast, scale, mul}
	if s.Bias >= 0 {
		bt, err := b.g.Weight(n.Input[s.Bias])
		if err != nil {
			return "", err
		}
		bf, err := bt.Float32s()
		if err != nil {
			return "", err
		}
		bname := b.name(n.Input[s.Bias] + "_bias")
		bs := append([]int64(nil), bshape...)
		bs[1] = int64(len(bf))
		if err := b.addInit(&onnxio.Tensor{Name: bname, DType: onnxio.Float32, Shape: bs, Data: append([]float32(nil), bf...)}); err != nil {
			return "", err
		}
		nodes = append(nodes, onnxio.NewNode("Add", b.name(n.GetName()+"_bias"), []string{out, bname}, []string{base}))
	}
	b.useOpset("", 11)
	for _, x := range nodes {
		b.g.AddNode(x)
		b.origin[x] = n
	}
	return "", nil
}
