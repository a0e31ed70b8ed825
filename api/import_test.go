package api_test

import (
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

func TestImportCollections(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		create(t, s, "authors", map[string]any{"name": "Ann"})
		body := map[string]any{"collections": []any{
			map[string]any{"name": "authors", "listRule": "", "viewRule": "", "fields": []any{
				map[string]any{"name": "name", "type": "text", "required": true},
				map[string]any{"name": "bio", "type": "editor"},
			}},
			map[string]any{"name": "tags", "fields": []any{map[string]any{"name": "label", "type": "text"}}},
		}}
		s.Super("PUT", "/api/collections/import", body, 204, nil)
		var l list
		s.Do("GET", "/api/collections/authors/records", "", nil, 200, &l)
		if l.TotalItems != 1 || l.Items[0]["name"] != "Ann" || l.Items[0]["bio"] != "" {
			t.Errorf("authors after import: %+v", l)
		}
		s.Super("GET", "/api/collections/tags", nil, 200, nil)

		// One bad definition fails the whole import: nothing changes.
		bad := map[string]any{"collections": []any{
			map[string]any{"name": "fresh", "fields": []any{}},
			map[string]any{"name": "broken", "fields": []any{map[string]any{"name": "x", "type": "nope"}}},
		}}
		var e errBody
		s.Super("PUT", "/api/collections/import", bad, 400, &e)
		if e.Data["collections.1.fields.1.type"].Code == "" {
			t.Errorf("import error names the field: %+v", e)
		}
		s.Super("GET", "/api/collections/fresh", nil, 404, nil)

		// deleteMissing drops what is not listed (but not system collections,
		// and not collections something still relates to).
		s.Super("PUT", "/api/collections/import", map[string]any{"deleteMissing": true, "collections": []any{
			map[string]any{"name": "tags"}, map[string]any{"name": "comments"},
		}}, 400, nil)
		s.Super("GET", "/api/collections/posts", nil, 200, nil)
		s.Super("PUT", "/api/collections/import", map[string]any{"deleteMissing": true, "collections": []any{
			map[string]any{"name": "tags"},
		}}, 204, nil)
		s.Super("GET", "/api/collections/authors", nil, 404, nil)
		s.Super("GET", "/api/collections/_superusers", nil, 200, nil)
	})
}
