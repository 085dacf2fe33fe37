// Command bf16 generates the bfloat16 kernels of package kernels: float32
// to bfloat16 conversion (round to nearest even, NaN kept quiet) for
// AVX-512F, and the AMX-BF16 block kernel of the bfloat16 matrix product.
//
// The Go assembler (and avo) have no AMX mnemonics, so the tile
// instructions are emitted as bytes, encoded below from their VEX forms
// (Intel SDM vol. 2, "TILELOADD", "TDPBF16PS", ...); the block kernel uses
// fixed registers only, so that the bytes name the registers the rest of
// the code uses. The encodings were checked against GNU as.
//
// Run it through go generate in the parent directory (see kernels/doc.go).
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

//go:generate go run . -out ../../gen_bf16_amd64.s -stubs ../../gen_bf16_stubs_amd64.go -pkg kernels

var one, round, absMask, inf, quiet Mem

func main() {
	ConstraintExpr("!purego")
	one = ConstData("bf16one", U32(1))
	round = ConstData("bf16round", U32(0x7fff))
	absMask = ConstData("bf16abs", U32(0x7fffffff))
	inf = ConstData("bf16inf", U32(0x7f800000))
	quiet = ConstData("bf16quiet", U32(0x40))
	convert()
	pack2()
	amxBlock()
	Generate()
}

// toBF16 rounds the 16 float32 lanes of v to bfloat16, leaving each in the
// low half of its lane: (bits + 0x7fff + ((bits >> 16) & 1)) >> 16, or for
// NaN (bits >> 16) | 0x40.
func toBF16(v VecVirtual, c [5]VecVirtual) VecVirtual {
	t, r := ZMM(), ZMM()
	VPSRLD(U8(16), v, t)
	VPANDD(c[0], t, t)
	VPADDD(c[1], t, t)
	VPADDD(v, t, r)
	VPSRLD(U8(16), r, r)
	a := ZMM()
	VPANDD(c[2], v, a)
	k := K()
	VPCMPGTD(c[3], a, k) // |bits| > inf: NaN
	VPSRLD(U8(16), v, t)
	VPORD(c[4], t, k, r)
	return r
}

func constants() [5]VecVirtual {
	var c [5]VecVirtual
	for i, m := range []Mem{one, round, absMask, inf, quiet} {
		c[i] = ZMM()
		VPBROADCASTD(m, c[i])
	}
	return c
}

