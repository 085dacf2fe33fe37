package onnxio

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Save and WriteFileAtomic replace only regular files, even with
// overwrite: a symbolic link, a FIFO and a folder stay what they are.
func TestWritersReplaceOnlyRegularFiles(t *testing.T) {
	dir := t.TempDir()
	m := tinyModel(t)
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("keep me"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder")
	os.Mkdir(folder, 0o755)
	for _, p := range []string{link, fifo, folder} {
		if err := m.Save(p, SaveOptions{Overwrite: true}); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Save %s: %v, want ErrNotRegular", p, err)
		}
		if err := WriteFileAtomic(p, []byte("x"), true); !errors.Is(err, ErrNotRegular) {
			t.Errorf("WriteFileAtomic %s: %v, want ErrNotRegular", p, err)
		}
		if err := CheckOutput(p, true); !errors.Is(err, ErrNotRegular) {
			t.Errorf("CheckOutput %s: %v, want ErrNotRegular", p, err)
		}
	}
	if st, _ := os.Lstat(link); st.Mode()&os.ModeSymlink == 0 {
		t.Fatal("link replaced")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me" {
		t.Fatal("link target written")
	}
	if st, _ := os.Lstat(fifo); st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatal("FIFO replaced")
	}
	// A regular file is replaced with overwrite, refused without.
	reg := filepath.Join(dir, "reg.onnx")
	os.WriteFile(reg, []byte("old"), 0o644)
	if err := m.Save(reg, SaveOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("Save without overwrite: %v", err)
	}
	if err := m.Save(reg, SaveOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if m2, err := Load(reg); err != nil || len(m2.Proto.Graph.Node) != len(m.Proto.Graph.Node) {
		t.Fatalf("reload: %v", err)
	}
}

// CheckOutput compares files, not strings: a hard link or another spelling
// of an input is that input, with or without overwrite.
func TestCheckOutputSameFile(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.onnx")
	os.WriteFile(in, []byte("model"), 0o644)
	hard := filepath.Join(dir, "hard.onnx")
	if err := os.Link(in, hard); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{in, dir + "/./in.onnx", hard} {
		for _, ow := range []bool{false, true} {
			if err := CheckOutput(p, ow, in); !errors.Is(err, ErrSameFile) {
				t.Errorf("%s overwrite %v: %v, want ErrSameFile", p, ow, err)
			}
		}
	}
	if err := CheckOutput(filepath.Join(dir, "new.onnx"), false, in); err != nil {
		t.Fatal(err)
	}
	if err := CheckOutput(filepath.Join(dir, "no", "new.onnx"), false, in); err == nil {
		t.Fatal("missing folder accepted")
	}
}
