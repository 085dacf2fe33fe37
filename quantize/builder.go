package quantize

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// msDomain is ONNX Runtime's contrib-op domain.
const msDomain = "com.microsoft"

// qref names a quantized tensor and its parameter initializers.
type qref struct {
	Q, Scale, Zero string
	P              Params
}

// builder holds what the writers share: the graph being rewritten, the
// weight cache, and notes for the report.
type builder struct {
	m *onnxio.Model
	g *onnxio.Graph
	// ms makes QuantizeLinear/DequantizeLinear com.microsoft ops (for
	// models whose default opset is below 13, where the ONNX ops have no
	// per-channel axis).
	ms      bool
	weights map[string]qref
	// weightParams records, per node, the weight parameters written.
	weightParams map[*onnxpb.NodeProto]Params
	biasWidened  map[*onnxpb.NodeProto][]int
	paramNames   map[string]qref
	used         map[string]bool
	// holds counts the boundary holds written (see hold).
	holds int
	// origin maps each node a writer created in place of a float node to
	// that node.
	origin map[*onnxpb.NodeProto]*onnxpb.NodeProto
}

func newBuilder(m *onnxio.Model) *builder {
	b := &builder{m: m, g: m.Graph(), weights: map[string]qref{}, weightParams: map[*onnxpb.NodeProto]Params{},
		biasWidened: map[*onnxpb.NodeProto][]int{}, paramNames: map[string]qref{}, used: map[string]bool{}, origin: map[*onnxpb.NodeProto]*onnxpb.NodeProto{}}
	b.ms = m.Opset("") < 13
	// Names are unique across the main graph and its subgraphs (a
	// subgraph may not shadow a name of the graphs around it).
	graphs := []*onnxpb.GraphProto{m.Proto.Graph}
	for _, sc := range scopes(m.Proto.Graph, nil) {
		graphs = append(graphs, sc.sg)
	}
	for _, gp := range graphs {
		for _, t := range gp.Initializer {
			b.used[t.GetName()] = true
		}
		for _, v := range gp.Input {
			b.used[v.GetName()] = true
		}
		for _, v := range gp.Output {
			b.used[v.GetName()] = true
		}
		for _, n := range gp.Node {
			b.used[n.GetName()] = true
			for _, o := range n.Output {
				b.used[o] = true
			}
			for _, i := range n.Input {
				b.used[i] = true
			}
		}
	}
	return b
}

// name returns base, or base with a numeric suffix, unused in the graph,
// and reserves it.
func (b *builder) name(base string) string {
	n := base
	for i := 1; b.used[n]; i++ {
		n = fmt.Sprintf("%s_%d", base, i)
	}
	b.used[n] = true
	return n
}

// useOpset makes sure the model imports what the writers use.
func (b *builder) useOpset(domain string, v int64) {
	if b.m.Opset(domain) < v {
		b.m.SetOpset(domain, v)
	}
}

// addInit adds an initializer whose name came from b.name.
func (b *builder) addInit(t *onnxio.Tensor) error {
	p, err := t.ToProto()
	if err != nil {
		return err
	}
	b.g.P.Initializer = append(b.g.P.Initializer, p)
	b.g.Reindex()
	return nil
}

// params adds the scale and zero-point initializers of p under base and
// returns their names.
func (b *builder) params(base string, p Params) (scale, zero string, err error) {
	scale = b.name(base + "_scale")
	zero = b.name(base + "_zero_point")
	if err = b.addInit(scaleTensor(scale, p)); err != nil {
		return
	}
	err = b.addInit(zeroTensor(zero, p))
	return
}

// actParams returns (creating once) the parameter initializers of a
// quantized activation tensor.
func (b *builder) actParams(t string, p Params) (qref, error) {
	if r, ok := b.paramNames[t]; ok {
		return r, nil
	}
	s, z, err := b.params(t, p)
	if err != nil {
		return qref{}, err
	}
	r := qref{Scale: s, Zero: z, P: p}
	b.paramNames[t] = r
	return r, nil
}

func (b *builder) qdqNode(op, in, scale, zero, out string, p Params) *onnxpb.NodeProto {
	n := onnxio.NewNode(op, b.name(out+"_"+op), []string{in, scale, zero}, []string{out})
	if b.ms {
		n.Domain = proto.String(msDomain)
		b.useOpset(msDomain, 1)
	} else if p.Axis >= 0 {
		b.useOpset("", 13)
	} else {
		b.useOpset("", 10)
	}
	if p.Axis >= 0 {
		onnxio.SetAttrInt(n, "axis", int64(p.Axis))
	}
	return n
}

