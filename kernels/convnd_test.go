package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refOut is the ONNX output size, computed independently of resolve.
func refOut(g ConvGeomND) []int {
	if g.Out != nil {
		return g.Out
	}
	out := make([]int, len(g.In))
	for i := range g.In {
		span := g.In[i] + refAt(g.PadBegin, i, 0) + refAt(g.PadEnd, i, 0) - refAt(g.Dilation, i, 1)*(g.Kernel[i]-1) - 1
		out[i] = int(math.Floor(float64(span)/float64(refAt(g.Stride, i, 1)))) + 1
	}
	return out
}

func refAt(v []int, i, def int) int {
	if v == nil || v[i] == 0 {
		return def
	}
	return v[i]
}

// odometer calls fn with every multi-index below dims, last index fastest,
// and its running flat position.
func odometer(dims []int, fn func(flat int, idx []int)) {
	idx := make([]int, len(dims))
	for _, d := range dims {
		if d == 0 {
			return
		}
	}
	for flat := 0; ; flat++ {
		fn(flat, idx)
		j := len(dims) - 1
		for ; j >= 0; j-- {
			idx[j]++
			if idx[j] < dims[j] {
				break
			}
			idx[j] = 0
		}
		if j < 0 {
			return
		}
	}
}

// refTaps calls fn(row, o, i) for every column-matrix entry: row and output
// position o, and the flat image index i it reads (-1 in padding). It is
// the naive reference loop of Im2ColND, over any rank.
func refTaps(g ConvGeomND, fn func(row, o, i int)) {
	out := refOut(g)
	in := make([]int, len(g.In))
	for c := 0; c < g.Channels; c++ {
		odometer(g.Kernel, func(kflat int, k []int) {
			row := c*len1(g.Kernel) + kflat
			odometer(out, func(o int, oi []int) {
				inside := true
				for j := range in {
					in[j] = oi[j]*refAt(g.Stride, j, 1) - refAt(g.PadBegin, j, 0) + k[j]*refAt(g.Dilation, j, 1)
					inside = inside && in[j] >= 0 && in[j] < g.In[j]
				}
				if !inside {
					fn(row, o, -1)
					return
				}
				flat := c
				for j := range in {
					flat = flat*g.In[j] + in[j]
				}
				fn(row, o, flat)
			})
		})
	}
}

