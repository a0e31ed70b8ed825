package service

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
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
			if got := generate(pattern); !regexp.MustCompile(re).MatchString(got) {
				t.Errorf("generate(%q) = %q", pattern, got)
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
		field core.Field
		in    any
		want  any
		code  string // expected error code from coerce or check; "" for valid
	}{
		{"text", core.Field{Type: core.FieldText}, "hi", "hi", ""},
		{"text from number", core.Field{Type: core.FieldText}, 12.0, "12", ""},
		{"text from object", core.Field{Type: core.FieldText}, map[string]any{}, nil, "validation_invalid_value"},
		{"text too long default", core.Field{Type: core.FieldText}, string(make([]byte, 5001)), nil, "validation_max_text_constraint"},
		{"text pattern", core.Field{Type: core.FieldText, Pattern: "^[a-z]+$"}, "ABC", nil, "validation_invalid_format"},
		{"number string", core.Field{Type: core.FieldNumber}, "1.5", 1.5, ""},
		{"number junk", core.Field{Type: core.FieldNumber}, "x", nil, "validation_invalid_value"},
		{"number max", core.Field{Type: core.FieldNumber, Max: f64p(3)}, 4.0, nil, "validation_max_number_constraint"},
		{"bool string", core.Field{Type: core.FieldBool}, "true", true, ""},
		{"bool junk", core.Field{Type: core.FieldBool}, "maybe", nil, "validation_invalid_value"},
		{"email", core.Field{Type: core.FieldEmail}, "a@b.co", "a@b.co", ""},
		{"email bad", core.Field{Type: core.FieldEmail}, "Ann <a@b.co>", nil, "validation_is_email"},
		{"email domain", core.Field{Type: core.FieldEmail, OnlyDomains: []string{"x.com"}}, "a@b.co", nil, "validation_email_domain"},
		{"url", core.Field{Type: core.FieldURL}, "https://x.io/a", "https://x.io/a", ""},
		{"url scheme", core.Field{Type: core.FieldURL}, "javascript:alert(1)", nil, "validation_is_url"},
		{"date", core.Field{Type: core.FieldDate}, "2024-01-02T03:04:05Z", "2024-01-02 03:04:05.000Z", ""},
		{"date bad", core.Field{Type: core.FieldDate}, "yesterday", nil, "validation_invalid_value"},
		{"multi select single", core.Field{Type: core.FieldSelect, Values: []string{"a", "b"}, MaxSelect: 2}, "a", []string{"a"}, ""},
		{"multi select dedupe", core.Field{Type: core.FieldSelect, Values: []string{"a", "b"}, MaxSelect: 2}, []any{"a", "a"}, []string{"a"}, ""},
		{"select unknown", core.Field{Type: core.FieldSelect, Values: []string{"a"}, MaxSelect: 1}, "z", nil, "validation_invalid_value"},
		{"json", core.Field{Type: core.FieldJSON}, map[string]any{"a": 1.0}, json.RawMessage(`{"a":1}`), ""},
		{"json too big", core.Field{Type: core.FieldJSON, MaxSize: 4}, "abcdef", nil, "validation_json_size_limit"},
		{"required", core.Field{Type: core.FieldText, Required: true}, "", nil, "validation_required"},
		{"relation id junk", core.Field{Type: core.FieldRelation, MaxSelect: 1}, "a'b", nil, "validation_invalid_relation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, fe := coerce(&tt.field, tt.in)
			if fe == nil {
				fe = checkValue(&tt.field, v)
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
