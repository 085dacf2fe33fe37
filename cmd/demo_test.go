package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs `shrink demo` end to end: the embedded CNN is quantized
// and compared on the 10,000 embedded test images, and every file is left
// in the folder.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := runCLI(t, false, "demo", "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, f := range []string{"mnist_cnn.onnx", "mnist_cnn.int8.onnx", "report.md", "mnist_test_images.npy", "mnist_test_labels.npy"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, want := range []string{"$ shrink quantize", "$ shrink compare", "max-accuracy-drop"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// A second run into the same folder refuses to overwrite without --force.
	if _, errs, code := runCLI(t, false, "demo", "--dir", dir); code != 1 || !strings.Contains(errs, "--force") {
		t.Errorf("second run: exit %d, %q", code, errs)
	}
	if _, errs, code := runCLI(t, false, "demo", "--dir", dir, "--force"); code != 0 {
		t.Errorf("--force run: exit %d, %q", code, errs)
	}
}
