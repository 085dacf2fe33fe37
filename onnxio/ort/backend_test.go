package ort_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/ort"
	"google.golang.org/protobuf/proto"
)

// BackendRoot is where Debian's libonnx-testdata installs the ONNX backend
// test suite (`make test` installs it through .ci/run / make setup-test).
const BackendRoot = "/usr/share/libonnx-testdata/data"

var backendSuites = []string{"node", "pytorch-converted", "pytorch-operator", "simple"}

// nondeterministic lists suite tests whose reference outputs are random
// draws: no runtime can reproduce them.
var nondeterministic = map[string]string{
	"test_bernoulli":                 "random output",
	"test_bernoulli_double":          "random output",
	"test_bernoulli_seed":            "random output (seeded by ONNX's generator, not ORT's)",
	"test_bernoulli_double_expanded": "random output",
	"test_bernoulli_expanded":        "random output",
	"test_bernoulli_seed_expanded":   "random output (seeded by ONNX's generator, not ORT's)",
}

func backendModels(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, s := range backendSuites {
		m, err := filepath.Glob(filepath.Join(BackendRoot, s, "*", "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("no ONNX backend test models under %s: install Debian's libonnx-testdata (make test does it through .ci/run)", BackendRoot)
	}
	sort.Strings(dirs)
	return dirs
}

// TestBackendRoundTrip loads, saves and reloads every model of the suite and
// checks the protobuf content is identical and the bytes deterministic.
func TestBackendRoundTrip(t *testing.T) {
	dirs := backendModels(t)
	tmp := t.TempDir()
	passed := 0
	for i, d := range dirs {
		path := filepath.Join(d, "model.onnx")
		m, err := onnxio.Load(path)
		if err != nil {
			t.Errorf("%s: load: %v", path, err)
			continue
		}
		out := filepath.Join(tmp, fmt.Sprintf("m%d.onnx", i))
		if err := m.Save(out, onnxio.SaveOptions{}); err != nil {
			t.Errorf("%s: save: %v", path, err)
			continue
		}
		m2, err := onnxio.Load(out)
		if err != nil {
			t.Errorf("%s: reload: %v", path, err)
			continue
		}
		if !proto.Equal(m.Proto, m2.Proto) {
			t.Errorf("%s: reloaded model differs from the loaded one", path)
			continue
		}
		b1, _ := os.ReadFile(out)
		b2, err := m2.Marshal()
		if err != nil || string(b1) != string(b2) {
			t.Errorf("%s: saving twice gives different bytes", path)
			continue
		}
		os.Remove(out)
		passed++
	}
	t.Logf("round trip: %d of %d backend-suite models identical after load/save/reload", passed, len(dirs))
	if len(dirs) < 1000 {
		t.Errorf("only %d backend-suite models found, want the full suite (1,072)", len(dirs))
	}
}

// TestBackendORT runs every re-saved suite model in ONNX Runtime and checks
// its outputs against the suite's reference outputs (rtol 1e-3, atol 1e-7,
// the suite's defaults).
func TestBackendORT(t *testing.T) {
	if _, err := ort.Init(""); err != nil {
		t.Fatalf("ONNX Runtime: %v", err)
	}
	dirs := backendModels(t)
	tmp := t.TempDir()
	var ran, matched int
	var notRun, deviates []string
	for i, d := range dirs {
		name := filepath.Base(d)
		suite := filepath.Base(filepath.Dir(d))
		label := suite + "/" + name
		if why, ok := nondeterministic[name]; ok {
			notRun = append(notRun, label+": "+why)
			continue
		}
		m, err := onnxio.Load(filepath.Join(d, "model.onnx"))
		if err != nil {
			t.Errorf("%s: %v", label, err)
			continue
		}
		out := filepath.Join(tmp, fmt.Sprintf("m%d.onnx", i))
		if err := m.Save(out, onnxio.SaveOptions{}); err != nil {
			t.Errorf("%s: %v", label, err)
			continue
		}
		re, err := onnxio.Load(out)
		os.Remove(out)
		if err != nil {
			t.Errorf("%s: %v", label, err)
			continue
		}
		why, got, err := runBackendCase(re, d)
		if why != "" {
			notRun = append(notRun, label+": "+why)
			continue
		}
		ran++
		if err != nil {
			// Is it the save, or does ORT differ from the reference on
			// the untouched original file too?
			orig, oerr := runOriginal(d, re)
			if oerr != nil {
				t.Errorf("%s: %v; the original file: %v", label, err, oerr)
				continue
			}
			same := len(orig) == len(got)
			for i := range orig {
				same = same && compareTensors(got[i], orig[i], 0, 0) == nil
			}
			if !same {
				t.Errorf("%s: %v, and the re-saved model's outputs differ from the original's", label, err)
				continue
			}
			deviates = append(deviates, label+": "+err.Error())
			continue
		}
		matched++
	}
	t.Logf("ORT %s: %d of %d backend-suite models ran; %d matched the reference outputs; %d differ from the reference exactly as the original file does in ORT; %d could not run", ort.Version(), ran, len(dirs), matched, len(deviates), len(notRun))
	for _, s := range deviates {
		t.Logf("  ORT differs from the reference (original file too): %s", s)
	}
	for _, s := range notRun {
		t.Logf("  not run: %s", s)
	}
	if ran < len(dirs)*3/4 {
		t.Errorf("ORT ran only %d of %d models", ran, len(dirs))
	}
}

// runBackendCase returns a reason when ORT cannot run the case, or an error
// when it ran and the outputs differ.
func runBackendCase(m *onnxio.Model, dir string) (string, []*onnxio.Tensor, error) {
	g := m.Graph()
	inputs := map[string]*onnxio.Tensor{}
	for i, in := range g.Inputs() {
		vi := onnxio.DescribeValue(in)
		if vi.Kind != "tensor" {
			return fmt.Sprintf("input %q is a %s, not a tensor", vi.Name, vi.Kind), nil, nil
		}
		tt, err := onnxio.ReadTensorFile(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("input_%d.pb", i)))
		if err != nil {
			return "reading input: " + firstLine(err.Error()), nil, nil
		}
		if tt.DType == onnxio.Uint16 && (vi.DType == onnxio.Float16 || vi.DType == onnxio.BFloat16) {
			tt.DType = vi.DType // older suites store halves as uint16
		}
		inputs[vi.Name] = tt
	}
	var want []*onnxio.Tensor
	for i, o := range m.Proto.Graph.Output {
		vi := onnxio.DescribeValue(o)
		if vi.Kind != "tensor" {
			return fmt.Sprintf("output %q is a %s, not a tensor", vi.Name, vi.Kind), nil, nil
		}
		tt, err := onnxio.ReadTensorFile(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("output_%d.pb", i)))
		if err != nil {
			return "reading reference output: " + firstLine(err.Error()), nil, nil
		}
		if tt.DType == onnxio.Uint16 && (vi.DType == onnxio.Float16 || vi.DType == onnxio.BFloat16) {
			tt.DType = vi.DType
		}
		want = append(want, tt)
	}
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 1})
	if err != nil {
		return "session: " + firstLine(err.Error()), nil, nil
	}
	defer s.Close()
	got, err := s.Run(inputs)
	if err != nil {
		return "run: " + firstLine(err.Error()), nil, nil
	}
	for i := range want {
		if err := compareTensors(got[i], want[i], 1e-3, 1e-7); err != nil {
			return "", got, fmt.Errorf("output %d (%s): %w", i, s.Outputs[i], err)
		}
	}
	return "", got, nil
}

