package quantize

import (
	"math"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/opinfo"
)

// foldBatchNorm folds every inference BatchNormalization that directly
// follows a Conv into the Conv's weight and bias, in place:
//
//	s = gamma / sqrt(var + eps)
//	W'[c] = W[c]·s[c]      b'[c] = (b[c] - mean[c])·s[c] + beta[c]
//
// so the quantized tensor is the normalized one and the BatchNormalization
// costs nothing. Only Convs whose weight (and bias) nobody else reads, and
// whose output only the BatchNormalization reads, are folded. It returns
// how many were folded.
func foldBatchNorm(m *onnxio.Model) (int, error) {
	g := m.Graph()
	folded := 0
	var remove []*onnxpb.NodeProto
	for _, bn := range append([]*onnxpb.NodeProto(nil), m.Proto.Graph.Node...) {
		if bn.GetOpType() != "BatchNormalization" || bn.GetDomain() != "" || len(bn.Input) != 5 {
			continue
		}
		if len(bn.Output) > 1 {
			used := false
			for _, o := range bn.Output[1:] {
				used = used || o != "" && (len(g.Consumers(o)) > 0 || g.IsGraphOutput(o))
			}
			if used {
				continue
			}
		}
		conv := g.Producer(bn.Input[0])
		if conv == nil || conv.GetOpType() != "Conv" || conv.GetDomain() != "" || len(conv.Input) < 2 {
			continue
		}
		if len(g.Consumers(conv.Output[0])) != 1 || g.IsGraphOutput(conv.Output[0]) {
			continue
		}
		if !g.IsWeight(conv.Input[1]) || len(g.Consumers(conv.Input[1])) != 1 {
			continue
		}
		hasBias := hasInput(conv, 2)
		if hasBias && (!g.IsWeight(conv.Input[2]) || len(g.Consumers(conv.Input[2])) != 1) {
			continue
		}
		params := make([][]float32, 4)
		ok := true
		for i := 0; i < 4 && ok; i++ {
			if !g.IsWeight(bn.Input[i+1]) {
				ok = false
				break
			}
			t, err := g.Weight(bn.Input[i+1])
			if err != nil {
				return folded, err
			}
			params[i], err = t.Float32s()
			ok = err == nil
		}
		if !ok {
			continue
		}
		wt, err := g.Weight(conv.Input[1])
		if err != nil {
			return folded, err
		}
		w, err := wt.Float32s()
		if err != nil || wt.DType != onnxio.Float32 || len(wt.Shape) < 2 {
			continue
		}
		// The loop below scales W's leading axis: it must be the output
		// channels (opinfo's Out axis of a Conv weight).
		if a, ok := opinfo.WeightAxes(conv, wt.Shape); !ok || a.Out != 0 {
			continue
		}
		gamma, beta, mean, variance := params[0], params[1], params[2], params[3]
		c := int(wt.Shape[0])
		if len(gamma) != c || len(beta) != c || len(mean) != c || len(variance) != c {
			continue
		}
		eps := float64(onnxio.AttrFloat(bn, "epsilon", 1e-5))
		per := len(w) / c
		nw := make([]float32, len(w))
		nb := make([]float32, c)
		var bias []float32
		if hasBias {
			bt, err := g.Weight(conv.Input[2])
			if err != nil {
				return folded, err
			}
			if bias, err = bt.Float32s(); err != nil || len(bias) != c {
				continue
			}
		}
		for k := 0; k < c; k++ {
			s := float64(gamma[k]) / math.Sqrt(float64(variance[k])+eps)
			for j := 0; j < per; j++ {
				nw[k*per+j] = float32(float64(w[k*per+j]) * s)
			}
			b0 := 0.0
			if bias != nil {
				b0 = float64(bias[k])
			}
			nb[k] = float32((b0-float64(mean[k]))*s + float64(beta[k]))
		}
		if err := g.SetWeight(conv.Input[1], &onnxio.Tensor{DType: onnxio.Float32, Shape: wt.Shape, Data: nw}); err != nil {
			return folded, err
		}
		bt := &onnxio.Tensor{DType: onnxio.Float32, Shape: []int64{int64(c)}, Data: nb}
		if hasBias {
			if err := g.SetWeight(conv.Input[2], bt); err != nil {
				return folded, err
			}
		} else {
			name := conv.Output[0] + "_folded_bias"
			for g.IsWeight(name) || g.Producer(name) != nil {
				name += "_"
			}
			bt.Name = name
			if err := g.AddInitializer(bt); err != nil {
				return folded, err
			}
			conv.Input = append(conv.Input[:2], name)
		}
		conv.Output[0] = bn.Output[0]
		remove = append(remove, bn)
		bn.Input, bn.Output = nil, nil
		g.Reindex()
		folded++
	}
	for _, n := range remove {
		g.RemoveNode(n)
	}
	if folded > 0 {
		g.RemoveUnused()
	}
	return folded, nil
}