func len1(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// randGeomND draws a geometry of rank n with odd sizes, strides,
// dilations and asymmetric pads; it may be invalid.
func randGeomND(r *rand.Rand, n int) ConvGeomND {
	g := ConvGeomND{Channels: 1 + r.IntN(3)}
	for range n {
		g.In = append(g.In, r.IntN(8))
		g.Kernel = append(g.Kernel, 1+r.IntN(4))
	}
	pick := func(lo, hi int) []int {
		if r.IntN(4) == 0 {
			return nil
		}
		v := make([]int, n)
		for i := range v {
			v[i] = lo + r.IntN(hi-lo+1)
		}
		return v
	}
	g.Stride, g.Dilation = pick(0, 3), pick(0, 3)
	g.PadBegin, g.PadEnd = pick(0, 3), pick(0, 3)
	if r.IntN(5) == 0 {
		g.Out = make([]int, n)
		for i := range g.Out {
			g.Out[i] = 1 + r.IntN(7)
		}
	}
	return g
}

// refValid reports whether g is valid by the reference's reading.
func refValid(g ConvGeomND) bool {
	for _, o := range refOut(g) {
		if o < 1 {
			return false
		}
	}
	return true
}

const guard = float32(-7777)

// checkIm2ColND runs Im2ColND at offset off with row stride ld (0 or more
// than the columns) into a guard-filled buffer, and Col2ImND on a column
// matrix whose gaps hold NaN, against the reference loops.
func checkIm2ColND(t *testing.T, r *rand.Rand, g ConvGeomND, off, pad int) {
	t.Helper()
	out := refOut(g)
	cols := len1(out)
	rows := g.Channels * len1(g.Kernel)
	ld := 0
	if pad > 0 {
		ld = cols + pad
	}
	stride := max(ld, cols)
	if rows, cols2 := g.ColSize(); rows != g.Channels*len1(g.Kernel) || cols2 != cols {
		t.Fatalf("%+v: ColSize %d×%d, want %d×%d", g, rows, cols2, g.Channels*len1(g.Kernel), cols)
	}
	if o := g.OutSize(); fmt.Sprint(o) != fmt.Sprint(out) {
		t.Fatalf("%+v: OutSize %v, want %v", g, o, out)
	}
	need := 0
	if rows > 0 {
		need = (rows-1)*stride + cols
	}
	img := g.Channels * len1(g.In)

	// Im2ColND.
	xbuf := make([]float32, off+img+3)
	randF32(r, xbuf, 1)
	x := xbuf[off : off+img]
	buf := make([]float32, off+need+3)
	for i := range buf {
		buf[i] = guard
	}
	if err := Im2ColND(buf[off:off+need], ld, x, g); err != nil {
		t.Fatalf("%+v: %v", g, err)
	}
	want := make([]float32, len(buf))
	copy(want, buf)
	refTaps(g, func(row, o, i int) {
		v := float32(0)
		if i >= 0 {
			v = x[i]
		}
		want[off+row*stride+o] = v
	})
	for i := range buf {
		if !sameFloat(float64(buf[i]), float64(want[i]), 0) {
			t.Fatalf("%+v off=%d ld=%d: Im2ColND buf[%d] = %v, want %v", g, off, ld, i, buf[i], want[i])
		}
	}

	// Col2ImND accumulates into a random image surrounded by guards and
	// never reads the gaps between rows (NaN there).
	src := make([]float32, off+need)
	for i := range src {
		src[i] = float32(math.NaN())
	}
	refTaps(g, func(row, o, _ int) { src[off+row*stride+o] = float32(r.NormFloat64()) })
	dst := make([]float32, off+img+3)
	for i := range dst {
		dst[i] = guard
	}
	randF32(r, dst[off:off+img], 1)
	wantImg := make([]float64, len(dst))
	for i, v := range dst {
		wantImg[i] = float64(v)
	}
	refTaps(g, func(row, o, i int) {
		if i >= 0 {
			wantImg[off+i] += float64(src[off+row*stride+o])
		}
	})
	if err := Col2ImND(dst[off:off+img], src[off:], ld, g); err != nil {
		t.Fatalf("%+v: %v", g, err)
	}
	for i := range dst {
		if !sameFloat(float64(dst[i]), wantImg[i], 1e-5) {
			t.Fatalf("%+v off=%d ld=%d: Col2ImND dst[%d] = %v, want %v", g, off, ld, i, dst[i], wantImg[i])
		}
	}
}

// TestIm2ColND checks Im2ColND and Col2ImND of every implementation
// against the naive reference over random geometries of rank 1 to 3 (odd and zero sizes, strides,
// dilations, asymmetric pads, explicit output sizes), unaligned offsets,
// row strides above the column count and guard values.
func TestIm2ColND(t *testing.T) { activeEachImpl(t, testIm2ColND) }

func testIm2ColND(t *testing.T) {
	r := newRand(42)
	tested := [4]int{}
	for n := 1; n <= 3; n++ {
		for tries := 0; tested[n] < 300 && tries < 5000; tries++ {
			g := randGeomND(r, n)
			if !refValid(g) {
				if err := g.Validate(); err == nil {
					t.Fatalf("%+v: Validate accepted an empty output %v", g, refOut(g))
				}
				continue
			}
			checkIm2ColND(t, r, g, r.IntN(4), r.IntN(3)*r.IntN(4))
			tested[n]++
		}
		if tested[n] < 300 {
			t.Fatalf("rank %d: only %d valid geometries", n, tested[n])
		}
	}
}

// TestIm2ColNDLengths runs 1-D geometries over every input length 0..130
// and large 2-D and 3-D images.
func TestIm2ColNDLengths(t *testing.T) { activeEachImpl(t, testIm2ColNDLengths) }

func testIm2ColNDLengths(t *testing.T) {
	r := newRand(43)
	for n := 0; n <= 130; n++ {
		for _, g := range []ConvGeomND{
			{Channels: 2, In: []int{n}, Kernel: []int{3}, PadBegin: []int{1}, PadEnd: []int{1}},
			{Channels: 1, In: []int{n}, Kernel: []int{5}, Stride: []int{3}, Dilation: []int{2}, PadBegin: []int{4}, PadEnd: []int{2}},
		} {
			if refValid(g) {
				checkIm2ColND(t, r, g, n%4, n%3)
			}
		}
	}
	for _, g := range []ConvGeomND{
		{Channels: 3, In: []int{67, 45}, Kernel: []int{3, 5}, Stride: []int{2, 1}, PadBegin: []int{1, 2}, PadEnd: []int{2, 2}},
		{Channels: 2, In: []int{13, 17, 19}, Kernel: []int{3, 2, 3}, Stride: []int{1, 2, 3}, Dilation: []int{2, 1, 1}, PadBegin: []int{1, 0, 2}, PadEnd: []int{0, 1, 1}},
	} {
		checkIm2ColND(t, r, g, 1, 5)
	}
}

// TestIm2ColMatchesND checks that the 2-D API is the N-d one on ConvGeom.ND.
func TestIm2ColMatchesND(t *testing.T) {
	r := newRand(44)
	for _, g := range convGeoms {
		rows, cols := g.ColSize()
		x := make([]float32, g.Channels*g.Height*g.Width)
		randF32(r, x, 1)
		a, b := make([]float32, rows*cols), make([]float32, rows*cols)
		if err := Im2Col(a, x, g); err != nil {
			t.Fatal(err)
		}
		if err := Im2ColND(b, 0, x, g.ND()); err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if !sameFloat(float64(a[i]), float64(b[i]), 0) {
				t.Fatalf("%+v: Im2Col[%d] = %v, Im2ColND %v", g, i, a[i], b[i])
			}
		}
		checkIm2ColND(t, r, g.ND(), 3, 2)
	}
}

