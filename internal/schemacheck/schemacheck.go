// Package schemacheck validates JSON documents against the JSON Schemas in
// docs/schemas, for tests: the schemas users read are the ones CI enforces.
package schemacheck

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaPath returns the absolute path of docs/schemas/name.
func SchemaPath(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "schemas", name)
}

// Validate checks doc against docs/schemas/name and returns a readable
// error listing every violation.
func Validate(name string, doc []byte) error {
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(SchemaPath(name))
	if err != nil {
		return fmt.Errorf("compiling %s: %w", name, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("document is not JSON: %w", err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}
