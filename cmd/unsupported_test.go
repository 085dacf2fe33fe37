package cmd

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
)

// What ONNX Runtime cannot run is an unsupported model (exit 4) in one
// line: an unknown operator names its node and op; an opset or IR version
// newer than the library names the versions (not 600 characters of C++).
func TestRuntimeRefusalsAreOneLineExit4(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	images, labels := mnistNpy(t, dir)
	for _, c := range []struct {
		name string
		edit func(m *onnxio.Model)
		want []string
	}{
		{"unknown op", func(m *onnxio.Model) { m.Proto.Graph.Node[1].OpType = strPtr("FooBar") }, []string{"FooBar", `"/fc1/Gemm"`, "not implemented"}},
		{"unknown domain", func(m *onnxio.Model) {
			m.Proto.Graph.Node[1].Domain = strPtr("com.example")
			m.SetOpset("com.example", 1)
		}, []string{"com.example:Gemm", `"/fc1/Gemm"`}},
		{"opset too new", func(m *onnxio.Model) { m.SetOpset("", 99) }, []string{"opset 99", "up to opset 2"}},
		{"IR too new", func(m *onnxio.Model) { ir := int64(99); m.Proto.IrVersion = &ir }, []string{"IR version is 99", "up to 1"}},
	} {
		m, err := onnxio.Load(model)
		if err != nil {
			t.Fatal(err)
		}
		c.edit(m)
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".onnx")
		if err := m.Save(p, onnxio.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runCLI(t, false, "eval", p, "--data", images, "--labels", labels, "--limit", "64", "-q")
		line := strings.TrimSpace(stderr)
		if code != ExitUnsupported || strings.Contains(line, "\n") || len(line) > 300 || strings.Contains(line, "onnxruntime_src") {
			t.Errorf("%s: exit %d: %s", c.name, code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: %q lacks %q", c.name, line, w)
			}
		}
	}
}

func strPtr(s string) *string { return &s }
