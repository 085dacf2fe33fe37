package dataset

import (
	"bytes"
	"slices"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
)

// FuzzNpyHeader feeds arbitrary bytes to the .npy header parser: it must
// never panic nor read past the header, and a header it accepts must
// describe a valid array that NewNpyWriter writes back to the same header
// fields.
func FuzzNpyHeader(f *testing.F) {
	for _, shape := range [][]int64{{}, {3}, {10, 1, 28, 28}, {0, 5}} {
		var buf bytes.Buffer
		w, err := NewNpyWriter(&buf, onnxio.Float32, shape)
		if err != nil {
			f.Fatal(err)
		}
		w.w.Flush()
		f.Add(buf.Bytes())
	}
	f.Add([]byte("\x93NUMPY\x01\x00\x20\x00{'descr':'>i8','shape':(2,),'fortran_order':True}"))
	f.Add([]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{\"descr\": \"|b1\", \"fortran_order\": False, \"shape\": (), }\n"))
	f.Add([]byte("\x93NUMPY\x03\x00\xff\xff\xff\xff"))
	f.Add([]byte("\x93NUMPY\x01\x00\x05\x00{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		h, err := ReadNpyHeader(r)
		if err != nil {
			if h != nil {
				t.Fatal("header with an error")
			}
			return
		}
		if consumed := int64(len(data)) - int64(r.Len()); consumed != h.DataOffset {
			t.Fatalf("read %d bytes, DataOffset %d", consumed, h.DataOffset)
		}
		if h.DType.Size() == 0 {
			t.Fatalf("dtype %s without a size", h.DType)
		}
		if _, err := onnxio.NumElements(h.Shape); err != nil {
			t.Fatalf("accepted shape %v: %v", h.Shape, err)
		}
		var buf bytes.Buffer
		w, err := NewNpyWriter(&buf, h.DType, h.Shape)
		if err != nil {
			t.Fatalf("cannot write back %s %v: %v", h.DType, h.Shape, err)
		}
		w.w.Flush()
		h2, err := ReadNpyHeader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("written header does not parse: %v", err)
		}
		if h2.DType != h.DType || !slices.Equal(h2.Shape, h.Shape) || h2.DataOffset%64 != 0 {
			t.Fatalf("round trip: %+v, want %s %v", h2, h.DType, h.Shape)
		}
	})
}
