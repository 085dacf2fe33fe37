package kernels

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// gemmKernel is a register-blocked micro-kernel and the block sizes the
// blocked driver uses with it.
type gemmKernel struct {
	mr, nr int // tile rows and columns
	kc     int // depth of a packed block (A micro-panel of mr×kc stays in L1)
	nb     int // columns of a packed B block (kc×nb stays in L2)
	mc     int // rows of a packed A block (mc×kc stays in L3)
	// kern sets the mr×nr tile at c (row stride ldc) to alpha*Ap*Bp + beta*C,
	// where Ap holds k groups of mr values of A and Bp k groups of nr values
	// of B; beta == 0 means C is not read. k >= 1.
	kern func(k int, a, b, c []float32, ldc int, alpha, beta float32)
	// kernRows, when set, is kern for an A panel of mr rows of k values with
	// row stride lda. The driver packs A that way when A is not transposed,
	// since that packing is a plain copy of rows.
	kernRows func(k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32)
	// transpose, when set, transposes blocks of tw×tw floats side by side in
	// src into blocks stacked in dst: dst[(tw*b+j)*ldd+i] = src[i*lds+tw*b+j]
	// for b < blocks. packB uses it for a transposed B.
	transpose func(dst []float32, ldd int, src []float32, lds int, blocks int)
	tw        int
	// block, when set, is the implementation's strided block copy (see
	// impl.block), which packB uses for rows of a non-transposed B.
	block func(dst, src []float32, rows, width, ldd, lds int, add bool)
	// narrow, when set, holds kernels for products of at most 16 columns
	// with A not transposed: narrow[i] updates 1<<i rows of C (16 at most)
	// from as many rows of A (stride lda) and B packed as k rows of 16
	// values; mask selects C's columns.
	narrow [5]func(k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32, mask uint16)
}

var threadSetting atomic.Int64

// SetThreads sets how many goroutines Sgemm may use; n <= 0 restores the
// default, runtime.GOMAXPROCS(0). It returns the previous setting (0 for the
// default). Small products always run on the calling goroutine.
func SetThreads(n int) int {
	if n < 0 {
		n = 0
	}
	return int(threadSetting.Swap(int64(n)))
}

// Threads returns the number of goroutines Sgemm may use.
func Threads() int {
	if n := int(threadSetting.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, with
// BLAS semantics: op(X) is X, or Xᵀ when transX is set; op(A) is m×k, op(B)
// is k×n and C is m×n; element (i, j) of a row-major matrix x with leading
// dimension ldx is x[i*ldx+j]. When beta is zero C is not read, so NaN or Inf
// in C does not propagate. The reference loop is
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += opA(i, p) * opB(p, j)
//			}
//			if beta == 0 {
//				c[i*ldc+j] = alpha * s
//			} else {
//				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//			}
//		}
//	}
//
// with the sum accumulated in a different order (blocked and fused
// multiply-add), so results agree with it to rounding. Products large enough
// to pay for it run on up to Threads() goroutines.
//
// Sgemm panics, like gonum's BLAS, when a dimension is negative, a leading
// dimension is smaller than the row it holds, or a slice is too short for
// the matrix it holds.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	cur().sgemm(Threads(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmThreads is Sgemm on at most threads goroutines (1 or less: on the
// calling one only), for callers that already run independent products in
// parallel.
func SgemmThreads(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	cur().sgemm(max(1, threads), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func checkMatrix(name string, rows, cols int, x []float32, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("kernels: ld%s = %d is smaller than the %d columns of %s", name, ld, cols, name))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("kernels: %s has %d elements, a %d×%d matrix with leading dimension %d needs %d", name, len(x), rows, cols, ld, need))
	}
}

// checkGemmArgs panics on negative dimensions and matrices too short for
// their shapes.
func checkGemmArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: negative Sgemm dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix("a", ar, ac, a, lda)
	checkMatrix("b", br, bc, b, ldb)
	checkMatrix("c", m, n, c, ldc)
}

func (im *impl) sgemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleRows(m, n, beta, c, ldc)
		return
	}
	switch {
	case m == 1:
		im.gemvRow(transA, transB, n, k, alpha, a, lda, b, ldb, beta, c)
	case n == 1:
		im.gemvCol(transA, transB, m, k, alpha, a, lda, b, ldb, beta, c, ldc)
	case n <= 16 && !transA && im.gemm.narrow[0] != nil:
		im.narrowGemm(threads, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	case 2*n <= im.gemm.nr && m > n:
		// Narrow C: compute Cᵀ = op(B)ᵀ op(A)ᵀ, whose rows are long enough to
		// fill the micro-kernel's vectors, and add its transpose into C.
		tbuf := getBuf(n * m)
		defer putBuf(tbuf)
		t := *tbuf
		im.sgemmBlocked(threads, !transB, !transA, n, m, k, alpha, b, ldb, a, lda, 0, t, m)
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = t[j*m+i]
				} else {
					row[j] = t[j*m+i] + beta*row[j]
				}
			}
		}
	default:
		im.sgemmBlocked(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}

