package api_test

import (
	"encoding/json"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// A json field's value sent as text (a form, multipart, or a string in a
// JSON body) is read by PocketBase's rules: JSON text is that JSON, other
// text a string. The JS SDK sends JSON.stringify'd values in FormData.
func TestJSONFieldFromText(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "docs", "createRule": "", "updateRule": "", "viewRule": "",
			"fields": []map[string]any{{"name": "meta", "type": "json"}, {"name": "title", "type": "text"}},
		}, 200, nil)
		cases := map[string]string{
			`{"a":[1,2],"b":"x"}`: `{"a":[1,2],"b":"x"}`,
			`[1,"two"]`:           `[1,"two"]`,
			"42":                  `42`,
			"true":                `true`,
			`"42"`:                `"42"`,
			"plain words":         `"plain words"`,
			"":                    `""`,
		}
		check := func(how string, out map[string]any, want string) {
			t.Helper()
			got, _ := json.Marshal(out["meta"])
			var a, b any
			json.Unmarshal(got, &a)
			json.Unmarshal([]byte(want), &b)
			ga, _ := json.Marshal(a)
			gb, _ := json.Marshal(b)
			if string(ga) != string(gb) {
				t.Errorf("%s: meta = %s, want %s", how, got, want)
			}
		}
		for text, want := range cases {
			for _, multi := range []bool{true, false} {
				status, out := form(t, s, "POST", "/api/collections/docs/records", map[string]string{"meta": text, "title": "t"}, multi)
				if status != 200 {
					t.Fatalf("form %q (multipart %v): %d %v", text, multi, status, out)
				}
				check("form "+text, out, want)
				// What was stored reads back the same.
				var got map[string]any
				s.Super("GET", "/api/collections/docs/records/"+out["id"].(string), nil, 200, &got)
				check("read back "+text, got, want)
			}
			var out map[string]any
			s.Do("POST", "/api/collections/docs/records", "", map[string]any{"meta": text}, 200, &out)
			check("JSON body string "+text, out, want)
		}
		// A value that is JSON already is kept as it is, strings included.
		var out map[string]any
		s.Do("POST", "/api/collections/docs/records", "", map[string]any{"meta": map[string]any{"n": "42"}}, 200, &out)
		check("JSON object", out, `{"n":"42"}`)
		// A number beyond a float64 is refused naming the field, in a
		// JSON body; as text it is not a number, so a string.
		for _, body := range []map[string]any{
			{"meta": json.RawMessage(`{"n":1e400}`)},
			{"title": "x", "meta": json.RawMessage(`[1, -2e999]`)},
		} {
			var e errBody
			s.Do("POST", "/api/collections/docs/records", "", body, 400, &e)
			if e.Data["meta"].Code != "validation_invalid_value" {
				t.Errorf("%v: %+v, want meta refused", body, e)
			}
		}
		status, big := form(t, s, "POST", "/api/collections/docs/records", map[string]string{"meta": "1e400"}, true)
		if status != 200 {
			t.Fatalf("form 1e400: %d %v", status, big)
		}
		check("form 1e400", big, `"1e400"`)
		// Bytes that are not UTF-8 are refused, as a text field refuses them.
		for _, multi := range []bool{true, false} {
			status, out := form(t, s, "POST", "/api/collections/docs/records", map[string]string{"meta": "a\xffb"}, multi)
			data, _ := out["data"].(map[string]any)
			if status != 400 || data["meta"] == nil {
				t.Errorf("invalid UTF-8 (multipart %v): %d %v", multi, status, out)
			}
		}
		// An update by form too.
		status, upd := form(t, s, "PATCH", "/api/collections/docs/records/"+out["id"].(string), map[string]string{"meta": `{"n":42}`}, true)
		if status != 200 {
			t.Fatalf("update: %d %v", status, upd)
		}
		check("update", upd, `{"n":42}`)
	})
}
