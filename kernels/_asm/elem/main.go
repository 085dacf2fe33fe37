// Command elem generates the training kernels of package kernels that work
// element by element: Relu and its gradient, the per-channel affine map of a
// normalization (with an optional Relu) and its gradient, float64 moments,
// and the optimizer updates (SGD with momentum, Adam), each for AVX2 and
// AVX-512F.
//
// Every function takes an element count n and a tail mask km. The AVX2
// ones run over the largest multiple of 8 in n (the Go wrapper finishes the
// tail with the generic code) and ignore km; the AVX-512 ones run over n
// rounded down to 16 and then over the lanes of km in one more vector,
// with masked loads and stores, so they never leave a tail. Products and sums
// are rounded one at a time (no fused multiply-add), in the order of the
// generic code, so that the elementwise kernels give the generic results bit
// for bit; reductions store per-lane float64 partial sums.
//
// Run it through go generate in the parent directory (see kernels/doc.go).
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

//go:generate go run . -out ../../gen_elem_amd64.s -stubs ../../gen_elem_stubs_amd64.go -pkg kernels

// isa describes one vector instruction set.
type isa struct {
	suffix string
	width  int // float32 lanes
}

func (s isa) vec() VecVirtual {
	if s.width == 16 {
		return ZMM()
	}
	return YMM()
}

// half is a vector of width/2 float32 lanes, which VCVTPS2PD widens to a
// full vector of float64.
func (s isa) half() VecVirtual {
	if s.width == 16 {
		return YMM()
	}
	return XMM()
}

var (
	avx2   = isa{suffix: "AVX2", width: 8}
	avx512 = isa{suffix: "AVX512", width: 16}
)

// cmpGT is VCMPPS's ordered, quiet "greater than" predicate: false for NaN.
const cmpGT = 0x1e

func main() {
	ConstraintExpr("!purego")
	for _, s := range []isa{avx2, avx512} {
		relu(s)
		reluBackward(s)
		affine(s, false)
		affine(s, true)
		moments(s)
		gradSums(s, false)
		gradSums(s, true)
		affineBackward(s, false)
		affineBackward(s, true)
		sgd(s, 0)
		sgd(s, 1)
		sgd(s, 2)
		adam(s)
	}
	block(false)
	block(true)
	Generate()
}

// tail is set while the AVX-512 tail vector is emitted; kmask is its mask.
var (
	tail  bool
	kmask Register
)

// loop runs body over one vector at a time, advancing the pointers by a
// vector of float32 each, until fewer than a vector's elements are left;
// for AVX-512 it then runs body once more under the mask km (body's loads
// and stores go through ld and st, which apply it).
func loop(s isa, n Register, ptrs []Register, body func()) {
	tail = false
	if s.width == 16 {
		kmask = K()
		t := Load(Param("km"), GP32())
		KMOVW(t, kmask)
	}
	Label("loop")
	CMPQ(n, U32(s.width))
	JL(LabelRef("done"))
	body()
	for _, p := range ptrs {
		ADDQ(U32(4*s.width), p)
	}
	SUBQ(U32(s.width), n)
	JMP(LabelRef("loop"))
	Label("done")
	if s.width == 16 {
		KORTESTW(kmask, kmask)
		JZ(LabelRef("end"))
		tail = true
		body()
		tail = false
		Label("end")
	}
}

// ld loads a vector (only the mask's lanes, the others zero, in the tail).
func ld(s isa, m Mem) VecVirtual {
	v := s.vec()
	if tail {
		VMOVUPS_Z(m, kmask, v)
	} else {
		VMOVUPS(m, v)
	}
	return v
}

// ldOver loads a vector into v, keeping v's lanes outside the mask in the
// tail.
func ldOver(m Mem, v VecVirtual) {
	if tail {
		VMOVUPS(m, kmask, v)
	} else {
		VMOVUPS(m, v)
	}
}

// st stores a vector (only the mask's lanes in the tail).
func st(v VecVirtual, m Mem) {
	if tail {
		VMOVUPS(v, kmask, m)
	} else {
		VMOVUPS(v, m)
	}
}

func broadcast(s isa, name string) VecVirtual {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	v := s.vec()
	VBROADCASTSS(b.Addr, v)
	return v
}

func zero(s isa) VecVirtual {
	z := s.vec()
	VXORPS(z, z, z)
	return z
}