// gemvRow computes the single row of C when m == 1:
// c = alpha*op(A)[0,:]*op(B) + beta*c.
func (im *impl) gemvRow(transA, transB bool, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32) {
	c = c[:n]
	x := a[:k]
	if transA { // the row of op(A) is a column of A
		xb := getBuf(k)
		defer putBuf(xb)
		x = *xb
		for p := range x {
			x[p] = a[p*lda]
		}
	}
	if transB { // c[j] = alpha*dot(x, B[j,:]) + beta*c[j]
		for j := range c {
			d := alpha * im.dot(x, b[j*ldb:j*ldb+k])
			if beta == 0 {
				c[j] = d
			} else {
				c[j] = d + beta*c[j]
			}
		}
		return
	}
	scaleRows(1, n, beta, c, n)
	for p, xp := range x {
		im.axpy(alpha*xp, b[p*ldb:p*ldb+n], c)
	}
}

// gemvCol computes the single column of C when n == 1:
// c[:,0] = alpha*op(A)*op(B)[:,0] + beta*c[:,0].
func (im *impl) gemvCol(transA, transB bool, m, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	x := b[:k]
	if !transB { // the column of op(B) is strided
		xb := getBuf(k)
		defer putBuf(xb)
		x = *xb
		for p := range x {
			x[p] = b[p*ldb]
		}
	}
	if !transA { // c[i] = alpha*dot(A[i,:], x) + beta*c[i]
		for i := 0; i < m; i++ {
			d := alpha * im.dot(a[i*lda:i*lda+k], x)
			if beta == 0 {
				c[i*ldc] = d
			} else {
				c[i*ldc] = d + beta*c[i*ldc]
			}
		}
		return
	}
	// op(A) = Aᵀ with A k×m: y = sum over p of x[p]*A[p,:].
	yb := getBuf(m)
	defer putBuf(yb)
	y := *yb
	clear(y)
	for p, xp := range x {
		im.axpy(alpha*xp, a[p*lda:p*lda+m], y)
	}
	for i, v := range y {
		if beta == 0 {
			c[i*ldc] = v
		} else {
			c[i*ldc] = v + beta*c[i*ldc]
		}
	}
}

// narrowGemm computes a product of at most 16 columns with the narrow
// kernels: op(B) packed once into k rows of 16 (zero beyond n), then blocks
// of 16 rows of C, each row one vector, spread over the goroutines. Every
// FMA does 16 columns' work, n of them useful, and A is read in place.
func (im *impl) narrowGemm(threads int, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := &im.gemm
	bufp := getBuf(k * 16)
	defer putBuf(bufp)
	bp := *bufp
	for p := 0; p < k; p++ {
		row := bp[p*16 : (p+1)*16]
		if !transB {
			copy(row, b[p*ldb:p*ldb+n])
		}
		clear(row[n:])
	}
	if transB {
		for j := 0; j < n; j++ {
			for p, v := range b[j*ldb : j*ldb+k] {
				bp[p*16+j] = v
			}
		}
	}
	mask := uint16(1<<n - 1)
	blocks := ceilDiv(m, 16)
	t := threads
	if 2*float64(m)*float64(n)*float64(k) < minParallelFlops {
		t = 1
	}
	t = max(1, min(t, blocks))
	parallel(t, func(w int) {
		for blk := w * blocks / t; blk < (w+1)*blocks/t; blk++ {
			r0, rows := blk*16, min(16, m-blk*16)
			for rows > 0 {
				i := bits.Len(uint(rows)) - 1 // the largest kernel that fits
				g.narrow[i](k, a[r0*lda:], lda, bp, c[r0*ldc:], ldc, alpha, beta, mask)
				r0 += 1 << i
				rows -= 1 << i
			}
		}
	})
}

