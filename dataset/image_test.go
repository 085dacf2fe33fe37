package dataset_test

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/internal/mnist"
	"github.com/shrinkml/shrink/onnxio"
)

func savePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestImageFolderMNIST writes MNIST test images as gray PNGs in one folder
// per digit and checks the folder reads back bit for bit as pixel/255, with
// the folder names' order as labels.
func TestImageFolderMNIST(t *testing.T) {
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const n = 100
	want := map[string][]float32{}
	for i := range n {
		img := image.NewGray(image.Rect(0, 0, 28, 28))
		copy(img.Pix, set.Image(i))
		name := fmt.Sprintf("img%03d.png", i)
		savePNG(t, filepath.Join(dir, fmt.Sprint(set.Labels[i]), name), img)
		want[fmt.Sprintf("%d/%s", set.Labels[i], name)] = set.Float32NCHW(i, 1)
	}
	writeText(t, filepath.Join(dir, "README.txt"), "skipped")
	s, err := dataset.Open(dir, []onnxio.ValueInfo{vi("input", onnxio.Float32, -1, 1, 28, 28)}, dataset.Options{BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != n {
		t.Fatalf("Len %d, want %d", s.Len(), n)
	}
	classes := s.(dataset.Classer).Classes()
	if len(classes) != 10 || classes[0] != "0" || classes[9] != "9" {
		t.Fatalf("classes %v", classes)
	}
	data, labels := concat(t, drain(t, s), "input")
	// Files come in class order, then name order.
	k := 0
	for c := range 10 {
		for i := range n {
			if int(set.Labels[i]) != c {
				continue
			}
			if labels[k] != int64(c) {
				t.Fatalf("sample %d: label %d, want %d", k, labels[k], c)
			}
			w := want[fmt.Sprintf("%d/img%03d.png", c, i)]
			if !sameBits(data[k*784:(k+1)*784], w) {
				t.Fatalf("sample %d (test image %d) differs from pixel/255", k, i)
			}
			k++
		}
	}
	if k != n {
		t.Fatalf("%d samples matched", k)
	}
}

// TestImageResizeCropNormalize checks bilinear resizing against PyTorch's
// F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
// of [[0,1],[2,3]], then crop, Scale, Mean/Std and the NHWC layout on RGB.
func TestImageResizeCropNormalize(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	// R = 0,1,2,3 (times 10), G = constant 100, B = 255 - R.
	for i, v := range []uint8{0, 10, 20, 30} {
		img.Set(i%2, i/2, color.RGBA{v, 100, 255 - v, 255})
	}
	savePNG(t, filepath.Join(dir, "a.png"), img)
	torch := []float32{ // PyTorch's output for [[0,1],[2,3]], 2x upsampling
		0, 0.25, 0.75, 1,
		0.5, 0.75, 1.25, 1.5,
		1.5, 1.75, 2.25, 2.5,
		2, 2.25, 2.75, 3,
	}
	in := []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 3, 4, 4)}
	s, err := dataset.Open(dir, in, dataset.Options{Resize: []int{4, 4}, Scale: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	bs := drain(t, s)
	s.Close()
	got, labels := concat(t, bs, "x")
	if labels != nil {
		t.Errorf("a flat image folder has labels %v", labels)
	}
	for i, w := range torch {
		r, g, b := got[i], got[16+i], got[32+i]
		if !near([]float32{r, g, b}, []float32{w, 10, 25.5 - w}, 1e-5) {
			t.Fatalf("pixel %d: RGB %v %v %v, want %v 10 %v", i, r, g, b, w, 25.5-w)
		}
	}
	// Short-side resize to 4, center crop 2, mean/std, NHWC.
	nhwc := []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 2, 2, 3)}
	s, err = dataset.Open(dir, nhwc, dataset.Options{Resize: []int{4}, Crop: []int{2}, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = concat(t, drain(t, s), "x")
	s.Close()
	// The crop keeps rows and columns 1..2 of the 4x4 resize.
	for y := range 2 {
		for x := range 2 {
			v := torch[(y+1)*4+x+1] * 10
			want := []float32{(v/255 - 0.5) / 0.5, (100.0/255 - 0.5) / 1, ((255-v)/255 - 0.5) / 2}
			if p := got[(y*2+x)*3 : (y*2+x)*3+3]; !near(p, want, 1e-5) {
				t.Fatalf("NHWC pixel (%d,%d): %v, want %v", y, x, p, want)
			}
		}
	}
	// A model input whose size does not match and no resize: one-line error.
	_, err = dataset.Open(dir, []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 3, 224, 224)}, dataset.Options{})
	wantErr(t, err, filepath.Join(dir, "a.png"), `input "x"`, "224x224", "found 2x2")
	_, err = dataset.Open(dir, []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 3, 2, 2)}, dataset.Options{Crop: []int{3}})
	wantErr(t, err, filepath.Join(dir, "a.png"), "crop 3x3 is larger")
	_, err = dataset.Open(dir, []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 4, 2, 2)}, dataset.Options{})
	wantErr(t, err, dir, `input "x"`, "4 channels")
	_, err = dataset.Open(dir, in, dataset.Options{Resize: []int{4, 4}, Mean: []float32{1, 2}})
	wantErr(t, err, dir, "need 1 or 3 values")
	_, err = dataset.Open(dir, in, dataset.Options{Resize: []int{4, 4}, Layout: "chw"})
	wantErr(t, err, dir, `layout "chw"`)
}