func ptr(name string) Register { return Load(Param(name), GP64()) }

func at(p Register) Mem { return Mem{Base: p} }

func text(name, sig, doc string) {
	TEXT(name, NOSPLIT, sig)
	Doc(doc)
	Pragma("noescape")
}

func done() {
	VZEROUPPER()
	RET()
}

// relu: dst = max(src, 0) keeping NaN and -0 (Intel's MAXPS returns its
// second operand when the comparison fails).
func relu(s isa) {
	name := "relu" + s.suffix
	text(name, "func(dst, src *float32, n int, km uint16)",
		fmt.Sprintf("%s sets dst[i] = src[i] < 0 ? 0 : src[i] for n floats (AVX2: a multiple of %d; AVX-512: the lanes of km after the last whole vector too).", name, s.width))
	dst, src, n := ptr("dst"), ptr("src"), Load(Param("n"), GP64())
	z := zero(s)
	loop(s, n, []Register{dst, src}, func() {
		v := ld(s, at(src))
		VMAXPS(v, z, v) // z > v ? z : v
		st(v, at(dst))
	})
	done()
}

// mask sets m to the lanes of v that are > 0 (false for NaN) and returns a
// function that applies it to a vector of gradients in place.
func positive(s isa, v, z VecVirtual) func(g VecVirtual) {
	if s.width == 16 {
		k := K()
		VCMPPS(U8(cmpGT), z, v, k)
		return func(g VecVirtual) { VMOVAPS_Z(g, k, g) }
	}
	m := s.vec()
	VCMPPS(U8(cmpGT), z, v, m)
	return func(g VecVirtual) { VANDPS(m, g, g) }
}

// reluBackward: dx = x > 0 ? dy : 0.
func reluBackward(s isa) {
	name := "reluBackward" + s.suffix
	text(name, "func(dx, dy, x *float32, n int, km uint16)",
		fmt.Sprintf("%s sets dx[i] = x[i] > 0 ? dy[i] : 0 for n floats (AVX2: a multiple of %d; AVX-512: the lanes of km after the last whole vector too).", name, s.width))
	dx, dy, x, n := ptr("dx"), ptr("dy"), ptr("x"), Load(Param("n"), GP64())
	z := zero(s)
	loop(s, n, []Register{dx, dy, x}, func() {
		v, g := ld(s, at(x)), ld(s, at(dy))
		positive(s, v, z)(g)
		st(g, at(dx))
	})
	done()
}

// affine: dst = float32(src*a) + b, then Relu when withRelu.
func affine(s isa, withRelu bool) {
	name := "affine" + s.suffix
	if withRelu {
		name = "affineRelu" + s.suffix
	}
	text(name, "func(dst, src *float32, n int, a, b float32, km uint16)",
		fmt.Sprintf("%s sets dst[i] = src[i]*a + b (rounded after each operation%s) for n floats (AVX2: a multiple of %d; AVX-512: the lanes of km after the last whole vector too).", name, map[bool]string{true: ", then Relu", false: ""}[withRelu], s.width))
	dst, src, n := ptr("dst"), ptr("src"), Load(Param("n"), GP64())
	a, b := broadcast(s, "a"), broadcast(s, "b")
	z := zero(s)
	loop(s, n, []Register{dst, src}, func() {
		v := ld(s, at(src))
		VMULPS(v, a, v)
		VADDPS(b, v, v)
		if withRelu {
			VMAXPS(v, z, v)
		}
		st(v, at(dst))
	})
	done()
}

// widen converts the two halves of the float32 vector v to float64
// vectors.
func widen(s isa, v VecVirtual) (lo, hi VecVirtual) {
	lo, hi = s.vec(), s.vec()
	h := s.half()
	if s.width == 16 {
		VCVTPS2PD(v.AsY(), lo)
		VEXTRACTF64X4(U8(1), v, h)
	} else {
		VCVTPS2PD(v.AsX(), lo)
		VEXTRACTF128(U8(1), v, h)
	}
	VCVTPS2PD(h, hi)
	return lo, hi
}

// storeLanes adds each pair of accumulators and stores them side by side at
// out: out[0:L] from acc[0]+acc[1], out[L:2L] from acc[2]+acc[3], ...
func storeLanes(s isa, out Register, acc []VecVirtual) {
	for i := 0; i < len(acc); i += 2 {
		VADDPD(acc[i+1], acc[i], acc[i])
		VMOVUPD(acc[i], Mem{Base: out, Disp: i / 2 * 4 * s.width})
	}
}

