package core

import "unicode/utf8"

func init() { registerFieldDef(FieldPassword, passwordDef{}) }

// passwordDef: a secret kept as a bcrypt hash. The canonical value read
// from a body is the plain text; the service layer hashes it before it is
// stored, and the hash never leaves the server.
type passwordDef struct{ base }

func (passwordDef) Storage(*Field) Storage { return StorageText }
func (passwordDef) Secret() bool           { return true }

func (passwordDef) Coerce(f *Field, v any) (any, *FieldError) { return coerceText(v, false) }

// Validate checks a plain-text password against the bounds and pattern.
func (passwordDef) Validate(f *Field, v any) *FieldError {
	s, _ := v.(string)
	if !utf8.ValidString(s) {
		return fieldError("validation_invalid_value", "Must be valid UTF-8 text.")
	}
	if s == "" {
		return nil
	}
	n := utf8.RuneCountInString(s)
	if f.Min != nil && n < int(*f.Min) {
		return fieldError("validation_min_text_constraint", "Must be at least %d character(s).", int(*f.Min))
	}
	if f.Max != nil && n > int(*f.Max) {
		return fieldError("validation_max_text_constraint", "Must be less than %d character(s).", int(*f.Max))
	}
	return checkPattern(f, s)
}

func (passwordDef) Prepare(f *Field, ctx PrepareContext, key string, errs ValidationErrors) {
	prepareTextBounds(f, key, errs)
}

func (passwordDef) encodeOptions(f *Field, j *fieldJSON) {
	textBounds(f, j)
	j.Cost = ptr(f.Cost)
}

func (passwordDef) decodeOptions(j *fieldJSON, f *Field) error {
	if j.Cost != nil {
		f.Cost = *j.Cost
	}
	return decodeTextBounds(j, f)
}