// TestImageGrayJPEGAndUint8: gray conversion of a colour JPEG, a uint8
// model input (raw pixels), and sizes taken from the first image when the
// model's are dynamic.
func TestImageGrayJPEGAndUint8(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for i := range img.Pix {
		img.Pix[i] = []uint8{200, 100, 50, 255}[i%4]
	}
	os.MkdirAll(filepath.Join(dir, "b"), 0o755)
	f, _ := os.Create(filepath.Join(dir, "b", "x.jpg"))
	jpeg.Encode(f, img, &jpeg.Options{Quality: 95})
	f.Close()
	os.MkdirAll(filepath.Join(dir, "a"), 0o755)
	in := []onnxio.ValueInfo{vi("x", onnxio.Uint8, -1, 1, -1, -1)}
	s, err := dataset.Open(dir, in, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bs := drain(t, s)
	s.Close()
	x := bs[0].Inputs["x"]
	if len(x.Shape) != 4 || x.Shape[2] != 6 || x.Shape[3] != 8 || bs[0].Labels[0] != 1 {
		t.Fatalf("shape %v labels %v", x.Shape, bs[0].Labels)
	}
	// Luma of (200,100,50): 0.299*200+0.587*100+0.114*50 = 124.2; JPEG
	// loses a little.
	for _, v := range x.Data.([]uint8) {
		if v < 121 || v > 127 {
			t.Fatalf("gray value %d, want about 124", v)
		}
	}
	_, err = dataset.Open(dir, in, dataset.Options{Mean: []float32{0.5}})
	wantErr(t, err, dir, "uint8 pixels")
	// Images of different sizes for a dynamic size: the second is named.
	savePNG(t, filepath.Join(dir, "b", "y.png"), image.NewGray(image.Rect(0, 0, 5, 5)))
	_, err = dataset.Open(dir, in, dataset.Options{})
	wantErr(t, err, filepath.Join(dir, "b", "y.png"), "expected uint8 images of 6x8, found 5x5")
}

// TestMNISTWriteNpy reads the files internal/mnist writes for the demo.
func TestMNISTWriteNpy(t *testing.T) {
	set, err := mnist.TestSet()
	if err != nil {
		t.Fatal(err)
	}
	x, y, err := set.WriteNpy(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := dataset.Open(x, []onnxio.ValueInfo{vi("input", onnxio.Float32, -1, 1, 28, 28)}, dataset.Options{Labels: y, BatchSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data, labels := concat(t, drain(t, s), "input")
	if !sameBits(data, set.Float32NCHW(0, set.N)) || len(labels) != set.N {
		t.Fatalf("%d values, %d labels differ from the embedded test set", len(data), len(labels))
	}
	for i, l := range labels {
		if l != int64(set.Labels[i]) {
			t.Fatalf("label %d: %d, want %d", i, l, set.Labels[i])
		}
	}
}
