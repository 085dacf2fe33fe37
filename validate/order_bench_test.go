package validate

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
)

// Does the order in which ORT sessions are created bias interleaved timing?
// (Reported: "the session created last runs fastest, by up to ~15%", which
// would favour every candidate of `shrink compare`, whose baseline session
// is created first.) Each benchmark op creates two sessions of the SAME
// model one after the other, times them with Interleaved and MedianRatio
// exactly as Run does, and records the ratio
//
//	first/second = median paired ratio (time of the session created first) /
//	               (time of the session created second)
//
// which is what `compare` reports as the speedup of the later session. A
// creation-order bias shows as a median away from 1 in the same direction
// in both layouts: "first=runner0" (the first-created session is runner 0,
// as the baseline is in Run) and "first=runner1" (it is runner 1; that
// separates creation order from position in the round). The sub-benchmarks
// vary warm-up rounds and intra-op spinning. Run (quiet machine, one at a
// time; see docs/compare.md, Timing):
//
//	go test ./validate -run '^$' -bench 'CreationOrder|CompareSelfOrder' -benchtime 10x -v
//
// Each op is one experiment; the metrics are the median, min and max over
// the ops of first/second, and every op's ratio is logged.
func BenchmarkCreationOrder(b *testing.B) {
	in := mnistBatch(b, 64)
	for _, model := range []string{"mnist_mlp", "mnist_cnn"} {
		m, err := onnxio.Load(filepath.Join("..", "testdata", model+".onnx"))
		if err != nil {
			b.Fatal(err)
		}
		for _, spin := range []bool{false, true} {
			for _, warmup := range []int{0, 10, 100} {
				for _, firstIdx := range []int{0, 1} {
					name := fmt.Sprintf("model=%s/spin=%v/warmup=%d/first=runner%d", strings.TrimPrefix(model, "mnist_"), spin, warmup, firstIdx)
					b.Run(name, func(b *testing.B) {
						var ratios []float64
						for b.Loop() {
							r, err := creationOrderOnce(m, in, ort.Options{IntraOpThreads: 2, AllowSpinning: spin}, firstIdx, warmup, 100)
							if err != nil {
								b.Fatal(err)
							}
							ratios = append(ratios, r)
						}
						reportRatios(b, "first/second", ratios)
					})
				}
			}
		}
	}
}

// creationOrderOnce creates two sessions of m, first then second, puts the
// first-created one at runner index firstIdx, times both and returns the
// median paired ratio first/second.
func creationOrderOnce(m *onnxio.Model, in map[string]*onnxio.Tensor, o ort.Options, firstIdx, warmup, runs int) (float64, error) {
	var sess [2]*ort.Session
	var bound [2]*ort.Bound
	defer func() {
		for i := range sess {
			if bound[i] != nil {
				bound[i].Close()
			}
			if sess[i] != nil {
				sess[i].Close()
			}
		}
	}()
	for i := range sess { // i = 0: created first
		s, err := ort.NewSession(m, o)
		if err != nil {
			return 0, err
		}
		sess[i] = s
		if bound[i], err = s.Bind(in); err != nil {
			return 0, err
		}
	}
	first, second := bound[0], bound[1]
	runners := []func() error{first.RunDiscard, second.RunDiscard}
	if firstIdx == 1 {
		runners[0], runners[1] = runners[1], runners[0]
	}
	times, err := Interleaved(context.Background(), runners, warmup, runs, nil)
	if err != nil {
		return 0, err
	}
	return MedianRatio(times[firstIdx], times[1-firstIdx]), nil
}

