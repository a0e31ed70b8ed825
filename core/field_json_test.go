package core

import (
	"encoding/json"
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
		{"1e3", `1e3`},
		{" [1, 2] ", `[1, 2]`},
		{`{"a":1}`, `{"a":1}`},
		{`"true"`, `"true"`}, // a JSON string stays that string
		{`"12"`, `"12"`},     // which is how to keep digits as text
		{"", `""`},           // the empty string is a string
		{"hello", `"hello"`}, // text that is not JSON is a string
		{"True", `"True"`},   // JSON's literals are lowercase
		{"0123", `"0123"`},   // not a JSON number
		{"12abc", `"12abc"`}, //
		{"[1,", `"[1,"`},     // broken JSON is text
		{"nul", `"nul"`},     //
		{"NaN", `"NaN"`},     //
		{"a\"b", `"a\"b"`},   // quotes inside are escaped
		{`{"a":1} x`, `"{\"a\":1} x"`},
	} {
		got := JSONFromString(tc.in)
		if string(got) != tc.want {
			t.Errorf("JSONFromString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if !json.Valid(got) {
			t.Errorf("JSONFromString(%q) = %s, not JSON", tc.in, got)
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
}