func zeros(s isa, n int) []VecVirtual {
	acc := make([]VecVirtual, n)
	for i := range acc {
		acc[i] = zero(s)
	}
	return acc
}

// sumLoop is loop for the float64 reductions: body adds one vector's
// terms into the float32 accumulators fs and fq, which are widened into the
// float64 accumulators acc (s, s, q, q) and cleared every 16 vectors and at
// the end, so that no float32 partial sum has more than 16 terms.
func sumLoop(s isa, n Register, ptrs []Register, body func(fs, fq VecVirtual)) []VecVirtual {
	acc := zeros(s, 4)
	fs, fq := zero(s), zero(s)
	flush := func() {
		lo, hi := widen(s, fs)
		VADDPD(lo, acc[0], acc[0])
		VADDPD(hi, acc[1], acc[1])
		lo, hi = widen(s, fq)
		VADDPD(lo, acc[2], acc[2])
		VADDPD(hi, acc[3], acc[3])
		VXORPS(fs, fs, fs)
		VXORPS(fq, fq, fq)
	}
	tail = false
	if s.width == 16 {
		kmask = K()
		t := Load(Param("km"), GP32())
		KMOVW(t, kmask)
	}
	c := GP64()
	Label("outer")
	MOVQ(U32(16), c)
	Label("inner")
	CMPQ(n, U32(s.width))
	JL(LabelRef("rest"))
	body(fs, fq)
	for _, p := range ptrs {
		ADDQ(U32(4*s.width), p)
	}
	SUBQ(U32(s.width), n)
	DECQ(c)
	JNZ(LabelRef("inner"))
	flush()
	JMP(LabelRef("outer"))
	Label("rest")
	if s.width == 16 {
		KORTESTW(kmask, kmask)
		JZ(LabelRef("last"))
		tail = true
		body(fs, fq)
		tail = false
		Label("last")
	}
	flush()
	return acc
}

// moments: s += d, q += d*d with d = x - shift in float32, summed as
// sumLoop says.
func moments(s isa) {
	name := "moments" + s.suffix
	text(name, "func(x *float32, n int, shift float32, out *float64, km uint16)",
		fmt.Sprintf("%s stores per-lane sums of d and d*d, d = x[i] - shift in float32, over n floats (AVX2: a multiple of %d; AVX-512: the lanes of km after the last whole vector too) to out[0:%d] and out[%d:%d], in float64 over float32 partial sums of at most 16 terms.", name, s.width, s.width/2, s.width/2, s.width))
	x, n, out := ptr("x"), Load(Param("n"), GP64()), ptr("out")
	sh := broadcast(s, "shift")
	acc := sumLoop(s, n, []Register{x}, func(fs, fq VecVirtual) {
		v := s.vec()
		VMOVAPS(sh, v) // lanes outside the tail's mask stay shift: d = 0
		ldOver(at(x), v)
		VSUBPS(sh, v, v)
		VADDPS(v, fs, fs)
		VFMADD231PS(v, v, fq)
	})
	storeLanes(s, out, acc)
	done()
}

// gradSums: sg += g', sgx += g'*(x - shift), d in float32, where g' is g,
// or with withRelu g masked to the lanes where float32(x*a)+b > 0.
func gradSums(s isa, withRelu bool) {
	name := "gradSums" + s.suffix
	sig := "func(gr, x *float32, n int, shift float32, out *float64, km uint16)"
	what := "g"
	if withRelu {
		name = "gradSumsRelu" + s.suffix
		sig = "func(gr, x *float32, n int, shift, a, b float32, out *float64, km uint16)"
		what = "g masked to x*a+b > 0"
	}
	text(name, sig, fmt.Sprintf("%s stores per-lane sums of g' and g'*(x[i]-shift), g' = %s, over n floats (AVX2: a multiple of %d; AVX-512: the lanes of km after the last whole vector too) to out[0:%d] and out[%d:%d], in float64 over float32 partial sums of at most 16 terms.", name, what, s.width, s.width/2, s.width/2, s.width))
	g, x, n, out := ptr("gr"), ptr("x"), Load(Param("n"), GP64()), ptr("out")
	sh := broadcast(s, "shift")
	var a, b, z VecVirtual
	if withRelu {
		a, b, z = broadcast(s, "a"), broadcast(s, "b"), zero(s)
	}
	acc := sumLoop(s, n, []Register{g, x}, func(fs, fq VecVirtual) {
		gv, xv := ld(s, at(g)), ld(s, at(x))
		if withRelu {
			t := s.vec()
			VMULPS(xv, a, t)
			VADDPS(b, t, t)
			positive(s, t, z)(gv)
		}
		VSUBPS(sh, xv, xv)
		VADDPS(gv, fs, fs)
		VFMADD231PS(xv, gv, fq)
	})
	storeLanes(s, out, acc)
	done()
}

