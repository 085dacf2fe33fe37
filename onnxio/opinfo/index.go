package opinfo

import (
	"math"
	"slices"
)

// Port names one input or output of a node.
type Port struct {
	Out   bool // an output (else an input)
	Index int
}

// In and Out name ports.
func In(i int) Port  { return Port{Index: i} }
func Out(i int) Port { return Port{Out: true, Index: i} }

// Unbounded is Index.Hi when every source index maps.
const Unbounded = math.MaxInt64

// Index maps indices along one axis to indices along another. A source
// index i in [Lo, Hi) maps to
//
//	Offset + r·Period + ⌊(i−Lo)/Block⌋·Width + k    for r < Repeat, k < Width
//
// and indices outside [Lo, Hi) do not reach the target. With Block > 1 a
// set of indices maps only when it holds whole blocks. Zero Block, Width
// and Repeat mean 1. Examples: identity {Hi: Unbounded}; input j of a
// Concat at offset 64 {Hi: Unbounded, Offset: 64}; output j of a Split
// taking [64, 96) {Lo: 64, Hi: 96}; channel c of a Flatten over [C, 7, 7]
// {Hi: Unbounded, Width: 49}; the flattened feature back to its channel
// {Hi: Unbounded, Block: 49}.
type Index struct {
	Lo, Hi                               int64
	Offset, Block, Width, Repeat, Period int64
}

// Identity maps every index to itself.
func Identity() Index { return Index{Hi: Unbounded} }

// IsIdentity reports whether x maps every index to itself.
func (x Index) IsIdentity() bool {
	return x.Lo == 0 && x.Hi == Unbounded && x.Offset == 0 && one(x.Block) == 1 && one(x.Width) == 1 && one(x.Repeat) == 1
}

func one(v int64) int64 { return max(v, 1) }

// Apply maps a set of source indices to the sorted, distinct target
// indices. It returns false when Block > 1 and the set holds part of a
// block.
func (x Index) Apply(src []int64) ([]int64, bool) {
	block, width, repeat := one(x.Block), one(x.Width), one(x.Repeat)
	distinct := map[int64]bool{}
	for _, i := range src {
		if i >= x.Lo && i < x.Hi {
			distinct[i] = true
		}
	}
	blocks := map[int64]int64{}
	for i := range distinct {
		blocks[(i-x.Lo)/block]++
	}
	var out []int64
	for q, c := range blocks {
		if c != block {
			return nil, false
		}
		for r := range repeat {
			for k := range width {
				out = append(out, x.Offset+r*x.Period+q*width+k)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), true
}

// Link is one tensor of a node that changes together with the traced
// indices: which port, its role, the axis and how indices map onto it.
type Link struct {
	Port Port
	Role Role
	Axis int
	Map  Index
}

// Map is what ChannelMap says about one axis of one port of a node.
type Map struct {
	// Links are the node's other inputs and outputs whose indices along
	// an axis change together with the traced ones. A map from an input
	// with no output link ends the indices at this node (a compute op's
	// input channels, a reduced axis, Shape).
	Links []Link
	// Mixed: the op mixes values along the traced axis (Softmax's axis,
	// LayerNormalization's, a reduction, InstanceNormalization's spatial
	// axes), so removing indices changes the values of those kept.
	Mixed bool
	// Groups > 1: the indices along the traced axis fall into Groups
	// equal consecutive blocks (a grouped Conv's channels), and a change
	// is valid only when it removes as many indices from each block.
	Groups int64
}

// Outputs returns the links to outputs.
func (m Map) Outputs() []Link {
	var out []Link
	for _, l := range m.Links {
		if l.Port.Out {
			out = append(out, l)
		}
	}
	return out
}
