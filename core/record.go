package core

import (
	"time"
)

// Record is one row of a collection. Data maps field names to values in
// their canonical Go types:
//
//	text, editor, email, url, date, autodate, password,
//	single select, single relation, single file  string
//	number                                        float64
//	bool                                          bool
//	multiple select, relation, file               []string
//	json                                          json.RawMessage (nil is JSON null)
//	geoPoint                                      json.RawMessage {"lon":x,"lat":y}
//
// Data always holds "id".
type Record struct {
	Collection *Collection
	Data       map[string]any
	// Expand holds related records loaded for the response, keyed by
	// relation path: *Record for a single relation, []*Record for a list.
	Expand map[string]any
}

// NewRecord returns an empty record of c with every field at its zero value.
func NewRecord(c *Collection) *Record {
	r := &Record{Collection: c, Data: make(map[string]any, len(c.Fields))}
	for i := range c.Fields {
		r.Data[c.Fields[i].Name] = ZeroValue(&c.Fields[i])
	}
	return r
}

// ID returns the record's id.
func (r *Record) ID() string { s, _ := r.Data["id"].(string); return s }

// String returns a string-typed value, or "".
func (r *Record) String(name string) string { s, _ := r.Data[name].(string); return s }

// Strings returns a field's values as a list, whether it holds one or many.
func (r *Record) Strings(name string) []string { return StringsOf(r.Data[name]) }

// StringsOf returns a string or string-list value as a list: nil for "" and
// for values of other types.
func StringsOf(v any) []string {
	switch v := v.(type) {
	case []string:
		return v
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	}
	return nil
}

// DateLayout is how dates are stored and shown: UTC with milliseconds, the
// PocketBase shape, which also sorts correctly as text.
const DateLayout = "2006-01-02 15:04:05.000Z"

// FormatTime renders t in DateLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(DateLayout) }

// Now returns the current time in DateLayout.
func Now() string { return FormatTime(time.Now()) }

// Clone returns a copy whose Data can be changed without touching r's.
func (r *Record) Clone() *Record {
	n := &Record{Collection: r.Collection, Data: make(map[string]any, len(r.Data))}
	for k, v := range r.Data {
		if l, ok := v.([]string); ok {
			v = append([]string{}, l...)
		}
		n.Data[k] = v
	}
	return n
}
