package opinfo

import (
	"slices"
	"testing"

	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

type nodeProto = onnxpb.NodeProto

// TestTableConsistent checks every record: keyed by its type, a data
// input first (Concat's is variadic), a variadic input only last, Out/In
// axes only on inputs that have channels, compute ops with a weight and a
// MAC formula, and nothing else with one.
func TestTableConsistent(t *testing.T) {
	if len(table) < 100 {
		t.Fatalf("only %d ops in the table", len(table))
	}
	for typ, o := range table {
		if o.Type != typ {
			t.Errorf("%s filed under %s", o.Type, typ)
		}
		if len(o.Inputs) == 0 || o.Inputs[0].Role != Data {
			t.Errorf("%s: first input is not data", typ)
		}
		if len(o.Outputs) == 0 {
			t.Errorf("%s: no outputs", typ)
		}
		for i, in := range o.Inputs {
			if in.Variadic && i != len(o.Inputs)-1 {
				t.Errorf("%s: variadic input %s is not last", typ, in.Name)
			}
			if in.Role == Control && (in.Out != NoAxis || in.In != NoAxis) {
				t.Errorf("%s: control input %s has channel axes", typ, in.Name)
			}
		}
		if (o.Family == Compute) != (o.macs != nil) || (o.Family == Compute) != (o.Flow == FlowCompute) {
			t.Errorf("%s: family %s, flow %s, MAC formula %v", typ, o.Family, o.Flow, o.macs != nil)
		}
		if o.Family == Compute && o.Find(Weight) != 1 {
			t.Errorf("%s: weight is input %d", typ, o.Find(Weight))
		}
		if o.Family.String() == "" || o.Flow.String() == "" {
			t.Errorf("%s: unnamed family or flow", typ)
		}
	}
	var compute []string
	for _, op := range Known() {
		if IsCompute(op) {
			compute = append(compute, op)
		}
	}
	slices.Sort(compute)
	if want := []string{"Conv", "ConvTranspose", "Gemm", "MatMul"}; !slices.Equal(compute, want) {
		t.Errorf("compute ops %v, want %v", compute, want)
	}
}

// TestWeightAxes: the axis facts per compute op, as the ONNX operator
// specification states them.
func TestWeightAxes(t *testing.T) {
	for _, c := range []struct {
		name    string
		n       *nodeProto
		w       []int64
		want    Axes
		fan     int64
		ok      bool
		receive int64
	}{
		{"Conv W [Cout, Cin/g, kh, kw]", node("Conv", 3, 1), sh(64, 32, 3, 3), Axes{0, 1, -1}, 288, true, 9},
		{"Conv 1-D", node("Conv", 2, 1), sh(8, 4, 5), Axes{0, 1, -1}, 20, true, 5},
		{"Conv grouped", node("Conv", 2, 1, "group", 4), sh(64, 8, 3, 3), Axes{0, 1, -1}, 72, true, 9},
		{"Conv depthwise", node("Conv", 2, 1, "group", 32), sh(32, 1, 3, 3), Axes{0, 1, -1}, 9, true, 9},
		{"Conv weight of rank 2", node("Conv", 2, 1), sh(8, 4), Axes{-1, -1, -1}, 0, false, 1},
		{"ConvTranspose W [Cin, Cout/g, k…]", node("ConvTranspose", 2, 1), sh(32, 16, 4, 4), Axes{1, 0, -1}, 512, true, 16},
		{"ConvTranspose grouped", node("ConvTranspose", 2, 1, "group", 2), sh(32, 8, 4, 4), Axes{1, 0, -1}, 256, true, 16},
		{"Gemm B [K, N]", node("Gemm", 3, 1), sh(784, 300), Axes{1, 0, -1}, 784, true, 1},
		{"Gemm B transB [N, K]", node("Gemm", 3, 1, "transB", 1), sh(300, 784), Axes{0, 1, -1}, 784, true, 1},
		{"Gemm B of rank 3", node("Gemm", 3, 1), sh(2, 3, 4), Axes{-1, -1, -1}, 0, false, 1},
		{"MatMul B [K, N]", node("MatMul", 2, 1), sh(64, 256), Axes{1, 0, -1}, 64, true, 1},
		{"MatMul B batched [b, K, N]", node("MatMul", 2, 1), sh(4, 64, 256), Axes{2, 1, -1}, 64, true, 1},
		{"MatMul B 1-D [K]", node("MatMul", 2, 1), sh(64), Axes{-1, 0, -1}, 64, true, 1},
		{"Add has no weight", node("Add", 2, 1), sh(64), Axes{-1, -1, -1}, 0, false, 1},
	} {
		nd := c.n
		got, ok := WeightAxes(nd, c.w)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("%s: WeightAxes(%v) = %+v, %v; want %+v, %v", c.name, c.w, got, ok, c.want, c.ok)
		}
		fan, ok := FanIn(nd, c.w)
		if ok != c.ok || fan != c.fan {
			t.Errorf("%s: FanIn(%v) = %d, %v; want %d", c.name, c.w, fan, ok, c.fan)
		}
		if r := Receptive(nd, c.w); r != c.receive {
			t.Errorf("%s: Receptive(%v) = %d, want %d", c.name, c.w, r, c.receive)
		}
	}
}

