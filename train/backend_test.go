package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
)

// backendRoot is where Debian's libonnx-testdata installs the ONNX backend
// test suite.
const backendRoot = "/usr/share/libonnx-testdata/data"

// randomOutputs lists suite tests whose outputs are random draws (dropout
// in training mode with a non-zero ratio): no two runtimes agree on them.
var randomOutputs = map[string]bool{
	"test_training_dropout":              true,
	"test_training_dropout_default":      true,
	"test_training_dropout_default_mask": true,
	"test_training_dropout_mask":         true,
}

// TestBackendSuite runs every model of the ONNX backend test suite
// (node, pytorch-converted, pytorch-operator, simple) that the engine
// supports and compares its outputs with ONNX Runtime's (rtol 1e-4) and
// with the suite's reference outputs. Models with an op, attribute or type
// the engine lacks are listed, not failed; a supported model whose outputs
// differ fails the test.
func TestBackendSuite(t *testing.T) {
	ortReady(t)
	var dirs []string
	for _, s := range []string{"node", "pytorch-converted", "pytorch-operator", "simple"} {
		m, _ := filepath.Glob(filepath.Join(backendRoot, s, "*", "model.onnx"))
		for _, p := range m {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	if len(dirs) < 1000 {
		t.Fatalf("found %d backend models under %s, want the full suite (install Debian's libonnx-testdata)", len(dirs), backendRoot)
	}
	sort.Strings(dirs)
	covered := map[string]int{}
	var skipped []string
	skipOps := map[string]int{}
	var refDiffers []string
	var ortRefused []string
	for _, d := range dirs {
		name := filepath.Base(d)
		suite := filepath.Base(filepath.Dir(d))
		label := suite + "/" + name
		m, err := onnxio.Load(filepath.Join(d, "model.onnx"))
		if err != nil {
			t.Errorf("%s: %v", label, err)
			continue
		}
		e, err := New(m, Options{Threads: 2})
		var ue *onnxio.UnsupportedError
		if errors.As(err, &ue) {
			skipped = append(skipped, label+": "+ue.Error())
			key := ue.Op
			if ue.Reason != "" {
				key += " (" + ue.Reason + ")"
			}
			skipOps[key]++
			continue
		}
		if err != nil {
			t.Errorf("%s: build: %v", label, err)
			continue
		}
		if randomOutputs[name] {
			skipped = append(skipped, label+": random outputs (dropout in training mode)")
			skipOps["Dropout (random outputs)"]++
			continue
		}
		inputs, refs, err := loadDataSet(m, filepath.Join(d, "test_data_set_0"))
		if err != nil {
			t.Errorf("%s: %v", label, err)
			continue
		}
		got, err := e.Forward(bg, inputs, Inference)
		if err != nil {
			t.Errorf("%s: engine: %v", label, err)
			continue
		}
		want, oerr := runORT(m, inputs)
		matchedORT := false
		if oerr != nil {
			ortRefused = append(ortRefused, label)
		} else {
			ok := len(want) == len(got)
			for i := range want {
				if err := closeTo(got[i], want[i], 1e-4); err != nil {
					t.Errorf("%s: output %s differs from ONNX Runtime: %v", label, e.OutputNames()[i], err)
					ok = false
				}
			}
			if !ok {
				continue
			}
			matchedORT = true
		}
		refOK := len(refs) == len(got)
		for i := 0; refOK && i < len(refs); i++ {
			if err := closeTo(got[i], refs[i], 1e-4); err != nil {
				refOK = false
				if !matchedORT {
					t.Errorf("%s: ONNX Runtime refused the model and output %s differs from the suite's reference: %v", label, e.OutputNames()[i], err)
				} else {
					ortToo := "ORT differs from it too"
					if closeTo(want[i], refs[i], 1e-4) == nil {
						ortToo = "ORT is within 1e-4 of it"
					}
					refDiffers = append(refDiffers, fmt.Sprintf("%s (%s: %v; %s)", label, e.OutputNames()[i], err, ortToo))
				}
			}
		}
		if !matchedORT && !refOK {
			continue
		}
		covered[suite]++
	}
	total := 0
	for _, n := range covered {
		total += n
	}
	t.Logf("backend suite: %d models run and matched (node %d, pytorch-converted %d, pytorch-operator %d, simple %d): %d against ONNX Runtime and the reference outputs, %d (that ORT refuses) against the reference outputs; %d skipped for an unsupported op, attribute or type",
		total, covered["node"], covered["pytorch-converted"], covered["pytorch-operator"], covered["simple"], total-len(ortRefused), len(ortRefused), len(skipped))
	if len(ortRefused) > 0 {
		t.Logf("ONNX Runtime refused %d models (old opsets or attributes it dropped); these were checked against the suite's reference outputs only:\n  %s", len(ortRefused), strings.Join(ortRefused, "\n  "))
	}
	var keys []string
	for k := range skipOps {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if skipOps[keys[i]] != skipOps[keys[j]] {
			return skipOps[keys[i]] > skipOps[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "\n  %4d  %s", skipOps[k], k)
	}
	t.Logf("skipped, by op:%s", sb.String())
	if testing.Verbose() {
		t.Logf("skipped models:\n  %s", strings.Join(skipped, "\n  "))
	}
	if len(refDiffers) > 0 {
		t.Logf("matched ONNX Runtime but not the suite's reference (rtol 1e-4): %d\n  %s", len(refDiffers), strings.Join(refDiffers, "\n  "))
	}
	// The op set the engine promises must be covered broadly.
	if covered["pytorch-converted"] < 80 || covered["pytorch-operator"] < 30 || covered["node"] < 500 {
		t.Errorf("coverage fell: %v", covered)
	}
}

// loadDataSet reads a test_data_set folder: inputs in graph-input order,
// reference outputs in graph-output order.
func loadDataSet(m *onnxio.Model, dir string) (map[string]*onnxio.Tensor, []*onnxio.Tensor, error) {
	inputs := map[string]*onnxio.Tensor{}
	for i, v := range m.Graph().Inputs() {
		p := filepath.Join(dir, fmt.Sprintf("input_%d.pb", i))
		if _, err := os.Stat(p); err != nil {
			return nil, nil, fmt.Errorf("input %q: %v", v.GetName(), err)
		}
		tn, err := onnxio.ReadTensorFile(p)
		if err != nil {
			return nil, nil, err
		}
		inputs[v.GetName()] = tn
	}
	var refs []*onnxio.Tensor
	for i := range m.Proto.Graph.Output {
		tn, err := onnxio.ReadTensorFile(filepath.Join(dir, fmt.Sprintf("output_%d.pb", i)))
		if err != nil {
			return nil, nil, err
		}
		refs = append(refs, tn)
	}
	return inputs, refs, nil
}
