package onnxio

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the model decoder: it must return a
// model or an error, never panic, and a decoded model must survive
// Marshal/LoadBytes.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("/usr/share/libonnx-testdata/data/pytorch-converted/*/model.onnx")
	for i, p := range seeds {
		if i >= 20 {
			break
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
			f.Add(b[:len(b)/2])
		}
	}
	f.Add([]byte{})
	f.Add([]byte("not a model"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := LoadBytes(b)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			return
		}
		if _, err := LoadBytes(out); err != nil {
			t.Fatalf("re-decoding a marshalled model failed: %v", err)
		}
		// Exercise the graph index and weights on whatever decoded.
		g := m.Graph()
		_, _ = g.TopoOrder()
		for _, w := range g.Weights() {
			_, _ = w.Tensor()
		}
		_, _, _ = m.ParamStats()
	})
}
