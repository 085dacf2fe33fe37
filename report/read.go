package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
)

// kind is one kind of result that Merge reads, chosen by the document's
// "schema" field. Adding a kind is one entry in kinds and one add function
// (see addQuantize).
type kind struct {
	// Schema is the "schema" value the kind reads ("shrink.quantize/v1").
	Schema string
	// Transform is true for the results of a transform (quantize, prune,
	// distill). Their figures fill a model's row only where no
	// measurement result (eval, compare) gave one: a dedicated
	// measurement wins over a transform's own probe.
	Transform bool
	// Add decodes the document (with decode, which turns JSON errors into
	// one line naming the field) and adds what it carries to the report
	// through b: rows (b.row, filled with setI/setF so the first input
	// carrying a figure wins), gates, per-layer tables, curves and a step
	// summary. It returns an error for a document it cannot use; Merge
	// prefixes the file name.
	Add func(b *builder, raw []byte) error
}

// kinds is the registry of readable results.
var kinds = []kind{
	{Schema: EvalSchema, Add: addEval},
	{Schema: CompareSchema, Add: addCompare},
	{Schema: QuantizeSchema, Transform: true, Add: addQuantize},
}

func findKind(schema string) *kind {
	for i := range kinds {
		if kinds[i].Schema == schema {
			return &kinds[i]
		}
	}
	return nil
}

// Schemas lists the schemas Merge reads, sorted.
func Schemas() []string {
	var s []string
	for _, k := range kinds {
		s = append(s, k.Schema)
	}
	sort.Strings(s)
	return s
}

// MaxInputBytes bounds one result file.
const MaxInputBytes = 64 << 20

// Input is one result document, read and recognized but not yet decoded.
type Input struct {
	Path   string
	Schema string
	Tool   string
	raw    []byte
	kind   *kind
	// shard is set for a shard's result (a "shard" object): Merge merges
	// the shards of a run before reading them.
	shard bool
}

// ReadInput reads a result file and recognizes its kind. Errors name the
// file.
func ReadInput(path string) (*Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(raw) > MaxInputBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB: not a shrink result", path, MaxInputBytes>>20)
	}
	return ParseInput(path, raw)
}

// ParseInput recognizes the kind of a result document read from path.
func ParseInput(path string, raw []byte) (*Input, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%s: empty file: not a shrink result", path)
	}
	if t := bytes.TrimSpace(raw); t[0] != '{' {
		return nil, fmt.Errorf("%s: not a JSON object: not a shrink result", path)
	}
	var head map[string]json.RawMessage
	if err := decode(raw, &head); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	in := &Input{Path: path, raw: raw}
	s, ok := head["schema"]
	if !ok {
		return nil, fmt.Errorf("%s: no \"schema\" field: not a shrink result (shrink report reads %s)", path, strings.Join(Schemas(), ", "))
	}
	if err := json.Unmarshal(s, &in.Schema); err != nil {
		return nil, fmt.Errorf("%s: schema: want a string, got %s", path, firstLine(string(s)))
	}
	if t, ok := head["tool"]; ok {
		json.Unmarshal(t, &in.Tool) // informational: a bad value is caught by the kind's decoder
	}
	if sh, ok := head["shard"]; ok && string(bytes.TrimSpace(sh)) != "null" {
		in.shard = true
	}
	in.kind = findKind(in.Schema)
	if in.kind == nil {
		return nil, fmt.Errorf("%s: unknown schema %q (shrink report reads %s)", path, in.Schema, strings.Join(Schemas(), ", "))
	}
	return in, nil
}

// decode unmarshals a JSON document into v. Its errors are one line that
// names the JSON field and says what was expected: "candidates.latency.p50_ms:
// want a number, got string".
func decode(raw []byte, v any) error {
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		if strings.Contains(se.Error(), "unexpected end") {
			return fmt.Errorf("truncated JSON (the document ends at byte %d before it is complete)", len(raw))
		}
		return fmt.Errorf("not valid JSON at byte %d: %v", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return fmt.Errorf("want %s, got %s", typeWord(te.Type), te.Value)
		}
		return fmt.Errorf("%s: want %s, got %s", field, typeWord(te.Type), te.Value)
	}
	return err
}

// typeWord names a Go type the way JSON users think of it.
func typeWord(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}
