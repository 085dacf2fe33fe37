#!/bin/sh
# Regenerates onnx.pb.go from the ONNX schema shipped by Debian's libonnx-dev
# (/usr/include/onnx/onnx.proto) with Debian's protoc and the protoc-gen-go
# version pinned in go.mod. Run through `go generate ./onnxio/...`.
set -eu
proto_dir=${ONNX_PROTO_DIR:-/usr/include}
if [ ! -f "$proto_dir/onnx/onnx.proto" ]; then
	echo "generate.sh: $proto_dir/onnx/onnx.proto not found (apt-get install libonnx-dev protobuf-compiler)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
protoc --plugin=protoc-gen-go="$tmp/protoc-gen-go" -I "$proto_dir" \
	--go_out="$tmp" --go_opt=paths=source_relative \
	--go_opt=Monnx/onnx.proto=github.com/shrinkml/shrink/onnxio/onnxpb \
	onnx/onnx.proto
mv "$tmp/onnx/onnx.pb.go" onnx.pb.go
