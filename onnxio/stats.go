package onnxio

import (
	"sort"

	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// DTypeStats counts the parameters of one element type.
type DTypeStats struct {
	DType string `json:"dtype"`
	Count int64  `json:"count"`
	Bytes int64  `json:"bytes"`
}

// ParamStats summarizes a model's weights: every initializer and every
// Constant node value, in the main graph and its subgraphs.
type ParamStats struct {
	Count        int64        `json:"count"`
	Bytes        int64        `json:"bytes"`
	Zero         int64        `json:"zero"`
	ZeroFraction float64      `json:"zero_fraction"`
	Initializers int          `json:"initializers"`
	Constants    int          `json:"constants"`
	ByDType      []DTypeStats `json:"by_dtype"`
}

// WeightNonFinite names a weight holding NaN or infinite values.
type WeightNonFinite struct {
	Name string `json:"name"`
	NonFinite
}

// ParamStats walks all weights. Zeros are counted exactly (+0 and -0 for
// floats); weights holding NaN or infinite values are listed, in the order
// met, with their counts.
func (m *Model) ParamStats() (ParamStats, []WeightNonFinite, error) {
	var st ParamStats
	var bad []WeightNonFinite
	by := map[DType]*DTypeStats{}
	add := func(name string, t *Tensor) {
		n := t.Len()
		st.Count += n
		b := t.DType.RawBytes(n)
		if b < 0 {
			b = 0
		}
		st.Bytes += b
		d := by[t.DType]
		if d == nil {
			d = &DTypeStats{DType: t.DType.String()}
			by[t.DType] = d
		}
		d.Count += n
		d.Bytes += b
		st.Zero += countZeros(t)
		if nf := t.CountNonFinite(); nf.Total() > 0 {
			bad = append(bad, WeightNonFinite{Name: name, NonFinite: nf})
		}
	}
	var walk func(g *onnxpb.GraphProto) error
	walk = func(g *onnxpb.GraphProto) error {
		gg := NewGraph(g)
		for _, r := range gg.Weights() {
			t, err := r.Tensor()
			if err != nil {
				// Sparse or odd constants: count their declared size.
				st.Count += r.Count
				continue
			}
			add(r.Name, t)
			if r.Source == FromInitializer {
				st.Initializers++
			} else {
				st.Constants++
			}
		}
		for _, n := range g.Node {
			for _, a := range n.Attribute {
				if a.G != nil {
					if err := walk(a.G); err != nil {
						return err
					}
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
	if err := walk(m.Proto.Graph); err != nil {
		return st, bad, err
	}
	if st.Count > 0 {
		st.ZeroFraction = float64(st.Zero) / float64(st.Count)
	}
	st.ByDType = []DTypeStats{}
	for _, d := range by {
		st.ByDType = append(st.ByDType, *d)
	}
	sort.Slice(st.ByDType, func(i, j int) bool {
		if st.ByDType[i].Bytes != st.ByDType[j].Bytes {
			return st.ByDType[i].Bytes > st.ByDType[j].Bytes
		}
		return st.ByDType[i].DType < st.ByDType[j].DType
	})
	return st, bad, nil
}

// countZeros counts t's zeros (+0 and -0 for floating-point types).
func countZeros(t *Tensor) int64 {
	switch d := t.Data.(type) {
	case []float32:
		return countZero(d) // -0 == 0
	case []float64:
		return countZero(d)
	case []uint16:
		if t.DType == Float16 || t.DType == BFloat16 {
			var zero int64
			for _, v := range d {
				if v&0x7fff == 0 {
					zero++
				}
			}
			return zero
		}
		return countZero(d)
	case []int8:
		return countZero(d)
	case []uint8:
		return countZero(d)
	case []int16:
		return countZero(d)
	case []int32:
		return countZero(d)
	case []int64:
		return countZero(d)
	case []uint32:
		return countZero(d)
	case []uint64:
		return countZero(d)
	case []bool:
		return countZero(d)
	}
	return 0
}

// countZero counts the elements equal to T's zero value (false for bool).
func countZero[T comparable](d []T) int64 {
	var zero T
	var n int64
	for _, v := range d {
		if v == zero {
			n++
		}
	}
	return n
}
