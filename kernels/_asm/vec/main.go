// Command vec generates the vector kernels of package kernels: quantize,
// dequantize, min/max, absolute max, dot, axpy, sum and histogram bin
// indices, each for AVX2 and AVX-512F.
//
// Every function takes the element count n, which the Go wrapper makes a
// multiple of the block the function handles (one vector: 8 floats for AVX2,
// 16 for AVX-512) and finishes the tail with the generic Go code. Reductions
// store their per-lane partial results and leave the last step to Go.
//
// Run it through go generate in the parent directory (see kernels/doc.go).
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

//go:generate go run . -out ../../gen_vec_amd64.s -stubs ../../gen_vec_stubs_amd64.go -pkg kernels

// isa describes one vector instruction set.
type isa struct {
	suffix string // function name suffix
	width  int    // float32 lanes
	unroll int    // vectors per main-loop iteration
}

func (s isa) vec() VecVirtual {
	if s.width == 16 {
		return ZMM()
	}
	return YMM()
}

var (
	avx2   = isa{suffix: "AVX2", width: 8, unroll: 4}
	avx512 = isa{suffix: "AVX512", width: 16, unroll: 4}
)

var (
	posInf, negInf, absMask Mem
	packPerm                Mem
)

func main() {
	ConstraintExpr("!purego")
	posInf = ConstData("posinf", U32(math.Float32bits(float32(math.Inf(1)))))
	negInf = ConstData("neginf", U32(math.Float32bits(float32(math.Inf(-1)))))
	absMask = ConstData("absmask", U32(0x7fffffff))
	packPerm = GLOBL("packperm", RODATA|NOPTR)
	for i, v := range []uint32{0, 4, 1, 5, 2, 6, 3, 7} {
		DATA(4*i, U32(v))
	}

	for _, s := range []isa{avx2, avx512} {
		quantize(s, false)
		quantize(s, true)
		dequantize(s, false)
		dequantize(s, true)
		minMax(s)
		absMax(s)
		dot(s)
		axpy(s)
		sum(s)
		binIndex(s)
	}
	Generate()
}

// loop emits the usual structure: a main loop over s.unroll vectors, then a
// loop over single vectors, both calling body with the number of vectors and
// advancing the pointers by that many vectors times their element sizes.
func loop(s isa, n Register, ptrs []Register, sizes []int, body func(nv int)) {
	block := s.width * s.unroll
	Label("big")
	CMPQ(n, U32(block))
	JL(LabelRef("one"))
	body(s.unroll)
	for i, p := range ptrs {
		ADDQ(U32(block*sizes[i]), p)
	}
	SUBQ(U32(block), n)
	JMP(LabelRef("big"))
	Label("one")
	CMPQ(n, U32(s.width))
	JL(LabelRef("done"))
	body(1)
	for i, p := range ptrs {
		ADDQ(U32(s.width*sizes[i]), p)
	}
	SUBQ(U32(s.width), n)
	JMP(LabelRef("one"))
	Label("done")
}

func broadcast(s isa, m Mem) VecVirtual {
	v := s.vec()
	VBROADCASTSS(m, v)
	return v
}

// broadcastInt broadcasts an int32 argument (through a general register:
// go vet's asmdecl does not size VPBROADCASTD memory operands).
func broadcastInt(s isa, name string) VecVirtual {
	g := Load(Param(name), GP32())
	x := XMM()
	MOVD(g, x)
	v := s.vec()
	VPBROADCASTD(x, v)
	return v
}

func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// quantize: dst[i] = int8/uint8(cvt(min(max(src[i]/scale, lo), hi)) + zp),
// where max returns lo for NaN and cvt rounds half to even.
func quantize(s isa, signed bool) {
	kind := "U8"
	if signed {
		kind = "I8"
	}
	name := "quantize" + kind + s.suffix
	TEXT(name, NOSPLIT, "func(dst *byte, src *float32, n int, scale, lo, hi float32, zp int32)")
	Doc(fmt.Sprintf("%s quantizes n floats (a multiple of %d) to %s codes; lo and hi are the code range minus zp, as floats.", name, s.width, kind))
	Pragma("noescape")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	scale := broadcast(s, paramAddr("scale"))
	lo := broadcast(s, paramAddr("lo"))
	hi := broadcast(s, paramAddr("hi"))
	zp := broadcastInt(s, "zp")
	var perm VecVirtual
	if s.width == 8 {
		perm = YMM()
		VMOVDQU(packPerm, perm)
	}
	loop(s, n, []Register{dst, src}, []int{1, 4}, func(nv int) {
		v := make([]VecVirtual, nv)
		for i := range v {
			v[i] = s.vec()
			VMOVUPS(Mem{Base: src, Disp: i * s.width * 4}, v[i])
			VDIVPS(scale, v[i], v[i])
			VMAXPS(lo, v[i], v[i]) // NaN in v[i] gives lo
			VMINPS(hi, v[i], v[i])
			VCVTPS2DQ(v[i], v[i])
			VPADDD(zp, v[i], v[i])
		}
		if s.width == 16 {
			for i := range v {
				VPMOVDB(v[i], Mem{Base: dst, Disp: i * 16})
			}
			return
		}
		// AVX2: the values are in range, so saturating packs are exact.
		if nv == 1 {
			VPACKSSDW(v[0], v[0], v[0])
			if signed {
				VPACKSSWB(v[0], v[0], v[0])
			} else {
				VPACKUSWB(v[0], v[0], v[0])
			}
			VPERMD(v[0], perm, v[0])
			VMOVQ(v[0].AsX(), Mem{Base: dst})
			return
		}
		VPACKSSDW(v[1], v[0], v[0])
		VPACKSSDW(v[3], v[2], v[2])
		if signed {
			VPACKSSWB(v[2], v[0], v[0])
		} else {
			VPACKUSWB(v[2], v[0], v[0])
		}
		VPERMD(v[0], perm, v[0])
		VMOVDQU(v[0], Mem{Base: dst})
	})
	VZEROUPPER()
	RET()
}

