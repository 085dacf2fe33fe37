// Command gemm generates the float32 GEMM micro-kernels of package kernels.
//
// Each micro-kernel multiplies a packed mr×k panel of A by a packed k×nr
// panel of B and updates one mr×nr tile of row-major C:
//
//	for r := 0; r < mr; r++ {
//		for j := 0; j < nr; j++ {
//			var acc float32
//			for p := 0; p < k; p++ {
//				acc += a[p*mr+r] * b[p*nr+j]
//			}
//			if beta == 0 {
//				c[r*ldc+j] = alpha * acc
//			} else {
//				c[r*ldc+j] = alpha*acc + beta*c[r*ldc+j]
//			}
//		}
//	}
//
// The tile's accumulators live in vector registers for the whole k loop:
// one row of B (nr floats) is loaded into nv vectors per step and each of the
// mr values of A is broadcast and multiplied into them with FMA.
//
// Run it through go generate in the parent directory (see kernels/doc.go).
package main

import (
	"fmt"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

//go:generate go run . -out ../../gen_gemm_amd64.s -stubs ../../gen_gemm_stubs_amd64.go -pkg kernels

// kernel describes one micro-kernel variant.
type kernel struct {
	name   string
	mr     int  // rows of the C tile (broadcast values of A per k step)
	nv     int  // vectors per row of the C tile
	width  int  // float32 lanes per vector: 8 (ymm) or 16 (zmm)
	unroll int  // k steps per loop iteration
	bcst   bool // use AVX-512 embedded broadcast instead of a broadcast register
	arows  bool // A panel is row-major with stride lda (else k groups of mr values)
}

func (k kernel) vec(i int) VecPhysical {
	if k.width == 16 {
		return [...]VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
			Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[i]
	}
	return [...]VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}[i]
}

func main() {
	ConstraintExpr("!purego")
	for _, arows := range []bool{false, true} {
		gen(kernel{name: "sgemmKernel6x16AVX2", mr: 6, nv: 2, width: 8, unroll: 4, arows: arows})
		gen(kernel{name: "sgemmKernel12x32AVX512", mr: 12, nv: 2, width: 16, unroll: 4, arows: arows})
	}
	for _, mr := range []int{1, 2, 4, 8, 16} {
		narrow(mr)
	}
	transpose16()
	transpose8()
	Generate()
}