// TestInputAxes: data inputs' axes, the Swap attribute and MatMul's 1-D
// promotion.
func TestInputAxes(t *testing.T) {
	for _, c := range []struct {
		name string
		n    *nodeProto
		i    int
		rank int
		want Axes
		ok   bool
	}{
		{"Conv X", node("Conv", 2, 1), 0, 4, Axes{-1, 1, 0}, true},
		{"Conv X of rank 2", node("Conv", 2, 1), 0, 2, Axes{-1, -1, -1}, false},
		{"Conv B", node("Conv", 3, 1), 2, 1, Axes{0, -1, -1}, true},
		{"Gemm A", node("Gemm", 2, 1), 0, 2, Axes{-1, 1, 0}, true},
		{"Gemm A transA", node("Gemm", 2, 1, "transA", 1), 0, 2, Axes{-1, 0, 1}, true},
		{"Gemm C [N]", node("Gemm", 3, 1), 2, 1, Axes{0, -1, -1}, true},
		{"Gemm C [M, N]", node("Gemm", 3, 1), 2, 2, Axes{1, -1, 0}, true},
		{"MatMul A", node("MatMul", 2, 1), 0, 3, Axes{-1, 2, 1}, true},
		{"MatMul A 1-D", node("MatMul", 2, 1), 0, 1, Axes{-1, 0, -1}, true},
		{"BatchNormalization scale", node("BatchNormalization", 5, 1), 1, 1, Axes{0, -1, -1}, true},
		{"Concat's tenth input", node("Concat", 10, 1, "axis", 1), 9, 4, Axes{-1, -1, -1}, true},
		{"past the inputs", node("Relu", 1, 1), 1, 4, Axes{-1, -1, -1}, false},
	} {
		got, ok := InputAxes(c.n, c.i, c.rank)
		if ok != c.ok || got != c.want {
			t.Errorf("%s: InputAxes(%d, rank %d) = %+v, %v; want %+v, %v", c.name, c.i, c.rank, got, ok, c.want, c.ok)
		}
	}
}

