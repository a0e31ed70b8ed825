package core

import (
	"encoding/json"
	"strings"
	"testing"
)

// A json field given a plain string reads it as PocketBase does, so a
// form's text and a JSON body's value mean the same.
func TestJSONFromString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"true", `true`},
		{"false", `false`},
		{"null", `null`},
		{"12.5", `12.5`},
		{"-3", `-3`},
		{"1e3", `1000`},
		{" [1, 2] ", `[1,2]`},
		{`{"b":1,"a":[true]}`, `{"a":[true],"b":1}`}, // as a JSON body's object
		{`"true"`, `"true"`},                         // a JSON string stays that string
		{`"12"`, `"12"`},                             // which is how to keep digits as text
		{"", `""`},                                   // the empty string is a string
		{"hello", `"hello"`},                         // text that is not JSON is a string
		{"True", `"True"`},                           // JSON's literals are lowercase
		{"0123", `"0123"`},                           // not a JSON number
		{"12abc", `"12abc"`},
		{"[1,", `"[1,"`}, // broken JSON is text
		{"nul", `"nul"`},
		{"NaN", `"NaN"`},
		{"a\"b", `"a\"b"`},
		{`{"a":1} x`, `"{\"a\":1} x"`},
		{"1e1000000", `"1e1000000"`}, // no JSON body could carry it as a number
		{`{"n":1e400}`, `"{\"n\":1e400}"`},
	} {
		got, err := json.Marshal(JSONFromString(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("JSONFromString(%q) = %s (%v), want %s", tc.in, got, err, tc.want)
		}
	}
	// Through the field: a string is read, anything else is encoded.
	f := &Field{Type: FieldJSON}
	for in, want := range map[any]string{"[1,2]": `[1,2]`, "x": `"x"`, 7.0: `7`, true: `true`} {
		v, fe := CoerceValue(f, in)
		if fe != nil || string(v.(json.RawMessage)) != want {
			t.Errorf("Coerce(%#v) = %s, %v; want %s", in, v, fe, want)
		}
	}
	if v, fe := CoerceValue(f, "null"); fe != nil || v.(json.RawMessage) != nil {
		t.Errorf(`Coerce("null") = %#v, %v; want null`, v, fe)
	}
	// Bytes that are not UTF-8 (a form can send them) are refused, as a
	// text field refuses them, rather than stored as U+FFFD.
	if v, fe := CoerceValue(f, "a\xffb"); fe == nil || fe.Code != "validation_invalid_value" {
		t.Errorf("Coerce of invalid UTF-8 = %#v, %v; want refused", v, fe)
	}
}

func TestJSONNumbersFit(t *testing.T) {
	for raw, want := range map[string]bool{
		`1`: true, `-1.5e308`: true, `1e-400`: true, `[1e308, 2]`: true,
		`{"1e999":"1e999"}`:                  true, // in strings, not numbers
		`"\"1e999"`:                          true, // an escaped quote does not end a string
		`1e309`:                              false,
		`{"a":[1, -2E+400]}`:                 false,
		`[` + strings.Repeat("9", 310) + `]`: false,
		strings.Repeat("9", 300):             true,
	} {
		if got := JSONNumbersFit([]byte(raw)); got != want {
			t.Errorf("JSONNumbersFit(%.40s) = %v, want %v", raw, got, want)
		}
	}
	// A json field refuses them whichever way they arrive.
	f := &Field{Type: FieldJSON}
	v, fe := CoerceValue(f, json.RawMessage(`{"n":1e1000000}`))
	if fe == nil {
		fe = f.Def().Validate(f, v)
	}
	if fe == nil || fe.Code != "validation_invalid_value" {
		t.Errorf("a json value holding 1e1000000: %v, want refused", fe)
	}
}

func TestJSONHasLoneSurrogate(t *testing.T) {
	for raw, want := range map[string]bool{
		`"plain"`:              false,
		`"\ud83d\ude00"`:       false, // a pair: 😀
		`"\uD83D\uDE00"`:       false,
		`["\u00e9", "\u20ac"]`: false,
		`"\\ud800"`:            false, // an escaped backslash, then text
		`"\ud800"`:             true,
		`{"k":"a\udc00b"}`:     true, // a low half alone
		`"\ud800x"`:            true,
		`"\ud800\u0041"`:       true, // a high half, then no low half
		`{"\ud800":1}`:         true, // keys too
		`"\ud83d\ude00\ud800"`: true,
	} {
		if got := JSONHasLoneSurrogate([]byte(raw)); got != want {
			t.Errorf("JSONHasLoneSurrogate(%s) = %v, want %v", raw, got, want)
		}
	}
	f := &Field{Type: FieldJSON}
	v, fe := CoerceValue(f, json.RawMessage(`{"s":"\ud800"}`))
	if fe == nil {
		fe = f.Def().Validate(f, v)
	}
	if fe == nil || fe.Code != "validation_invalid_value" {
		t.Errorf("a json value holding a lone surrogate: %v, want refused", fe)
	}
}

// TestJSONTooDeep: SQLite's JSON functions stop at 1000 levels, and one
// value past them failed every list reading its field; values past
// MaxJSONDepth are refused on both engines. Brackets inside strings are
// text.
func TestJSONTooDeep(t *testing.T) {
	t.Parallel()
	nest := func(d int) []byte {
		return []byte(strings.Repeat("[", d) + "1" + strings.Repeat("]", d))
	}
	objects := func(d int) []byte {
		return []byte(strings.Repeat(`{"a":`, d) + "1" + strings.Repeat("}", d))
	}
	for _, c := range []struct {
		raw  []byte
		deep bool
	}{
		{nest(MaxJSONDepth), false},
		{nest(MaxJSONDepth + 1), true},
		{nest(1001), true},
		{objects(MaxJSONDepth + 1), true},
		{[]byte(`["` + strings.Repeat("[", 2000) + `", "\"[[["]`), false},
		{[]byte(`[` + strings.Repeat(`[1],`, 2000) + `1]`), false},
	} {
		if got := JSONTooDeep(c.raw); got != c.deep {
			t.Errorf("JSONTooDeep(%.40s…) = %v", c.raw, got)
		}
	}
	if what := JSONUnstorable(nest(1001)); !strings.Contains(what, "nested") {
		t.Errorf("JSONUnstorable of 1001 levels: %q", what)
	}
	f := Field{Type: FieldJSON, MaxSize: 1 << 20}
	if fe := ValidateValue(&f, json.RawMessage(nest(1001))); fe == nil {
		t.Error("a json field took 1001 levels")
	}
}
