package store

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
)

// Canonical converts v, a value for field f, to the field's canonical Go type
// (see core.Record): any Go number becomes float64, nil becomes the zero
// value, a lone string becomes a one-element list for a multiple field, a
// list its last element for a single one, and a JSON value must be valid
// JSON ("null" and empty become the zero value: nil, or a geoPoint's
// {"lon":0,"lat":0}). Drivers call it before binding, so
// values that the service layer already normalised pass through unchanged.
// Errors: KindInvalid naming the field.
func Canonical(f *core.Field, v any) (any, error) {
	if v == nil {
		return core.ZeroValue(f), nil
	}
	bad := func() (any, error) {
		return nil, core.FieldInvalid(f.Name, "validation_invalid_value",
			fmt.Sprintf("Invalid value of type %T.", v))
	}
	switch KindOf(f) {
	case ColumnNumber:
		x, ok := toFloat(v)
		if !ok {
			return bad()
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			// SQLite stores NaN as NULL and JSON cannot carry either.
			return nil, core.FieldInvalid(f.Name, "validation_invalid_number", "Must be a finite number.")
		}
		return x, nil
	case ColumnBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return bad()
	case ColumnJSON:
		var raw []byte
		switch j := v.(type) {
		case json.RawMessage:
			raw = j
		case []byte:
			raw = j
		case string:
			raw = []byte(j)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return bad()
			}
			raw = b
		}
		if len(raw) == 0 || string(raw) == "null" {
			return core.ZeroValue(f), nil // nil, or a geoPoint's {"lon":0,"lat":0}
		}
		if !json.Valid(raw) {
			return nil, core.FieldInvalid(f.Name, "validation_invalid_json", "Must be valid JSON.")
		}
		return json.RawMessage(raw), nil
	case ColumnList:
		switch l := v.(type) {
		case []string:
			if l == nil {
				return []string{}, nil
			}
			return l, nil
		case string:
			if l == "" {
				return []string{}, nil
			}
			return []string{l}, nil
		case []any:
			out := make([]string, 0, len(l))
			for _, e := range l {
				s, ok := e.(string)
				if !ok {
					return bad()
				}
				out = append(out, s)
			}
			return out, nil
		}
		return bad()
	}
	switch s := v.(type) {
	case string:
		return s, nil
	case []string:
		if len(s) == 0 {
			return "", nil
		}
		return s[len(s)-1], nil
	}
	return bad()
}

// toFloat converts any Go number to float64.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case json.Number:
		x, err := n.Float64()
		return x, err == nil
	}
	return 0, false
}

// EncodeList renders a multiple field's values as the JSON array of
// strings the column holds.
func EncodeList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // marshalling []string cannot fail
	return string(b)
}

// DecodeList reads a multiple field's column, always returning a non-nil
// list. Elements that are not strings (written by other tools) are
// rendered as JSON; anything that is not an array reads as empty.
func DecodeList(b []byte) []string {
	if len(b) == 0 {
		return []string{}
	}
	if l, ok := decodeSimpleList(b); ok {
		return l
	}
	var l []string
	if err := json.Unmarshal(b, &l); err == nil {
		if l == nil {
			l = []string{}
		}
		return l
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return []string{}
	}
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		var s string
		if json.Unmarshal(r, &s) == nil {
			out = append(out, s)
		} else {
			out = append(out, string(r))
		}
	}
	return out
}

// decodeSimpleList parses the common case, a compact array of strings
// without escapes, several times faster than encoding/json (lists are
// decoded for every row read); anything else reports false.
func decodeSimpleList(b []byte) ([]string, bool) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' || !utf8.Valid(b) {
		return nil, false // encoding/json replaces invalid UTF-8; let it
	}
	out := []string{}
	i := 1
	for {
		if i == len(b)-1 {
			return out, len(out) == 0 || b[i-1] == '"'
		}
		if len(out) > 0 {
			if b[i] != ',' {
				return nil, false
			}
			i++
		}
		if i >= len(b)-1 || b[i] != '"' {
			return nil, false
		}
		j := i + 1
		for j < len(b)-1 && b[j] != '"' {
			if b[j] == '\\' || b[j] < 0x20 {
				return nil, false
			}
			j++
		}
		if j >= len(b)-1 {
			return nil, false
		}
		out = append(out, string(b[i+1:j]))
		i = j + 1
	}
}

// NumberPlaceholders rewrites the `?` placeholders of a fragment into
// PostgreSQL's $n form, numbering from first, and returns the new text and
// the number after the last one used, so fragments can be chained. A `?`
// inside a string literal ('…', E'…'), a quoted identifier, a dollar-quoted
// string or a comment is left alone. (PostgreSQL's jsonb operators ?, ?| and
// ?& therefore cannot be written bare in a fragment; use the functions
// jsonb_exists, jsonb_exists_any and jsonb_exists_all.)
func NumberPlaceholders(text string, first int) (string, int) {
	n := first
	var b []byte // allocated on the first placeholder
	last := 0
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '?':
			if b == nil {
				b = make([]byte, 0, len(text)+8)
			}
			b = append(b, text[last:i]...)
			b = append(b, '$')
			b = strconv.AppendInt(b, int64(n), 10)
			n++
			i++
			last = i
		case c == '\'':
			// E'…' strings allow backslash escapes; others only ''.
			backslash := i > 0 && (text[i-1] == 'E' || text[i-1] == 'e') && (i < 2 || !isIdentByte(text[i-2]))
			i = skipQuoted(text, i, '\'', backslash)
		case c == '"':
			i = skipQuoted(text, i, '"', false)
		case c == '-' && i+1 < len(text) && text[i+1] == '-':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			// Block comments nest in PostgreSQL.
			depth := 0
			for i < len(text) {
				if text[i] == '/' && i+1 < len(text) && text[i+1] == '*' {
					depth++
					i += 2
				} else if text[i] == '*' && i+1 < len(text) && text[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		case c == '$' && (i == 0 || !isIdentByte(text[i-1])):
			i = skipDollarQuoted(text, i)
		case isIdentByte(c):
			for i < len(text) && isIdentByte(text[i]) {
				i++
			}
		default:
			i++
		}
	}
	if b == nil {
		return text, n
	}
	return string(append(b, text[last:]...)), n
}

func isIdentByte(c byte) bool { return c == '_' || c == '$' || isLetter(c) || isDigit(c) || c >= 0x80 }

// skipQuoted returns the index just past the quoted run starting at i.
func skipQuoted(s string, i int, q byte, backslash bool) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if backslash {
				j++
			}
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// skipDollarQuoted returns the index past a $tag$…$tag$ string starting at
// i, or i+1 when the $ does not open one (a $1 parameter, say).
func skipDollarQuoted(s string, i int) int {
	j := i + 1
	for j < len(s) && s[j] != '$' {
		if !(s[j] == '_' || isLetter(s[j]) || (j > i+1 && isDigit(s[j])) || s[j] >= 0x80) {
			return i + 1
		}
		j++
	}
	if j >= len(s) {
		return i + 1
	}
	tag := s[i : j+1]
	for k := j + 1; k+len(tag) <= len(s); k++ {
		if s[k:k+len(tag)] == tag {
			return k + len(tag)
		}
	}
	return len(s)
}
