#!/bin/sh
# Installs the pinned ONNX Runtime shared library (1.29.0, linux x64) into
# lib/ and into the user cache ($XDG_CACHE_HOME/shrink, default
# ~/.cache/shrink), where `shrink` and the tests look for it. The library is
# taken from the npm package onnxruntime-node@1.29.0 (npm pack, extract one
# file, check its sha256); npm install is never run. Idempotent.
set -eu
VERSION=1.29.0
SHA256=89688f5cf51c7e31befbb7b9101bc027799009b18d1baa9a5b1146a72e69538d
MEMBER=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
root=$(cd "$(dirname "$0")/.." && pwd)
lib="$root/lib/libonnxruntime.so.$VERSION"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/shrink"

check() { [ -f "$1" ] && echo "$SHA256  $1" | sha256sum -c --status -; }

if ! check "$lib" && check "$cache/libonnxruntime.so.$VERSION"; then
	# Installed before (another checkout): no download needed.
	mkdir -p "$root/lib"
	cp "$cache/libonnxruntime.so.$VERSION" "$lib.tmp"
	mv "$lib.tmp" "$lib"
fi
if ! check "$lib"; then
	case "$(uname -s)/$(uname -m)" in
	Linux/x86_64) ;;
	*) echo "setup-ort: only linux/x86_64 is scripted; set SHRINK_ORT_LIB to an ONNX Runtime $VERSION library" >&2; exit 1 ;;
	esac
	command -v npm >/dev/null || { echo "setup-ort: npm is needed (apt-get install npm)" >&2; exit 1; }
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	echo "setup-ort: fetching onnxruntime-node@$VERSION with npm pack" >&2
	(cd "$tmp" && npm pack --silent "onnxruntime-node@$VERSION" >/dev/null)
	tar -xzf "$tmp/onnxruntime-node-$VERSION.tgz" -C "$tmp" "$MEMBER"
	if ! check "$tmp/$MEMBER"; then
		echo "setup-ort: sha256 of $MEMBER does not match $SHA256" >&2
		exit 1
	fi
	mkdir -p "$root/lib"
	mv "$tmp/$MEMBER" "$lib.tmp"
	mv "$lib.tmp" "$lib"
fi
if ! check "$cache/libonnxruntime.so.$VERSION"; then
	mkdir -p "$cache"
	cp "$lib" "$cache/libonnxruntime.so.$VERSION.tmp"
	mv "$cache/libonnxruntime.so.$VERSION.tmp" "$cache/libonnxruntime.so.$VERSION"
fi
echo "setup-ort: ONNX Runtime $VERSION at $lib"
