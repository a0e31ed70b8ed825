package core

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestGenerator(t *testing.T) {
	t.Parallel()
	for pattern, re := range map[string]string{
		"[a-z0-9]{15}":   `^[a-z0-9]{15}$`,
		"inv_[0-9]{8}":   `^inv_[0-9]{8}$`,
		"[A-Z]{2}-[0-9]": `^[A-Z]{2}-[0-9]$`,
		`\[x\]`:          `^\[x\]$`,
	} {
		for range 20 {
			if got := Generate(pattern); !regexp.MustCompile(re).MatchString(got) {
				t.Errorf("Generate(%q) = %q", pattern, got)
			}
		}
	}
	for _, bad := range []string{"", "[a-z", "a{0}", "(a|b)", "[z-a]", "[a-z]{1000}"} {
		if _, err := newGenerator(bad); err == nil {
			t.Errorf("newGenerator(%q) accepted", bad)
		}
	}
}

func TestCoerceAndCheck(t *testing.T) {
	t.Parallel()
	f64p := func(v float64) *float64 { return &v }
	tests := []struct {
		name  string
		field Field
		in    any
		want  any
		code  string // expected error code from coerce or check; "" for valid
	}{
		{"text", Field{Type: FieldText}, "hi", "hi", ""},
		{"text from number", Field{Type: FieldText}, 12.0, "12", ""},
		{"text from object", Field{Type: FieldText}, map[string]any{}, nil, "validation_invalid_value"},
		{"text too long default", Field{Type: FieldText}, strings.Repeat("a", 5001), nil, "validation_max_text_constraint"},
		{"text pattern", Field{Type: FieldText, Pattern: "^[a-z]+$"}, "ABC", nil, "validation_invalid_format"},
		{"number from Go int", Field{Type: FieldNumber}, 7, 7.0, ""},
		{"number string", Field{Type: FieldNumber}, "1.5", 1.5, ""},
		{"number junk", Field{Type: FieldNumber}, "x", nil, "validation_invalid_value"},
		{"number max", Field{Type: FieldNumber, Max: f64p(3)}, 4.0, nil, "validation_max_number_constraint"},
		{"bool string", Field{Type: FieldBool}, "true", true, ""},
		{"bool junk", Field{Type: FieldBool}, "maybe", nil, "validation_invalid_value"},
		{"email", Field{Type: FieldEmail}, "a@b.co", "a@b.co", ""},
		{"email bad", Field{Type: FieldEmail}, "Ann <a@b.co>", nil, "validation_is_email"},
		{"email domain", Field{Type: FieldEmail, OnlyDomains: []string{"x.com"}}, "a@b.co", nil, "validation_email_domain"},
		{"url", Field{Type: FieldURL}, "https://x.io/a", "https://x.io/a", ""},
		{"url scheme", Field{Type: FieldURL}, "javascript:alert(1)", nil, "validation_is_url"},
		{"date", Field{Type: FieldDate}, "2024-01-02T03:04:05Z", "2024-01-02 03:04:05.000Z", ""},
		{"date bad", Field{Type: FieldDate}, "yesterday", nil, "validation_invalid_value"},
		// Stored dates compare as text: years past 9999 or before 0000 in
		// UTC would sort wrongly (and pass a max), so they are refused.
		{"date into year 10000 in UTC", Field{Type: FieldDate}, "9999-12-31 23:00:00-02:00", nil, "validation_invalid_value"},
		{"date into year -1 in UTC", Field{Type: FieldDate}, "0000-01-01 00:00:00+01:00", nil, "validation_invalid_value"},
		{"date last hour of 9999", Field{Type: FieldDate}, "9999-12-31 23:00:00Z", "9999-12-31 23:00:00.000Z", ""},
		{"multi select single", Field{Type: FieldSelect, Values: []string{"a", "b"}, MaxSelect: 2}, "a", []string{"a"}, ""},
		{"multi select dedupe", Field{Type: FieldSelect, Values: []string{"a", "b"}, MaxSelect: 2}, []any{"a", "a"}, []string{"a"}, ""},
		{"select unknown", Field{Type: FieldSelect, Values: []string{"a"}, MaxSelect: 1}, "z", nil, "validation_invalid_value"},
		{"json", Field{Type: FieldJSON}, map[string]any{"a": 1.0}, json.RawMessage(`{"a":1}`), ""},
		{"json too big", Field{Type: FieldJSON, MaxSize: 4}, "abcdef", nil, "validation_json_size_limit"},
		{"required", Field{Type: FieldText, Required: true}, "", nil, "validation_required"},
		{"relation id junk", Field{Type: FieldRelation, MaxSelect: 1}, "a'b", nil, "validation_invalid_relation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, fe := CoerceValue(&tt.field, tt.in)
			if fe == nil {
				fe = ValidateValue(&tt.field, v)
			}
			switch {
			case tt.code == "" && fe != nil:
				t.Fatalf("unexpected error %+v", fe)
			case tt.code != "" && (fe == nil || fe.Code != tt.code):
				t.Fatalf("error %+v, want code %s", fe, tt.code)
			case tt.code == "":
				if g, w := mustJSON(v), mustJSON(tt.want); g != w {
					t.Fatalf("value %s, want %s", g, w)
				}
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Every field type has a definition, and its options survive the
// collection JSON both ways.
func TestFieldDefsRoundTrip(t *testing.T) {
	t.Parallel()
	max := 9.0
	fields := []Field{
		{Name: "t", Type: FieldText, Max: &max, Pattern: "^a", AutogeneratePattern: "[a-z]{3}"},
		{Name: "e", Type: FieldEditor, MaxSize: 10, ConvertURLs: true},
		{Name: "n", Type: FieldNumber, Max: &max, OnlyInt: true},
		{Name: "b", Type: FieldBool, Required: true},
		{Name: "m", Type: FieldEmail, OnlyDomains: []string{"x.io"}},
		{Name: "u", Type: FieldURL, ExceptDomains: []string{"y.io"}},
		{Name: "d", Type: FieldDate, MinDate: "2024-01-01 00:00:00.000Z"},
		{Name: "a", Type: FieldAutodate, OnCreate: true},
		{Name: "s", Type: FieldSelect, Values: []string{"a", "b"}, MaxSelect: 2},
		{Name: "j", Type: FieldJSON, MaxSize: 5},
		{Name: "r", Type: FieldRelation, CollectionID: "c1", MaxSelect: 3, MinSelect: 1, CascadeDelete: true},
		{Name: "f", Type: FieldFile, MaxSelect: 2, MimeTypes: []string{"image/png"}, Protected: true},
		{Name: "p", Type: FieldPassword, Cost: 11},
	}
	for _, f := range fields {
		if !KnownFieldType(f.Type) {
			t.Errorf("%s has no definition", f.Type)
		}
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var back Field
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Errorf("%s round trip:\n %s\n %s", f.Type, b, b2)
		}
	}
	if KnownFieldType("geo") {
		t.Error("unknown type known")
	}
}

func TestJSONHasNUL(t *testing.T) {
	for raw, want := range map[string]bool{
		`{"a":"x\u0000y"}`:      true,
		`["ok",{"k":"\u0000"}]`: true,
		`{"a\u0000":1}`:         true,
		`{"a":"\\u0000"}`:       false, // a backslash, then the text u0000
		`{"a":"plain"}`:         false,
		`{"a":"\u0000"`:         false, // not JSON
	} {
		if got := JSONHasNUL([]byte(raw)); got != want {
			t.Errorf("JSONHasNUL(%s) = %v, want %v", raw, got, want)
		}
	}
}