// affineBackward: dx = float32(float32(c1*g') + float32(c2*x)) + c3.
func affineBackward(s isa, withRelu bool) {
	name := "affineBackward" + s.suffix
	sig := "func(dx, gr, x *float32, n int, c1, c2, c3 float32, km uint16)"
	what := "g"
	if withRelu {
		name = "affineBackwardRelu" + s.suffix
		sig = "func(dx, gr, x *float32, n int, a, b, c1, c2, c3 float32, km uint16)"
		what = "g masked to x*a+b > 0"
	}
	text(name, sig, fmt.Sprintf("%s sets dx[i] = c1*g' + c2*x[i] + c3, g' = %s, rounded after each operation, for n floats (AVX2: a multiple of %d; AVX-512: the lanes of km after the last whole vector too).", name, what, s.width))
	dx, g, x, n := ptr("dx"), ptr("gr"), ptr("x"), Load(Param("n"), GP64())
	c1, c2, c3 := broadcast(s, "c1"), broadcast(s, "c2"), broadcast(s, "c3")
	var a, b, z VecVirtual
	if withRelu {
		a, b, z = broadcast(s, "a"), broadcast(s, "b"), zero(s)
	}
	loop(s, n, []Register{dx, g, x}, func() {
		gv, xv := ld(s, at(g)), ld(s, at(x))
		if withRelu {
			t := s.vec()
			VMULPS(xv, a, t)
			VADDPS(b, t, t)
			positive(s, t, z)(gv)
		}
		VMULPS(c1, gv, gv)
		VMULPS(c2, xv, xv)
		VADDPS(xv, gv, gv)
		VADDPS(c3, gv, gv)
		st(gv, at(dx))
	})
	done()
}

// sgd: mode 0 is plain SGD, w -= lr*(g + wd*w); mode 1 adds momentum,
// d = g + wd*w, b = mu*b + d, w -= lr*b; mode 2 is Nesterov, the same
// buffer but w -= lr*(d + mu*b).
func sgd(s isa, mode int) {
	name := []string{"sgd", "sgdMomentum", "sgdNesterov"}[mode] + s.suffix
	what := []string{"w -= lr*(g + wd*w)", "d = g + wd*w; b = mu*b + d; w -= lr*b", "d = g + wd*w; b = mu*b + d; w -= lr*(d + mu*b)"}[mode]
	text(name, "func(w, gr, b *float32, n int, lr, mu, wd float32, km uint16)",
		fmt.Sprintf("%s updates n weights (AVX2: a multiple of %d; AVX-512: the lanes of km after the last whole vector too): %s, rounded after each operation.", name, s.width, what))
	w, g, n := ptr("w"), ptr("gr"), Load(Param("n"), GP64())
	ptrs := []Register{w, g}
	var b Register
	if mode > 0 {
		b = ptr("b")
		ptrs = append(ptrs, b)
	}
	lr, mu, wd := broadcast(s, "lr"), broadcast(s, "mu"), broadcast(s, "wd")
	loop(s, n, ptrs, func() {
		wv, d := ld(s, at(w)), s.vec()
		VMULPS(wv, wd, d)
		VADDPS(ld(s, at(g)), d, d) // d = g + wd*w
		step := d
		if mode > 0 {
			bv := ld(s, at(b))
			VMULPS(bv, mu, bv)
			VADDPS(d, bv, bv) // b = mu*b + d
			st(bv, at(b))
			step = bv
			if mode == 2 {
				t := s.vec()
				VMULPS(bv, mu, t)
				VADDPS(t, d, t) // d + mu*b
				step = t
			}
		}
		VMULPS(step, lr, step)
		VSUBPS(step, wv, wv)
		st(wv, at(w))
	})
	done()
}

