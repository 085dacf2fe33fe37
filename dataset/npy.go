package dataset

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
)

// NpyHeader is the parsed header of a .npy file (format versions 1.0, 2.0
// and 3.0).
type NpyHeader struct {
	// Descr is the numpy dtype descriptor as written ("<f4", "|u1", ...).
	Descr string
	// DType is the element type Descr names.
	DType onnxio.DType
	// BigEndian is set for '>' descriptors (the data is swapped on read).
	BigEndian bool
	// Fortran is the fortran_order flag (column-major data).
	Fortran bool
	// Shape is the array's shape; empty for a scalar.
	Shape []int64
	// DataOffset is the byte offset of the data from the start of the file.
	DataOffset int64
}

// maxNpyHeader bounds the header dictionary's length: numpy itself refuses
// headers over 10,000 bytes by default.
const maxNpyHeader = 1 << 16

var npyMagic = []byte("\x93NUMPY")

// npyDescrs maps numpy type codes (after the byte-order character) to ONNX
// element types.
var npyDescrs = map[string]onnxio.DType{
	"f4": onnxio.Float32, "f8": onnxio.Float64, "f2": onnxio.Float16,
	"i1": onnxio.Int8, "i2": onnxio.Int16, "i4": onnxio.Int32, "i8": onnxio.Int64,
	"u1": onnxio.Uint8, "u2": onnxio.Uint16, "u4": onnxio.Uint32, "u8": onnxio.Uint64,
	"b1": onnxio.Bool,
}

// npyDescr is the little-endian descriptor for d, or "" when .npy has none.
func npyDescr(d onnxio.DType) string {
	for k, v := range npyDescrs {
		if v == d {
			if d.Size() == 1 {
				return "|" + k
			}
			return "<" + k
		}
	}
	return ""
}

// ReadNpyHeader reads and checks a .npy header from r, leaving r at the
// first data byte. It never reads more than the header's declared length
// (at most 64 KiB).
func ReadNpyHeader(r io.Reader) (*NpyHeader, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, errors.New("not a .npy file (too short)")
	}
	if string(pre[:6]) != string(npyMagic) {
		return nil, errors.New("not a .npy file (bad magic)")
	}
	var n int
	var off int64
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, errors.New(".npy header truncated")
		}
		n, off = int(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, errors.New(".npy header truncated")
		}
		v := binary.LittleEndian.Uint32(b[:])
		if v > maxNpyHeader {
			return nil, fmt.Errorf(".npy header length %d is over %d bytes", v, maxNpyHeader)
		}
		n, off = int(v), 12
	default:
		return nil, fmt.Errorf("unsupported .npy format version %d.%d", pre[6], pre[7])
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, errors.New(".npy header truncated")
	}
	h, err := parseNpyDict(string(buf))
	if err != nil {
		return nil, err
	}
	h.DataOffset = off + int64(n)
	return h, nil
}

// parseNpyDict parses the header's Python dict literal:
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// (keys in any order, single or double quotes, trailing commas, spaces).
func parseNpyDict(s string) (*NpyHeader, error) {
	p := &pyLit{s: s}
	p.skip()
	if !p.eat('{') {
		return nil, errors.New(".npy header is not a dict")
	}
	h := &NpyHeader{}
	seen := map[string]bool{}
	for {
		p.skip()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return nil, fmt.Errorf(".npy header: %v", err)
		}
		p.skip()
		if !p.eat(':') {
			return nil, fmt.Errorf(".npy header: no ':' after key %q", key)
		}
		p.skip()
		if seen[key] {
			return nil, fmt.Errorf(".npy header: duplicate key %q", key)
		}
		seen[key] = true
		switch key {
		case "descr":
			d, err := p.str()
			if err != nil {
				return nil, fmt.Errorf(".npy header: descr: %v", err)
			}
			h.Descr = d
		case "fortran_order":
			switch {
			case strings.HasPrefix(p.s[p.i:], "False"):
				p.i += 5
			case strings.HasPrefix(p.s[p.i:], "True"):
				p.i += 4
				h.Fortran = true
			default:
				return nil, errors.New(".npy header: fortran_order is not True or False")
			}
		case "shape":
			sh, err := p.tuple()
			if err != nil {
				return nil, fmt.Errorf(".npy header: shape: %v", err)
			}
			h.Shape = sh
		default:
			return nil, fmt.Errorf(".npy header: unknown key %q", key)
		}
		p.skip()
		if p.eat(',') {
			continue
		}
		p.skip()
		if !p.eat('}') {
			return nil, errors.New(".npy header: expected ',' or '}'")
		}
		break
	}
	if rest := strings.TrimRight(p.s[p.i:], " \n\x00"); rest != "" {
		return nil, errors.New(".npy header: text after the dict")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return nil, fmt.Errorf(".npy header: no %q", k)
		}
	}
	n, err := onnxio.NumElements(h.Shape)
	if err != nil {
		return nil, fmt.Errorf(".npy header: %v", err)
	}
	if err := h.setDType(); err != nil {
		return nil, err
	}
	if n > math.MaxInt64/int64(h.DType.Size()) {
		return nil, fmt.Errorf(".npy header: shape %v is too large", h.Shape)
	}
	if h.Fortran {
		big := 0
		for _, d := range h.Shape {
			if d > 1 {
				big++
			}
		}
		if big > 1 {
			return nil, errors.New(".npy data in Fortran (column-major) order is not supported; save it with numpy.ascontiguousarray")
		}
	}
	return h, nil
}

