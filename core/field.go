package core

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// FieldType names a field's kind of value.
type FieldType string

// The field types. Their stored representation is described in package store.
const (
	FieldText     FieldType = "text"
	FieldEditor   FieldType = "editor"
	FieldNumber   FieldType = "number"
	FieldBool     FieldType = "bool"
	FieldEmail    FieldType = "email"
	FieldURL      FieldType = "url"
	FieldDate     FieldType = "date"
	FieldAutodate FieldType = "autodate"
	FieldSelect   FieldType = "select"
	FieldJSON     FieldType = "json"
	FieldRelation FieldType = "relation"
	FieldFile     FieldType = "file"
	FieldPassword FieldType = "password"
	FieldGeoPoint FieldType = "geoPoint"
)

// Field is one column of a collection. Options apply to the types noted.
type Field struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        FieldType `json:"type"`
	System      bool      `json:"system"`
	Hidden      bool      `json:"hidden"`
	Presentable bool      `json:"presentable"`
	Required    bool      `json:"required"`

	// Min and Max bound a text or password length, or a number's value;
	// nil means no bound. For date fields use MinDate and MaxDate.
	Min, Max *float64
	// MinDate and MaxDate bound a date field ("" means no bound).
	MinDate, MaxDate string
	// Pattern is a regular expression a text or password value must match.
	Pattern string
	// AutogeneratePattern generates a text value when none is given (used by id).
	AutogeneratePattern string
	// PrimaryKey marks the id field.
	PrimaryKey bool
	// OnlyInt restricts a number to integers.
	OnlyInt bool
	// Values lists the allowed options of a select field.
	Values []string
	// MaxSelect > 1 makes a select, relation or file field hold a list.
	MaxSelect int
	// MinSelect is the least number of relations required.
	MinSelect int
	// CollectionID is the target of a relation field.
	CollectionID string
	// CascadeDelete deletes the record when its (required) relation target is deleted.
	CascadeDelete bool
	// OnCreate and OnUpdate set an autodate field on create and on update.
	OnCreate, OnUpdate bool
	// MaxSize bounds an editor or json value in bytes, or a file's size.
	MaxSize int64
	// MimeTypes, Thumbs and Protected are file options.
	MimeTypes []string
	Thumbs    []string
	Protected bool
	// OnlyDomains and ExceptDomains restrict email and url fields.
	OnlyDomains, ExceptDomains []string
	// ConvertURLs is an editor option kept for compatibility.
	ConvertURLs bool
	// Cost is the bcrypt cost of a password field (0 means the default).
	Cost int
}

// fieldJSON is the wire shape: every option as it appears in PocketBase's
// collection JSON. Options that do not apply to a type are omitted on output.
type fieldJSON struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	Type                FieldType       `json:"type"`
	System              bool            `json:"system"`
	Hidden              bool            `json:"hidden"`
	Presentable         bool            `json:"presentable"`
	Required            *bool           `json:"required,omitempty"`
	Min                 json.RawMessage `json:"min,omitempty"`
	Max                 json.RawMessage `json:"max,omitempty"`
	Pattern             *string         `json:"pattern,omitempty"`
	AutogeneratePattern *string         `json:"autogeneratePattern,omitempty"`
	PrimaryKey          *bool           `json:"primaryKey,omitempty"`
	OnlyInt             *bool           `json:"onlyInt,omitempty"`
	Values              *[]string       `json:"values,omitempty"`
	MaxSelect           *int            `json:"maxSelect,omitempty"`
	MinSelect           *int            `json:"minSelect,omitempty"`
	CollectionID        *string         `json:"collectionId,omitempty"`
	CascadeDelete       *bool           `json:"cascadeDelete,omitempty"`
	OnCreate            *bool           `json:"onCreate,omitempty"`
	OnUpdate            *bool           `json:"onUpdate,omitempty"`
	MaxSize             *int64          `json:"maxSize,omitempty"`
	MimeTypes           *[]string       `json:"mimeTypes,omitempty"`
	Thumbs              *[]string       `json:"thumbs,omitempty"`
	Protected           *bool           `json:"protected,omitempty"`
	OnlyDomains         *[]string       `json:"onlyDomains,omitempty"`
	ExceptDomains       *[]string       `json:"exceptDomains,omitempty"`
	ConvertURLs         *bool           `json:"convertURLs,omitempty"`
	Cost                *int            `json:"cost,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func numJSON(f *float64) json.RawMessage {
	if f == nil {
		return json.RawMessage("null")
	}
	b, _ := json.Marshal(*f)
	return b
}

// MarshalJSON writes the field with the options of its type.
func (f Field) MarshalJSON() ([]byte, error) {
	j := fieldJSON{ID: f.ID, Name: f.Name, Type: f.Type, System: f.System, Hidden: f.Hidden, Presentable: f.Presentable,
		Required: ptr(f.Required)}
	f.Def().encodeOptions(&f, &j)
	return json.Marshal(j)
}

// UnmarshalJSON reads a field: the options every field has, then those of
// its type.
func (f *Field) UnmarshalJSON(data []byte) error {
	var j fieldJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&j); err != nil {
		return err
	}
	*f = Field{ID: j.ID, Name: j.Name, Type: j.Type, System: j.System, Hidden: j.Hidden, Presentable: j.Presentable}
	f.Required = j.Required != nil && *j.Required
	// Read whatever the type, so that a primaryKey on a field that cannot
	// be one is refused rather than dropped.
	f.PrimaryKey = j.PrimaryKey != nil && *j.PrimaryKey
	return f.Def().decodeOptions(&j, f)
}

func numBound(raw json.RawMessage) (*float64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("must be a number")
	}
	return &v, nil
}

func dateBound(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("must be a date string")
	}
	return s, nil
}
