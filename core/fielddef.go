package core

import (
	"encoding/json"
	"fmt"
	"strings"
)

// A FieldDef is everything Tortoise knows about one field type, in one
// place: how its values are stored (and so their column on each engine,
// their Go type and how the filter language types them), which options it
// has and how they are checked, how a submitted value is read and
// validated, and whether its values ever leave the server. Each type is
// one file, field_<type>.go, that registers its FieldDef; nothing else
// switches on field types.
//
// Methods take the field they describe, whose options they read.
type FieldDef interface {
	// Storage says how f's values are kept: see Storage.
	Storage(f *Field) Storage
	// Prepare checks f's options when its collection is saved and
	// normalises them (defaults, a relation's target by id), adding
	// problems to errs under key, such as "fields.2".
	Prepare(f *Field, ctx PrepareContext, key string, errs ValidationErrors)
	// Coerce reads a submitted value — a JSON value, or text from a form —
	// into f's canonical value (the Go type its Storage names).
	Coerce(f *Field, v any) (any, *FieldError)
	// Validate checks a canonical value against f's options. Required is
	// checked before it (see ValidateValue).
	Validate(f *Field, v any) *FieldError
	// Secret reports whether values never leave the server: not in API
	// answers, not in client filters (password hashes).
	Secret() bool

	// encodeOptions and decodeOptions write and read the type's options
	// in the collection JSON (see fieldJSON).
	encodeOptions(f *Field, j *fieldJSON)
	decodeOptions(j *fieldJSON, f *Field) error
}

// Storage is how a field's values are kept. It decides the Go type of the
// canonical value in a Record, the column's type on each engine (package
// store lays columns out per Storage), and the type a filter compares the
// values in (text, number, bool, json; a list compares item by item).
type Storage int

// The storages of the data model.
const (
	StorageText   Storage = iota // string; TEXT NOT NULL DEFAULT ''
	StorageNumber                // float64; REAL / DOUBLE PRECISION NOT NULL DEFAULT 0
	StorageBool                  // bool; INTEGER / BOOLEAN NOT NULL DEFAULT false
	StorageJSON                  // json.RawMessage, nil for null; TEXT / JSONB DEFAULT NULL
	StorageList                  // []string; TEXT / JSONB NOT NULL DEFAULT '[]'
)

// PrepareContext is what a FieldDef may look up while checking options.
type PrepareContext struct {
	// Collection is the collection being saved, as it will be.
	Collection *Collection
	// Lookup finds another collection by id or name (nil if none).
	Lookup func(nameOrID string) *Collection
}

var fieldDefs = map[FieldType]FieldDef{}

// registerFieldDef makes def the meaning of type t. Each field_<type>.go
// calls it from init.
func registerFieldDef(t FieldType, def FieldDef) {
	if _, dup := fieldDefs[t]; dup {
		panic("core: field type registered twice: " + string(t))
	}
	fieldDefs[t] = def
}

// KnownFieldType reports whether t is a field type Tortoise understands.
func KnownFieldType(t FieldType) bool { _, ok := fieldDefs[t]; return ok }

// Def returns the definition of f's type. An unknown type (refused when a
// collection is saved) reads as text.
func (f *Field) Def() FieldDef {
	if d, ok := fieldDefs[f.Type]; ok {
		return d
	}
	return fieldDefs[FieldText]
}

// IsMultiple reports whether the field holds a list of values.
func (f *Field) IsMultiple() bool { return f.Def().Storage(f) == StorageList }

// zeroer is a FieldDef whose empty value is not its storage's (geoPoint:
// {"lon":0,"lat":0}, never null); the store gives its column that default.
type zeroer interface{ zero(f *Field) any }

// ZeroValue returns the canonical empty value of a field.
func ZeroValue(f *Field) any {
	if z, ok := f.Def().(zeroer); ok {
		return z.zero(f)
	}
	switch f.Def().Storage(f) {
	case StorageNumber:
		return float64(0)
	case StorageBool:
		return false
	case StorageJSON:
		return json.RawMessage(nil)
	case StorageList:
		return []string{}
	}
	return ""
}

// A Subfield is a named part of a structured value that filters and sorts
// address as field.name, such as a geoPoint's lon and lat: it is kept
// under that key of the field's JSON value and compares in its Storage
// (text, number or bool).
type Subfield struct {
	Name    string
	Storage Storage
}

// subfielder is a FieldDef whose JSON values have a fixed shape.
type subfielder interface{ subfields(f *Field) []Subfield }

// Subfields lists the parts of f's value a filter can address as
// field.name; nil for types without them (a json field's keys are free).
func Subfields(f *Field) []Subfield {
	if s, ok := f.Def().(subfielder); ok {
		return s.subfields(f)
	}
	return nil
}

// jsonReader is a FieldDef whose JSON values have one canonical text,
// which an engine may not keep (PostgreSQL's jsonb orders keys its own way
// and adds spaces).
type jsonReader interface {
	readJSON(f *Field, raw json.RawMessage) json.RawMessage
}

// JSONReader returns the function that puts a JSON value of f, as an
// engine hands it back, into its canonical text; nil when f's type has
// none (json fields are read as the engine gives them). Stores look it up
// once per query and call it for every row.
func JSONReader(f *Field) func(json.RawMessage) json.RawMessage {
	r, ok := f.Def().(jsonReader)
	if !ok {
		return nil
	}
	return func(raw json.RawMessage) json.RawMessage { return r.readJSON(f, raw) }
}

// CoerceValue reads a submitted value for f (see FieldDef.Coerce).
func CoerceValue(f *Field, v any) (any, *FieldError) { return f.Def().Coerce(f, v) }