func (h *NpyHeader) setDType() error {
	d := h.Descr
	if len(d) < 2 {
		return fmt.Errorf(".npy dtype %q is not supported", d)
	}
	order, code := d[0], d[1:]
	dt, ok := npyDescrs[code]
	if !ok || (order != '<' && order != '>' && order != '|' && order != '=') {
		return fmt.Errorf(".npy dtype %q is not supported (numeric and bool dtypes only)", d)
	}
	if order == '|' && dt.Size() != 1 {
		return fmt.Errorf(".npy dtype %q has no byte order", d)
	}
	h.DType = dt
	h.BigEndian = order == '>' && dt.Size() > 1
	return nil
}

// pyLit scans the small subset of Python literals .npy headers use.
type pyLit struct {
	s string
	i int
}

func (p *pyLit) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *pyLit) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyLit) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("expected a string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

func (p *pyLit) tuple() ([]int64, error) {
	if !p.eat('(') {
		return nil, errors.New("expected a tuple")
	}
	shape := []int64{}
	for {
		p.skip()
		if p.eat(')') {
			return shape, nil
		}
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j == p.i {
			return nil, errors.New("expected a non-negative integer")
		}
		v, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("dimension %s out of range", p.s[p.i:j])
		}
		p.i = j
		shape = append(shape, v)
		if len(shape) > 32 {
			return nil, errors.New("more than 32 dimensions")
		}
		p.skip()
		if p.eat(',') {
			continue
		}
		p.skip()
		if !p.eat(')') {
			return nil, errors.New("expected ',' or ')'")
		}
		return shape, nil
	}
}

// WriteNpy writes t as a version 1.0 .npy file (little-endian, C order).
// String tensors and types numpy has no dtype for are an error.
func WriteNpy(w io.Writer, t *onnxio.Tensor) error {
	nw, err := NewNpyWriter(w, t.DType, t.Shape)
	if err != nil {
		return err
	}
	if err := nw.Write(t); err != nil {
		return err
	}
	return nw.Close()
}

// NpyWriter streams a .npy file: the header first, then rows in chunks
// (tensors whose shape matches the file's apart from the first dimension).
type NpyWriter struct {
	w     *bufio.Writer
	dtype onnxio.DType
	shape []int64
	rows  int64
}

// NewNpyWriter writes the header of a .npy file of the given element type
// and shape; the data must follow through Write, shape[0] rows in all (the
// whole array for a scalar or rank-1 shape counts its elements as rows).
func NewNpyWriter(w io.Writer, dt onnxio.DType, shape []int64) (*NpyWriter, error) {
	descr := npyDescr(dt)
	if descr == "" {
		return nil, fmt.Errorf("numpy has no dtype for %s", dt)
	}
	if _, err := onnxio.NumElements(shape); err != nil {
		return nil, err
	}
	var sh strings.Builder
	sh.WriteByte('(')
	for i, d := range shape {
		if i > 0 {
			sh.WriteString(", ")
		}
		sh.WriteString(strconv.FormatInt(d, 10))
	}
	if len(shape) == 1 {
		sh.WriteByte(',')
	}
	sh.WriteByte(')')
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, sh.String())
	pad := (64 - (10+len(dict)+1)%64) % 64
	dict += strings.Repeat(" ", pad) + "\n"
	var hdr []byte
	if len(dict) <= math.MaxUint16 {
		hdr = append([]byte("\x93NUMPY\x01\x00"), 0, 0)
		binary.LittleEndian.PutUint16(hdr[8:], uint16(len(dict)))
	} else {
		return nil, errors.New(".npy header too long")
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.Write(hdr); err != nil {
		return nil, err
	}
	if _, err := bw.WriteString(dict); err != nil {
		return nil, err
	}
	return &NpyWriter{w: bw, dtype: dt, shape: append([]int64(nil), shape...)}, nil
}

// Write appends t's data. Its type must be the file's, and its shape the
// file's with any first dimension (a scalar file takes one scalar).
func (nw *NpyWriter) Write(t *onnxio.Tensor) error {
	if t.DType != nw.dtype {
		return fmt.Errorf("writing %s data to a %s .npy file", t.DType, nw.dtype)
	}
	rows := int64(1)
	if len(nw.shape) > 0 {
		if len(t.Shape) != len(nw.shape) || !slices.Equal(t.Shape[1:], nw.shape[1:]) {
			return fmt.Errorf("writing shape %v to a .npy file of shape %v", t.Shape, nw.shape)
		}
		rows = t.Shape[0]
	}
	if nw.rows+rows > nw.rowsWanted() {
		return fmt.Errorf("writing %d rows past the %d of the .npy header", nw.rows+rows-nw.rowsWanted(), nw.rowsWanted())
	}
	b, err := t.RawBytes()
	if err != nil {
		return err
	}
	if _, err := nw.w.Write(b); err != nil {
		return err
	}
	nw.rows += rows
	return nil
}

func (nw *NpyWriter) rowsWanted() int64 {
	if len(nw.shape) == 0 {
		return 1
	}
	return nw.shape[0]
}

// Close flushes the data and checks every row declared was written. It
// does not close the underlying writer.
func (nw *NpyWriter) Close() error {
	if err := nw.w.Flush(); err != nil {
		return err
	}
	if nw.rows != nw.rowsWanted() {
		return fmt.Errorf(".npy file declares %d rows, %d written", nw.rowsWanted(), nw.rows)
	}
	return nil
}
