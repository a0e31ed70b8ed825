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

// Issue 6, finding 12: malformed bodies to the superuser routes answer 400
// with a message naming the JSON field and type, never a Go type; every
// answer carries X-Content-Type-Options: nosniff.
func TestIssue6NoSniffAndNoGoTypes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "users", "type": "auth", "fields": []map[string]any{{"name": "name", "type": "text"}},
		}, 200, nil)
		cases := []struct {
			name, method, path, body string
			want                     string // in the answer: the field named
		}{
			{"collection fields not a list", "POST", "/api/collections", `{"name":"a","fields":5}`, "fields"},
			{"collection field not an object", "POST", "/api/collections", `{"name":"a","fields":[5]}`, "fields"},
			{"collection field name a number", "POST", "/api/collections", `{"name":"a","fields":[{"name":5,"type":"text"}]}`, "name"},
			{"collection field values an object", "POST", "/api/collections", `{"name":"a","fields":[{"name":"s","type":"select","values":{}}]}`, "values"},
			{"collection name a number", "POST", "/api/collections", `{"name":5}`, "name"},
			{"collection indexes an object", "POST", "/api/collections", `{"name":"a","indexes":{"a":1}}`, "indexes"},
			{"collection listRule a list", "POST", "/api/collections", `{"name":"a","listRule":[]}`, "listRule"},
			{"collection system a string", "POST", "/api/collections", `{"name":"a","system":"yes"}`, "system"},
			{"collection body a list", "POST", "/api/collections", `[1,2]`, ""},
			{"collection body broken", "POST", "/api/collections", `{"name":`, ""},
			{"update fields not a list", "PATCH", "/api/collections/users", `{"fields":{}}`, "fields"},
			{"auth identity fields a string", "PATCH", "/api/collections/users", `{"passwordAuth":{"identityFields":"email"}}`, "identityFields"},
			{"auth token duration a string", "PATCH", "/api/collections/users", `{"authToken":{"duration":"1h"}}`, "duration"},
			{"auth oauth2 a number", "PATCH", "/api/collections/users", `{"oauth2":5}`, "oauth2"},
			{"auth providers an object", "PATCH", "/api/collections/users", `{"oauth2":{"providers":{}}}`, "providers"},
			{"settings meta a number", "PATCH", "/api/settings", `{"meta":5}`, "meta"},
			{"settings port a string", "PATCH", "/api/settings", `{"smtp":{"port":"25"}}`, "port"},
			{"settings port a fraction", "PATCH", "/api/settings", `{"smtp":{"port":25.5}}`, "port"},
			{"settings proxies a string", "PATCH", "/api/settings", `{"trustedProxies":"10.0.0.1"}`, "trustedProxies"},
			{"settings rules an object", "PATCH", "/api/settings", `{"rateLimits":{"rules":{}}}`, "rules"},
			{"settings rule a number", "PATCH", "/api/settings", `{"rateLimits":{"rules":[5]}}`, "rules"},
			{"settings body a string", "PATCH", "/api/settings", `"x"`, ""},
			{"import collections a number", "PUT", "/api/collections/import", `{"collections":5}`, "collections"},
			{"import collection a number", "PUT", "/api/collections/import", `{"collections":[5]}`, "collections"},
			{"import fields a number", "PUT", "/api/collections/import", `{"collections":[{"name":"a","fields":5}]}`, "fields"},
			{"import deleteMissing a string", "PUT", "/api/collections/import", `{"collections":[],"deleteMissing":"yes"}`, "deleteMissing"},
			{"keys name a number", "POST", "/api/keys", `{"name":5}`, "name"},
			{"keys collections a string", "POST", "/api/keys", `{"name":"k","collections":"users"}`, "collections"},
			{"keys write a string", "POST", "/api/keys", `{"name":"k","collections":["users"],"write":"yes"}`, "write"},
			{"keys body broken", "POST", "/api/keys", `{"name"`, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				resp := s.With(t).Request(c.method, c.path, s.Token, c.body)
				if resp.Status != 400 {
					t.Fatalf("status %d, want 400: %s", resp.Status, resp.Body)
				}
				body := string(resp.Body)
				for _, goText := range []string{"core.", "service.", "[]", "map[", "struct", "Go value", "Go struct", "int64", "float64", "json:"} {
					if strings.Contains(body, goText) {
						t.Errorf("answer names a Go type (%q): %s", goText, body)
					}
				}
				if c.want != "" && !strings.Contains(body, c.want) {
					t.Errorf("answer does not name %q: %s", c.want, body)
				}
				if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("X-Content-Type-Options = %q on an error", got)
				}
			})
		}
		for _, r := range []struct {
			method, path, token string
			status              int
		}{
			{"GET", "/api/health", "", 200},
			{"GET", "/api/collections", s.Token, 200},
			{"GET", "/api/collections", "", 401},
			{"GET", "/api/nowhere", "", 404},
			{"GET", "/elsewhere", "", 404},
			{"GET", "/api/oauth2-redirect?state=gone&code=x", "", 400},
			{"OPTIONS", "/api/collections", "", 204},
		} {
			resp := s.RequestWithHeaders(r.method, r.path, map[string]string{"Origin": "https://app.example.com", "Authorization": r.token}, nil)
			if resp.Status != r.status {
				t.Errorf("%s %s: status %d, want %d", r.method, r.path, resp.Status, r.status)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s %s: X-Content-Type-Options = %q", r.method, r.path, got)
			}
		}
	})
}
