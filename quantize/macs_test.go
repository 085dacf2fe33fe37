package quantize

import (
	"context"
	"testing"

	"github.com/shrinkml/shrink/onnxio/opinfo"
)

// TestReportMACsMNIST: the per-node MAC counts in the report (from
// onnxio/opinfo, on the calibration shapes) are the hand-derived counts
// of the MNIST fixtures' layers, per sample:
//
//	mnist_mlp  Gemm 784→800: 627,200; 800→800: 640,000; 800→10: 8,000
//	mnist_cnn  Conv 1→32, 3×3 on 28×28 → 26×26: 32·26·26·1·9 = 194,688
//	           Conv 32→64, 3×3 on 13×13 → 11×11: 64·11·11·32·9 = 2,230,272
//	           Gemm 1600→128: 204,800; 128→10: 1,280
//
// mnist_cnn_bn has the same layers with its BatchNormalization nodes.
func TestReportMACsMNIST(t *testing.T) {
	needORT(t)
	cnn := []int64{194688, 2230272, 204800, 1280}
	for _, c := range []struct {
		name string
		want []int64 // per compute node, in graph order
	}{
		{"mnist_mlp", []int64{627200, 640000, 8000}},
		{"mnist_cnn", cnn},
		{"mnist_cnn_bn", cnn},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := fixture(t, c.name+".onnx")
			_, rep, err := Quantize(context.Background(), m, Options{Calib: trainSource(t, 64, 64), SpeedAware: false})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			var total int64
			for _, n := range rep.Nodes {
				if opinfo.IsCompute(n.Op) {
					got = append(got, n.MACs)
				} else if n.MACs != 0 {
					t.Errorf("%s (%s): %d MACs, want 0 for a non-compute op", n.Name, n.Op, n.MACs)
				}
				total += n.MACs
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d compute nodes in the report (%v), want %d", len(got), got, len(c.want))
			}
			var want int64
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("compute node %d: %d MACs, want %d", i, got[i], c.want[i])
				}
				want += c.want[i]
			}
			if rep.MACs.Total != want || total != want {
				t.Errorf("report total %d (rows sum to %d), want %d", rep.MACs.Total, total, want)
			}
		})
	}
}