// dequantize: dst[i] = float32(int32(src[i]) - zp) * scale.
func dequantize(s isa, signed bool) {
	kind := "U8"
	if signed {
		kind = "I8"
	}
	name := "dequantize" + kind + s.suffix
	TEXT(name, NOSPLIT, "func(dst *float32, src *byte, n int, scale float32, zp int32)")
	Doc(fmt.Sprintf("%s dequantizes n (a multiple of %d) %s codes.", name, s.width, kind))
	Pragma("noescape")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	scale := broadcast(s, paramAddr("scale"))
	zp := broadcastInt(s, "zp")
	loop(s, n, []Register{dst, src}, []int{4, 1}, func(nv int) {
		for i := 0; i < nv; i++ {
			v := s.vec()
			m := Mem{Base: src, Disp: i * s.width}
			if signed {
				VPMOVSXBD(m, v)
			} else {
				VPMOVZXBD(m, v)
			}
			VPSUBD(zp, v, v)
			VCVTDQ2PS(v, v)
			VMULPS(scale, v, v)
			VMOVUPS(v, Mem{Base: dst, Disp: i * s.width * 4})
		}
	})
	VZEROUPPER()
	RET()
}

// minMax stores per-lane minima and maxima of n floats, ignoring NaN, to
// out[0:width] and out[width:2*width].
func minMax(s isa) {
	name := "minMax" + s.suffix
	TEXT(name, NOSPLIT, "func(src *float32, n int, out *float32)")
	Doc(fmt.Sprintf("%s stores the per-lane minima and maxima of n floats (a multiple of %d), ignoring NaN, to out[0:%d] and out[%d:%d].", name, s.width, s.width, s.width, 2*s.width))
	Pragma("noescape")
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	out := Load(Param("out"), GP64())
	lo := make([]VecVirtual, s.unroll)
	hi := make([]VecVirtual, s.unroll)
	for i := range lo {
		lo[i], hi[i] = broadcast(s, posInf), broadcast(s, negInf)
	}
	loop(s, n, []Register{src}, []int{4}, func(nv int) {
		for i := 0; i < nv; i++ {
			v := s.vec()
			VMOVUPS(Mem{Base: src, Disp: i * s.width * 4}, v)
			VMINPS(lo[i], v, lo[i]) // NaN in v keeps lo[i]
			VMAXPS(hi[i], v, hi[i])
		}
	})
	for i := 1; i < s.unroll; i++ {
		VMINPS(lo[i], lo[0], lo[0])
		VMAXPS(hi[i], hi[0], hi[0])
	}
	VMOVUPS(lo[0], Mem{Base: out})
	VMOVUPS(hi[0], Mem{Base: out, Disp: s.width * 4})
	VZEROUPPER()
	RET()
}

// absMax stores per-lane maxima of |x| over n floats, ignoring NaN.
func absMax(s isa) {
	name := "absMax" + s.suffix
	TEXT(name, NOSPLIT, "func(src *float32, n int, out *float32)")
	Doc(fmt.Sprintf("%s stores the per-lane maxima of |x| over n floats (a multiple of %d), ignoring NaN, to out[0:%d].", name, s.width, s.width))
	Pragma("noescape")
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	out := Load(Param("out"), GP64())
	mask := broadcast(s, absMask)
	acc := make([]VecVirtual, s.unroll)
	for i := range acc {
		acc[i] = s.vec()
		VXORPS(acc[i], acc[i], acc[i])
	}
	loop(s, n, []Register{src}, []int{4}, func(nv int) {
		for i := 0; i < nv; i++ {
			v := s.vec()
			VANDPS(Mem{Base: src, Disp: i * s.width * 4}, mask, v)
			VMAXPS(acc[i], v, acc[i]) // NaN in v keeps acc[i]
		}
	})
	for i := 1; i < s.unroll; i++ {
		VMAXPS(acc[i], acc[0], acc[0])
	}
	VMOVUPS(acc[0], Mem{Base: out})
	VZEROUPPER()
	RET()
}

