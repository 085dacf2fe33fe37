package cmd

import (
	"archive/zip"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/report"
)

// sileroModel is Silero VAD (op18, weights in If subgraphs), fetched by
// make test-data.
func sileroModel(t *testing.T) string {
	t.Helper()
	p := filepath.Join("..", "testdata", "external", "silero_vad_op18_ifless.onnx")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run `sh scripts/fetch-silero-vad.sh` (make test-data does) to fetch Silero VAD from npm", p)
	}
	return p
}

// sileroInputs are n windows of 576 samples of noise (512 at 16 kHz and
// the 64 of context the model expects), the sample rate (a scalar) and a
// zero state [2, n, 128] (its batch dimension second).
func sileroInputs(n int) []*onnxio.Tensor {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n*576)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 0.1)
	}
	in, _ := onnxio.NewTensor("input", []int64{int64(n), 576}, x)
	sr, _ := onnxio.NewTensor("sr", nil, []int64{16000})
	st, _ := onnxio.NewTensor("state", []int64{2, int64(n), 128}, make([]float32, 2*n*128))
	return []*onnxio.Tensor{in, sr, st}
}

// sileroData writes the inputs as an .npz and as a test_data_set folder
// (sets of 4 windows).
func sileroData(t *testing.T, dir string, n int) (npz, folder string) {
	t.Helper()
	npz = filepath.Join(dir, "vad.npz")
	f, err := os.Create(npz)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, x := range sileroInputs(n) {
		w, _ := zw.Create(x.Name + ".npy")
		if err := dataset.WriteNpy(w, x); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	f.Close()
	folder = filepath.Join(dir, "vad_pb")
	for s := 0; s < n/4; s++ {
		set := filepath.Join(folder, "test_data_set_"+string(rune('0'+s)))
		os.MkdirAll(set, 0o755)
		for i, x := range sileroInputs(4) {
			if err := onnxio.WriteTensorFile(filepath.Join(set, "input_"+string(rune('0'+i))+".pb"), x, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	return npz, folder
}

// Silero VAD evaluates from an .npz and from a test_data_set folder: a
// scalar sample rate beside batched inputs, and a state whose batch
// dimension is its second.
func TestSileroEvaluates(t *testing.T) {
	model := sileroModel(t)
	npz, folder := sileroData(t, t.TempDir(), 8)
	for _, data := range []string{npz, folder} {
		out, stderr, code := runCLI(t, false, "eval", model, "--data", data, "--batch", "4", "--runs", "3", "--json", "-q")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", data, code, stderr)
		}
		if err := schemacheck.Validate("eval.schema.json", []byte(out)); err != nil {
			t.Fatal(err)
		}
		var doc report.Eval
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Data.Samples != 8 || doc.Data.BatchSize != 4 || doc.Model.Latency == nil || doc.Model.NonFinite != 0 {
			t.Fatalf("%s: %+v", data, doc.Data)
		}
	}
	// A batch of 3 cuts the state along its batch axis too.
	_, stderr, code := runCLI(t, false, "eval", model, "--data", npz, "--batch", "3", "-q")
	if code != 0 || strings.TrimSpace(stderr) != "" {
		t.Fatalf("batch 3: exit %d: %s", code, stderr)
	}
}