// convert: dst[i] = bf16(src[i]) for n (a multiple of 16) floats.
func convert() {
	TEXT("bf16ConvertAVX512", NOSPLIT, "func(dst *uint16, src *float32, n int)")
	Doc("bf16ConvertAVX512 rounds n floats (a multiple of 16) to bfloat16: dst[i] = bf16(src[i]).")
	Pragma("noescape")
	dst, src, n := Load(Param("dst"), GP64()), Load(Param("src"), GP64()), Load(Param("n"), GP64())
	c := constants()
	Label("loop")
	CMPQ(n, U8(16))
	JL(LabelRef("done"))
	v := ZMM()
	VMOVUPS(Mem{Base: src}, v)
	r := toBF16(v, c)
	VPMOVDW(r, Mem{Base: dst})
	ADDQ(U8(64), src)
	ADDQ(U8(32), dst)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// pack2: dst[i] = bf16(r0[i]) | bf16(r1[i])<<16, the bfloat16 pairs of two
// rows (the VNNI layout of a B tile, or two rows of a transposed A).
func pack2() {
	TEXT("bf16Pack2AVX512", NOSPLIT, "func(dst *uint32, r0, r1 *float32, n int)")
	Doc("bf16Pack2AVX512 packs n (a multiple of 16) column pairs of two float rows as bfloat16: dst[i] = bf16(r0[i]) | bf16(r1[i])<<16.")
	Pragma("noescape")
	dst, r0, r1, n := Load(Param("dst"), GP64()), Load(Param("r0"), GP64()), Load(Param("r1"), GP64()), Load(Param("n"), GP64())
	c := constants()
	Label("loop")
	CMPQ(n, U8(16))
	JL(LabelRef("done"))
	v0, v1 := ZMM(), ZMM()
	VMOVUPS(Mem{Base: r0}, v0)
	VMOVUPS(Mem{Base: r1}, v1)
	lo := toBF16(v0, c)
	hi := toBF16(v1, c)
	VPSLLD(U8(16), hi, hi)
	VPORD(hi, lo, lo)
	VMOVDQU32(lo, Mem{Base: dst})
	ADDQ(U8(64), r0)
	ADDQ(U8(64), r1)
	ADDQ(U8(64), dst)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// raw emits bytes as BYTE directives.
func raw(comment string, bs ...byte) {
	Comment(comment)
	for _, b := range bs {
		Instruction(&ir.Instruction{Opcode: "BYTE", Operands: []Op{U8(b)}})
	}
}

// gpNum is a general register's encoding number.
func gpNum(r GPPhysical) byte {
	for i, g := range []GPPhysical{RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15} {
		if g == r {
			return byte(i)
		}
	}
	panic("not a general register")
}

// vex3 returns a three-byte VEX prefix for map 0F38, W0, L0.
func vex3(r, x, b byte, vvvv byte, pp byte) []byte {
	inv := func(bit byte) byte { return (^bit) & 1 }
	return []byte{0xc4, inv(r)<<7 | inv(x)<<6 | inv(b)<<5 | 0x02, (^vvvv&0xf)<<3 | pp}
}

// tileMem encodes op tmm, [base + index*1] (TILELOADD with pp F2,
// TILESTORED with pp F3; opcode 4B).
func tileMem(name string, pp byte, tmm int, base, index GPPhysical) {
	bn, in := gpNum(base), gpNum(index)
	if bn&7 == 5 || in == 4 {
		panic("base rbp/r13 or index rsp need other encodings")
	}
	bs := vex3(0, in>>3, bn>>3, 0, pp)
	bs = append(bs, 0x4b, byte(tmm)<<3|0x04, (in&7)<<3|bn&7)
	raw(fmt.Sprintf("%s tmm%d, [%s + %s*1]", name, tmm, base.Asm(), index.Asm()), bs...)
}

func tileLoad(tmm int, base, index GPPhysical)  { tileMem("TILELOADD", 0x3, tmm, base, index) }
func tileStore(tmm int, base, index GPPhysical) { tileMem("TILESTORED", 0x2, tmm, base, index) }

func tileZero(tmm int) {
	raw(fmt.Sprintf("TILEZERO tmm%d", tmm), append(vex3(0, 0, 0, 0, 0x3), 0x49, 0xc0|byte(tmm)<<3)...)
}

// tdp encodes TDPBF16PS dst, a, b: dst += a·b (pp F3, opcode 5C, vvvv = b).
func tdp(dst, a, b int) {
	raw(fmt.Sprintf("TDPBF16PS tmm%d, tmm%d, tmm%d", dst, a, b), append(vex3(0, 0, 0, byte(b), 0x2), 0x5c, 0xc0|byte(dst)<<3|byte(a))...)
}

// amxBlock: a 32×32 float32 block of C (tiles 0-3) gets the product of 32
// rows of A (tiles 4, 5: 16 rows × 32 bfloat16 each) and 32 columns of B
// (tiles 6, 7: 16 pairs of rows × 16 columns each, in VNNI pairs) over
// steps×32 of the depth.
func amxBlock() {
	TEXT("amxBF16Block", NOSPLIT, "func(cfg *byte, steps int, a *uint32, lda int, b *uint32, ldb int, c *float32, ldc int, load int, blocks int)")
	Doc("amxBF16Block sets (or, with load, adds to) blocks 32×32 blocks of C side by side (row stride ldc bytes) the product of 32 rows of A (bfloat16, row stride lda bytes) and the blocks' 32 columns of B each (bfloat16 pairs of rows, row stride ldb bytes, a block's columns 128 bytes after the last's) over steps×32 of the depth, with AMX tiles configured once by cfg.")
	Load(Param("cfg"), RAX)
	raw("LDTILECFG [rax]", 0xc4, 0xe2, 0x78, 0x49, 0x00)
	Label("block")
	Load(Param("blocks"), RAX)
	TESTQ(RAX, RAX)
	JZ(LabelRef("release"))
	DECQ(RAX)
	Store(RAX, Param("blocks"))
	Load(Param("a"), RSI)
	Load(Param("lda"), RDX)
	MOVQ(RDX, RDI)
	SHLQ(U8(4), RDI)
	ADDQ(RSI, RDI) // A rows 16-31
	Load(Param("b"), RCX)
	Load(Param("ldb"), R8)
	LEAQ(Mem{Base: RCX, Disp: 64}, RBX) // B columns 16-31
	MOVQ(R8, R14)
	SHLQ(U8(4), R14) // 16 pair rows: one depth step
	Load(Param("c"), R9)
	Load(Param("ldc"), R10)
	LEAQ(Mem{Base: R9, Disp: 64}, R11)
	MOVQ(R10, R12)
	SHLQ(U8(4), R12)
	ADDQ(R9, R12)
	LEAQ(Mem{Base: R12, Disp: 64}, R15)
	Load(Param("load"), RAX)
	TESTQ(RAX, RAX)
	JZ(LabelRef("zero"))
	tileLoad(0, R9, R10)
	tileLoad(1, R11, R10)
	tileLoad(2, R12, R10)
	tileLoad(3, R15, R10)
	JMP(LabelRef("start"))
	Label("zero")
	for t := 0; t < 4; t++ {
		tileZero(t)
	}
	Label("start")
	Load(Param("steps"), RAX)
	Label("loop")
	TESTQ(RAX, RAX)
	JZ(LabelRef("store"))
	tileLoad(4, RSI, RDX)
	tileLoad(5, RDI, RDX)
	tileLoad(6, RCX, R8)
	tileLoad(7, RBX, R8)
	tdp(0, 4, 6)
	tdp(1, 4, 7)
	tdp(2, 5, 6)
	tdp(3, 5, 7)
	ADDQ(U8(64), RSI)
	ADDQ(U8(64), RDI)
	ADDQ(R14, RCX)
	ADDQ(R14, RBX)
	DECQ(RAX)
	JMP(LabelRef("loop"))
	Label("store")
	tileStore(0, R9, R10)
	tileStore(1, R11, R10)
	tileStore(2, R12, R10)
	tileStore(3, R15, R10)
	// Next block: B and C 32 columns on.
	Load(Param("b"), RAX)
	ADDQ(U32(128), RAX)
	Store(RAX, Param("b"))
	Load(Param("c"), RAX)
	ADDQ(U32(128), RAX)
	Store(RAX, Param("c"))
	JMP(LabelRef("block"))
	Label("release")
	raw("TILERELEASE", 0xc4, 0xe2, 0x78, 0x49, 0xc0)
	RET()
}
