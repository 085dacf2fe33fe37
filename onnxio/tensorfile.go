package onnxio

import (
	"fmt"
	"os"

	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// MaxTensorFileBytes bounds the size of a serialized TensorProto file.
const MaxTensorFileBytes = MaxProtoBytes

// ReadTensorFile reads a serialized TensorProto (the input_N.pb / output_N.pb
// files of ONNX test_data_set folders).
func ReadTensorFile(path string) (*Tensor, error) {
	b, err := readBounded(path, MaxTensorFileBytes)
	if err != nil {
		return nil, err
	}
	tp := &onnxpb.TensorProto{}
	if err := proto.Unmarshal(b, tp); err != nil {
		return nil, fmt.Errorf("%s: not a serialized ONNX TensorProto: %v", path, firstLine(err.Error()))
	}
	t, err := TensorFromProto(tp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// WriteTensorFile writes t as a serialized TensorProto, atomically.
func WriteTensorFile(path string, t *Tensor, overwrite bool) error {
	tp, err := t.ToProto()
	if err != nil {
		return err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(tp)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, b, overwrite)
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes is over the %d-byte limit", path, st.Size(), limit)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}
