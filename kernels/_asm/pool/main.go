// Command pool generates the 2×2, stride-2 pooling kernels of package
// kernels for AVX-512F: max and average pooling of one plane, forward and
// backward. (AVX2 machines use the generic code.)
//
// Each kernel walks output rows; a row is handled 16 outputs (32 input
// columns) at a time, the last partial chunk under the masks the Go wrapper
// passes (km for the outputs, klo and khi for the two halves of the inputs).
// Even and odd input columns are separated with VPERMT2PS, so every output
// is computed from its window's four values in the generic code's order, and
// the results agree with it bit for bit (max propagates NaN and puts +0
// over -0 like Go's max; NaN payloads may differ).
//
// Run it through go generate in the parent directory (see kernels/doc.go).
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

//go:generate go run . -out ../../gen_pool_amd64.s -stubs ../../gen_pool_stubs_amd64.go -pkg kernels

const cmpUnord = 3 // VCMPPS predicate: either operand is NaN

var idxEven, idxOdd, idxLo, idxHi, quarter Mem

func table(name string, f func(i int) uint32) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(f(i)))
	}
	return m
}

func main() {
	ConstraintExpr("!purego")
	idxEven = table("pooleven", func(i int) uint32 { return uint32(2 * i) })
	idxOdd = table("poolodd", func(i int) uint32 { return uint32(2*i + 1) })
	idxLo = table("poolilo", func(i int) uint32 { return uint32(i/2 + 16*(i%2)) })
	idxHi = table("poolihi", func(i int) uint32 { return uint32(8 + i/2 + 16*(i%2)) })
	quarter = ConstData("poolquarter", F32(0.25))
	forward(true)
	forward(false)
	backward(true)
	backward(false)
	col2imPlane()
	Generate()
}

const sig = "func(dst, src *float32, rows, full, ldo, ldi int, km, klo, khi uint16)"

// args loads the common arguments: dst and src pointers, the output row
// count, the number of full 16-output chunks per row, the output and input
// row strides in bytes, and the tail masks.
type args struct {
	dst, src, rows, full, ldo, ldi Register
	km, klo, khi                   Register
}

func load(dstName, srcName string) args {
	var a args
	a.dst, a.src = Load(Param(dstName), GP64()), Load(Param(srcName), GP64())
	a.rows, a.full = Load(Param("rows"), GP64()), Load(Param("full"), GP64())
	a.ldo, a.ldi = Load(Param("ldo"), GP64()), Load(Param("ldi"), GP64())
	SHLQ(U8(2), a.ldo)
	SHLQ(U8(2), a.ldi)
	a.km, a.klo, a.khi = K(), K(), K()
	t := Load(Param("km"), GP32())
	KMOVW(t, a.km)
	t = Load(Param("klo"), GP32())
	KMOVW(t, a.klo)
	t = Load(Param("khi"), GP32())
	KMOVW(t, a.khi)
	return a
}

// deinterleave splits 32 consecutive floats, held in lo and hi, into their
// even and odd columns.
func deinterleave(lo, hi, ie, io VecVirtual) (ev, od VecVirtual) {
	ev, od = ZMM(), ZMM()
	VMOVAPS(lo, ev)
	VPERMT2PS(hi, ie, ev)
	VMOVAPS(lo, od)
	VPERMT2PS(hi, io, od)
	return ev, od
}

// maxNaN returns max(x, y) as Go's max does: NaN if either is NaN, +0
// over -0. VRANGEPS with imm 5 selects the larger value with the sign
// decided by the comparison, which orders -0 below +0; lanes where either
// operand is NaN then get x+y, a NaN.
func maxNaN(x, y VecVirtual) VecVirtual {
	r := ZMM()
	VRANGEPS(U8(5), y, x, r)
	k := K()
	VCMPPS(U8(cmpUnord), y, x, k)
	VADDPS(y, x, k, r)
	return r
}

// window loads the four values of 16 windows from the input rows at s0 and
// s1 (under the masks when tail) and returns them as x00, x01, x10, x11.
func window(s0, s1 Register, ldi Register, a args, tail bool, ie, io VecVirtual) [4]VecVirtual {
	var v [4]VecVirtual
	for r, s := range []Register{s0, s1} {
		lo, hi := ZMM(), ZMM()
		if tail {
			VMOVUPS_Z(Mem{Base: s}, a.klo, lo)
			VMOVUPS_Z(Mem{Base: s, Disp: 64}, a.khi, hi)
		} else {
			VMOVUPS(Mem{Base: s}, lo)
			VMOVUPS(Mem{Base: s, Disp: 64}, hi)
		}
		v[2*r], v[2*r+1] = deinterleave(lo, hi, ie, io)
	}
	return v
}

