package core

import "encoding/json"

func init() { registerFieldDef(FieldJSON, jsonDef{}) }

// defaultJSONMaxSize bounds a json field that sets no maxSize (bytes).
const defaultJSONMaxSize = 1 << 20

// jsonDef: any JSON document, kept as its text; null is nil.
type jsonDef struct{ base }

func (jsonDef) Storage(*Field) Storage { return StorageJSON }

func (jsonDef) Coerce(f *Field, v any) (any, *FieldError) {
	b, err := json.Marshal(v)
	if err != nil {
		return invalidValue("Must be valid JSON.")
	}
	if string(b) == "null" {
		return json.RawMessage(nil), nil
	}
	return json.RawMessage(b), nil
}

func (jsonDef) Validate(f *Field, v any) *FieldError {
	raw, _ := v.(json.RawMessage)
	max := int64(defaultJSONMaxSize)
	if f.MaxSize > 0 {
		max = f.MaxSize
	}
	if int64(len(raw)) > max {
		return fieldError("validation_json_size_limit", "The maximum allowed JSON size is %d bytes.", max)
	}
	return nil
}

func (jsonDef) encodeOptions(f *Field, j *fieldJSON) { j.MaxSize = ptr(f.MaxSize) }

func (jsonDef) decodeOptions(j *fieldJSON, f *Field) error {
	if j.MaxSize != nil {
		f.MaxSize = *j.MaxSize
	}
	return nil
}
