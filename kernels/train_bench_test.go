package kernels_test

import (
	"testing"

	"github.com/shrinkml/shrink/kernels"
)

// BenchmarkTrainKernels measures the training kernels per implementation on
// the BN CNN's first layer at batch 128 seen plane by plane: 26×26 planes
// (676 floats, not a multiple of a vector), 64Ki floats in all; bytes are
// those the kernel reads and writes.
//
//	go test ./kernels -run '^$' -bench TrainKernels -benchtime 100ms
func BenchmarkTrainKernels(b *testing.B) {
	const plane = 26 * 26
	x := benchData()
	g := benchData()
	y := make([]float32, len(x))
	n := len(x) / plane * plane
	planes := func(f func(lo, hi int)) {
		for lo := 0; lo < n; lo += plane {
			f(lo, lo+plane)
		}
	}
	m, v := make([]float32, len(x)), make([]float32, len(x))
	for i := range v {
		v[i] = x[i] * x[i]
	}
	w := append([]float32(nil), x...)
	for _, c := range []struct {
		name  string
		bytes int
		run   func()
	}{
		{"Relu", 8, func() { kernels.Relu(y[:n], x[:n]) }},
		{"ReluBackward", 12, func() { kernels.ReluBackward(y[:n], g[:n], x[:n]) }},
		{"AffineRelu", 8, func() { planes(func(lo, hi int) { kernels.Affine(y[lo:hi], x[lo:hi], 1.5, 0.1, true) }) }},
		{"Moments", 4, func() { planes(func(lo, hi int) { kernels.Moments(x[lo:hi], 0.1) }) }},
		{"AffineGradSumsRelu", 8, func() {
			planes(func(lo, hi int) { kernels.AffineGradSums(g[lo:hi], x[lo:hi], 1.5, 0.1, true, 0.2) })
		}},
		{"AffineBackwardRelu", 12, func() {
			planes(func(lo, hi int) {
				kernels.AffineBackward(y[lo:hi], g[lo:hi], x[lo:hi], 1.5, 0.1, true, 0.3, -0.2, 0.01)
			})
		}},
		{"MaxPool2x2", 5, func() {
			planes(func(lo, hi int) { kernels.MaxPool2x2(y[lo/4:], x[lo:hi], 26, 26) })
		}},
		{"MaxPool2x2Backward", 9, func() {
			planes(func(lo, hi int) { kernels.MaxPool2x2Backward(y[lo:hi], g[lo/4:], x[lo:hi], 26, 26) })
		}},
		{"SGDMomentum", 20, func() { kernels.SGDStep(w, g, m, 1e-3, 0.9, 1e-4, false) }},
		{"Adam", 28, func() {
			kernels.AdamStep(w, g, m, v, kernels.AdamCoeffs{Beta1: 0.9, Beta2: 0.999, Decay: 1, Step: 1e-3, InvSqrtC2: 1, Eps: 1e-8})
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			eachImpl(b, func(b *testing.B) {
				b.SetBytes(int64(c.bytes * n))
				for b.Loop() {
					c.run()
				}
			})
		})
	}
}

// BenchmarkIm2Col unfolds the BN CNN's two convolution inputs (one image:
// 1×28×28 and 32×13×13, 3×3 kernels) and folds them back.
func BenchmarkIm2Col(b *testing.B) {
	for _, c := range []struct {
		name string
		ch   int
		in   int
	}{{"conv1", 1, 28}, {"conv2", 32, 13}} {
		g := kernels.ConvGeomND{Channels: c.ch, In: []int{c.in, c.in}, Kernel: []int{3, 3}}
		rows, cols := g.ColSize()
		x := benchData()[:c.ch*c.in*c.in]
		col := make([]float32, rows*cols)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(col)))
			for b.Loop() {
				if err := kernels.Im2ColND(col, 0, x, g); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/col2im", func(b *testing.B) {
			b.SetBytes(int64(4 * len(col)))
			for b.Loop() {
				if err := kernels.Col2ImND(x, col, 0, g); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
