package train

import (
	"syscall"
	"testing"
	"time"

	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// BenchmarkTrainStep measures one training step (forward in Training mode,
// cross-entropy, backward, SGD with momentum) at batch 128 on the MNIST
// fixtures, reporting samples/s. The "generic" sub-benchmarks run the same
// step with the kernels package's portable Go GEMM: the baseline the
// assembly is measured against.
//
//	go test -run '^$' -bench TrainStep -benchtime 20x ./train/
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range []struct{ name, file string }{{"mlp", "mnist_mlp.onnx"}, {"cnn", "mnist_cnn.onnx"}, {"cnn_bn", "mnist_cnn_bn.onnx"}} {
		for _, v := range []struct {
			suffix, impl string
			prec         Precision
		}{{"", "auto", FP32}, {"_generic", "generic", FP32}, {"_bf16", "auto", BF16}} {
			b.Run(c.name+v.suffix, func(b *testing.B) {
				if err := kernels.SetImpl(v.impl); err != nil {
					b.Fatal(err)
				}
				defer kernels.SetImpl("auto")
				benchTrainStep(b, testdataPath(b, c.file), 128, v.prec)
			})
		}
	}
}

// BenchmarkInference measures a forward pass in Inference mode at batch 128.
func BenchmarkInference(b *testing.B) {
	for _, c := range []struct{ name, file string }{{"mlp", "mnist_mlp.onnx"}, {"cnn", "mnist_cnn.onnx"}} {
		b.Run(c.name, func(b *testing.B) {
			e, x, _ := benchSetup(b, testdataPath(b, c.file), 128, FP32)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := e.Forward(bg, map[string]*onnxio.Tensor{"input": x}, Inference); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

func benchSetup(b *testing.B, path string, batch int, prec Precision) (*Executor, *onnxio.Tensor, []int64) {
	m, err := onnxio.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(m, Options{Seed: 1, Precision: prec})
	if err != nil {
		b.Fatal(err)
	}
	if n := e.PrecisionNote(); n != "" {
		b.Log(n)
	}
	set, err := mnist.TestSet()
	if err != nil {
		b.Fatal(err)
	}
	x := &onnxio.Tensor{Name: "input", DType: onnxio.Float32, Shape: []int64{int64(batch), 1, mnist.Rows, mnist.Cols}, Data: set.Float32NCHW(0, batch)}
	return e, x, set.Int64Labels(0, batch)
}

func benchTrainStep(b *testing.B, path string, batch int, prec Precision) {
	e, x, y := benchSetup(b, path, batch, prec)
	opt := NewSGD(SGDConfig{Momentum: 0.9})
	grad := make([]float32, batch*mnist.Classes)
	step := func() {
		outs, err := e.Forward(bg, map[string]*onnxio.Tensor{"input": x}, Training)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := CrossEntropy(outs[0].Data.([]float32), mnist.Classes, y, grad); err != nil {
			b.Fatal(err)
		}
		e.ZeroGrad()
		if err := e.Backward(bg, map[string][]float32{"logits": grad}); err != nil {
			b.Fatal(err)
		}
		opt.Step(e.Params(), 1e-3)
	}
	step() // warm the pool
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "samples/s")
	// CPU time per step (all threads): steadier than wall time on a
	// machine shared with other work.
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/step")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
