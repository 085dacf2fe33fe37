package kernels_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/ort"
	"google.golang.org/protobuf/proto"
)

// matmulModel is Y = A·B with A[m,k] an input and B[k,n] an initializer,
// the form a Gemm/MatMul layer has in a real model (ORT may prepack B).
func matmulModel(m, n, k int, bw []float32) *onnxio.Model {
	bt, _ := onnxio.NewTensor("B", []int64{int64(k), int64(n)}, bw)
	bp, _ := bt.ToProto()
	return &onnxio.Model{Proto: &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name:        proto.String("matmul"),
			Node:        []*onnxpb.NodeProto{onnxio.NewNode("MatMul", "mm", []string{"A", "B"}, []string{"Y"})},
			Initializer: []*onnxpb.TensorProto{bp},
			Input:       []*onnxpb.ValueInfoProto{{Name: proto.String("A"), Type: onnxio.TensorType(onnxio.Float32, []int64{int64(m), int64(k)})}},
			Output:      []*onnxpb.ValueInfoProto{{Name: proto.String("Y"), Type: onnxio.TensorType(onnxio.Float32, []int64{int64(m), int64(n)})}},
		},
	}}
}

// BenchmarkSgemmVsORT times ONNX Runtime's MatMul (MLAS) and kernels.Sgemm
// on the same shapes and thread counts in one process, alternating the two
// call by call (ORT first on even iterations) so that the machine's load
// hits both alike: the anchor the GEMM's speed is judged by. It reports
// each side's GFLOP/s and the median of the per-iteration speed ratios
// shrink/ORT ("x-ort").
//
//	go test ./kernels -run '^$' -bench SgemmVsORT -benchtime 200x
func BenchmarkSgemmVsORT(b *testing.B) {
	if _, err := ort.Init(""); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, sh := range gemmShapes {
		a := make([]float32, sh.m*sh.k)
		bw := make([]float32, sh.k*sh.n)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range bw {
			bw[i] = float32(r.NormFloat64())
		}
		c := make([]float32, sh.m*sh.n)
		flops := 2 * float64(sh.m) * float64(sh.n) * float64(sh.k)
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", sh.name, threads), func(b *testing.B) {
				s, err := ort.NewSession(matmulModel(sh.m, sh.n, sh.k, bw), ort.Options{IntraOpThreads: threads, InterOpThreads: 1})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				in := &onnxio.Tensor{Name: "A", DType: onnxio.Float32, Shape: []int64{int64(sh.m), int64(sh.k)}, Data: a}
				bound, err := s.Bind(map[string]*onnxio.Tensor{"A": in})
				if err != nil {
					b.Fatal(err)
				}
				defer bound.Close()
				prev := kernels.SetThreads(threads)
				defer kernels.SetThreads(prev)
				runORT := func() time.Duration {
					t0 := time.Now()
					if err := bound.RunDiscard(); err != nil {
						b.Fatal(err)
					}
					return time.Since(t0)
				}
				runShrink := func() time.Duration {
					t0 := time.Now()
					kernels.Sgemm(false, false, sh.m, sh.n, sh.k, 1, a, sh.k, bw, sh.n, 0, c, sh.n)
					return time.Since(t0)
				}
				runORT()
				runShrink()
				var to, ts time.Duration
				ratios := make([]float64, 0, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					var o, x time.Duration
					if i%2 == 0 {
						o, x = runORT(), runShrink()
					} else {
						x, o = runShrink(), runORT()
					}
					to, ts = to+o, ts+x
					ratios = append(ratios, o.Seconds()/x.Seconds())
				}
				slices.Sort(ratios)
				b.ReportMetric(flops*float64(b.N)/to.Seconds()/1e9, "ort-GFLOP/s")
				b.ReportMetric(flops*float64(b.N)/ts.Seconds()/1e9, "shrink-GFLOP/s")
				b.ReportMetric(ratios[len(ratios)/2], "x-ort")
			})
		}
	}
}
