package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

func init() { registerFieldDef(FieldJSON, jsonDef{}) }

// defaultJSONMaxSize bounds a json field that sets no maxSize (bytes).
const defaultJSONMaxSize = 1 << 20

// jsonDef: any JSON document, kept as its text; null is nil.
type jsonDef struct{ base }

func (jsonDef) Storage(*Field) Storage { return StorageJSON }

func (jsonDef) Coerce(f *Field, v any) (any, *FieldError) {
	if s, ok := v.(string); ok {
		if !utf8.ValidString(s) {
			// As a text field answers; a JSON body cannot carry it.
			return nil, fieldError("validation_invalid_value", "Must be valid UTF-8 text.")
		}
		v = JSONFromString(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return invalidValue("Must be valid JSON.")
	}
	if string(b) == "null" {
		return json.RawMessage(nil), nil
	}
	return json.RawMessage(b), nil
}

// JSONFromString is what a json field holds when it is given the plain
// string s, by PocketBase's rules, so that one value reads the same from a
// JSON body, a form or multipart (whose values are all strings) or Go code:
//   - "true", "false" and "null" are those JSON literals (null is nil);
//   - a number, array, object or double-quoted string written as JSON is
//     that JSON, decoded as a JSON body's values are ("[1,2]" is the
//     array, "12.5" the number, and "\"true\"" the string true);
//   - anything else is the string s itself, the empty string included,
//     and so is JSON that a JSON body could not carry either (a number
//     beyond a float64's range).
//
// Whitespace around a JSON text is ignored. To store a string that would
// read as JSON ("12" as text), send it double-quoted or inside an object.
func JSONFromString(s string) any {
	t := strings.TrimSpace(s)
	if t != "" && strings.IndexByte(`tfn[{"-0123456789`, t[0]) >= 0 {
		var v any
		if json.Unmarshal([]byte(t), &v) == nil {
			return v
		}
	}
	return s
}

// JSONNumbersFit reports whether every number in the JSON document raw is
// within a float64's range, as every number a JSON body carries is: Go code
// or raw JSON could hand a json field (or a job's args) 1e1000000, which
// SQLite would keep as text but PostgreSQL's jsonb refuses, and which
// nothing reading it into a float64 could decode. raw must be valid JSON.
func JSONNumbersFit(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"':
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
		case c == '-' || c >= '0' && c <= '9':
			j, exp := i, false
			for ; j < len(raw) && strings.IndexByte("+-.eE0123456789", raw[j]) >= 0; j++ {
				exp = exp || raw[j] == 'e' || raw[j] == 'E'
			}
			// Without an exponent only a number of over 300 digits can
			// leave the range.
			if exp || j-i > 300 {
				if _, err := strconv.ParseFloat(string(raw[i:j]), 64); err != nil {
					return false
				}
			}
			i = j - 1
		}
	}
	return true
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
	if what := JSONUnstorable(raw); what != "" {
		return fieldError("validation_invalid_value", "Must not contain %s.", what)
	}
	return nil
}

// JSONUnstorable names what in the valid JSON document raw SQLite would
// keep but PostgreSQL's jsonb refuses, or "" if nothing: json values and
// jobs' args holding it are refused on both engines alike, so data stays
// free to move from one to the other.
func JSONUnstorable(raw []byte) string {
	switch {
	case JSONHasNUL(raw):
		return "the NUL character (U+0000)"
	case !JSONNumbersFit(raw):
		return "a number beyond ±1.8e308"
	case JSONHasLoneSurrogate(raw):
		return `half a UTF-16 surrogate pair (such as \ud800) without the other half`
	case JSONTooDeep(raw):
		return fmt.Sprintf("arrays or objects nested more than %d deep", MaxJSONDepth)
	}
	return ""
}

// MaxJSONDepth is how deep arrays and objects may nest in a stored JSON
// value: SQLite's JSON functions refuse documents past 1000 levels, and
// one such value in a collection failed every list whose rule or filter
// read its field (PostgreSQL has no such bound), so values stay well
// inside it, room left for the documents Tortoise wraps around them.
const MaxJSONDepth = 512

// JSONTooDeep reports whether arrays and objects nest more than
// MaxJSONDepth deep in the JSON document raw.
func JSONTooDeep(raw []byte) bool {
	if len(raw) <= 2*MaxJSONDepth {
		return false // each level takes two bytes at least
	}
	depth, inStr := 0, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inStr:
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '[' || c == '{':
			if depth++; depth > MaxJSONDepth {
				return true
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return false
}

// JSONHasLoneSurrogate reports whether a string in the JSON document raw
// holds a \u escape of half a UTF-16 surrogate pair without the other half
// ("\ud800"). JSON's grammar allows it and SQLite keeps it, but it is no
// character: PostgreSQL's jsonb refuses it, and Go's decoder turns it into
// U+FFFD, so a JSON body never carries one; Go code or raw JSON could.
func JSONHasLoneSurrogate(raw []byte) bool {
	if !bytes.Contains(raw, []byte(`\u`)) {
		return false
	}
	inStr := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case !inStr:
			inStr = c == '"'
		case c == '"':
			inStr = false
		case c == '\\' && i+1 < len(raw):
			i++
			if raw[i] != 'u' {
				continue
			}
			r := hex4(raw[i+1:])
			i += 4
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return true // a low half first
			case r >= 0xD800 && r <= 0xDBFF:
				if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
					return true
				}
				if lo := hex4(raw[i+3:]); lo < 0xDC00 || lo > 0xDFFF {
					return true
				}
				i += 6
			}
		}
	}
	return false
}

// hex4 reads the 4 hex digits at the start of b, or -1.
func hex4(b []byte) int {
	if len(b) < 4 {
		return -1
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 16)
	if err != nil {
		return -1
	}
	return int(n)
}

func (jsonDef) encodeOptions(f *Field, j *fieldJSON) { j.MaxSize = ptr(f.MaxSize) }

func (jsonDef) decodeOptions(j *fieldJSON, f *Field) error {
	if j.MaxSize != nil {
		f.MaxSize = *j.MaxSize
	}
	return nil
}

// JSONHasNUL reports whether the JSON document raw holds the NUL character
// (U+0000) in a string or a key. Both engines could keep it in text, but
// PostgreSQL's text and jsonb refuse it, so a value that holds it is
// refused on either: data that SQLite accepted could not move to
// PostgreSQL. raw that is not valid JSON reports false.
func JSONHasNUL(raw []byte) bool {
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return false // a NUL can only be written \u0000 in valid JSON
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	return hasNUL(v)
}

func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []any:
		return slices.ContainsFunc(x, hasNUL)
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(e) {
				return true
			}
		}
	}
	return false
}
