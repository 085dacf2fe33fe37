package dataset

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
)

// maxLabels bounds the number of labels read (8 bytes each in memory).
const maxLabels = 1 << 28

// ReadLabels reads class labels: a .npy array of integers of shape [N] or
// [N,1], or a text file with one integer per line (blank lines and lines
// starting with '#' are skipped). Labels are small (8 bytes a sample) and
// read whole.
func ReadLabels(path string) ([]int64, error) {
	if strings.ToLower(filepath.Ext(path)) == ".npy" {
		return readNpyLabels(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: label %q is not an integer", path, line, s)
		}
		if len(out) >= maxLabels {
			return nil, fmt.Errorf("%s: more than %d labels", path, maxLabels)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no labels", path)
	}
	return out, nil
}

func readNpyLabels(path string) ([]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	h, err := ReadNpyHeader(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	switch h.DType {
	case onnxio.Int8, onnxio.Int16, onnxio.Int32, onnxio.Int64, onnxio.Uint8, onnxio.Uint16, onnxio.Uint32, onnxio.Uint64:
	default:
		return nil, fmt.Errorf("%s: labels must be integers, found %s", path, h.Descr)
	}
	if !(len(h.Shape) == 1 || (len(h.Shape) == 2 && h.Shape[1] == 1)) {
		return nil, fmt.Errorf("%s: labels must have shape [N] or [N,1], found %s", path, intsString(h.Shape))
	}
	n := h.Shape[0]
	if n > maxLabels {
		return nil, fmt.Errorf("%s: more than %d labels", path, maxLabels)
	}
	want := n * int64(h.DType.Size())
	if have := st.Size() - h.DataOffset; have != want {
		if have < want {
			return nil, fmt.Errorf("%s: truncated: the header declares %s %s (%d data bytes) but only %d follow it", path, h.Descr, intsString(h.Shape), want, have)
		}
		return nil, fmt.Errorf("%s: %d bytes follow the data the header declares", path, have-want)
	}
	buf := make([]byte, want)
	if _, err := io.ReadFull(br, buf); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	data, err := decodeRaw(h.DType, buf, h.BigEndian)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	out := make([]int64, n)
	for i := range out {
		switch d := data.(type) {
		case []int8:
			out[i] = int64(d[i])
		case []int16:
			out[i] = int64(d[i])
		case []int32:
			out[i] = int64(d[i])
		case []int64:
			out[i] = d[i]
		case []uint8:
			out[i] = int64(d[i])
		case []uint16:
			out[i] = int64(d[i])
		case []uint32:
			out[i] = int64(d[i])
		case []uint64:
			if d[i] > math.MaxInt64 {
				return nil, fmt.Errorf("%s: label %d (%d) is out of range", path, i, d[i])
			}
			out[i] = int64(d[i])
		}
	}
	return out, nil
}
