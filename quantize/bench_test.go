package quantize

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
	"github.com/shrinkml/shrink/transform"
)

// streamSource makes MNIST batches on the fly (cycling over the training
// set), so the source itself holds one batch at a time.
type streamSource struct {
	set      *mnist.Set
	n, batch int
	pos      int
}

func (s *streamSource) Next(ctx context.Context) (*dataset.Batch, error) {
	if s.pos >= s.n {
		return nil, io.EOF
	}
	k := min(s.batch, s.n-s.pos)
	i := s.pos % (s.set.N - s.batch)
	x, err := onnxio.NewTensor("input", []int64{int64(k), 1, mnist.Rows, mnist.Cols}, s.set.Float32NCHW(i, k))
	if err != nil {
		return nil, err
	}
	b := &dataset.Batch{Inputs: map[string]*onnxio.Tensor{"input": x}, N: k, Index: s.pos}
	s.pos += k
	return b, nil
}
func (s *streamSource) Len() int     { return s.n }
func (s *streamSource) Reset() error { s.pos = 0; return nil }
func (s *streamSource) Close() error { return nil }

// vmHWM reads the peak resident set size in KiB from /proc/self/status.
func vmHWM(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return v
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// resetHWM clears the peak RSS (Linux: writing 5 to clear_refs).
func resetHWM(b *testing.B) {
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("cannot reset VmHWM: %v", err)
	}
}

// BenchmarkCalibrationRSS calibrates the MNIST CNN with the histogram
// (entropy) calibrator on 6,000 and on 60,000 samples, streamed in batches
// of 100, and reports the peak RSS of each: it must stay flat, because
// statistics are fixed-size histograms merged batch by batch.
//
//	go test ./quantize -run '^$' -bench CalibrationRSS -benchtime 1x
func BenchmarkCalibrationRSS(b *testing.B) {
	needORT(b)
	set, err := mnist.TrainSet()
	if err != nil {
		b.Fatal(err)
	}
	m := fixture(b, "mnist_cnn.onnx")
	for _, n := range []int{6000, 60000} {
		b.Run(fmt.Sprintf("samples=%d", n), func(b *testing.B) {
			var peak int64
			for i := 0; i < b.N; i++ {
				resetHWM(b)
				before := vmHWM(b)
				src := &streamSource{set: set, n: n, batch: 100}
				_, rep, err := Quantize(context.Background(), m, Options{Calib: src, CalibSize: n, CalibMethod: Entropy, Env: transform.Env{Threads: 2}})
				if err != nil {
					b.Fatal(err)
				}
				if rep.Calibration.Samples != n {
					b.Fatalf("calibrated on %d samples", rep.Calibration.Samples)
				}
				peak = vmHWM(b)
				b.ReportMetric(float64(before), "VmHWM-before-kB")
			}
			b.ReportMetric(float64(peak), "VmHWM-kB")
			b.ReportMetric(float64(n), "samples")
		})
	}
}

// BenchmarkMNISTLatency times the float and the default-quantized MNIST
// fixtures in ORT at batch 64 with 2 threads (benchstat the float and int8
// sub-benchmarks to get the speedup).
//
//	go test ./quantize -run '^$' -bench MNISTLatency -count 6 | tee bench.txt
func BenchmarkMNISTLatency(b *testing.B) {
	needORT(b)
	for _, name := range []string{"mnist_mlp", "mnist_cnn"} {
		m := fixture(b, name+".onnx")
		qm, _, err := Quantize(context.Background(), m, Options{Calib: trainSource(b, 512, 64), SpeedAware: true})
		if err != nil {
			b.Fatal(err)
		}
		in := mnistSource(b, 0, 64, 64).batches[0].Inputs
		for _, v := range []struct {
			kind string
			m    *onnxio.Model
		}{{"float", m}, {"int8", qm}} {
			b.Run(name+"/"+v.kind, func(b *testing.B) {
				s, err := ort.NewSession(v.m, ort.Options{IntraOpThreads: 2})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				bd, err := s.Bind(in)
				if err != nil {
					b.Fatal(err)
				}
				defer bd.Close()
				for i := 0; i < 10; i++ {
					bd.RunDiscard()
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := bd.RunDiscard(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "samples/s")
			})
		}
	}
}
