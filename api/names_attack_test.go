package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// An index over more columns than PostgreSQL allows (32) is refused with a
// 400 on the indexes, on both engines, and nothing is created; 32 is fine.
func TestIndexColumnLimit(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		fields := make([]map[string]any, 0, 33)
		names := make([]string, 0, 33)
		for i := range 33 {
			fields = append(fields, map[string]any{"name": fmt.Sprintf("f%d", i), "type": "text"})
			names = append(names, fmt.Sprintf("f%d", i))
		}
		var e errBody
		s.Super("POST", "/api/collections", map[string]any{"name": "wide", "fields": fields,
			"indexes": []string{"CREATE INDEX wide_all ON wide (" + strings.Join(names, ", ") + ")"}}, 400, &e)
		if e.Data["indexes"].Code != "validation_invalid_index" {
			t.Errorf("33 columns: error does not name the index: %+v", e)
		}
		s.Super("GET", "/api/collections/wide", nil, 404, nil)
		s.Super("POST", "/api/collections", map[string]any{"name": "wide", "fields": fields,
			"indexes": []string{"CREATE INDEX wide_all ON wide (" + strings.Join(names[:32], ", ") + ")"}}, 200, nil)
	})
}

// A field whose name is one the store uses for a column in the middle of
// a migration (PostgreSQL renames through temporary columns) keeps its
// data when another field is renamed.
func TestFieldNamedLikeTemporaryColumn(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{"name": "notes", "fields": []map[string]any{
			{"id": "keep1", "name": "_tortoise_tmp_0", "type": "text"}, {"id": "ren1", "name": "title", "type": "text"}}}, 200, nil)
		var rec map[string]any
		s.Super("POST", "/api/collections/notes/records", map[string]any{"_tortoise_tmp_0": "kept", "title": "hello"}, 200, &rec)
		s.Super("PATCH", "/api/collections/notes", map[string]any{"fields": []map[string]any{
			{"id": "keep1", "name": "_tortoise_tmp_0", "type": "text"}, {"id": "ren1", "name": "heading", "type": "text"}}}, 200, nil)
		var got map[string]any
		s.Super("GET", fmt.Sprintf("/api/collections/notes/records/%s", rec["id"]), nil, 200, &got)
		if got["_tortoise_tmp_0"] != "kept" || got["heading"] != "hello" {
			t.Errorf("after the rename: %v", got)
		}
	})
}

// "_search" is the column PostgreSQL's full-text search keeps in a
// searchable collection's table: a field of that name would be dropped
// (with its data) when search is turned on, and reads would fail. It is
// refused on both engines, in any case, when creating or adding it.
func TestSearchColumnIsReservedFieldName(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		for _, name := range []string{"_search", "_SEARCH"} {
			var e errBody
			s.Super("POST", "/api/collections", map[string]any{"name": "docs", "fields": []map[string]any{
				{"name": "body", "type": "text"}, {"name": name, "type": "text"}},
				"search": map[string]any{"fields": []map[string]any{{"name": "body"}}}}, 400, &e)
			if !namesField(e, name) {
				t.Errorf("create with field %q: error does not name it: %+v", name, e)
			}
		}
		s.Super("POST", "/api/collections", map[string]any{"name": "docs", "fields": []map[string]any{{"name": "body", "type": "text"}}}, 200, nil)
		var e errBody
		s.Super("PATCH", "/api/collections/docs", map[string]any{"fields": []map[string]any{
			{"name": "body", "type": "text"}, {"name": "_search", "type": "text"}}}, 400, &e)
		if !namesField(e, "_search") {
			t.Errorf("update with field _search: error does not name it: %+v", e)
		}
		s.Super("PATCH", "/api/collections/docs", map[string]any{"search": map[string]any{"fields": []map[string]any{{"name": "body"}}}}, 200, nil)
		s.Super("POST", "/api/collections/docs/records", map[string]any{"body": "hello"}, 200, nil)
		var l list
		s.Super("GET", "/api/collections/docs/records?search=hello", nil, 200, &l)
		if l.TotalItems != 1 {
			t.Errorf("search found %d records, want 1", l.TotalItems)
		}
	})
}

// Index names the store gives its own objects (the search index of a
// collection, the table a migration rebuilds into) are refused, so that
// turning search on or rebuilding a table later cannot fail on them.
func TestIndexNamesOfInternalObjectsRefused(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		for _, name := range []string{"_search_pbc_1", "_search_pbc_1_gin", "_SEARCH_x", "_tmp_pbc_1", "river_idx", "_counts"} {
			var e errBody
			s.Super("POST", "/api/collections", map[string]any{"id": "pbc_1", "name": "notes", "fields": []map[string]any{{"name": "t", "type": "text"}},
				"indexes": []string{"CREATE INDEX `" + name + "` ON notes (t)"}}, 400, &e)
			if e.Data["indexes"].Code != "validation_invalid_index" || !strings.Contains(e.Data["indexes"].Message, name) {
				t.Errorf("index %q: error does not name it: %+v", name, e)
			}
		}
		// The collection made without them can turn search on and be rebuilt.
		s.Super("POST", "/api/collections", map[string]any{"id": "pbc_1", "name": "notes", "fields": []map[string]any{{"id": "t1", "name": "t", "type": "text"}},
			"indexes": []string{"CREATE INDEX idx_t ON notes (t)"}}, 200, nil)
		s.Super("PATCH", "/api/collections/notes", map[string]any{"search": map[string]any{"fields": []map[string]any{{"name": "t"}}}}, 200, nil)
		s.Super("PATCH", "/api/collections/notes", map[string]any{"fields": []map[string]any{{"id": "t1", "name": "t2", "type": "text"}},
			"indexes": []string{"CREATE INDEX idx_t ON notes (t2)"}}, 200, nil)
	})
}