// adam is one Adam/AdamW update in the generic code's order:
// wi = w*decay; g += l2*wi; m = b1*m + omb1*g; v = b2*v + (omb2*g)*g;
// w = wi - (step*m)/(sqrt(v)*isc + eps).
func adam(s isa) {
	name := "adam" + s.suffix
	text(name, "func(w, gr, m, v *float32, n int, b1, omb1, b2, omb2, l2, decay, step, isc, eps float32, km uint16)",
		fmt.Sprintf("%s applies one Adam update to n weights (AVX2: a multiple of %d; AVX-512: the lanes of km after the last whole vector too); see adamGeneric for the order of operations.", name, s.width))
	w, g, m, v, n := ptr("w"), ptr("gr"), ptr("m"), ptr("v"), Load(Param("n"), GP64())
	b1, omb1, b2, omb2 := broadcast(s, "b1"), broadcast(s, "omb1"), broadcast(s, "b2"), broadcast(s, "omb2")
	l2, decay, step, isc, eps := broadcast(s, "l2"), broadcast(s, "decay"), broadcast(s, "step"), broadcast(s, "isc"), broadcast(s, "eps")
	loop(s, n, []Register{w, g, m, v}, func() {
		wi, gv, t := ld(s, at(w)), s.vec(), s.vec()
		VMULPS(wi, decay, wi)
		VMULPS(wi, l2, t)
		VADDPS(ld(s, at(g)), t, gv) // g + l2*wi
		mv := ld(s, at(m))
		VMULPS(mv, b1, mv)
		VMULPS(gv, omb1, t)
		VADDPS(t, mv, mv)
		st(mv, at(m))
		vv := ld(s, at(v))
		VMULPS(vv, b2, vv)
		VMULPS(gv, omb2, t)
		VMULPS(gv, t, t)
		VADDPS(t, vv, vv)
		st(vv, at(v))
		VSQRTPS(vv, t)
		VMULPS(isc, t, t)
		VADDPS(eps, t, t)
		VMULPS(mv, step, mv)
		VDIVPS(t, mv, mv)
		VSUBPS(mv, wi, wi)
		st(wi, at(w))
	})
	done()
}

// block copies (or adds) a rows×width block of floats between two row
// strides, 16 at a time with the last partial vector under the mask km:
// the row segments of im2col and col2im with unit stride. AVX-512 only.
func block(add bool) {
	name := "blockCopyAVX512"
	what := "dst[r*ldd+j] = src[r*lds+j]"
	if add {
		name = "blockAddAVX512"
		what = "dst[r*ldd+j] += src[r*lds+j]"
	}
	text(name, "func(dst, src *float32, rows, full, ldd, lds int, km uint16)",
		fmt.Sprintf("%s sets %s for r < rows, j < 16*full plus the lanes of km in the next vector.", name, what))
	dst, src, rows, full := ptr("dst"), ptr("src"), Load(Param("rows"), GP64()), Load(Param("full"), GP64())
	ldd, lds := Load(Param("ldd"), GP64()), Load(Param("lds"), GP64())
	SHLQ(U8(2), ldd)
	SHLQ(U8(2), lds)
	k := K()
	t := Load(Param("km"), GP32())
	KMOVW(t, k)
	d, sp, n := GP64(), GP64(), GP64()
	op := func(tail bool) {
		v := ZMM()
		if tail {
			VMOVUPS_Z(at(sp), k, v)
		} else {
			VMOVUPS(at(sp), v)
		}
		if add {
			a := ZMM()
			if tail {
				VMOVUPS_Z(at(d), k, a)
			} else {
				VMOVUPS(at(d), a)
			}
			VADDPS(a, v, v)
		}
		if tail {
			VMOVUPS(v, k, at(d))
		} else {
			VMOVUPS(v, at(d))
		}
	}
	Label("row")
	CMPQ(rows, U8(0))
	JE(LabelRef("done"))
	MOVQ(dst, d)
	MOVQ(src, sp)
	MOVQ(full, n)
	Label("vec")
	CMPQ(n, U8(0))
	JE(LabelRef("tail"))
	op(false)
	ADDQ(U8(64), d)
	ADDQ(U8(64), sp)
	DECQ(n)
	JMP(LabelRef("vec"))
	Label("tail")
	KORTESTW(k, k)
	JE(LabelRef("next"))
	op(true)
	Label("next")
	ADDQ(ldd, dst)
	ADDQ(lds, src)
	DECQ(rows)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}
