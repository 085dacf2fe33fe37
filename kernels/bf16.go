package kernels

import "math"

// ToBF16 rounds x to bfloat16 (the upper half of its float32 bits), to
// nearest with ties to even; NaN stays NaN (made quiet), ±Inf and values
// that round past the largest bfloat16 become ±Inf.
func ToBF16(x float32) uint16 {
	b := math.Float32bits(x)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// FromBF16 widens a bfloat16 to float32 (exactly).
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// roundBF16 returns x rounded to the nearest bfloat16, as a float32.
func roundBF16(x float32) float32 { return FromBF16(ToBF16(x)) }

// BF16 names the matrix unit SgemmBF16 runs on with the implementation in
// use: "amx" (AMX-BF16 tiles), or "" when it computes in float32 on
// bfloat16-rounded copies of the operands, which is slower than Sgemm (the
// training engine then stays in float32).
func BF16() string { return cur().bf16Unit }

// SgemmBF16 is Sgemm on at most threads goroutines (≤ 0: Threads()) with
// the operands rounded to bfloat16 and the products summed in float32, the
// mixed precision of bf16 training (the caller keeps float32 master
// copies; C stays float32):
//
//	for i, j: c[i*ldc+j] = alpha * Σ_p bf16(opA(i, p)) * bf16(opB(p, j)) + beta*c[i*ldc+j]
//
// with bf16 rounding to nearest even (see ToBF16), the sum in float32 in an
// order of the implementation's choosing (the products of two bfloat16s are
// exact in float32), and C not read when beta is zero. On AMX, products
// too small for its 32×32 tiles (fewer than 32 columns or 32 of depth, or
// 16 rows) run as Sgemm, without rounding: as fast, and exact. It panics
// like Sgemm on bad dimensions or short slices.
func SgemmBF16(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if threads <= 0 {
		threads = Threads()
	}
	im := cur()
	im.sgemmBF16(im, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// amxSmall reports a product whose padding to AMX's 32×32 tiles would
// mostly multiply zeros: fewer than 32 columns or 32 of depth, or 16 rows.
func amxSmall(m, n, k int) bool { return k < 32 || n < 32 || m < 16 }

// sgemmBF16Generic rounds op(A) and op(B) into bfloat16-valued float32
// copies and multiplies them with the implementation's float32 GEMM: the
// reference of every bf16 product and the fallback.
func sgemmBF16Generic(im *impl, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	ap, bp := getBuf(m*k), getBuf(k*n)
	defer putBuf(ap)
	defer putBuf(bp)
	ar, br := *ap, *bp
	for i := 0; i < m; i++ {
		for p := 0; p < k; p++ {
			if transA {
				ar[i*k+p] = roundBF16(a[p*lda+i])
			} else {
				ar[i*k+p] = roundBF16(a[i*lda+p])
			}
		}
	}
	for p := 0; p < k; p++ {
		for j := 0; j < n; j++ {
			if transB {
				br[p*n+j] = roundBF16(b[j*ldb+p])
			} else {
				br[p*n+j] = roundBF16(b[p*ldb+j])
			}
		}
	}
	im.sgemm(threads, false, false, m, n, k, alpha, ar, max(1, k), br, max(1, n), beta, c, ldc)
}