// runOriginal runs the suite's model.onnx bytes, untouched, on the same
// inputs.
func runOriginal(dir string, m *onnxio.Model) ([]*onnxio.Tensor, error) {
	b, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, err
	}
	s, err := ort.NewSessionFromBytes(b, ort.Options{IntraOpThreads: 1})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	inputs := map[string]*onnxio.Tensor{}
	for i, in := range s.Inputs {
		tt, err := onnxio.ReadTensorFile(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("input_%d.pb", i)))
		if err != nil {
			return nil, err
		}
		if tt.DType == onnxio.Uint16 && (in.DType == onnxio.Float16 || in.DType == onnxio.BFloat16) {
			tt.DType = in.DType
		}
		inputs[in.Name] = tt
	}
	return s.Run(inputs)
}

func firstLine(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.SplitN(s, "\n", 2)[0]
}

func compareTensors(got, want *onnxio.Tensor, rtol, atol float64) error {
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	if got.DType != want.DType {
		return fmt.Errorf("dtype %s, want %s", got.DType, want.DType)
	}
	switch w := want.Data.(type) {
	case []string:
		g := got.Data.([]string)
		for i := range w {
			// Float-to-string casts may print more digits than the
			// reference: compare such strings as numbers.
			a, errA := strconv.ParseFloat(g[i], 64)
			b, errB := strconv.ParseFloat(w[i], 64)
			if errA == nil && errB == nil && (a == b || math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) <= atol+rtol*math.Abs(b)) {
				continue
			}
			if g[i] != w[i] {
				return fmt.Errorf("element %d: %q, want %q", i, g[i], w[i])
			}
		}
		return nil
	case []bool:
		g := got.Data.([]bool)
		for i := range w {
			if g[i] != w[i] {
				return fmt.Errorf("element %d: %v, want %v", i, g[i], w[i])
			}
		}
		return nil
	case []byte:
		if want.DType != onnxio.Uint8 {
			g, _ := got.Data.([]byte)
			if string(g) != string(w) {
				return fmt.Errorf("raw %s data differs", want.DType)
			}
			return nil
		}
	}
	gv, err := asFloat64(got)
	if err != nil {
		return err
	}
	wv, err := asFloat64(want)
	if err != nil {
		return err
	}
	for i := range wv {
		a, b := gv[i], wv[i]
		if math.IsNaN(a) && math.IsNaN(b) || a == b {
			continue
		}
		if math.Abs(a-b) > atol+rtol*math.Abs(b) {
			return fmt.Errorf("element %d: %g, want %g (rtol %g, atol %g)", i, a, b, rtol, atol)
		}
	}
	return nil
}

func asFloat64(t *onnxio.Tensor) ([]float64, error) {
	switch d := t.Data.(type) {
	case []float64:
		return d, nil
	case []int64:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out, nil
	case []uint64:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out, nil
	}
	f, err := t.Float32s()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out, nil
}
