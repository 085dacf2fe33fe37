// Package onnxpb holds the Go types generated from the ONNX schema
// (onnx/onnx.proto, as shipped by Debian's libonnx-dev). Nothing in this
// package is written by hand except this file; regenerate with
// `go generate ./onnxio/onnxpb`.
//
// Fields that a newer IR version adds and this schema does not know are kept
// as unknown fields by the protobuf runtime and survive a load/save round trip.
package onnxpb

//go:generate sh generate.sh
