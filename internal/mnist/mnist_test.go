package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTestSet(t *testing.T) {
	s, err := TestSet()
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 10000 || len(s.Images) != 10000*Pixels || len(s.Labels) != 10000 {
		t.Fatalf("test set: N=%d, %d pixels, %d labels", s.N, len(s.Images), len(s.Labels))
	}
	// Well-known facts about the MNIST test set: the first labels and the
	// class counts.
	if got := s.Int64Labels(0, 5); got[0] != 7 || got[1] != 2 || got[2] != 1 || got[3] != 0 || got[4] != 4 {
		t.Errorf("first labels %v, want [7 2 1 0 4]", got)
	}
	var count [Classes]int
	for _, l := range s.Labels {
		count[l]++
	}
	want := [Classes]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
	if count != want {
		t.Errorf("class counts %v, want %v", count, want)
	}
}

func TestTrainSet(t *testing.T) {
	s, err := TrainSet()
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 60000 || len(s.Images) != 60000*Pixels {
		t.Fatalf("train set: N=%d, %d pixels", s.N, len(s.Images))
	}
	if got := s.Int64Labels(0, 3); got[0] != 5 || got[1] != 0 || got[2] != 4 {
		t.Errorf("first labels %v, want [5 0 4]", got)
	}
}

func TestFloat32NCHW(t *testing.T) {
	s := &Set{Images: make([]uint8, 2*Pixels), Labels: []uint8{0, 1}, N: 2}
	for i := range s.Images {
		s.Images[i] = uint8(i)
	}
	x := s.Float32NCHW(1, 1)
	if len(x) != Pixels {
		t.Fatalf("len %d", len(x))
	}
	for k, v := range x {
		p := uint8(Pixels + k)
		// The correctly rounded quotient, computed in float64 and rounded
		// once (exact: a float64 quotient of small integers rounds to the
		// same float32 as the exact quotient).
		want := float32(float64(p) / 255)
		if math.Float32bits(v) != math.Float32bits(want) {
			t.Fatalf("pixel %d: %v, want %v", p, v, want)
		}
	}
	if x[0] < 0 || s.Float32NCHW(0, 2)[255] != 1 {
		t.Errorf("pixel 255 is not 1")
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func idx(magic uint32, dims []uint32, data []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func TestParseErrors(t *testing.T) {
	img := idx(imageMagic, []uint32{2, 28, 28}, make([]byte, 2*Pixels))
	lab := idx(labelMagic, []uint32{2}, []byte{1, 2})
	cases := []struct {
		name     string
		img, lab []byte
		want     string
	}{
		{"ok", gz(img), gz(lab), ""},
		{"not gzip", img, gz(lab), "not gzip"},
		{"bad magic", gz(idx(labelMagic, []uint32{2, 28, 28}, make([]byte, 2*Pixels))), gz(lab), "magic"},
		{"truncated", gz(img[:len(img)-1]), gz(lab), "truncated"},
		{"trailing", gz(append(img, 0)), gz(lab), "beyond"},
		{"huge", gz(idx(imageMagic, []uint32{1 << 30, 28, 28}, nil)), gz(lab), "over"},
		{"short header", gz(img[:7]), gz(lab), "short idx header"},
		{"label count", gz(img), gz(idx(labelMagic, []uint32{1}, []byte{1})), "1 labels for the 2 images"},
		{"label range", gz(img), gz(idx(labelMagic, []uint32{2}, []byte{1, 10})), "not a digit"},
		{"size", gz(idx(imageMagic, []uint32{1, 27, 28}, make([]byte, 27*28))), gz(lab), "27x28"},
	}
	for _, c := range cases {
		s, err := Parse("img.gz", bytes.NewReader(c.img), "lab.gz", bytes.NewReader(c.lab))
		if c.want == "" {
			if err != nil || s.N != 2 || s.Labels[1] != 2 {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestWriteNpy(t *testing.T) {
	s := &Set{Images: make([]uint8, 3*Pixels), Labels: []uint8{3, 1, 4}, N: 3}
	for i := range s.Images {
		s.Images[i] = uint8(i * 7)
	}
	dir := t.TempDir()
	ip, lp, err := s.WriteNpy(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(ip)
	if err != nil {
		t.Fatal(err)
	}
	hl := int(binary.LittleEndian.Uint16(b[8:]))
	hdr := string(b[10 : 10+hl])
	if (10+hl)%64 != 0 || !strings.Contains(hdr, "'descr': '<f4'") || !strings.Contains(hdr, "'shape': (3, 1, 28, 28)") {
		t.Fatalf("header %q", hdr)
	}
	data := b[10+hl:]
	if len(data) != 3*Pixels*4 {
		t.Fatalf("%d data bytes", len(data))
	}
	want := s.Float32NCHW(0, 3)
	for i, w := range want {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])); got != w {
			t.Fatalf("value %d: %v, want %v", i, got, w)
		}
	}
	lb, err := os.ReadFile(lp)
	if err != nil {
		t.Fatal(err)
	}
	hl = int(binary.LittleEndian.Uint16(lb[8:]))
	if !strings.Contains(string(lb[10:10+hl]), "'shape': (3,)") || binary.LittleEndian.Uint64(lb[10+hl+8:]) != 1 {
		t.Fatalf("labels file %q", lb)
	}
	if filepath.Base(lp) != LabelsNpy {
		t.Errorf("labels at %s", lp)
	}
}
