//go:build !purego

package kernels

import (
	"strings"

	"golang.org/x/sys/cpu"
)

var avx2Impl = &impl{
	name: "avx2",

	quantizeU8:   asmQuantizeU8(quantizeU8AVX2, 8),
	quantizeI8:   asmQuantizeI8(quantizeI8AVX2, 8),
	dequantizeU8: asmDequantizeU8(dequantizeU8AVX2, 8),
	dequantizeI8: asmDequantizeI8(dequantizeI8AVX2, 8),
	minMax:       asmMinMax(minMaxAVX2, 8),
	absMax:       asmAbsMax(absMaxAVX2, 8),
	histogram:    asmHistogram(binIndexAVX2, 8),
	dot:          asmDot(dotAVX2, 8),
	axpy:         asmAxpy(axpyAVX2, 8),
	sum:          asmSum(sumAVX2, 8),

	gemm: gemmKernel{mr: 6, nr: 16, kc: 256, nb: 384, mc: 4096,
		kern: func(k int, a, b, c []float32, ldc int, alpha, beta float32) {
			sgemmKernel6x16AVX2(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
		},
		kernRows: func(k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32) {
			sgemmKernel6x16RowsAVX2(k, &a[0], lda, &b[0], &c[0], ldc, alpha, beta)
		},
		transpose: func(dst []float32, ldd int, src []float32, lds int, blocks int) {
			transposeBlocks8AVX2(&dst[0], ldd, &src[0], lds, blocks)
		},
		tw: 8,
	},
}

var avx512Impl = &impl{
	name: "avx512",

	quantizeU8:   asmQuantizeU8(quantizeU8AVX512, 16),
	quantizeI8:   asmQuantizeI8(quantizeI8AVX512, 16),
	dequantizeU8: asmDequantizeU8(dequantizeU8AVX512, 16),
	dequantizeI8: asmDequantizeI8(dequantizeI8AVX512, 16),
	minMax:       asmMinMax(minMaxAVX512, 16),
	absMax:       asmAbsMax(absMaxAVX512, 16),
	histogram:    asmHistogram(binIndexAVX512, 16),
	dot:          asmDot(dotAVX512, 16),
	axpy:         asmAxpy(axpyAVX512, 16),
	sum:          asmSum(sumAVX512, 16),

	gemm: gemmKernel{mr: 12, nr: 32, kc: 384, nb: 384, mc: 4096,
		kern: func(k int, a, b, c []float32, ldc int, alpha, beta float32) {
			sgemmKernel12x32AVX512(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
		},
		kernRows: func(k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32) {
			sgemmKernel12x32RowsAVX512(k, &a[0], lda, &b[0], &c[0], ldc, alpha, beta)
		},
		transpose: func(dst []float32, ldd int, src []float32, lds int, blocks int) {
			transposeBlocks16AVX512(&dst[0], ldd, &src[0], lds, blocks)
		},
		tw: 16,
		narrow: [5]func(k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32, mask uint16){
			narrowAsm(sgemmNarrow1AVX512), narrowAsm(sgemmNarrow2AVX512), narrowAsm(sgemmNarrow4AVX512),
			narrowAsm(sgemmNarrow8AVX512), narrowAsm(sgemmNarrow16AVX512),
		},
	},
}

// narrowAsm adapts a narrow kernel to slices (k ≥ 1: the caller handles
// k == 0).
func narrowAsm(f func(k int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, mask uint16)) func(k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32, mask uint16) {
	return func(k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32, mask uint16) {
		f(k, &a[0], lda, &b[0], &c[0], ldc, alpha, beta, mask)
	}
}

func platformInit() {
	x := cpu.X86
	have := []struct {
		ok   bool
		name string
	}{
		{x.HasAVX2, "avx2"}, {x.HasFMA, "fma"},
		{x.HasAVX512F, "avx512f"}, {x.HasAVX512DQ, "avx512dq"}, {x.HasAVX512BW, "avx512bw"}, {x.HasAVX512VL, "avx512vl"},
		{x.HasAVX512VNNI, "avx512vnni"}, {x.HasAVXVNNI, "avxvnni"},
		{x.HasAVX512BF16, "avx512bf16"}, {x.HasAMXTile, "amx-tile"}, {x.HasAMXBF16, "amx-bf16"},
	}
	for _, h := range have {
		if h.ok {
			cpuFeatures = append(cpuFeatures, h.name)
		}
	}
	avx2Elem.install(avx2Impl, 8)
	avx512Elem.install(avx512Impl, 16)
	installPoolAVX512(avx512Impl)
	if x.HasAVX512F && amxUsable(x.HasAMXTile, x.HasAMXBF16) {
		avx512Impl.sgemmBF16 = sgemmBF16AMX
		avx512Impl.bf16Unit = "amx"
	}
	implTable = append(implTable,
		entry(avx2Impl, x.HasAVX2, "avx2", x.HasFMA, "fma"),
		entry(avx512Impl, x.HasAVX2, "avx2", x.HasFMA, "fma", x.HasAVX512F, "avx512f", x.HasAVX512DQ, "avx512dq"),
	)
}

// entry builds a table row from pairs of (has, feature name).
func entry(im *impl, req ...any) implEntry {
	var missing []string
	for i := 0; i < len(req); i += 2 {
		if !req[i].(bool) {
			missing = append(missing, req[i+1].(string))
		}
	}
	return implEntry{impl: im, available: len(missing) == 0, missing: strings.Join(missing, " ")}
}
