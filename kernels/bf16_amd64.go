//go:build !purego

package kernels

import (
	"syscall"
	"unsafe"
)

// AMX-BF16: the tiles need the kernel's permission once per process
// (arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA); each call of the block
// kernel loads the tile configuration and releases the tiles before it
// returns, and Go never preempts assembly, so no tile state outlives a call.

const (
	archReqXcompPerm  = 0x1023
	xfeatureXtiledata = 18
)

// amxConfig configures tiles 0-7 as 16 rows of 64 bytes (palette 1).
var amxConfig = func() (c [64]byte) {
	c[0] = 1
	for t := 0; t < 8; t++ {
		c[16+2*t] = 64 // bytes per row
		c[48+t] = 16   // rows
	}
	return c
}()

// amxUsable asks the kernel for the tile data permission.
func amxUsable(hasTile, hasBF16 bool) bool {
	if !hasTile || !hasBF16 {
		return false
	}
	_, _, errno := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXtiledata, 0)
	return errno == 0
}

// u32 views a float32 buffer as uint32s.
func u32(f []float32) []uint32 {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&f[0])), len(f))
}

// u16 views a uint32 buffer as twice as many uint16s.
func u16(w []uint32) []uint16 {
	if len(w) == 0 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&w[0])), 2*len(w))
}

func ceil32(n int) int { return (n + 31) &^ 31 }

// convertRow writes bf16(src) to dst (as many values as src) and zeros
// the rest of dst.
func convertRow(dst []uint16, src []float32) {
	n := len(src) &^ 15
	if n > 0 {
		_ = dst[n-1]
		bf16ConvertAVX512(&dst[0], &src[0], n)
	}
	for i := n; i < len(src); i++ {
		dst[i] = ToBF16(src[i])
	}
	clear(dst[len(src):])
}

// pack2Row writes the bfloat16 pairs (r0[i], r1[i]) to dst (r1 nil: zeros)
// and zeros the rest of dst.
func pack2Row(dst []uint32, r0, r1 []float32, zero []float32) {
	if r1 == nil {
		r1 = zero[:len(r0)]
	}
	n := len(r0) &^ 15
	if n > 0 {
		_, _ = dst[n-1], r1[n-1]
		bf16Pack2AVX512(&dst[0], &r0[0], &r1[0], n)
	}
	for i := n; i < len(r0); i++ {
		dst[i] = uint32(ToBF16(r0[i])) | uint32(ToBF16(r1[i]))<<16
	}
	clear(dst[len(r0):])
}

// transpose32 transposes the rows×cols (multiples of 16) matrix of 32-bit
// values src into dst (cols×rows), 16×16 blocks at a time.
func transpose32(dst []uint32, src []uint32, rows, cols int) {
	for r := 0; r < rows; r += 16 {
		transposeBlocks16AVX512((*float32)(unsafe.Pointer(&dst[r])), rows, (*float32)(unsafe.Pointer(&src[r*cols])), cols, cols/16)
	}
}

