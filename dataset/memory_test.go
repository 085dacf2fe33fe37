package dataset_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
)

// procStatusKB reads a field of /proc/self/status in KiB.
func procStatusKB(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// resetPeakRSS returns freed memory to the OS and resets VmHWM to the
// current RSS (Linux: writing 5 to /proc/self/clear_refs).
func resetPeakRSS(t *testing.T) {
	t.Helper()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("cannot reset the peak RSS (VmHWM) through /proc/self/clear_refs: %v", err)
	}
}

// writeRepeated writes the MNIST test set reps times over as one .npy
// [reps·10000,1,28,28] float32 and its labels as text, in chunks.
func writeRepeated(t *testing.T, set *mnist.Set, dir string, reps int) (string, string) {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("mnist_x%d.npy", reps))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := dataset.NewNpyWriter(f, onnxio.Float32, []int64{int64(reps * set.N), 1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	lp := filepath.Join(dir, fmt.Sprintf("mnist_x%d_labels.txt", reps))
	lf, err := os.Create(lp)
	if err != nil {
		t.Fatal(err)
	}
	lw := bufio.NewWriter(lf)
	const chunk = 1000
	for range reps {
		for i := 0; i < set.N; i += chunk {
			x := tensor(t, "x", []int64{chunk, 1, 28, 28}, set.Float32NCHW(i, chunk))
			if err := w.Write(x); err != nil {
				t.Fatal(err)
			}
		}
		for _, l := range set.Labels {
			fmt.Fprintln(lw, l)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lw.Flush(); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	return path, lp
}

// evaluate streams path through the session and counts correct argmaxes.
func evaluate(t *testing.T, s *ort.Session, path, labels string, batch int) (correct, n int) {
	t.Helper()
	src, err := dataset.Open(path, s.Inputs, dataset.Options{BatchSize: batch, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		b, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(b.Inputs)
		if err != nil {
			t.Fatal(err)
		}
		logits := out[0].Data.([]float32)
		for k := range b.N {
			row := logits[k*10 : (k+1)*10]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if int64(best) == b.Labels[k] {
				correct++
			}
		}
		n += b.N
	}
	return correct, n
}

// TestStreamingMemory evaluates the MNIST MLP fixture in ONNX Runtime over
// the test set (10,000 samples, 31 MB as .npy) and over ten copies of it
// (100,000 samples, 314 MB), and checks the peak RSS of the second run is
// not more than 50 MiB above the first: the data is streamed a batch at a
// time, never loaded whole.
func TestStreamingMemory(t *testing.T) {
	if _, err := ort.Init(""); err != nil {
		t.Fatalf("%v (run `make setup` to install ONNX Runtime)", err)
	}
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	x1, l1 := writeRepeated(t, set, dir, 1)
	x10, l10 := writeRepeated(t, set, dir, 10)
	st, _ := os.Stat(x10)
	m, err := onnxio.Load(filepath.Join("..", "testdata", "mnist_mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const batch = 256
	// Warm the session up so its buffers count in both runs alike.
	evaluate(t, s, x1, l1, batch)

	resetPeakRSS(t)
	base1, _ := procStatusKB("VmRSS")
	c1, n1 := evaluate(t, s, x1, l1, batch)
	peak1, err := procStatusKB("VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	resetPeakRSS(t)
	base10, _ := procStatusKB("VmRSS")
	c10, n10 := evaluate(t, s, x10, l10, batch)
	peak10, err := procStatusKB("VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1x:  %d samples, %d correct, RSS before %.1f MiB, peak %.1f MiB", n1, c1, float64(base1)/1024, float64(peak1)/1024)
	t.Logf("10x: %d samples (%.0f MiB .npy), %d correct, RSS before %.1f MiB, peak %.1f MiB", n10, float64(st.Size())/(1<<20), c10, float64(base10)/1024, float64(peak10)/1024)
	t.Logf("peak growth 1x -> 10x: %+.1f MiB (batch %d = %.1f MiB of float32 input)", float64(peak10-peak1)/1024, batch, float64(batch*784*4)/(1<<20))
	if n1 != 10000 || n10 != 100000 || c10 != 10*c1 {
		t.Errorf("1x: %d/%d correct, 10x: %d/%d (want 10 times as many)", c1, n1, c10, n10)
	}
	if growth := peak10 - peak1; growth > 50*1024 {
		t.Errorf("peak RSS grew by %.1f MiB from 1x to 10x the data (limit 50 MiB): the data is not streamed", float64(growth)/1024)
	}
}