// BenchmarkCompareSelfOrder runs the whole of Run, as `shrink compare M M
// [M] --batch 64 --threads 2` does: two (or three) sessions of the same
// model created baseline first, one pass over the 10,000 MNIST test images
// through all, then 10 warm-up and 100 timed interleaved rounds. The
// metrics are the median, min and max over the ops of each candidate's
// reported speedup (baseline time / candidate time: first/second, and
// first/third for the candidate created last of three).
func BenchmarkCompareSelfOrder(b *testing.B) {
	set := mnistSet(b)
	for _, model := range []string{"mnist_mlp", "mnist_cnn"} {
		m, err := onnxio.Load(filepath.Join("..", "testdata", model+".onnx"))
		if err != nil {
			b.Fatal(err)
		}
		subj := Subject{Name: model, Model: m}
		for _, n := range []int{2, 3} {
			b.Run(fmt.Sprintf("model=%s/sessions=%d", strings.TrimPrefix(model, "mnist_"), n), func(b *testing.B) {
				ratios := make([][]float64, n-1)
				for b.Loop() {
					src := &mnistSource{set: set, batch: 64}
					ev, err := Run(context.Background(), slices.Repeat([]Subject{subj}, n), src, Options{Threads: 2, Warmup: 10, Runs: 100})
					if err != nil {
						b.Fatal(err)
					}
					for i, c := range ev.Candidates {
						ratios[i] = append(ratios[i], c.Speedup)
					}
				}
				// first/second: baseline against the candidate created
				// second; first/third: against the one created third.
				for i, r := range ratios {
					reportRatios(b, "first/"+[]string{"second", "third"}[i], r)
				}
			})
		}
	}
}

func reportRatios(b *testing.B, unit string, ratios []float64) {
	b.Helper()
	s := slices.Clone(ratios)
	slices.Sort(s)
	var parts []string
	for _, r := range ratios {
		parts = append(parts, fmt.Sprintf("%.3f", r))
	}
	b.Logf("%s per op: %s", unit, strings.Join(parts, " "))
	b.ReportMetric(quantile(s, 0.5), unit+"-median")
	b.ReportMetric(s[0], unit+"-min")
	b.ReportMetric(s[len(s)-1], unit+"-max")
}

var (
	mnistOnce sync.Once
	mnistData *mnist.Set
	mnistErr  error
)

func mnistSet(b *testing.B) *mnist.Set {
	b.Helper()
	if _, err := ort.Init(""); err != nil {
		b.Fatalf("%v (run `make setup` to install ONNX Runtime)", err)
	}
	mnistOnce.Do(func() { mnistData, mnistErr = mnist.TestSet() })
	if mnistErr != nil {
		b.Fatal(mnistErr)
	}
	return mnistData
}

// mnistBatch is the first n test images as input "input" [n,1,28,28].
func mnistBatch(b *testing.B, n int) map[string]*onnxio.Tensor {
	b.Helper()
	set := mnistSet(b)
	t, err := onnxio.NewTensor("input", []int64{int64(n), 1, mnist.Rows, mnist.Cols}, set.Float32NCHW(0, n))
	if err != nil {
		b.Fatal(err)
	}
	return map[string]*onnxio.Tensor{"input": t}
}

// mnistSource streams the MNIST test set as input "input" with labels.
type mnistSource struct {
	set   *mnist.Set
	batch int
	pos   int
}

func (s *mnistSource) Len() int { return s.set.N }

func (s *mnistSource) Next(ctx context.Context) (*dataset.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.pos >= s.set.N {
		return nil, io.EOF
	}
	n := min(s.batch, s.set.N-s.pos)
	t, err := onnxio.NewTensor("input", []int64{int64(n), 1, mnist.Rows, mnist.Cols}, s.set.Float32NCHW(s.pos, n))
	if err != nil {
		return nil, err
	}
	bt := &dataset.Batch{Inputs: map[string]*onnxio.Tensor{"input": t}, Labels: s.set.Int64Labels(s.pos, n), N: n, Index: s.pos}
	s.pos += n
	return bt, nil
}

func (s *mnistSource) Reset() error { s.pos = 0; return nil }
func (s *mnistSource) Close() error { return nil }
