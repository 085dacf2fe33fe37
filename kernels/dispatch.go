package kernels

import (
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
)

// impl is one implementation of every kernel. The generic one is complete;
// the assembly ones fill in what they accelerate and copy the rest from
// generic (see fill).
type impl struct {
	name string

	quantizeU8   func(dst []uint8, src []float32, scale float32, zp uint8)
	quantizeI8   func(dst []int8, src []float32, scale float32, zp int8)
	dequantizeU8 func(dst []float32, src []uint8, scale float32, zp uint8)
	dequantizeI8 func(dst []float32, src []int8, scale float32, zp int8)
	minMax       func(src []float32) (lo, hi float32)
	absMax       func(src []float32) float32
	histogram    func(counts []int64, src []float32, lo, hi float32) (nan int)

	dot  func(x, y []float32) float32
	axpy func(alpha float32, x, y []float32)
	sum  func(x []float32) float32

	relu           func(dst, src []float32)
	reluBackward   func(dx, dy, x []float32)
	affine         func(dst, src []float32, a, b float32, relu bool)
	moments        func(x []float32, shift float32) (s, q float64)
	gradSums       func(g, x []float32, a, b float32, relu bool, shift float32) (sg, sgx float64)
	affineBackward func(dx, g, x []float32, a, b float32, relu bool, c1, c2, c3 float32)
	sgd            func(w, g, buf []float32, lr, momentum, wd float32, nesterov bool)
	adam           func(w, g, m, v []float32, c AdamCoeffs)

	maxPool2x2         func(dst, src []float32, h, w int)
	maxPool2x2Backward func(dx, g, x []float32, h, w int)
	avgPool2x2         func(dst, src []float32, h, w int)
	avgPool2x2Backward func(dx, g []float32, h, w int)

	block       func(dst, src []float32, rows, width, ldd, lds int, add bool)
	col2imPlane func(dst, col []float32, taps []colTap, rows, iw, oh, ow int)

	sgemmBF16 func(im *impl, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	bf16Unit  string // see BF16

	gemm gemmKernel
}

// fill copies every kernel im lacks (a nil function field) from from.
func (im *impl) fill(from *impl) {
	dst, src := reflect.ValueOf(im).Elem(), reflect.ValueOf(from).Elem()
	for i := 0; i < dst.NumField(); i++ {
		if f := dst.Field(i); f.Kind() == reflect.Func && f.IsNil() {
			// The fields are unexported: go through their addresses.
			from := reflect.NewAt(f.Type(), src.Field(i).Addr().UnsafePointer()).Elem()
			reflect.NewAt(f.Type(), f.Addr().UnsafePointer()).Elem().Set(from)
		}
	}
	if im.gemm.kern == nil {
		im.gemm = from.gemm
	}
}

// missing names the kernels im lacks.
func (im *impl) missing() []string {
	var names []string
	v := reflect.ValueOf(im).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Func && f.IsNil() {
			names = append(names, v.Type().Field(i).Name)
		}
	}
	if im.gemm.kern == nil {
		names = append(names, "gemm")
	}
	return names
}

// implEntry is a row of the implementation table. Entries the CPU lacks are
// kept, unavailable, so tests can say what they skip.
type implEntry struct {
	impl      *impl
	available bool
	missing   string // the CPU features that are missing, when unavailable
}

// implTable lists the implementations from the most portable to the
// fastest. Platform files append to it in init.
var implTable = []implEntry{{impl: genericImpl, available: true}}

// cpuFeatures names the CPU features the dispatcher looked at and found.
var cpuFeatures []string

var active atomic.Pointer[impl]

func init() {
	platformInit()
	for i := range implTable {
		implTable[i].impl.fill(genericImpl)
	}
	active.Store(best())
}

func best() *impl {
	b := genericImpl
	for _, e := range implTable {
		if e.available {
			b = e.impl
		}
	}
	return b
}

func cur() *impl { return active.Load() }

// ImplName returns the name of the implementation in use: "avx512",
// "avx2" or "generic".
func ImplName() string { return cur().name }

// Features returns the CPU features relevant to the kernels that this
// machine has, space separated (for example "avx2 fma avx512f avx512bw
// avx512vl avx512vnni"), or "none".
func Features() string {
	if len(cpuFeatures) == 0 {
		return "none"
	}
	return strings.Join(cpuFeatures, " ")
}

// Impls returns the names of the implementations this CPU can run, from the
// most portable ("generic") to the fastest.
func Impls() []string {
	var names []string
	for _, e := range implTable {
		if e.available {
			names = append(names, e.impl.name)
		}
	}
	return names
}

// SetImpl selects the implementation used by every kernel from now on; ""
// or "auto" selects the fastest the CPU supports. It returns an error naming
// the choices when name is unknown or the CPU lacks what it needs. It is
// safe to call while kernels run on other goroutines: each call of a kernel
// uses the implementation current when it started. Meant for tests,
// benchmarks and debugging (shrink doctor); normal use never needs it.
func SetImpl(name string) error {
	if name == "" || name == "auto" {
		active.Store(best())
		return nil
	}
	for _, e := range implTable {
		if e.impl.name != name {
			continue
		}
		if !e.available {
			return fmt.Errorf("kernels: implementation %q needs CPU features this machine lacks: %s", name, e.missing)
		}
		active.Store(e.impl)
		return nil
	}
	return fmt.Errorf("kernels: unknown implementation %q (have %s)", name, strings.Join(Impls(), ", "))
}
