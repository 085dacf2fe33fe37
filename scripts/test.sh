#!/bin/bash
# Runs every test verbosely into out/test.log and prints the package results
# plus the summary lines the acceptance criteria ask for (backend-suite
# counts, SQNRs, memory figures). The exit code is go test's.
set -u
cd "$(dirname "$0")/.."
mkdir -p out
# -p 1: one package at a time, so the figures the tests log (speedups, peak
# RSS) are not disturbed by another package's ONNX Runtime sessions.
go test -p 1 -count=1 -v "$@" ./... > out/test.log 2>&1
rc=$?
grep -E '^(ok|FAIL|--- FAIL|panic:)|_test\.go:[0-9]+: (round trip:|ORT [0-9]|backend suite:|[0-9]+ pytorch-converted|.*nodes int8, SQNR dB|1x:|10x:|self-compare|PP-OCR|ch_PP-OCRv4|.*peak RSS|screenshot )' out/test.log
if [ $rc -ne 0 ]; then
	echo "--- failures (full log: out/test.log):"
	grep -E -B2 -A20 '^--- FAIL' out/test.log | head -200
fi
exit $rc