func TestConvGeomNDErrors(t *testing.T) {
	good := ConvGeomND{Channels: 2, In: []int{4, 5}, Kernel: []int{3, 3}}
	bad := []ConvGeomND{
		{Channels: 1, In: nil, Kernel: nil},
		{Channels: 1, In: []int{4, 4, 4, 4}, Kernel: []int{1, 1, 1, 1}},
		{Channels: 1, In: []int{4, 4}, Kernel: []int{3}},
		{Channels: -1, In: []int{4}, Kernel: []int{3}},
		{Channels: 1, In: []int{-1}, Kernel: []int{1}},
		{Channels: 1, In: []int{4}, Kernel: []int{0}},
		{Channels: 1, In: []int{2}, Kernel: []int{3}},
		{Channels: 1, In: []int{4}, Kernel: []int{3}, Stride: []int{-1}},
		{Channels: 1, In: []int{4}, Kernel: []int{3}, Dilation: []int{-2}},
		{Channels: 1, In: []int{4}, Kernel: []int{3}, PadBegin: []int{-1}},
		{Channels: 1, In: []int{4}, Kernel: []int{3}, PadEnd: []int{1, 1}},
		{Channels: 1, In: []int{4}, Kernel: []int{3}, Out: []int{0}},
	}
	for _, g := range bad {
		if err := g.Validate(); err == nil {
			t.Errorf("Validate accepted %+v", g)
		}
		dst := make([]float32, 1000)
		dst[0] = guard
		if err := Im2ColND(dst, 0, make([]float32, 1000), g); err == nil || dst[0] != guard {
			t.Errorf("Im2ColND accepted %+v or wrote", g)
		}
		if err := Col2ImND(dst, make([]float32, 1000), 0, g); err == nil || dst[0] != guard {
			t.Errorf("Col2ImND accepted %+v or wrote", g)
		}
		if g.OutSize() != nil {
			t.Errorf("OutSize of %+v is not nil", g)
		}
	}
	rows, cols := good.ColSize() // 18 × 6
	if err := Im2ColND(make([]float32, rows*cols-1), 0, make([]float32, 40), good); err == nil {
		t.Error("Im2ColND accepted a short column matrix")
	}
	if err := Im2ColND(make([]float32, rows*cols), 0, make([]float32, 39), good); err == nil {
		t.Error("Im2ColND accepted a short image")
	}
	if err := Im2ColND(make([]float32, rows*cols*2), cols-1, make([]float32, 40), good); err == nil {
		t.Error("Im2ColND accepted a row stride below the column count")
	}
	if err := Im2ColND(make([]float32, (rows-1)*(cols+2)+cols-1), cols+2, make([]float32, 40), good); err == nil {
		t.Error("Im2ColND accepted a short strided column matrix")
	}
	if err := Col2ImND(make([]float32, 39), make([]float32, rows*cols), 0, good); err == nil {
		t.Error("Col2ImND accepted a short image")
	}
	if err := Col2ImND(make([]float32, 40), make([]float32, rows*cols-1), 0, good); err == nil {
		t.Error("Col2ImND accepted a short column matrix")
	}
}