// transpose16 emits transposeBlocks16AVX512, which transposes blocks of
// 16×16 floats: for b < blocks, i, j < 16,
// dst[(16*b+j)*ldd+i] = src[i*lds+16*b+j].
func transpose16() {
	TEXT("transposeBlocks16AVX512", NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, blocks int)")
	Doc("transposeBlocks16AVX512 transposes blocks 16×16 blocks laid side by side in src (row stride lds) into blocks stacked in dst (row stride ldd): dst[(16*b+j)*ldd+i] = src[i*lds+16*b+j].")
	Pragma("noescape")
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	blocks := Load(Param("blocks"), GP64())
	SHLQ(U8(2), ldd)
	SHLQ(U8(2), lds)
	z := func(i int) VecPhysical { return (kernel{width: 16}).vec(i) }
	r := func(i int) VecPhysical { return z(i) }
	t := func(i int) VecPhysical { return z(16 + i) }
	sp, dp := GP64(), GP64()
	Label("block")
	TESTQ(blocks, blocks)
	JE(LabelRef("done"))
	MOVQ(src, sp)
	for i := 0; i < 16; i++ {
		VMOVUPS(Mem{Base: sp}, r(i))
		if i < 15 {
			ADDQ(lds, sp)
		}
	}
	for i := 0; i < 16; i += 2 {
		VUNPCKLPS(r(i+1), r(i), t(i))
		VUNPCKHPS(r(i+1), r(i), t(i+1))
	}
	for g := 0; g < 16; g += 4 {
		VSHUFPS(U8(0x44), t(g+2), t(g), r(g))
		VSHUFPS(U8(0xEE), t(g+2), t(g), r(g+1))
		VSHUFPS(U8(0x44), t(g+3), t(g+1), r(g+2))
		VSHUFPS(U8(0xEE), t(g+3), t(g+1), r(g+3))
	}
	for g := 0; g < 16; g += 8 {
		for i := 0; i < 4; i++ {
			VSHUFF32X4(U8(0x88), r(g+4+i), r(g+i), t(g+i))
			VSHUFF32X4(U8(0xDD), r(g+4+i), r(g+i), t(g+4+i))
		}
	}
	for i := 0; i < 8; i++ {
		VSHUFF32X4(U8(0x88), t(8+i), t(i), r(i))
		VSHUFF32X4(U8(0xDD), t(8+i), t(i), r(8+i))
	}
	MOVQ(dst, dp)
	for i := 0; i < 16; i++ {
		VMOVUPS(r(i), Mem{Base: dp})
		if i < 15 {
			ADDQ(ldd, dp)
		}
	}
	ADDQ(U32(64), src)
	LEAQ(Mem{Base: dp, Index: ldd, Scale: 1}, dst)
	DECQ(blocks)
	JMP(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}

// transpose8 emits transposeBlocks8AVX2, the 8×8 AVX2 counterpart of
// transposeBlocks16AVX512.
func transpose8() {
	TEXT("transposeBlocks8AVX2", NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, blocks int)")
	Doc("transposeBlocks8AVX2 transposes blocks 8×8 blocks laid side by side in src (row stride lds) into blocks stacked in dst (row stride ldd): dst[(8*b+j)*ldd+i] = src[i*lds+8*b+j].")
	Pragma("noescape")
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	blocks := Load(Param("blocks"), GP64())
	SHLQ(U8(2), ldd)
	SHLQ(U8(2), lds)
	y := func(i int) VecPhysical { return (kernel{width: 8}).vec(i) }
	r := func(i int) VecPhysical { return y(i) }
	t := func(i int) VecPhysical { return y(8 + i) }
	sp, dp := GP64(), GP64()
	Label("block")
	TESTQ(blocks, blocks)
	JE(LabelRef("done"))
	MOVQ(src, sp)
	for i := 0; i < 8; i++ {
		VMOVUPS(Mem{Base: sp}, r(i))
		if i < 7 {
			ADDQ(lds, sp)
		}
	}
	for i := 0; i < 8; i += 2 {
		VUNPCKLPS(r(i+1), r(i), t(i))
		VUNPCKHPS(r(i+1), r(i), t(i+1))
	}
	for g := 0; g < 8; g += 4 {
		VSHUFPS(U8(0x44), t(g+2), t(g), r(g))
		VSHUFPS(U8(0xEE), t(g+2), t(g), r(g+1))
		VSHUFPS(U8(0x44), t(g+3), t(g+1), r(g+2))
		VSHUFPS(U8(0xEE), t(g+3), t(g+1), r(g+3))
	}
	for i := 0; i < 4; i++ {
		VPERM2F128(U8(0x20), r(4+i), r(i), t(i))
		VPERM2F128(U8(0x31), r(4+i), r(i), t(4+i))
	}
	MOVQ(dst, dp)
	for i := 0; i < 8; i++ {
		VMOVUPS(t(i), Mem{Base: dp})
		if i < 7 {
			ADDQ(ldd, dp)
		}
	}
	ADDQ(U32(32), src)
	LEAQ(Mem{Base: dp, Index: ldd, Scale: 1}, dst)
	DECQ(blocks)
	JMP(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}

func gen(kn kernel) {
	nr := kn.nv * kn.width
	name := kn.name
	if kn.arows {
		name = strings.Replace(name, "AVX", "RowsAVX", 1)
		TEXT(name, NOSPLIT, "func(k int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32)")
		Doc(fmt.Sprintf("%s updates a %dx%d tile of C with alpha*A*B + beta*C, where A holds %d rows of k values with stride lda and B is a packed panel of k groups of %d values; beta == 0 means C is not read.", name, kn.mr, nr, kn.mr, nr))
	} else {
		TEXT(name, NOSPLIT, "func(k int, a, b, c *float32, ldc int, alpha, beta float32)")
		Doc(fmt.Sprintf("%s updates a %dx%d tile of C with alpha*A*B + beta*C from packed panels of k groups of %d and %d values; beta == 0 means C is not read.", name, kn.mr, nr, kn.mr, nr))
	}
	Pragma("noescape")

	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	// aAt returns the address of A's row r at k step u.
	aAt := func(r, u int) Mem { return Mem{Base: a, Disp: (u*kn.mr + r) * 4} }
	var a2 Register
	if kn.arows {
		l1 := Load(Param("lda"), GP64())
		SHLQ(U8(2), l1)
		l3, l5, l7 := GP64(), GP64(), GP64()
		LEAQ(Mem{Base: l1, Index: l1, Scale: 2}, l3)
		LEAQ(Mem{Base: l1, Index: l1, Scale: 4}, l5)
		LEAQ(Mem{Base: l3, Index: l1, Scale: 4}, l7)
		if kn.mr > 9 {
			a2 = GP64()
			LEAQ(Mem{Base: a, Index: l1, Scale: 8}, a2)
			ADDQ(l1, a2)
		}
		// Row r of a block of nine from base: base + {0, L, 2L, 3L, 4L, 5L, 6L, 7L, 8L}.
		off := []struct {
			idx   Register
			scale uint8
		}{{nil, 0}, {l1, 1}, {l1, 2}, {l3, 1}, {l1, 4}, {l5, 1}, {l3, 2}, {l7, 1}, {l1, 8}}
		aAt = func(r, u int) Mem {
			base := a
			if r >= 9 {
				base, r = a2, r-9
			}
			m := Mem{Base: base, Disp: u * 4}
			if o := off[r]; o.idx != nil {
				m.Index, m.Scale = o.idx, o.scale
			}
			return m
		}
	}
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)

	nacc := kn.mr * kn.nv
	acc := func(r, v int) VecPhysical { return kn.vec(r*kn.nv + v) }
	breg := func(v int) VecPhysical { return kn.vec(nacc + v) }
	bc := kn.vec(nacc + kn.nv)

	Comment("Zero the accumulators and warm the C tile.")
	for i := 0; i < nacc; i++ {
		r := kn.vec(i)
		VXORPS(r, r, r)
	}
	cr := GP64()
	MOVQ(c, cr)
	for r := 0; r < kn.mr; r++ {
		PREFETCHT0(Mem{Base: cr})
		if nr*4 > 64 {
			PREFETCHT0(Mem{Base: cr, Disp: nr*4 - 4})
		}
		if r < kn.mr-1 {
			ADDQ(ldc, cr)
		}
	}

	step := func(u int) {
		for v := 0; v < kn.nv; v++ {
			VMOVUPS(Mem{Base: b, Disp: (u*nr + v*kn.width) * 4}, breg(v))
		}
		for r := 0; r < kn.mr; r++ {
			am := aAt(r, u)
			if kn.bcst {
				for v := 0; v < kn.nv; v++ {
					VFMADD231PS_BCST(am, breg(v), acc(r, v))
				}
				continue
			}
			VBROADCASTSS(am, bc)
			for v := 0; v < kn.nv; v++ {
				VFMADD231PS(breg(v), bc, acc(r, v))
			}
		}
	}

	Comment(fmt.Sprintf("Main loop: %d k steps per iteration.", kn.unroll))
	Label("loop")
	CMPQ(k, U32(kn.unroll))
	JL(LabelRef("tail"))
	for u := 0; u < kn.unroll; u++ {
		step(u)
	}
	advanceA(kn, a, a2, kn.unroll)
	ADDQ(U32(kn.unroll*nr*4), b)
	SUBQ(U32(kn.unroll), k)
	JMP(LabelRef("loop"))

	Label("tail")
	TESTQ(k, k)
	JE(LabelRef("store"))
	step(0)
	advanceA(kn, a, a2, 1)
	ADDQ(U32(nr*4), b)
	DECQ(k)
	JMP(LabelRef("tail"))

	Label("store")
	alphaAddr := paramAddr("alpha")
	betaAddr := paramAddr("beta")
	av := breg(0)
	VBROADCASTSS(alphaAddr, av)
	for i := 0; i < nacc; i++ {
		VMULPS(av, kn.vec(i), kn.vec(i))
	}
	betaBits := GP32()
	MOVL(betaAddr, betaBits)
	SHLL(U8(1), betaBits) // drop the sign: -0 counts as zero
	JZ(LabelRef("betazero"))

	Comment("C = alpha*acc + beta*C")
	bv := breg(1)
	VBROADCASTSS(betaAddr, bv)
	for r := 0; r < kn.mr; r++ {
		for v := 0; v < kn.nv; v++ {
			VFMADD231PS(Mem{Base: c, Disp: v * kn.width * 4}, bv, acc(r, v))
			VMOVUPS(acc(r, v), Mem{Base: c, Disp: v * kn.width * 4})
		}
		if r < kn.mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()

	Label("betazero")
	Comment("C = alpha*acc; C is not read")
	for r := 0; r < kn.mr; r++ {
		for v := 0; v < kn.nv; v++ {
			VMOVUPS(acc(r, v), Mem{Base: c, Disp: v * kn.width * 4})
		}
		if r < kn.mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// advanceA moves the A pointers on by steps k steps.
func advanceA(kn kernel, a, a2 Register, steps int) {
	if !kn.arows {
		ADDQ(U32(steps*kn.mr*4), a)
		return
	}
	ADDQ(U32(steps*4), a)
	if a2 != nil {
		ADDQ(U32(steps*4), a2)
	}
}

// paramAddr returns the memory operand of a scalar argument.
func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// narrow emits sgemmNarrow<mr>AVX512, the kernel of products with at most
// 16 columns: mr rows of C, each one vector of 16 columns (the mask selects
// the n that exist), updated with alpha*A*B + beta*C from mr rows of A
// (stride lda, read with embedded broadcasts) and a packed B of k rows of
// 16 values. Two B registers alternate between k steps.
func narrow(mr int) {
	name := fmt.Sprintf("sgemmNarrow%dAVX512", mr)
	TEXT(name, NOSPLIT, "func(k int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, mask uint16)")
	Doc(fmt.Sprintf("%s updates %d rows of C (row stride ldc, the columns in mask) with alpha*A*B + beta*C, where A holds %d rows of k values with stride lda and B is k packed rows of 16 values; beta == 0 means C is not read.", name, mr, mr))
	Pragma("noescape")
	kn := kernel{mr: mr, nv: 1, width: 16, arows: true}
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	l1 := Load(Param("lda"), GP64())
	SHLQ(U8(2), l1)
	l3, l5, l7 := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: l1, Index: l1, Scale: 2}, l3)
	LEAQ(Mem{Base: l1, Index: l1, Scale: 4}, l5)
	LEAQ(Mem{Base: l3, Index: l1, Scale: 4}, l7)
	var a2 Register
	if mr > 9 {
		a2 = GP64()
		LEAQ(Mem{Base: a, Index: l1, Scale: 8}, a2)
		ADDQ(l1, a2)
	}
	off := []struct {
		idx   Register
		scale uint8
	}{{nil, 0}, {l1, 1}, {l1, 2}, {l3, 1}, {l1, 4}, {l5, 1}, {l3, 2}, {l7, 1}, {l1, 8}}
	aAt := func(r, u int) Mem {
		base := a
		if r >= 9 {
			base, r = a2, r-9
		}
		m := Mem{Base: base, Disp: u * 4}
		if o := off[r]; o.idx != nil {
			m.Index, m.Scale = o.idx, o.scale
		}
		return m
	}
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	mask := K()
	t := Load(Param("mask"), GP32())
	KMOVW(t, mask)
	acc := func(r int) VecPhysical { return kn.vec(r) }
	breg := func(u int) VecPhysical { return kn.vec(mr + u%2) }
	for r := 0; r < mr; r++ {
		VXORPS(acc(r), acc(r), acc(r))
	}
	step := func(u int) {
		VMOVUPS(Mem{Base: b, Disp: u * 64}, breg(u))
		for r := 0; r < mr; r++ {
			VFMADD231PS_BCST(aAt(r, u), breg(u), acc(r))
		}
	}
	const unroll = 4
	Label("loop")
	CMPQ(k, U32(unroll))
	JL(LabelRef("tail"))
	for u := 0; u < unroll; u++ {
		step(u)
	}
	advanceA(kn, a, a2, unroll)
	ADDQ(U32(unroll*64), b)
	SUBQ(U32(unroll), k)
	JMP(LabelRef("loop"))
	Label("tail")
	TESTQ(k, k)
	JE(LabelRef("store"))
	step(0)
	advanceA(kn, a, a2, 1)
	ADDQ(U32(64), b)
	DECQ(k)
	JMP(LabelRef("tail"))

	Label("store")
	av := breg(0)
	VBROADCASTSS(paramAddr("alpha"), av)
	for r := 0; r < mr; r++ {
		VMULPS(av, acc(r), acc(r))
	}
	betaBits := GP32()
	MOVL(paramAddr("beta"), betaBits)
	SHLL(U8(1), betaBits) // -0 counts as zero
	JZ(LabelRef("betazero"))
	Comment("C = alpha*acc + beta*C, the columns in mask")
	bv, cv := breg(1), kn.vec(mr+2)
	VBROADCASTSS(paramAddr("beta"), bv)
	for r := 0; r < mr; r++ {
		VMOVUPS_Z(Mem{Base: c}, mask, cv)
		VFMADD231PS(cv, bv, acc(r))
		VMOVUPS(acc(r), mask, Mem{Base: c})
		if r < mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
	Label("betazero")
	for r := 0; r < mr; r++ {
		VMOVUPS(acc(r), mask, Mem{Base: c})
		if r < mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}
