package api_test

import (
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// reservedColumnNames are the system columns of the engines: PostgreSQL's
// (a user column of that name cannot be created: 500 before issue 6) and
// SQLite's row id aliases (a user column silently shadows the row order).
var reservedColumnNames = []string{"ctid", "XMIN", "xmax", "Cmin", "cmax", "tableoid", "rowid", "OID", "_rowid_"}

// namesField reports whether the error names the field: a data entry for
// a field name whose message quotes it.
func namesField(e errBody, name string) bool {
	for k, v := range e.Data {
		if strings.HasSuffix(k, ".name") && strings.Contains(v.Message, name) {
			return true
		}
	}
	return false
}

// Issue 6, finding 11: a field named like an engine's system column is
// refused with a 400 naming it, on both engines, case-insensitively, in
// create, update and import.
func TestIssue6ReservedFieldNames(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "things", "fields": []map[string]any{{"name": "label", "type": "text"}},
		}, 200, nil)
		for _, name := range reservedColumnNames {
			var e errBody
			s.Super("POST", "/api/collections", map[string]any{
				"name": "c_" + strings.Trim(strings.ToLower(name), "_"), "fields": []map[string]any{{"name": name, "type": "text"}},
			}, 400, &e)
			if !namesField(e, name) {
				t.Errorf("create with field %q: error does not name it: %+v", name, e)
			}
			e = errBody{}
			s.Super("PATCH", "/api/collections/things", map[string]any{
				"fields": []map[string]any{{"name": "label", "type": "text"}, {"name": name, "type": "number"}},
			}, 400, &e)
			if !namesField(e, name) {
				t.Errorf("update with field %q: error does not name it: %+v", name, e)
			}
			e = errBody{}
			s.Super("PUT", "/api/collections/import", map[string]any{"collections": []any{
				map[string]any{"name": "imported", "fields": []map[string]any{{"name": name, "type": "bool"}}},
			}}, 400, &e)
			if !namesField(e, name) {
				t.Errorf("import with field %q: error does not name it: %+v", name, e)
			}
		}
		// Nothing was half made, and the collection still works.
		s.Super("GET", "/api/collections/imported", nil, 404, nil)
		s.Super("POST", "/api/collections/things/records", map[string]any{"label": "x"}, 200, nil)
		// Names that merely contain a reserved one are fine.
		s.Super("PATCH", "/api/collections/things", map[string]any{
			"fields": []map[string]any{{"name": "label", "type": "text"}, {"name": "ctid_ref", "type": "text"}, {"name": "oidc", "type": "text"}},
		}, 200, nil)
	})
}
