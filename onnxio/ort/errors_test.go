package ort

import (
	"errors"
	"testing"
)

func TestStripSource(t *testing.T) {
	for in, want := range map[string]string{
		"/onnxruntime_src/onnxruntime/core/graph/model.cc:192 onnxruntime::Model::Model(onnx::ModelProto&&, const std::function<void(int)>&) Unsupported model IR version: 99": "Unsupported model IR version: 99",
		"plain message":             "plain message",
		"/onnxruntime_src/x.cc:1 f": "/onnxruntime_src/x.cc:1 f",
		"a /onnxruntime_src/x.cc:1 void f(int) b /onnxruntime_src/y.h:2 g() c": "a b c",
	} {
		if got := stripSource(in); got != want {
			t.Errorf("stripSource(%q) = %q, want %q", in, got, want)
		}
	}
	// An error without a known form keeps ORT's words.
	if got := refused(errors.New("Error creating C session: something odd"), nil).Error(); got != "ONNX Runtime refused the model: something odd" {
		t.Errorf("%q", got)
	}
}
