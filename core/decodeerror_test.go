package core_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
)

func TestDecodeErrorNamesJSONTypes(t *testing.T) {
	t.Parallel()
	type inner struct {
		Port  int      `json:"port"`
		Ratio *float64 `json:"ratio"`
	}
	type doc struct {
		Name   string            `json:"name"`
		On     bool              `json:"on"`
		List   []inner           `json:"list"`
		Labels map[string]string `json:"labels"`
		Inner  inner             `json:"inner"`
		Blob   []byte            `json:"blob"`
	}
	cases := []struct {
		name, body, field, message string
	}{
		{"string", `{"name":1}`, "name", "name: must be a string."},
		{"boolean", `{"on":"yes"}`, "on", "on: must be a boolean."},
		{"array", `{"list":{}}`, "list", "list: must be an array."},
		{"array element", `{"list":[1]}`, "list", "list: must be an object."},
		{"object", `{"labels":[]}`, "labels", "labels: must be an object."},
		{"nested integer", `{"inner":{"port":1.5}}`, "inner.port", "inner.port: must be an integer."},
		{"pointer to number", `{"inner":{"ratio":"x"}}`, "inner.ratio", "inner.ratio: must be a number."},
		{"bytes", `{"blob":true}`, "blob", "blob: must be a base64 string."},
		{"top level", `[]`, "", "The thing must be an object."},
		{"syntax", `{"name":}`, "", "Malformed JSON at byte 9."},
		{"cut short", `{"name":`, "", "Malformed JSON at byte 8."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d doc
			err := core.DecodeError(json.Unmarshal([]byte(c.body), &d), "thing")
			e := core.AsError(err)
			if e == nil || e.Kind != core.KindInvalid {
				t.Fatalf("got %v, want an invalid *core.Error", err)
			}
			if e.Message != c.message {
				t.Errorf("message %q, want %q", e.Message, c.message)
			}
			if c.field != "" && e.Fields[c.field].Code != "validation_invalid_type" {
				t.Errorf("fields %v, want %s", e.Fields, c.field)
			}
			for _, goText := range []string{"core_test.", "[]", "map[", "struct", "int64", "float64"} {
				if strings.Contains(err.Error(), goText) {
					t.Errorf("names a Go type (%q): %v", goText, err)
				}
			}
		})
	}
	own := core.FieldInvalid("x", "c", "m")
	if err := core.DecodeError(own, "thing"); !errors.Is(err, own) {
		t.Errorf("an *Error is not passed through: %v", err)
	}
}
