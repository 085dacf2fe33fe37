package kernels

// genericImpl is the portable implementation: the reference every other one
// is tested against, and the fallback.
var genericImpl = &impl{
	name: "generic",

	quantizeU8:   quantizeU8Generic,
	quantizeI8:   quantizeI8Generic,
	dequantizeU8: dequantizeU8Generic,
	dequantizeI8: dequantizeI8Generic,
	minMax:       minMaxGeneric,
	absMax:       absMaxGeneric,
	histogram:    histogramGeneric,

	dot:  dotGeneric,
	axpy: axpyGeneric,
	sum:  sumGeneric,

	relu:           reluGeneric,
	reluBackward:   reluBackwardGeneric,
	affine:         affineGeneric,
	moments:        momentsGeneric,
	gradSums:       gradSumsGeneric,
	affineBackward: affineBackwardGeneric,
	sgd:            sgdGeneric,
	adam:           adamGeneric,

	maxPool2x2:         maxPool2x2Generic,
	maxPool2x2Backward: maxPool2x2BackwardGeneric,
	avgPool2x2:         avgPool2x2Generic,
	avgPool2x2Backward: avgPool2x2BackwardGeneric,

	block:       blockGeneric,
	col2imPlane: col2imPlaneGeneric,

	sgemmBF16: sgemmBF16Generic,

	gemm: gemmKernel{mr: 2, nr: 4, kc: 256, nb: 512, mc: 2048, kern: sgemmKernelGeneric},
}
