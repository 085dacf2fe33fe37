package cmd

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/schemacheck"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
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

// Silero VAD's weights live in the two branches of an If: dynamic mode
// quantizes the Conv and Gemm nodes there (from an .npz and from a
// test_data_set folder as --calib, and without data), and ONNX Runtime
// runs the result close to the float model.
func TestSileroQuantizesDynamic(t *testing.T) {
	model := sileroModel(t)
	dir := t.TempDir()
	npz, folder := sileroData(t, dir, 8)
	for i, calib := range []string{npz, folder, ""} {
		out := filepath.Join(dir, fmt.Sprintf("q%d.onnx", i))
		args := []string{"quantize", model, "-o", out, "--mode", "dynamic", "--json", "-q"}
		if calib != "" {
			args = append(args, "--calib", calib)
		}
		stdout, stderr, code := runCLI(t, false, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", calib, code, stderr)
		}
		if err := schemacheck.Validate("quantize.schema.json", []byte(stdout)); err != nil {
			t.Fatal(err)
		}
		var r QuantizeResult
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		m, err := onnxio.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		// Count the integer ops inside the If's branches.
		ops := map[string]int{}
		var walk func(g *onnxpb.GraphProto)
		walk = func(g *onnxpb.GraphProto) {
			for _, n := range g.Node {
				ops[n.GetOpType()]++
				for _, a := range n.Attribute {
					if a.G != nil {
						walk(a.G)
					}
				}
			}
		}
		walk(m.Proto.Graph)
		// 6 Conv and 2 Gemm per branch; the convolutions whose int8 form
		// is slower may go back to float when there is data to time on.
		if r.Quantized < 4 || ops["DynamicQuantizeMatMul"] != 4 || ops["ConvInteger"]+ops["Conv"] != 12 || r.InputBytes <= r.OutputBytes {
			t.Fatalf("%q: %d int8 nodes, ops %v, %d → %d bytes", calib, r.Quantized, ops, r.InputBytes, r.OutputBytes)
		}
		// ORT runs it: compare with the float model on the same data.
		cout, stderr, code := runCLI(t, false, "compare", model, out, "--data", npz, "--batch", "4", "--runs", "0", "--json", "-q")
		if code != 0 {
			t.Fatalf("%q: compare: exit %d: %s", calib, code, stderr)
		}
		var doc report.Compare
		if err := json.Unmarshal([]byte(cout), &doc); err != nil {
			t.Fatal(err)
		}
		sq := doc.Candidates[0].Fidelity.SQNRdB
		if sq == nil || *sq < 10 {
			t.Fatalf("%q: SQNR %v dB against the float model", calib, sq)
		}
		t.Logf("silero VAD dynamic (--calib %q): %d int8 nodes, SQNR %.1f dB, %d → %d bytes", calib, r.Quantized, *sq, r.InputBytes, r.OutputBytes)
	}
}
