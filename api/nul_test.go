package api_test

import (
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// A value holding the NUL character is refused with a 400 that names the
// field, on both engines, however it is sent: PostgreSQL's text and jsonb
// cannot keep it, and what SQLite kept could not move to PostgreSQL.
func TestNULRefused(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "notes", "createRule": "", "updateRule": "", "listRule": "",
			"fields": []map[string]any{
				{"name": "title", "type": "text"},
				{"name": "body", "type": "editor"},
				{"name": "meta", "type": "json"},
				{"name": "tags", "type": "json"},
			},
		}, 200, nil)
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"text", map[string]any{"title": "a\x00b"}, "title"},
			{"editor", map[string]any{"body": "<p>a\x00</p>"}, "body"},
			{"json string", map[string]any{"meta": map[string]any{"k": []any{"x", "\x00"}}}, "meta"},
			{"json key", map[string]any{"meta": map[string]any{"a\x00": 1}}, "meta"},
		} {
			var e errBody
			s.Do("POST", "/api/collections/notes/records", "", tc.body, 400, &e)
			if e.Data[tc.field].Code != "validation_invalid_value" {
				t.Errorf("%s: %+v, want %s refused", tc.name, e, tc.field)
			}
		}
		for _, multi := range []bool{true, false} {
			status, out := form(t, s, "POST", "/api/collections/notes/records", map[string]string{"title": "a\x00b"}, multi)
			data, _ := out["data"].(map[string]any)
			if status != 400 || data["title"] == nil {
				t.Errorf("form (multipart %v): %d %v", multi, status, out)
			}
		}
		// An update too.
		r := create(t, s, "notes", map[string]any{"title": "ok", "tags": []string{"a"}})
		var e errBody
		s.Do("PATCH", "/api/collections/notes/records/"+r["id"].(string), "", map[string]any{"title": "x\x00"}, 400, &e)
		if e.Data["title"].Code != "validation_invalid_value" {
			t.Errorf("update: %+v", e)
		}
		// Text written with \u0000 escaped by the client is not a NUL.
		create(t, s, "notes", map[string]any{"title": `a\u0000b`, "meta": map[string]any{"k": `\u0000`}})

		var l list
		s.Super("GET", "/api/collections/notes/records", nil, 200, &l)
		if l.TotalItems != 2 {
			t.Errorf("%d records, want the 2 good ones", l.TotalItems)
		}
	})
}