// scaleRows sets C = beta*C, not reading C when beta is zero.
func scaleRows(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		if beta == 1 {
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// privateARows is the most rows of C for which the goroutines of a
// column split pack A each for itself instead of sharing it.
const privateARows = 256

// minParallelFlops is the smallest product worth a second goroutine.
const minParallelFlops = 1 << 21

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// sgemmBlocked is the Goto/BLIS-style driver. In row-major terms the loops
// are: k in blocks of kc (A and B packed once per block), m in blocks of mc
// (the packed A block, shared by the goroutines), then per goroutine its
// columns in blocks of nb (packed B block in L2), then A micro-panels (mr
// rows, in L1) and innermost B micro-panels (nr columns) streamed from L2.
// The goroutines split the columns when there are enough of them, else the
// rows.
func (im *impl) sgemmBlocked(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := &im.gemm
	mr, nr := g.mr, g.nr

	kBlocks := ceilDiv(k, g.kc)
	kc := ceilDiv(k, kBlocks)
	mBlocks := ceilDiv(m, g.mc)
	mc := ceilDiv(ceilDiv(m, mBlocks), mr) * mr

	t := threads
	if flops := 2 * float64(m) * float64(n) * float64(k); flops < minParallelFlops {
		t = 1
	}
	t = max(1, t)
	nPanels := ceilDiv(n, nr)
	splitN := nPanels >= 2*t || nPanels >= t && n >= m
	if splitN {
		t = min(t, nPanels)
	} else {
		t = min(t, ceilDiv(mc, mr))
	}

	rows := !transA && g.kernRows != nil
	// One parallel region for the whole product. When the goroutines split
	// the columns they share the packed A block, packed by all of them and
	// published by a barrier; two A buffers alternate so that the next
	// block can be packed while others still compute with the last one, and
	// one barrier per block suffices. When they split the rows each packs
	// and uses only its own A panels and needs no barrier.
	asize := ceilDiv(mc, mr) * mr * kc
	// With few rows each goroutine packs the whole A block itself: a
	// little more packing, no barrier (on a loaded machine a barrier waits
	// for the slowest goroutine at every depth block).
	private := splitN && t > 1 && m <= privateARows
	var privA []*[]float32
	if private {
		for range t {
			privA = append(privA, getBuf(asize))
		}
		defer func() {
			for _, b := range privA {
				putBuf(b)
			}
		}()
	}
	abufs := [2]*[]float32{getBuf(asize), nil}
	defer putBuf(abufs[0])
	if splitN && t > 1 && (k > kc || m > mc) {
		abufs[1] = getBuf(asize)
		defer putBuf(abufs[1])
	} else {
		abufs[1] = abufs[0]
	}
	bar := newBarrier(t)
	parallel(t, func(w int) {
		step := 0
		for pc := 0; pc < k; pc += kc {
			kcb := min(kc, k-pc)
			betaEff := beta
			if pc > 0 {
				betaEff = 1
			}
			for ic := 0; ic < m; ic += mc {
				ap := *abufs[step%2]
				step++
				mcb := min(mc, m-ic)
				np := ceilDiv(mcb, mr)
				p0, p1 := w*np/t, (w+1)*np/t
				if private {
					ap = *privA[w]
					packA(ap, a, lda, transA, rows, ic, mcb, pc, kcb, mr)
					j0 := w * nPanels / t * nr
					j1 := min(n, (w+1)*nPanels/t*nr)
					g.run(ap, rows, 0, mcb, ic, j0, j1, pc, kcb, transB, alpha, b, ldb, betaEff, c, ldc)
					continue
				}
				if splitN {
					if p0 < p1 {
						packA(ap[p0*mr*kcb:], a, lda, transA, rows, ic+p0*mr, min(mcb-p0*mr, (p1-p0)*mr), pc, kcb, mr)
					}
					bar.wait()
					j0 := w * nPanels / t * nr
					j1 := min(n, (w+1)*nPanels/t*nr)
					g.run(ap, rows, 0, mcb, ic, j0, j1, pc, kcb, transB, alpha, b, ldb, betaEff, c, ldc)
					continue
				}
				r0, r1 := p0*mr, min(mcb, p1*mr)
				if r0 >= r1 {
					continue
				}
				packA(ap[p0*mr*kcb:], a, lda, transA, rows, ic+r0, r1-r0, pc, kcb, mr)
				g.run(ap[p0*mr*kcb:], rows, r0, r1, ic, 0, n, pc, kcb, transB, alpha, b, ldb, betaEff, c, ldc)
			}
		}
	})
}

// barrier is a reusable spinning barrier for the goroutines of one
// product: the waits are short (between balanced packing phases), so it
// spins, yields, and only sleeps when a goroutine is long descheduled.
type barrier struct {
	n     int32
	count atomic.Int32
	gen   atomic.Uint32
}

func newBarrier(n int) *barrier { return &barrier{n: int32(n)} }

func (b *barrier) wait() {
	g := b.gen.Load()
	if b.count.Add(1) == b.n {
		b.count.Store(0)
		b.gen.Add(1)
		return
	}
	for i := 0; b.gen.Load() == g; i++ {
		switch {
		case i > 10000: // a goroutine is descheduled: stop burning the CPU it may need
			time.Sleep(20 * time.Microsecond)
		case i > 100:
			runtime.Gosched()
		}
	}
}

// run computes rows [ic+r0, ic+r1) and columns [j0, j1) of C for one depth
// block [pc, pc+kcb), with ap holding the packed A micro-panels starting at
// row ic+r0 (row-major panels when rows is set).
func (g *gemmKernel) run(ap []float32, rows bool, r0, r1, ic, j0, j1, pc, kcb int, transB bool, alpha float32, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr := g.mr, g.nr
	w := j1 - j0
	if w <= 0 {
		return
	}
	nBlocks := ceilDiv(w, g.nb)
	nb := ceilDiv(ceilDiv(w, nBlocks), nr) * nr
	bbuf := getBuf(nb * kcb)
	defer putBuf(bbuf)
	bp := *bbuf
	tbuf := getBuf(mr * nr)
	defer putBuf(tbuf)
	tile := *tbuf

	for jc := j0; jc < j1; jc += nb {
		nbb := min(nb, j1-jc)
		g.packB(bp, b, ldb, transB, pc, kcb, jc, nbb)
		for ir := r0; ir < r1; ir += mr {
			nrows := min(mr, r1-ir)
			apan := ap[(ir-r0)*kcb : (ir-r0+mr)*kcb]
			crow := (ic + ir) * ldc
			for jr := 0; jr < nbb; jr += nr {
				cols := min(nr, nbb-jr)
				bpan := bp[jr*kcb : (jr+nr)*kcb]
				coff := crow + jc + jr
				full := nrows == mr && cols == nr
				switch {
				case full && rows:
					g.kernRows(kcb, apan, kcb, bpan, c[coff:], ldc, alpha, beta)
				case full:
					g.kern(kcb, apan, bpan, c[coff:], ldc, alpha, beta)
				case rows:
					g.kernRows(kcb, apan, kcb, bpan, tile, nr, 1, 0)
				default:
					g.kern(kcb, apan, bpan, tile, nr, 1, 0)
				}
				if full {
					continue
				}
				for i := 0; i < nrows; i++ {
					cr := c[coff+i*ldc : coff+i*ldc+cols]
					tr := tile[i*nr : i*nr+cols]
					if beta == 0 {
						for j, v := range tr {
							cr[j] = alpha * v
						}
					} else {
						for j, v := range tr {
							cr[j] = alpha*v + beta*cr[j]
						}
					}
				}
			}
		}
	}
}

// packA packs rows [i0, i0+rows) and depth [p0, p0+kc) of op(A) into
// micro-panels of mr rows: panel q holds, for each p, the mr values
// op(A)[i0+q*mr+r][p0+p], zero beyond the last row; or, when byRow is set
// (A not transposed), the mr rows of kc values one after the other.
func packA(dst []float32, a []float32, lda int, trans, byRow bool, i0, rows, p0, kc, mr int) {
	for q := 0; q*mr < rows; q++ {
		pan := dst[q*mr*kc : (q+1)*mr*kc]
		n := min(mr, rows-q*mr)
		i := i0 + q*mr
		if byRow {
			for r := 0; r < n; r++ {
				copy(pan[r*kc:(r+1)*kc], a[(i+r)*lda+p0:(i+r)*lda+p0+kc])
			}
			clear(pan[n*kc:])
			continue
		}
		if trans {
			// op(A)[i][p] = a[p*lda+i]: rows of the panel are contiguous.
			if n == mr && mr == 12 {
				for p := 0; p < kc; p++ {
					o := (p0+p)*lda + i
					*(*[12]float32)(pan[p*12:]) = *(*[12]float32)(a[o : o+12])
				}
				continue
			}
			for p := 0; p < kc; p++ {
				d := pan[p*mr : p*mr+mr]
				copy(d, a[(p0+p)*lda+i:(p0+p)*lda+i+n])
				clear(d[n:])
			}
			continue
		}
		for r := 0; r < n; r++ {
			src := a[(i+r)*lda+p0 : (i+r)*lda+p0+kc]
			d := pan[r:]
			for p, v := range src {
				d[p*mr] = v
			}
		}
		for r := n; r < mr; r++ {
			for p := 0; p < kc; p++ {
				pan[p*mr+r] = 0
			}
		}
	}
}

// packB packs depth [p0, p0+kc) and columns [j0, j0+cols) of op(B) into
// micro-panels of nr columns: panel q holds, for each p, the nr values
// op(B)[p0+p][j0+q*nr+j], zero beyond the last column.
func (g *gemmKernel) packB(dst []float32, b []float32, ldb int, trans bool, p0, kc, j0, cols int) {
	nr := g.nr
	for q := 0; q*nr < cols; q++ {
		pan := dst[q*nr*kc : (q+1)*nr*kc]
		n := min(nr, cols-q*nr)
		j := j0 + q*nr
		if !trans {
			if g.block != nil {
				// Rows of n values as one strided block copy; a partial
				// panel's other columns cleared first.
				if n < nr {
					clear(pan)
				}
				g.block(pan, b[p0*ldb+j:], kc, n, nr, ldb, false)
				continue
			}
			for p := 0; p < kc; p++ {
				d := pan[p*nr : p*nr+nr]
				copy(d, b[(p0+p)*ldb+j:(p0+p)*ldb+j+n])
				clear(d[n:])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: columns of the panel are contiguous.
		// Whole tw×tw blocks go through the transpose kernel, the rest one
		// value at a time.
		c0, pt := 0, 0
		if g.transpose != nil && kc >= g.tw {
			blocks := kc / g.tw
			pt = blocks * g.tw
			for ; c0+g.tw <= n; c0 += g.tw {
				g.transpose(pan[c0:], nr, b[(j+c0)*ldb+p0:], ldb, blocks)
			}
		}
		for c := 0; c < n; c++ {
			start := pt
			if c >= c0 {
				start = 0
			}
			src := b[(j+c)*ldb+p0 : (j+c)*ldb+p0+kc]
			d := pan[c:]
			for p := start; p < kc; p++ {
				d[p*nr] = src[p]
			}
		}
		for c := n; c < nr; c++ {
			for p := 0; p < kc; p++ {
				pan[p*nr+c] = 0
			}
		}
	}
}

// parallel runs f(0..t-1), f(0) on the calling goroutine, and waits.
func parallel(t int, f func(w int)) {
	if t <= 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	wg.Add(t - 1)
	for w := 1; w < t; w++ {
		go func() {
			defer wg.Done()
			f(w)
		}()
	}
	f(0)
	wg.Wait()
}

// bufPools recycle packing buffers by size class: pool i holds buffers of
// capacity 1<<i, each 64-byte aligned.
var bufPools [48]sync.Pool

func getBuf(n int) *[]float32 {
	class := bits.Len(uint(max(n, 16) - 1))
	if p, ok := bufPools[class].Get().(*[]float32); ok {
		*p = (*p)[:n]
		return p
	}
	size := 1 << class
	raw := make([]float32, size+16)
	off := 0
	if mis := uintptr(unsafe.Pointer(&raw[0])) & 63; mis != 0 {
		off = int(64-mis) / 4
	}
	s := raw[off : off+n : off+size]
	return &s
}

func putBuf(p *[]float32) {
	bufPools[bits.Len(uint(cap(*p)-1))].Put(p)
}

// sgemmKernelGeneric is the portable 2×4 micro-kernel. Its eight
// accumulators, two values of A and one of B fit amd64's scalar registers;
// a 4×4 tile spills and runs about 30% slower there.
func sgemmKernelGeneric(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	a = a[:2*k]
	b = b[:4*k]
	for p := 0; p < k; p++ {
		ap := a[2*p : 2*p+2 : 2*p+2]
		bp := b[4*p : 4*p+4 : 4*p+4]
		a0, a1 := ap[0], ap[1]
		b0 := bp[0]
		c00 += a0 * b0
		c10 += a1 * b0
		b1 := bp[1]
		c01 += a0 * b1
		c11 += a1 * b1
		b2 := bp[2]
		c02 += a0 * b2
		c12 += a1 * b2
		b3 := bp[3]
		c03 += a0 * b3
		c13 += a1 * b3
	}
	acc := [8]float32{c00, c01, c02, c03, c10, c11, c12, c13}
	for i := 0; i < 2; i++ {
		row := c[i*ldc : i*ldc+4]
		if beta == 0 {
			for j := range row {
				row[j] = alpha * acc[i*4+j]
			}
		} else {
			for j := range row {
				row[j] = alpha*acc[i*4+j] + beta*row[j]
			}
		}
	}
}
