package core

import (
	"strings"
	"unicode/utf8"
)

func init() { registerFieldDef(FieldEditor, editorDef{}) }

// defaultEditorMax bounds an editor field that sets no maxSize (bytes).
const defaultEditorMax = 5 << 20

// editorDef: rich text (HTML), bounded in bytes.
type editorDef struct{ base }

func (editorDef) Storage(*Field) Storage { return StorageText }

func (editorDef) Coerce(f *Field, v any) (any, *FieldError) { return coerceText(v, true) }

func (editorDef) Validate(f *Field, v any) *FieldError {
	s, _ := v.(string)
	max := int64(defaultEditorMax)
	if f.MaxSize > 0 {
		max = f.MaxSize
	}
	if int64(len(s)) > max {
		return fieldError("validation_max_size_constraint", "Must be less than %d bytes.", max)
	}
	if !utf8.ValidString(s) {
		return fieldError("validation_invalid_value", "Must be valid UTF-8 text.")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errNUL()
	}
	return nil
}

func (editorDef) encodeOptions(f *Field, j *fieldJSON) {
	j.MaxSize, j.ConvertURLs = ptr(f.MaxSize), ptr(f.ConvertURLs)
}

func (editorDef) decodeOptions(j *fieldJSON, f *Field) error {
	if j.MaxSize != nil {
		f.MaxSize = *j.MaxSize
	}
	f.ConvertURLs = j.ConvertURLs != nil && *j.ConvertURLs
	return nil
}