// ValidateValue checks a canonical value for f: required first, then the
// type's own checks. It does not check that relations' targets exist
// (that needs the database).
func ValidateValue(f *Field, v any) *FieldError {
	if f.Required && IsZeroValue(v) {
		return fieldError("validation_required", "Cannot be blank.")
	}
	return f.Def().Validate(f, v)
}

// PrepareField checks and normalises f's options as part of a collection
// being saved (see FieldDef.Prepare), with the checks every type shares.
func PrepareField(f *Field, ctx PrepareContext, key string, errs ValidationErrors) {
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		errs.Add(key+".max", "validation_min_greater_equal_than_max", "Max must be greater than or equal to min.")
	}
	if f.MaxSize < 0 {
		errs.Add(key+".maxSize", "validation_invalid_size", "Must not be negative.")
	}
	f.Def().Prepare(f, ctx, key, errs)
}

// IsZeroValue reports whether a canonical value is empty, as required
// fields understand it.
func IsZeroValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	case []string:
		return len(x) == 0
	case json.RawMessage:
		s := strings.TrimSpace(string(x))
		return s == "" || s == "null" || s == `""` || s == "[]" || s == "{}"
	}
	return false
}

// Dedupe removes repeated strings, keeping the first of each, in place.
func Dedupe(l []string) []string {
	seen := make(map[string]bool, len(l))
	out := l[:0]
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func fieldError(code, format string, args ...any) *FieldError {
	return &FieldError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalidValue(msg string) (any, *FieldError) {
	return nil, &FieldError{Code: "validation_invalid_value", Message: msg}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// base gives a FieldDef the common answers; types embed it.
type base struct{}

func (base) Secret() bool                                                            { return false }
func (base) Prepare(f *Field, ctx PrepareContext, key string, errs ValidationErrors) {}
func (base) Validate(f *Field, v any) *FieldError                                    { return nil }
func (base) encodeOptions(f *Field, j *fieldJSON)                                    {}
func (base) decodeOptions(j *fieldJSON, f *Field) error                              { return nil }

// coerceText reads a single text value: a string as is, a number or bool
// as its text when numbers are allowed (text and editor fields).
func coerceText(v any, fromScalars bool) (any, *FieldError) {
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	case float64:
		if fromScalars {
			return formatNumber(s), nil
		}
	case bool:
		if fromScalars {
			if s {
				return "true", nil
			}
			return "false", nil
		}
	}
	return invalidValue("Must be a string.")
}

// coerceChoice reads the value of a select, relation or file field: a list
// for a multiple field (empty items dropped, repeats removed), else one
// value (a list gives its last item).
func coerceChoice(f *Field, v any) (any, *FieldError) {
	if f.IsMultiple() {
		out := []string{}
		switch l := v.(type) {
		case nil:
		case string:
			if l != "" {
				out = append(out, l)
			}
		case []any:
			for _, x := range l {
				s, ok := x.(string)
				if !ok {
					return invalidValue("Must be a list of strings.")
				}
				if s != "" {
					out = append(out, s)
				}
			}
		case []string:
			for _, s := range l {
				if s != "" {
					out = append(out, s)
				}
			}
		default:
			return invalidValue("Must be a list of strings.")
		}
		return Dedupe(out), nil
	}
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	case []any:
		if len(s) == 0 {
			return "", nil
		}
		if str, ok := s[len(s)-1].(string); ok {
			return str, nil
		}
	case []string:
		if len(s) == 0 {
			return "", nil
		}
		return s[len(s)-1], nil
	}
	return invalidValue("Must be a string.")
}

// choiceStorage is the storage of select, relation and file fields.
func choiceStorage(f *Field) Storage {
	if f.MaxSelect > 1 {
		return StorageList
	}
	return StorageText
}

// textBounds writes min, max and pattern: the options of text and password.
func textBounds(f *Field, j *fieldJSON) {
	j.Min, j.Max = numJSON(f.Min), numJSON(f.Max)
	if f.Min == nil {
		j.Min = json.RawMessage("0")
	}
	if f.Max == nil {
		j.Max = json.RawMessage("0")
	}
	j.Pattern = ptr(f.Pattern)
}

// decodeTextBounds reads min, max and pattern; PocketBase writes 0 for "no
// bound" on lengths.
func decodeTextBounds(j *fieldJSON, f *Field) error {
	if err := decodeNumBounds(j, f); err != nil {
		return err
	}
	if f.Min != nil && *f.Min == 0 {
		f.Min = nil
	}
	if f.Max != nil && *f.Max == 0 {
		f.Max = nil
	}
	if j.Pattern != nil {
		f.Pattern = *j.Pattern
	}
	return nil
}

func decodeNumBounds(j *fieldJSON, f *Field) error {
	var err error
	if f.Min, err = numBound(j.Min); err != nil {
		return fmt.Errorf("min: %w", err)
	}
	if f.Max, err = numBound(j.Max); err != nil {
		return fmt.Errorf("max: %w", err)
	}
	return nil
}

// prepareTextBounds checks length bounds and the pattern of text and
// password fields.
func prepareTextBounds(f *Field, key string, errs ValidationErrors) {
	if f.Min != nil && *f.Min < 0 || f.Max != nil && *f.Max < 0 {
		errs.Add(key+".min", "validation_invalid_length", "Length bounds cannot be negative.")
	}
	if f.Pattern != "" {
		if _, err := cachedRegexp(f.Pattern); err != nil {
			errs.Add(key+".pattern", "validation_invalid_regex", "Invalid regular expression.")
		}
	}
}
