package demodata

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestEmbeddedModelIsTheFixture(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "testdata", ModelName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Model, want) {
		t.Fatalf("internal/demodata/%s differs from testdata/%s: copy the fixture again", ModelName, ModelName)
	}
}
