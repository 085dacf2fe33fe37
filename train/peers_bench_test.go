package train

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// BenchmarkPeers prints the engine's training step (fp32, and bf16 mixed
// precision) beside PyTorch's fp32 on the same work
// (testdata/gen/train_step_torch.py: same architectures, images, batch,
// Adam, cross-entropy, 2 threads each), rotating the three in one run so
// that the machine's load hits all alike. It runs only from
// `make bench-peers` (SHRINK_BENCH_PEERS=1), which needs Debian's
// python3-torch; CI never runs it.
func BenchmarkPeers(b *testing.B) {
	if os.Getenv("SHRINK_BENCH_PEERS") == "" {
		b.Skip("run by make bench-peers (needs /usr/bin/python3 with torch)")
	}
	const threads, batch = 2, 128
	rounds := envInt("SHRINK_BENCH_ROUNDS", 7)
	dir, err := mnist.DataDir()
	if err != nil {
		b.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("..", "testdata", "gen", "train_step_torch.py"))
	if err != nil {
		b.Fatal(err)
	}
	prevK := kernels.SetThreads(threads)
	defer kernels.SetThreads(prevK)
	fmt.Printf("training step, batch %d, Adam, %d threads each; %d alternating rounds; medians (samples/s)\n", batch, threads, rounds)
	fmt.Printf("%-8s %10s %10s %10s %8s %8s  %s\n", "model", "shrink", "shrink-bf16", "pytorch", "x-torch", "bf16/fp32", "(x-torch per round, min..max)")
	for _, c := range []struct {
		name, file string
		steps      int
	}{{"mlp", "mnist_mlp.onnx", 20}, {"cnn_bn", "mnist_cnn_bn.onnx", 10}} {
		py, err := startPeer(script, c.name, dir, threads, batch)
		if err != nil {
			b.Fatal(err)
		}
		fp32 := adamStep(b, testdataPath(b, c.file), batch, threads, FP32)
		bf16 := adamStep(b, testdataPath(b, c.file), batch, threads, BF16)
		fp32() // warm the pools
		bf16()
		timed := func(step func()) float64 {
			t0 := time.Now()
			for i := 0; i < c.steps; i++ {
				step()
			}
			return float64(batch*c.steps) / time.Since(t0).Seconds()
		}
		var ours, halves, theirs, ratios, gains []float64
		for r := 0; r < rounds; r++ {
			var sg, sh, sp float64
			sides := []func(){
				func() { sg = timed(fp32) },
				func() { sh = timed(bf16) },
				func() {
					tp, err := py.run(c.steps)
					if err != nil {
						b.Fatal(err)
					}
					sp = float64(batch*c.steps) / tp
				},
			}
			for i := range sides { // rotate the order round by round
				sides[(i+r)%len(sides)]()
			}
			ours, halves, theirs = append(ours, sg), append(halves, sh), append(theirs, sp)
			ratios, gains = append(ratios, sg/sp), append(gains, sh/sg)
		}
		py.close()
		fmt.Printf("%-8s %10.0f %10.0f %10.0f %7.2fx %7.2fx  (%.2f..%.2f)\n", c.name, median(ours), median(halves), median(theirs),
			median(ratios), median(gains), slices.Min(ratios), slices.Max(ratios))
	}
	if n := kernels.BF16(); n == "" {
		fmt.Println("shrink-bf16: no bfloat16 unit on this CPU, the bf16 column ran in fp32")
	}
}

// adamStep returns one Adam training step of the model at path on the
// first batch test images.
func adamStep(b *testing.B, path string, batch, threads int, prec Precision) func() {
	m, err := onnxio.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(m, Options{Seed: 1, Threads: threads, Precision: prec})
	if err != nil {
		b.Fatal(err)
	}
	set, err := mnist.TestSet()
	if err != nil {
		b.Fatal(err)
	}
	x := &onnxio.Tensor{Name: "input", DType: onnxio.Float32, Shape: []int64{int64(batch), 1, mnist.Rows, mnist.Cols}, Data: set.Float32NCHW(0, batch)}
	y := set.Int64Labels(0, batch)
	opt := NewAdam(AdamConfig{})
	grad := make([]float32, batch*mnist.Classes)
	return func() {
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
}

// peer is the PyTorch process: it runs N steps per request line and answers
// with their wall time.
type peer struct {
	cmd *exec.Cmd
	in  *bufio.Writer
	out *bufio.Scanner
	w   interface{ Close() error }
}

func startPeer(script, model, data string, threads, batch int) (*peer, error) {
	cmd := exec.Command("/usr/bin/python3", script, model, data, strconv.Itoa(threads), strconv.Itoa(batch))
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(threads))
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start PyTorch (Debian's python3-torch): %w", err)
	}
	p := &peer{cmd: cmd, in: bufio.NewWriter(w), out: bufio.NewScanner(r), w: w}
	if !p.out.Scan() || p.out.Text() != "ready" {
		p.close()
		return nil, fmt.Errorf("%s did not start (is python3-torch installed?)", script)
	}
	return p, nil
}

func (p *peer) run(steps int) (float64, error) {
	fmt.Fprintln(p.in, steps)
	if err := p.in.Flush(); err != nil {
		return 0, err
	}
	if !p.out.Scan() {
		return 0, fmt.Errorf("PyTorch side stopped: %v", p.out.Err())
	}
	return strconv.ParseFloat(strings.TrimSpace(p.out.Text()), 64)
}

func (p *peer) close() {
	p.w.Close()
	p.cmd.Wait()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