// sgemmBF16AMX packs op(A) as rows of bfloat16 (Mp×Kp, each row a run of
// Kp/2 pairs) and op(B) as pairs of rows (Kp/2×Np pairs, the VNNI layout
// of B tiles), everything zero-padded to multiples of 32, then computes
// 32×32 blocks of C with the tile kernel: straight into C when the block
// is whole and alpha is 1 and beta 0 or 1, else into a scratch block that
// is then scaled into C. Small products (amxSmall) run in float32.
func sgemmBF16AMX(im *impl, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleRows(m, n, beta, c, ldc)
		return
	}
	if amxSmall(m, n, k) {
		// Tiles padded to 32 would mostly multiply zeros: float32 is as
		// fast, and exact.
		im.sgemm(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	mp, np, kp := ceil32(m), ceil32(n), ceil32(k)
	kh := kp / 2 // pairs per packed row
	abuf, vbuf, tbuf := getBuf(mp*kh), getBuf(kh*np), getBuf(max(mp, np)*kh)
	defer putBuf(abuf)
	defer putBuf(vbuf)
	defer putBuf(tbuf)
	zbuf := getBuf(max(m, n, k))
	defer putBuf(zbuf)
	zero := *zbuf
	clear(zero)
	A, V, T := u32(*abuf), u32(*vbuf), u32(*tbuf)
	t := threads
	if 2*float64(m)*float64(n)*float64(k) < minParallelFlops {
		t = 1
	}
	t = max(1, t)
	// Pack op(A) into A (mp rows of kh pairs).
	if !transA {
		parallel(t, func(w int) {
			for i := w * mp / t; i < (w+1)*mp/t; i++ {
				row := u16(A[i*kh : (i+1)*kh])
				if i < m {
					convertRow(row, a[i*lda:i*lda+k])
				} else {
					clear(row)
				}
			}
		})
	} else { // T[q][i] = pair (A[2q][i], A[2q+1][i]), then transposed
		parallel(t, func(w int) {
			for q := w * kh / t; q < (w+1)*kh/t; q++ {
				row := T[q*mp : (q+1)*mp]
				switch {
				case 2*q >= k:
					clear(row)
				case 2*q+1 >= k:
					pack2Row(row, a[2*q*lda:2*q*lda+m], nil, zero)
				default:
					pack2Row(row, a[2*q*lda:2*q*lda+m], a[(2*q+1)*lda:(2*q+1)*lda+m], zero)
				}
			}
		})
		transpose32(A, T, kh, mp)
	}
	// Pack op(B) into V (kh rows of np pairs).
	if !transB {
		parallel(t, func(w int) {
			for q := w * kh / t; q < (w+1)*kh/t; q++ {
				row := V[q*np : (q+1)*np]
				switch {
				case 2*q >= k:
					clear(row)
				case 2*q+1 >= k:
					pack2Row(row, b[2*q*ldb:2*q*ldb+n], nil, zero)
				default:
					pack2Row(row, b[2*q*ldb:2*q*ldb+n], b[(2*q+1)*ldb:(2*q+1)*ldb+n], zero)
				}
			}
		})
	} else { // T[j] = row j of B as bfloat16 (its pairs), then transposed
		parallel(t, func(w int) {
			for j := w * np / t; j < (w+1)*np/t; j++ {
				row := u16(T[j*kh : (j+1)*kh])
				if j < n {
					convertRow(row, b[j*ldb:j*ldb+k])
				} else {
					clear(row)
				}
			}
		})
		transpose32(V, T, np, kh)
	}
	// Row panels of 32 rows spread over the goroutines; in each, the whole
	// 32×32 blocks go straight into C in one kernel call when alpha is 1
	// and beta 0 or 1, the others through a scratch block.
	panels := mp / 32
	t = min(t, panels)
	direct := alpha == 1 && (beta == 0 || beta == 1)
	parallel(t, func(w int) {
		var scratch [32 * 32]float32
		for p := w * panels / t; p < (w+1)*panels/t; p++ {
			i0, j0 := p*32, 0
			if direct && i0+32 <= m && n >= 32 {
				whole := n / 32
				amxBF16Block(&amxConfig[0], kp/32, &A[i0*kh], kh*4, &V[0], np*4, &c[i0*ldc], ldc*4, int(beta), whole)
				j0 = whole * 32
			}
			for ; j0 < np; j0 += 32 {
				amxBF16Block(&amxConfig[0], kp/32, &A[i0*kh], kh*4, &V[j0], np*4, &scratch[0], 32*4, 0, 1)
				for i := 0; i < min(32, m-i0); i++ {
					cr := c[(i0+i)*ldc+j0 : (i0+i)*ldc+min(n, j0+32)]
					for j := range cr {
						v := alpha * scratch[i*32+j]
						if beta != 0 {
							v += beta * cr[j]
						}
						cr[j] = v
					}
				}
			}
		}
	})
}