// rowLoop emits the loop over output rows and, within, over full chunks and
// the tail chunk; body gets the pointers (output side; input side rows 0
// and 1; x rows 0 and 1 when xb, a second input-side array walked in step,
// is set) and whether it is the tail.
func rowLoop(a args, xb Register, body func(d, s0, s1, x0, x1 Register, tail bool)) {
	Label("row")
	CMPQ(a.rows, U8(0))
	JE(LabelRef("done"))
	d, s0, s1, n := GP64(), GP64(), GP64(), GP64()
	var x0, x1 Register
	MOVQ(a.dst, d)
	MOVQ(a.src, s0)
	LEAQ(Mem{Base: a.src, Index: a.ldi, Scale: 1}, s1)
	if xb != nil {
		x0, x1 = GP64(), GP64()
		MOVQ(xb, x0)
		LEAQ(Mem{Base: xb, Index: a.ldi, Scale: 1}, x1)
	}
	MOVQ(a.full, n)
	Label("chunk")
	CMPQ(n, U8(0))
	JE(LabelRef("tail"))
	body(d, s0, s1, x0, x1, false)
	ADDQ(U8(64), d)
	for _, p := range []Register{s0, s1, x0, x1} {
		if p != nil {
			ADDQ(U32(128), p)
		}
	}
	DECQ(n)
	JMP(LabelRef("chunk"))
	Label("tail")
	KORTESTW(a.km, a.km)
	JE(LabelRef("next"))
	body(d, s0, s1, x0, x1, true)
	Label("next")
	ADDQ(a.ldo, a.dst)
	for _, p := range []Register{a.src, xb} {
		if p != nil {
			ADDQ(a.ldi, p)
			ADDQ(a.ldi, p)
		}
	}
	DECQ(a.rows)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// forward: dst = max (or mean) of each 2×2 block of src.
func forward(isMax bool) {
	name := "avgPool2x2AVX512"
	doc := "avgPool2x2AVX512 sets dst[i][j] = (src[2i][2j] + src[2i][2j+1] + src[2i+1][2j] + src[2i+1][2j+1]) * 0.25 (summed in that order)"
	if isMax {
		name = "maxPool2x2AVX512"
		doc = "maxPool2x2AVX512 sets dst[i][j] = max(max(src[2i][2j], src[2i][2j+1]), max(src[2i+1][2j], src[2i+1][2j+1])), propagating NaN,"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(doc + " for rows output rows of full*16 values plus the tail under km; row strides ldo and ldi (floats); the inputs of the tail are under klo and khi.")
	Pragma("noescape")
	a := load("dst", "src")
	ie, io := ZMM(), ZMM()
	VMOVUPS(idxEven, ie)
	VMOVUPS(idxOdd, io)
	q := ZMM()
	VBROADCASTSS(quarter, q)
	rowLoop(a, nil, func(d, s0, s1, _, _ Register, tail bool) {
		v := window(s0, s1, a.ldi, a, tail, ie, io)
		var r VecVirtual
		if isMax {
			r = maxNaN(maxNaN(v[0], v[1]), maxNaN(v[2], v[3]))
		} else {
			r = ZMM()
			VADDPS(v[1], v[0], r)
			VADDPS(v[2], r, r)
			VADDPS(v[3], r, r)
			VMULPS(q, r, r)
		}
		if tail {
			VMOVUPS(r, a.km, Mem{Base: d})
		} else {
			VMOVUPS(r, Mem{Base: d})
		}
	})
}

// backward writes every input position of the 2×2 blocks: for max, the
// window's gradient at its first position holding the maximum and 0 at the
// others; for average, a quarter of it at all four.
func backward(isMax bool) {
	name := "avgPool2x2BackwardAVX512"
	doc := "avgPool2x2BackwardAVX512 sets all four positions of each 2×2 block of dx to g*0.25"
	if isMax {
		name = "maxPool2x2BackwardAVX512"
		doc = "maxPool2x2BackwardAVX512 sets each 2×2 block of dx to g at the first position (row-major) of x holding the block's maximum and 0 elsewhere (all 0 when the maximum is NaN)"
	}
	TEXT(name, NOSPLIT, "func(dx, gr, x *float32, rows, full, ldo, ldi int, km, klo, khi uint16)")
	Doc(doc + "; rows output rows of full*16 windows plus the tail under km, g with row stride ldo, x and dx with row stride ldi (floats); the input columns of the tail are under klo and khi.")
	Pragma("noescape")
	// The walk is over dx (the "input" side); g is read like an output.
	a := load("gr", "dx")
	var x Register
	if isMax {
		x = Load(Param("x"), GP64())
	}
	ie, io, il, ih := ZMM(), ZMM(), ZMM(), ZMM()
	VMOVUPS(idxEven, ie)
	VMOVUPS(idxOdd, io)
	VMOVUPS(idxLo, il)
	VMOVUPS(idxHi, ih)
	q := ZMM()
	VBROADCASTSS(quarter, q)
	var xb Register
	if isMax {
		xb = x
	}
	rowLoop(a, xb, func(gp, d0, d1, x0, x1 Register, tail bool) {
		gv := ZMM()
		if tail {
			VMOVUPS_Z(Mem{Base: gp}, a.km, gv)
		} else {
			VMOVUPS(Mem{Base: gp}, gv)
		}
		var out [4]VecVirtual
		if isMax {
			v := window(x0, x1, a.ldi, a, tail, ie, io)
			m := maxNaN(maxNaN(v[0], v[1]), maxNaN(v[2], v[3]))
			var k [4]Register
			taken := K()
			for i := range v {
				k[i] = K()
				VCMPPS(U8(0), m, v[i], k[i]) // equal (ordered)
				if i > 0 {
					KANDNW(k[i], taken, k[i]) // and not taken before
				}
				if i == 0 {
					KMOVW(k[0], taken)
				} else {
					KORW(k[i], taken, taken)
				}
				out[i] = ZMM()
				VMOVAPS_Z(gv, k[i], out[i])
			}
		} else {
			VMULPS(q, gv, gv)
			out = [4]VecVirtual{gv, gv, gv, gv}
		}
		for r, dp := range []Register{d0, d1} {
			lo, hi := ZMM(), ZMM()
			VMOVAPS(out[2*r], lo)
			VPERMT2PS(out[2*r+1], il, lo)
			VMOVAPS(out[2*r], hi)
			VPERMT2PS(out[2*r+1], ih, hi)
			if tail {
				VMOVUPS(lo, a.klo, Mem{Base: dp})
				VMOVUPS(hi, a.khi, Mem{Base: dp, Disp: 64})
			} else {
				VMOVUPS(lo, Mem{Base: dp})
				VMOVUPS(hi, Mem{Base: dp, Disp: 64})
			}
		}
	})
}

// col2imPlane gathers one image plane of col2im with unit strides and
// dilations and a row of at most 16 values: for each row ih, the existing
// row plus, for each tap (kh, kw) in order, the column row's values that
// land on it — one masked load per tap, one store per row, so that no
// store is followed by an overlapping load (which the block form of
// col2im stalls on). Taps are {byte offset of lane 0 at output row 0,
// ph − kh, mask of the lanes the tap reaches}.
func col2imPlane() {
	TEXT("col2imPlaneAVX512", NOSPLIT, "func(dst, col *float32, taps *int64, ntaps, rows, iwBytes, oh, owBytes int, km uint16)")
	Doc("col2imPlaneAVX512 adds the col2im contributions of ntaps taps to the rows×(iwBytes/4) plane dst (row masks km), see the generator.")
	Pragma("noescape")
	dst, col := Load(Param("dst"), GP64()), Load(Param("col"), GP64())
	taps, ntaps := Load(Param("taps"), GP64()), Load(Param("ntaps"), GP64())
	rows, iwBytes := Load(Param("rows"), GP64()), Load(Param("iwBytes"), GP64())
	ohN, owBytes := Load(Param("oh"), GP64()), Load(Param("owBytes"), GP64())
	km := K()
	t := Load(Param("km"), GP32())
	KMOVW(t, km)
	end := GP64()
	LEAQ(Mem{Base: ntaps, Index: ntaps, Scale: 2}, end) // 3·ntaps
	SHLQ(U8(3), end)                                    // ×8 bytes
	ADDQ(taps, end)
	ih, p, o := GP64(), GP64(), GP64()
	XORQ(ih, ih)
	Label("row")
	CMPQ(ih, rows)
	JGE(LabelRef("done"))
	acc := ZMM()
	VMOVUPS_Z(Mem{Base: dst}, km, acc)
	MOVQ(taps, p)
	Label("tap")
	CMPQ(p, end)
	JGE(LabelRef("store"))
	MOVQ(ih, o)
	ADDQ(Mem{Base: p, Disp: 8}, o)
	CMPQ(o, U8(0))
	JL(LabelRef("next"))
	CMPQ(o, ohN)
	JGE(LabelRef("next"))
	IMULQ(owBytes, o)
	ADDQ(Mem{Base: p}, o)
	ADDQ(col, o)
	k := K()
	KMOVW(Mem{Base: p, Disp: 16}, k)
	v := ZMM()
	VMOVUPS_Z(Mem{Base: o}, k, v)
	VADDPS(v, acc, acc)
	Label("next")
	ADDQ(U8(24), p)
	JMP(LabelRef("tap"))
	Label("store")
	VMOVUPS(acc, km, Mem{Base: dst})
	ADDQ(iwBytes, dst)
	INCQ(ih)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}
