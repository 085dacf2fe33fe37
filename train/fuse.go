package train

// reluFuser is an op that can absorb a Relu reading its only output: the
// op then outputs the rectified value, and its backward masks the output
// gradient where the Relu was inactive. fuseRelu returns the op's gradient
// spec extended by what the fused backward reads, or false when the op
// cannot fuse.
type reluFuser interface {
	fuseRelu(g gradSpec) (gradSpec, bool)
}

// fuse merges each Relu into the node producing its input when that node
// can apply it (reluFuser) and nothing else reads the pre-activation (no
// other node, not a graph output, not in Options.Outputs). Each fusion
// saves a pass over the tensor in each direction, and the pre-activation
// is never stored. The results are the unfused plan's bit for bit. The
// pre-activation's slot stays in the table, never produced (producer −1),
// so Value names it as unavailable.
func (e *Executor) fuse() {
	readers := make([]int, len(e.slots))
	for _, st := range e.steps {
		for _, idx := range st.in {
			if idx >= 0 {
				readers[idx]++
			}
		}
	}
	drop := make([]bool, len(e.steps))
	for i, st := range e.steps {
		if st.node.GetOpType() != "Relu" || len(st.in) != 1 || st.in[0] < 0 || len(st.out) != 1 || st.out[0] < 0 {
			continue
		}
		mid := e.slots[st.in[0]]
		if mid.kind != kindActivation || mid.keep || readers[st.in[0]] != 1 || mid.producer < 0 || drop[mid.producer] {
			continue
		}
		p := e.steps[mid.producer]
		f, ok := p.op.(reluFuser)
		if !ok {
			continue
		}
		j, live := -1, 0
		for k, idx := range p.out {
			if idx >= 0 {
				live++
			}
			if idx == st.in[0] {
				j = k
			}
		}
		if j < 0 || live != 1 {
			continue
		}
		g, ok := f.fuseRelu(p.grad)
		if !ok {
			continue
		}
		p.grad = g
		p.out[j] = st.out[0]
		mid.producer = -1
		drop[i] = true
	}
	kept := e.steps[:0]
	for i, st := range e.steps {
		if !drop[i] {
			kept = append(kept, st)
		}
	}
	e.steps = kept
	for i, st := range e.steps {
		for _, idx := range st.out {
			if idx >= 0 {
				e.slots[idx].producer = i
			}
		}
	}
}
