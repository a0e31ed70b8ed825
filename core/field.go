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
)

// KnownFieldType reports whether t is a field type Tortoise understands.
func KnownFieldType(t FieldType) bool {
	switch t {
	case FieldText, FieldEditor, FieldNumber, FieldBool, FieldEmail, FieldURL, FieldDate,
		FieldAutodate, FieldSelect, FieldJSON, FieldRelation, FieldFile, FieldPassword:
		return true
	}
	return false
}

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

// IsMultiple reports whether the field holds a list of values.
func (f *Field) IsMultiple() bool {
	switch f.Type {
	case FieldSelect, FieldRelation, FieldFile:
		return f.MaxSelect > 1
	}
	return false
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
	j := fieldJSON{ID: f.ID, Name: f.Name, Type: f.Type, System: f.System, Hidden: f.Hidden, Presentable: f.Presentable}
	if f.Type != FieldAutodate {
		j.Required = ptr(f.Required)
	}
	switch f.Type {
	case FieldText, FieldPassword:
		j.Min, j.Max = numJSON(f.Min), numJSON(f.Max)
		if f.Min == nil {
			j.Min = json.RawMessage("0")
		}
		if f.Max == nil {
			j.Max = json.RawMessage("0")
		}
		j.Pattern = ptr(f.Pattern)
		if f.Type == FieldText {
			j.AutogeneratePattern = ptr(f.AutogeneratePattern)
			j.PrimaryKey = ptr(f.PrimaryKey)
		} else {
			j.Cost = ptr(f.Cost)
		}
	case FieldEditor:
		j.MaxSize, j.ConvertURLs = ptr(f.MaxSize), ptr(f.ConvertURLs)
	case FieldNumber:
		j.Min, j.Max, j.OnlyInt = numJSON(f.Min), numJSON(f.Max), ptr(f.OnlyInt)
	case FieldEmail, FieldURL:
		j.OnlyDomains, j.ExceptDomains = ptr(nonNil(f.OnlyDomains)), ptr(nonNil(f.ExceptDomains))
	case FieldDate:
		j.Min, _ = json.Marshal(f.MinDate)
		j.Max, _ = json.Marshal(f.MaxDate)
	case FieldAutodate:
		j.OnCreate, j.OnUpdate = ptr(f.OnCreate), ptr(f.OnUpdate)
	case FieldSelect:
		j.Values, j.MaxSelect = ptr(nonNil(f.Values)), ptr(f.MaxSelect)
	case FieldJSON:
		j.MaxSize = ptr(f.MaxSize)
	case FieldRelation:
		j.CollectionID, j.CascadeDelete = ptr(f.CollectionID), ptr(f.CascadeDelete)
		j.MinSelect, j.MaxSelect = ptr(f.MinSelect), ptr(f.MaxSelect)
	case FieldFile:
		j.MaxSelect, j.MaxSize = ptr(f.MaxSelect), ptr(f.MaxSize)
		j.MimeTypes, j.Thumbs, j.Protected = ptr(nonNil(f.MimeTypes)), ptr(nonNil(f.Thumbs)), ptr(f.Protected)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a field, interpreting min and max by its type.
func (f *Field) UnmarshalJSON(data []byte) error {
	var j fieldJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&j); err != nil {
		return err
	}
	*f = Field{ID: j.ID, Name: j.Name, Type: j.Type, System: j.System, Hidden: j.Hidden, Presentable: j.Presentable}
	deref := func(b *bool) bool { return b != nil && *b }
	f.Required = deref(j.Required)
	f.PrimaryKey = deref(j.PrimaryKey)
	f.OnlyInt = deref(j.OnlyInt)
	f.CascadeDelete = deref(j.CascadeDelete)
	f.OnCreate, f.OnUpdate = deref(j.OnCreate), deref(j.OnUpdate)
	f.Protected = deref(j.Protected)
	f.ConvertURLs = deref(j.ConvertURLs)
	if j.Pattern != nil {
		f.Pattern = *j.Pattern
	}
	if j.AutogeneratePattern != nil {
		f.AutogeneratePattern = *j.AutogeneratePattern
	}
	if j.Values != nil {
		f.Values = *j.Values
	}
	if j.MaxSelect != nil {
		f.MaxSelect = *j.MaxSelect
	}
	if j.MinSelect != nil {
		f.MinSelect = *j.MinSelect
	}
	if j.CollectionID != nil {
		f.CollectionID = *j.CollectionID
	}
	if j.MaxSize != nil {
		f.MaxSize = *j.MaxSize
	}
	if j.MimeTypes != nil {
		f.MimeTypes = *j.MimeTypes
	}
	if j.Thumbs != nil {
		f.Thumbs = *j.Thumbs
	}
	if j.OnlyDomains != nil {
		f.OnlyDomains = *j.OnlyDomains
	}
	if j.ExceptDomains != nil {
		f.ExceptDomains = *j.ExceptDomains
	}
	if j.Cost != nil {
		f.Cost = *j.Cost
	}
	if f.Type == FieldDate {
		var err error
		if f.MinDate, err = dateBound(j.Min); err != nil {
			return fmt.Errorf("min: %w", err)
		}
		if f.MaxDate, err = dateBound(j.Max); err != nil {
			return fmt.Errorf("max: %w", err)
		}
		return nil
	}
	var err error
	if f.Min, err = numBound(j.Min); err != nil {
		return fmt.Errorf("min: %w", err)
	}
	if f.Max, err = numBound(j.Max); err != nil {
		return fmt.Errorf("max: %w", err)
	}
	// PocketBase writes 0 for "no bound" on text lengths.
	if f.Type == FieldText || f.Type == FieldPassword {
		if f.Min != nil && *f.Min == 0 {
			f.Min = nil
		}
		if f.Max != nil && *f.Max == 0 {
			f.Max = nil
		}
	}
	return nil
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
