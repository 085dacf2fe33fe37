package onnxio

import (
	"fmt"
	"math"
)

// NonFinite counts the NaN and infinite values of float tensors.
type NonFinite struct {
	NaN int64 `json:"nan"`
	Inf int64 `json:"inf"`
}

// Total is NaN + Inf.
func (n NonFinite) Total() int64 { return n.NaN + n.Inf }

// Add adds o's counts to n.
func (n *NonFinite) Add(o NonFinite) { n.NaN += o.NaN; n.Inf += o.Inf }

// String says "2 NaN, 1 infinite".
func (n NonFinite) String() string {
	switch {
	case n.NaN > 0 && n.Inf > 0:
		return fmt.Sprintf("%d NaN, %d infinite", n.NaN, n.Inf)
	case n.Inf > 0:
		return fmt.Sprintf("%d infinite", n.Inf)
	}
	return fmt.Sprintf("%d NaN", n.NaN)
}

// CountNonFinite counts t's NaN and infinite values; tensors of other than
// floating-point types (float32, float64, float16, bfloat16) have none.
func (t *Tensor) CountNonFinite() NonFinite {
	var n NonFinite
	forNonFinite(t, func(_ int, v float64) bool {
		if math.IsNaN(v) {
			n.NaN++
		} else {
			n.Inf++
		}
		return true
	})
	return n
}

// FirstNonFinite returns the flat index and value of t's first NaN or
// infinity, or index -1 when every value is finite (always for tensors of
// other than floating-point types).
func (t *Tensor) FirstNonFinite() (index int, value float64) {
	index = -1
	forNonFinite(t, func(i int, v float64) bool {
		index, value = i, v
		return false
	})
	return index, value
}

// forNonFinite calls fn with the index and value of each non-finite value
// of t, in order, while fn returns true. The scan of finite data is one
// comparison per value: x-x is 0 for finite x and NaN otherwise.
func forNonFinite(t *Tensor, fn func(i int, v float64) bool) {
	switch d := t.Data.(type) {
	case []float32:
		for i, x := range d {
			if x-x != 0 && !fn(i, float64(x)) {
				return
			}
		}
	case []float64:
		for i, x := range d {
			if x-x != 0 && !fn(i, x) {
				return
			}
		}
	case []uint16:
		var exp uint16
		switch t.DType {
		case Float16:
			exp = 0x7c00
		case BFloat16:
			exp = 0x7f80
		default:
			return
		}
		for i, h := range d {
			if h&exp != exp {
				continue
			}
			var v float64
			switch {
			case h&^(exp|0x8000) != 0:
				v = math.NaN()
			case h&0x8000 != 0:
				v = math.Inf(-1)
			default:
				v = math.Inf(1)
			}
			if !fn(i, v) {
				return
			}
		}
	}
}
