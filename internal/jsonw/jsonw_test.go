package jsonw

import (
	"encoding/json"
	"math"
	"testing"
)

// String must produce exactly what encoding/json produces, since
// clients parse both.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "<script>&", "tab\tnl\n", "\x00\x1f", "é✓🐢", "\u2028\u2029", "bad\xffutf8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(nil, s)
		want, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Fatalf("String(%q) = %s, encoding/json gives %s", s, got, want)
		}
	})
}

// Number writes numbers as encoding/json does (PocketBase's form):
// SDKs and tools compare the text, not only the value.
func FuzzNumber(f *testing.F) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1, 1234567.5, 0.1, 1e-7, 1.5e-7, 123456789012345678, 1e21, -2.5e22, 1e15, 999999999999999.9, 3.14159, -0.000001} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return // not JSON: number fields refuse them
		}
		got := Number(nil, v)
		want, _ := json.Marshal(v)
		if string(got) != string(want) {
			t.Fatalf("Number(%v) = %s, encoding/json writes %s", v, got, want)
		}
	})
}

// Value writes a record's field values as encoding/json does.
func TestValue(t *testing.T) {
	for _, v := range []any{"a<b", 2.5, float64(3), true, []string{"x", "y\n"}, []string{}, nil,
		json.RawMessage(`{"k":[1,2]}`), map[string]any{"b": 1.0, "a": "z"}, []any{1.0, "two"}} {
		got := Value(nil, v)
		want, _ := json.Marshal(v)
		if string(got) != string(want) {
			t.Errorf("Value(%#v) = %s, encoding/json writes %s", v, got, want)
		}
	}
	if got := Value(nil, json.RawMessage(nil)); string(got) != "null" {
		t.Errorf("empty raw JSON: %s, want null", got)
	}
}
