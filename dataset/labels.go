package dataset

import (
	"bufio"
	"fmt"
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
	a, err := npyFileArray(path, "labels", f, st.Size())
	if err != nil {
		return nil, err
	}
	h := a.hdr
	switch h.DType {
	case onnxio.Int8, onnxio.Int16, onnxio.Int32, onnxio.Int64, onnxio.Uint8, onnxio.Uint16, onnxio.Uint32, onnxio.Uint64:
	default:
		return nil, fmt.Errorf("%s: labels must be integers, found %s", path, h.Descr)
	}
	if !(len(h.Shape) == 1 || (len(h.Shape) == 2 && h.Shape[1] == 1)) {
		return nil, fmt.Errorf("%s: labels must have shape [N] or [N,1], found %s", path, intsString(h.Shape))
	}
	if h.Shape[0] > maxLabels {
		return nil, fmt.Errorf("%s: more than %d labels", path, maxLabels)
	}
	if err := a.checkSize(st.Size() - h.DataOffset); err != nil {
		return nil, err
	}
	t, err := a.read(0, a.rows)
	if err != nil {
		return nil, err
	}
	switch d := t.Data.(type) {
	case []int8:
		return widen(d), nil
	case []int16:
		return widen(d), nil
	case []int32:
		return widen(d), nil
	case []int64:
		return d, nil
	case []uint8:
		return widen(d), nil
	case []uint16:
		return widen(d), nil
	case []uint32:
		return widen(d), nil
	case []uint64:
		for i, v := range d {
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("%s: label %d (%d) is out of range", path, i, v)
			}
		}
		return widen(d), nil
	}
	return nil, fmt.Errorf("%s: labels must be integers, found %s", path, h.Descr)
}

func widen[T int8 | int16 | int32 | uint8 | uint16 | uint32 | uint64](d []T) []int64 {
	out := make([]int64, len(d))
	for i, v := range d {
		out[i] = int64(v)
	}
	return out
}