// weight quantizes input s.Weight of n (int8, per channel unless
// perTensor) and, when the node has one, its bias (int32, scale
// inScale·w_scale). Tied weights are quantized once per axis.
func (b *builder) weight(n *onnxpb.NodeProto, s Spec, inScale float32, perTensor bool) (w qref, bias *qref, err error) {
	wname := n.Input[s.Weight]
	axis := s.Axis
	if perTensor {
		axis = -1
	}
	wt, err := b.g.Weight(wname)
	if err != nil {
		return w, nil, err
	}
	key := fmt.Sprintf("%s|%d", wname, axis)
	if s.WeightAlpha != 1 {
		if wt, err = scaledCopy(wt, s.WeightAlpha); err != nil {
			return w, nil, err
		}
		key += fmt.Sprintf("|alpha%g", s.WeightAlpha)
	}
	cached, haveCached := b.weights[key]
	var wp Params
	if haveCached {
		wp = cached.P
	} else if wp, err = WeightParams(wt, axis); err != nil {
		return w, nil, err
	}
	if s.Bias >= 0 {
		bt, err := b.g.Weight(n.Input[s.Bias])
		if err != nil {
			return w, nil, err
		}
		if s.BiasBeta != 1 && s.BiasBeta != 0 {
			if bt, err = scaledCopy(bt, s.BiasBeta); err != nil {
				return w, nil, err
			}
		}
		if len(bt.Shape) == 2 { // Gemm's [1, N]
			bt = &onnxio.Tensor{Name: bt.Name, DType: bt.DType, Shape: []int64{bt.Shape[1]}, Data: bt.Data}
		}
		br, err := QuantizeBias(b.name(n.Input[s.Bias]+"_quantized"), bt, inScale, &wp)
		if err != nil {
			return w, nil, err
		}
		if len(br.Widened) > 0 {
			if haveCached {
				return w, nil, fmt.Errorf("bias %q would overflow int32 with the scale of weight %q, which another node shares", n.Input[s.Bias], wname)
			}
			b.biasWidened[n] = br.Widened
		}
		if err := b.addInit(br.Q); err != nil {
			return w, nil, err
		}
		sc, z, err := b.params(n.Input[s.Bias], br.Params)
		if err != nil {
			return w, nil, err
		}
		bias = &qref{Q: br.Q.Name, Scale: sc, Zero: z, P: br.Params}
	}
	b.weightParams[n] = wp
	if haveCached {
		return cached, bias, nil
	}
	qt, err := QuantizeWeight(b.name(wname+"_quantized"), wt, wp)
	if err != nil {
		return w, nil, err
	}
	if err := b.addInit(qt); err != nil {
		return w, nil, err
	}
	sc, z, err := b.params(wname, wp)
	if err != nil {
		return w, nil, err
	}
	w = qref{Q: qt.Name, Scale: sc, Zero: z, P: wp}
	b.weights[key] = w
	return w, bias, nil
}

// scaledCopy returns a float32 copy of t multiplied by f (Gemm's alpha or
// beta folded into its weight or bias).
func scaledCopy(t *onnxio.Tensor, f float32) (*onnxio.Tensor, error) {
	x, err := t.Float32s()
	if err != nil {
		return nil, err
	}
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = v * f
	}
	return &onnxio.Tensor{Name: t.Name, DType: onnxio.Float32, Shape: t.Shape, Data: y}, nil
}

// constant quantizes a constant operand of an elementwise op in the
// activation type.
func (b *builder) constant(name string, dt onnxio.DType) (qref, error) {
	key := name + "|const"
	if r, ok := b.weights[key]; ok {
		return r, nil
	}
	t, err := b.g.Weight(name)
	if err != nil {
		return qref{}, err
	}
	qt, p, err := QuantizeConst(b.name(name+"_quantized"), t, dt)
	if err != nil {
		return qref{}, err
	}
	if err := b.addInit(qt); err != nil {
		return qref{}, err
	}
	sc, z, err := b.params(name, p)
	if err != nil {
		return qref{}, err
	}
	r := qref{Q: qt.Name, Scale: sc, Zero: z, P: p}
	b.weights[key] = r
	return r, nil
}

// finish removes what the rewrite orphaned and restores topological order.
func (b *builder) finish() error {
	b.g.RemoveUnused()
	return b.g.Sort()
}