// dot stores per-lane partial sums of x[i]*y[i].
func dot(s isa) {
	name := "dot" + s.suffix
	TEXT(name, NOSPLIT, "func(x, y *float32, n int, out *float32)")
	Doc(fmt.Sprintf("%s stores per-lane partial sums of x[i]*y[i] over n floats (a multiple of %d) to out[0:%d].", name, s.width, s.width))
	Pragma("noescape")
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	out := Load(Param("out"), GP64())
	acc := make([]VecVirtual, s.unroll)
	for i := range acc {
		acc[i] = s.vec()
		VXORPS(acc[i], acc[i], acc[i])
	}
	loop(s, n, []Register{x, y}, []int{4, 4}, func(nv int) {
		for i := 0; i < nv; i++ {
			v := s.vec()
			VMOVUPS(Mem{Base: x, Disp: i * s.width * 4}, v)
			VFMADD231PS(Mem{Base: y, Disp: i * s.width * 4}, v, acc[i])
		}
	})
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	VMOVUPS(acc[0], Mem{Base: out})
	VZEROUPPER()
	RET()
}

// axpy: y[i] += alpha*x[i] with FMA.
func axpy(s isa) {
	name := "axpy" + s.suffix
	TEXT(name, NOSPLIT, "func(alpha float32, x, y *float32, n int)")
	Doc(fmt.Sprintf("%s sets y[i] += alpha*x[i] (fused) for n floats (a multiple of %d).", name, s.width))
	Pragma("noescape")
	alpha := broadcast(s, paramAddr("alpha"))
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	loop(s, n, []Register{x, y}, []int{4, 4}, func(nv int) {
		for i := 0; i < nv; i++ {
			v := s.vec()
			VMOVUPS(Mem{Base: y, Disp: i * s.width * 4}, v)
			VFMADD231PS(Mem{Base: x, Disp: i * s.width * 4}, alpha, v)
			VMOVUPS(v, Mem{Base: y, Disp: i * s.width * 4})
		}
	})
	VZEROUPPER()
	RET()
}

// sum stores per-lane partial sums of x.
func sum(s isa) {
	name := "sum" + s.suffix
	TEXT(name, NOSPLIT, "func(x *float32, n int, out *float32)")
	Doc(fmt.Sprintf("%s stores per-lane partial sums of n floats (a multiple of %d) to out[0:%d].", name, s.width, s.width))
	Pragma("noescape")
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	out := Load(Param("out"), GP64())
	acc := make([]VecVirtual, s.unroll)
	for i := range acc {
		acc[i] = s.vec()
		VXORPS(acc[i], acc[i], acc[i])
	}
	loop(s, n, []Register{x}, []int{4}, func(nv int) {
		for i := 0; i < nv; i++ {
			VADDPS(Mem{Base: x, Disp: i * s.width * 4}, acc[i], acc[i])
		}
	})
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	VMOVUPS(acc[0], Mem{Base: out})
	VZEROUPPER()
	RET()
}

// binIndex computes histogram bin indices:
// dst[i] = uint32 min(int32(trunc(max(0, min(top, (src[i]-lo)*w)))), nb)
// where NaN survives both clamps, truncates to 0x80000000 and so becomes nb.
func binIndex(s isa) {
	name := "binIndex" + s.suffix
	TEXT(name, NOSPLIT, "func(dst *int32, src *float32, n int, lo, w, top float32, nb int32)")
	Doc(fmt.Sprintf("%s sets dst[i] to the histogram bin of src[i] for n floats (a multiple of %d): trunc(clamp((src[i]-lo)*w, 0, top)), or nb for NaN.", name, s.width))
	Pragma("noescape")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	lo := broadcast(s, paramAddr("lo"))
	w := broadcast(s, paramAddr("w"))
	top := broadcast(s, paramAddr("top"))
	nb := broadcastInt(s, "nb")
	zero := s.vec()
	VXORPS(zero, zero, zero)
	loop(s, n, []Register{dst, src}, []int{4, 4}, func(nv int) {
		for i := 0; i < nv; i++ {
			v := s.vec()
			VMOVUPS(Mem{Base: src, Disp: i * s.width * 4}, v)
			VSUBPS(lo, v, v)
			VMULPS(w, v, v)
			VMINPS(v, top, v) // min(top, v); NaN in v stays
			VMAXPS(v, zero, v)
			VCVTTPS2DQ(v, v)
			VPMINUD(nb, v, v) // NaN became 0x80000000: clamp it to nb
			VMOVUPS(v, Mem{Base: dst, Disp: i * s.width * 4})
		}
	})
	VZEROUPPER()
	RET()
}