func TestGroups(t *testing.T) {
	for _, c := range []struct {
		n     *nodeProto
		w     []int64
		g     int64
		dw    bool
		multi int64
	}{
		{node("Conv", 2, 1), sh(16, 8, 3, 3), 1, false, 0},
		{node("Conv", 2, 1, "group", 8), sh(16, 1, 3, 3), 8, true, 2},
		{node("Conv", 2, 1, "group", 8), sh(8, 1, 3, 3), 8, true, 1},
		{node("Conv", 2, 1, "group", 2), sh(16, 4, 3, 3), 2, false, 0},
		{node("ConvTranspose", 2, 1, "group", 4), sh(4, 3, 3, 3), 4, true, 3},
		{node("ConvTranspose", 2, 1, "group", 2), sh(8, 3, 3, 3), 2, false, 0},
		{node("Gemm", 2, 1), sh(8, 3), 1, false, 0},
	} {
		if g := Groups(c.n); g != c.g {
			t.Errorf("%s %v: Groups %d, want %d", c.n.GetOpType(), c.w, g, c.g)
		}
		if dw, m := Depthwise(c.n, c.w); dw != c.dw || m != c.multi {
			t.Errorf("%s %v: Depthwise %v ×%d, want %v ×%d", c.n.GetOpType(), c.w, dw, m, c.dw, c.multi)
		}
	}
}

// TestMACsHandDerived: MAC counts of layers whose counts are easy to
// derive by hand (the MNIST fixtures' layers among them).
func TestMACsHandDerived(t *testing.T) {
	for _, c := range []struct {
		name      string
		n         *nodeProto
		s         Shapes
		total     int64
		perSample int64
	}{
		// 32 output channels × 26×26 positions × (1 input channel × 3×3).
		{"conv1 of mnist_cnn", node("Conv", 3, 1), Shapes{In: [][]int64{sh(8, 1, 28, 28), sh(32, 1, 3, 3), sh(32)}, Out: [][]int64{sh(8, 32, 26, 26)}}, 8 * 194688, 194688},
		// 64 × 11×11 × (32 × 3×3).
		{"conv2 of mnist_cnn", node("Conv", 3, 1), Shapes{In: [][]int64{sh(1, 32, 13, 13), sh(64, 32, 3, 3)}, Out: [][]int64{sh(1, 64, 11, 11)}}, 2230272, 2230272},
		{"fc1 of mnist_mlp", node("Gemm", 3, 1, "transB", 1), Shapes{In: [][]int64{sh(4, 784), sh(800, 784), sh(800)}, Out: [][]int64{sh(4, 800)}}, 4 * 627200, 627200},
		{"Gemm transA", node("Gemm", 2, 1, "transA", 1), Shapes{In: [][]int64{sh(10, 4), sh(10, 3)}, Out: [][]int64{sh(4, 3)}}, 120, 30},
		// Depthwise: 16 outputs × 4 positions × (1 × 9).
		{"depthwise", node("Conv", 2, 1, "group", 16), Shapes{In: [][]int64{sh(1, 16, 4, 4), sh(16, 1, 3, 3)}, Out: [][]int64{sh(1, 16, 2, 2)}}, 576, 576},
		// Every input value (2×3×3) scatters into 4 outputs × 2×2 kernel.
		{"convtranspose", node("ConvTranspose", 2, 1), Shapes{In: [][]int64{sh(1, 2, 3, 3), sh(2, 4, 2, 2)}, Out: [][]int64{sh(1, 4, 6, 6)}}, 288, 288},
		// Attention scores: 4 heads × 28×28 × 16.
		{"batched matmul", node("MatMul", 2, 1), Shapes{In: [][]int64{sh(2, 4, 28, 16), sh(2, 4, 16, 28)}, Out: [][]int64{sh(2, 4, 28, 28)}}, 2 * 50176, 50176},
		{"relu counts nothing", node("Relu", 1, 1), Shapes{}, 0, 0},
	} {
		got, err := MACs(c.n, c.s)
		if err != nil || got.Total != c.total || got.PerSample != c.perSample {
			t.Errorf("%s: MACs = %+v, %v; want total %d, per sample %d", c.name, got, err, c.total, c.perSample)
		}
	}
	if _, err := MACs(node("Conv", 2, 1), Shapes{In: [][]int64{sh(1, 1, 4, 4)}}); err == nil {
		t.Error("MACs without the weight's shape: no error")
	}
}
