package store

import (
	"encoding/json"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// ScanDest returns scan destinations for c's columns and a function that
// turns what was scanned into a record with canonical Go values. Both
// drivers scan rows through it, so records come out the same from either.
// One backing array per type keeps allocations per row low.
func ScanDest(c *core.Collection) ([]any, func() *core.Record) {
	n := len(c.Fields)
	dest := make([]any, n)
	strs := make([]string, n)
	nums := make([]float64, n)
	bools := make([]bool, n)
	raws := make([][]byte, n)
	// The column kinds are looked up once per query, not once per row.
	kinds := make([]ColumnKind, n)
	zeros := make([]json.RawMessage, n)                         // what a NULL json column reads as
	readers := make([]func(json.RawMessage) json.RawMessage, n) // canonical text of a json column, when its type has one
	for i := range c.Fields {
		kinds[i] = KindOf(&c.Fields[i])
		switch kinds[i] {
		case ColumnNumber:
			dest[i] = &nums[i]
		case ColumnBool:
			dest[i] = &bools[i]
		case ColumnJSON:
			zeros[i], _ = core.ZeroValue(&c.Fields[i]).(json.RawMessage)
			readers[i] = core.JSONReader(&c.Fields[i])
			dest[i] = &raws[i]
		case ColumnList:
			dest[i] = &raws[i]
		default:
			dest[i] = &strs[i]
		}
	}
	return dest, func() *core.Record {
		data := make(map[string]any, n)
		for i := range c.Fields {
			f := &c.Fields[i]
			switch kinds[i] {
			case ColumnNumber:
				data[f.Name] = nums[i]
			case ColumnBool:
				data[f.Name] = bools[i]
			case ColumnJSON:
				switch {
				case raws[i] == nil || string(raws[i]) == "null":
					data[f.Name] = zeros[i]
				case readers[i] != nil:
					data[f.Name] = readers[i](json.RawMessage(raws[i]))
				default:
					data[f.Name] = json.RawMessage(raws[i])
				}
			case ColumnList:
				data[f.Name] = DecodeList(raws[i])
			default:
				data[f.Name] = strs[i]
			}
		}
		return &core.Record{Collection: c, Data: data}
	}
}

// Args returns a record's values in c's field order, ready to bind: the
// canonical value of each field, lists as JSON text, JSON as raw bytes (or
// as text with jsonAsText), and a null JSON value as SQL NULL. Both drivers
// write rows through it.
func Args(c *core.Collection, data map[string]any, jsonAsText bool) ([]any, error) {
	args := make([]any, len(c.Fields))
	for i := range c.Fields {
		f := &c.Fields[i]
		v, err := Canonical(f, data[f.Name])
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case []string:
			v = EncodeList(x)
		case json.RawMessage:
			switch {
			case x == nil:
				v = nil // SQL NULL; a typed nil would not encode as one
			case jsonAsText:
				v = string(x)
			}
		}
		args[i] = v
	}
	return args, nil
}

// SelectColumns is "SELECT" and c's columns in field order, qualified by
// MainAlias so fragments may join or nest other tables; ScanDest reads the
// rows. FromClause names c's table as MainAlias.
func SelectColumns(c *core.Collection) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i := range c.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(MainAlias))
		b.WriteString(".")
		b.WriteString(QuoteIdent(c.Fields[i].Name))
	}
	return b.String()
}

// FromClause is " FROM <c's table> AS MainAlias".
func FromClause(c *core.Collection) string {
	return " FROM " + QuoteIdent(c.Name) + " AS " + QuoteIdent(MainAlias)
}

// SelectFrom is SelectColumns followed by FromClause.
func SelectFrom(c *core.Collection) string { return SelectColumns(c) + FromClause(c) }

// InsertSQL inserts a row of every field of c, with `?` placeholders in
// field order (the order Args returns values in).
func InsertSQL(c *core.Collection) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(QuoteIdent(c.Name))
	b.WriteString(" (")
	for i := range c.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(c.Fields[i].Name))
	}
	b.WriteString(") VALUES (")
	b.WriteString(strings.TrimSuffix(strings.Repeat("?, ", len(c.Fields)), ", "))
	b.WriteString(")")
	return b.String()
}
