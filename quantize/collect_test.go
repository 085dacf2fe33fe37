package quantize

import (
	"context"
	"testing"
)

// Exposing intermediate tensors in small chunks (by count or by bytes)
// gives exactly the statistics of one big session.
func TestCollectChunks(t *testing.T) {
	needORT(t)
	m := fixture(t, "mnist_cnn.onnx")
	q := &quantizer{m: m}
	names := q.calibrationTensors()
	run := func(chunkTensors int, chunkBytes int64) (*Stats, Calibrator) {
		cal, _ := NewCalibrator(MinMax, CalibOptions{})
		st, err := collect(context.Background(), m, mnistSource(t, 0, 300, 100), names, cal, collectOptions{Limit: 250, ChunkTensors: chunkTensors, ChunkBytes: chunkBytes, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		return st, cal
	}
	ref, refCal := run(64, 1<<30)
	if ref.Chunks != 1 || ref.Samples != 250 || ref.Batches != 3 {
		t.Fatalf("one chunk: %+v", ref)
	}
	for _, c := range []struct {
		tensors    int
		bytes      int64
		wantChunks int
	}{{2, 1 << 30, (len(names) - 1 + 1) / 2}, {64, 1, len(names) - 1}} {
		st, cal := run(c.tensors, c.bytes)
		if st.Chunks != c.wantChunks {
			t.Errorf("chunk tensors %d bytes %d: %d chunks, want %d", c.tensors, c.bytes, st.Chunks, c.wantChunks)
		}
		for _, n := range names {
			a, b, ok1 := refCal.Observed(n)
			x, y, ok2 := cal.Observed(n)
			if ok1 != ok2 || a != x || b != y {
				t.Errorf("%s: [%g, %g] vs [%g, %g]", n, a, b, x, y)
			}
		}
	}
}
