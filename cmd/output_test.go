package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shrinkml/shrink/internal/schemacheck"
)

// outputCases builds, in dir, an input model and the output paths no verb
// may write: the input under another spelling, a symbolic link to it, a
// hard link to it, a FIFO, a folder and a character device. Each case
// names the word the one-line error must carry and the exit code.
func outputCases(t *testing.T, dir string) (input string, cases []outputCase) {
	t.Helper()
	model, _ := fixture(t, "mnist_mlp")
	b, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	input = filepath.Join(dir, "in.onnx")
	if err := os.WriteFile(input, b, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.onnx")
	other := filepath.Join(dir, "other.md")
	os.WriteFile(other, []byte("keep me"), 0o644)
	if err := os.Symlink("other.md", link); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard.onnx")
	if err := os.Link(input, hard); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder")
	os.Mkdir(folder, 0o755)
	return input, []outputCase{
		{"same path, other spelling", dir + "/./folder/../in.onnx", "is an input", ExitUsage},
		{"hard link to the input", hard, "is an input", ExitUsage},
		{"symbolic link", link, "symbolic link", ExitError},
		{"FIFO", fifo, "FIFO", ExitError},
		{"folder", folder, "folder", ExitError},
		{"character device", os.DevNull, "character device", ExitError},
		{"missing folder", filepath.Join(dir, "nope", "q.onnx"), "does not exist", ExitError},
		{"unwritable folder", filepath.Join(unwritableDir(t), "q.onnx"), "not writable", ExitError},
	}
}

type outputCase struct {
	name, path, want string
	code             int
}

// unwritableDir returns a folder no file can be created in: a read-only
// folder for a normal user, /proc for root (who ignores permission bits).
func unwritableDir(t *testing.T) string {
	if os.Geteuid() == 0 {
		return "/proc"
	}
	d := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(d, 0o555)
	return d
}

// untouched fails the test when any of the special files changed kind or
// the files changed content.
func untouched(t *testing.T, dir string, input []byte) {
	t.Helper()
	if st, err := os.Lstat(filepath.Join(dir, "link.onnx")); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symbolic link was replaced")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "other.md")); string(b) != "keep me" {
		t.Fatal("the link's target was written")
	}
	if st, err := os.Lstat(filepath.Join(dir, "fifo")); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatal("the FIFO was replaced")
	}
	if st, err := os.Stat(os.DevNull); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Fatal(os.DevNull + " was replaced")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "in.onnx")); string(b) != string(input) {
		t.Fatal("the input model was overwritten")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".shrink-tmp-*")); len(m) > 0 {
		t.Fatalf("temporary files left: %v", m)
	}
}

// Every verb that writes refuses, with or without --force and before any
// work (a missing ONNX Runtime library would fail later), outputs that
// are an input or not regular files.
func TestOutputsAreCheckedFirstAndOnlyRegularFilesReplaced(t *testing.T) {
	dir := t.TempDir()
	input, cases := outputCases(t, dir)
	inBytes, _ := os.ReadFile(input)
	data := calibNpy(t, dir, 8, 1)
	noORT := []string{"--ort-lib", filepath.Join(dir, "no-such-lib.so")}
	for _, c := range cases {
		for _, force := range []bool{false, true} {
			f := []string{}
			if force {
				f = []string{"--force"}
			}
			runs := map[string][]string{
				"quantize":           append([]string{"quantize", input, "-o", c.path, "--mode", "dynamic", "-q"}, f...),
				"compare --markdown": append([]string{"compare", input, input, "--data", data, "--markdown", c.path, "-q"}, f...),
				"compare --junit":    append([]string{"compare", input, input, "--data", data, "--junit", c.path, "-q"}, f...),
				"report":             append([]string{"report", input, "-o", c.path, "--format", "md", "-q"}, f...),
			}
			for verb, args := range runs {
				_, stderr, code := runCLI(t, false, append(args, noORT...)...)
				if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
					t.Errorf("%s, %s (force %v): exit %d, want %d with %q: %s", verb, c.name, force, code, c.code, c.want, stderr)
				}
			}
		}
	}
	untouched(t, dir, inBytes)
}

// quantize's calibration data is an input too.
func TestQuantizeRefusesToOverwriteItsData(t *testing.T) {
	dir := t.TempDir()
	model, _ := fixture(t, "mnist_mlp")
	calib := calibNpy(t, dir, 8, 1)
	before, _ := os.ReadFile(calib)
	_, stderr, code := runCLI(t, false, "quantize", model, "-o", calib, "--calib", calib, "--force", "-q")
	if code != ExitUsage || !strings.Contains(stderr, "is an input") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if after, _ := os.ReadFile(calib); string(after) != string(before) {
		t.Fatal("calibration data overwritten")
	}
}

// demo writes its files only where regular files (or nothing) are.
func TestDemoRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("keep me"), 0o644)
	if err := os.Symlink(target, filepath.Join(dir, "mnist_cnn.onnx")); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, false, "demo", "--dir", dir, "--force", "-q")
	if code != ExitError || !strings.Contains(stderr, "symbolic link") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me" {
		t.Fatal("demo wrote through a symbolic link")
	}
}

// The compare table fits the terminal by dropping the least telling
// columns; off a terminal, or wide enough, it keeps them all.
func TestTableFitsTerminal(t *testing.T) {
	tb := &table{
		rows: [][]string{{"model", "top1", "gzip", "cosine"}, {"a-long-model-name.onnx", "99.1%", "1.2 MiB", "0.99999"}},
		drop: []string{"gzip", "cosine"},
	}
	var full, narrow, none strings.Builder
	tb.write(&full, 200)
	tb.write(&narrow, 35)
	tb.write(&none, 0)
	if !strings.Contains(full.String(), "gzip") || !strings.Contains(full.String(), "cosine") || none.String() != full.String() {
		t.Fatalf("full:\n%s\nnone:\n%s", full.String(), none.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(narrow.String()), "\n") {
		if len([]rune(line)) > 35 {
			t.Fatalf("line wider than 35: %q", line)
		}
	}
	if strings.Contains(narrow.String(), "gzip") || !strings.Contains(narrow.String(), "top1") {
		t.Fatalf("narrow:\n%s", narrow.String())
	}
}

// version --json carries its schema field and the commit when known.
func TestVersionJSON(t *testing.T) {
	old := Commit
	Commit = "0123456789ab"
	defer func() { Commit = old }()
	out, stderr, code := runCLI(t, false, "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := schemacheck.Validate("version.schema.json", []byte(out)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"commit": "0123456789ab"`) {
		t.Fatal(out)
	}
	human, _, _ := runCLI(t, false, "version")
	if !strings.Contains(human, "commit 0123456789ab") {
		t.Fatal(human)
	}
}
