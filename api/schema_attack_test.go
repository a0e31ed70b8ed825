package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// A view query is SQL: no reading of its text keeps it from the system
// tables (a JSON escape of the name, PostgreSQL's U&"…" identifiers,
// query_to_xml over a concatenated name, schema_to_xml of everything), so
// an API key, which must never reach them, writes no view query and dry
// runs none, by any route; it may still change a view's other options.
// A superuser logged in with their account may.
func TestAPIKeyCannotWriteViewQueries(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		var root keyAnswer
		s.Super("POST", "/api/keys", map[string]any{"name": "ops", "superuser": true}, 200, &root)
		key := "Bearer " + root.Key
		queries := map[string]string{
			"json escape":       `SELECT id, tokenKey AS k, password AS p FROM \u005fsuperusers`,
			"collections table": `SELECT id, data AS v FROM _collections`,
			"plain":             `SELECT id, title FROM posts`,
		}
		if s.App.Config.IsPostgres() {
			queries["unicode identifier"] = `SELECT id, \"tokenKey\" AS k FROM U&\"\\005fsuperusers\"`
			queries["query_to_xml"] = `SELECT '1' AS id, query_to_xml('select * from _super' || 'users', true, true, '') AS v`
			queries["schema_to_xml"] = `SELECT '1' AS id, schema_to_xml('public', true, true, '') AS v`
		}
		for name, q := range queries {
			routes := map[string][2]string{
				"dry run": {"POST /api/collections/meta/dry-run-view", `{"query":"` + q + `"}`},
				"create":  {"POST /api/collections", `{"name":"leak","type":"view","listRule":"","viewQuery":"` + q + `"}`},
				"import":  {"PUT /api/collections/import", `{"collections":[{"name":"leak","type":"view","listRule":"","viewQuery":"` + q + `"}]}`},
			}
			for route, req := range routes {
				method, path, _ := strings.Cut(req[0], " ")
				r := s.Request(method, path, key, req[1])
				if r.Status != 403 {
					t.Errorf("%s, %s: status %d: %.300s", name, route, r.Status, r.Body)
				}
			}
		}
		s.Super("GET", "/api/collections/leak", nil, 404, nil)

		// A view a superuser wrote: the key changes its rules, not its query.
		var view map[string]any
		s.Super("POST", "/api/collections", map[string]any{"name": "titles", "type": "view", "viewQuery": "SELECT id, title FROM posts"}, 200, &view)
		s.Do("PATCH", "/api/collections/titles", key, map[string]any{"listRule": ""}, 200, nil)
		s.Do("PATCH", "/api/collections/titles", key, map[string]any{"listRule": "", "viewQuery": view["viewQuery"]}, 200, nil)
		s.Do("PUT", "/api/collections/import", key, map[string]any{"collections": []any{map[string]any{"name": "titles", "type": "view", "viewQuery": view["viewQuery"], "viewRule": ""}}}, 204, nil)
		if r := s.Request("PATCH", "/api/collections/titles", key, `{"viewQuery":"SELECT id, data AS title FROM _collections"}`); r.Status != 403 {
			t.Errorf("update: status %d: %.300s", r.Status, r.Body)
		}
		if r := s.Request("PUT", "/api/collections/import", key, `{"collections":[{"name":"titles","type":"view","viewQuery":"SELECT id, data AS title FROM _collections"}]}`); r.Status != 403 {
			t.Errorf("import over the view: status %d: %.300s", r.Status, r.Body)
		}
		var l list
		s.Super("GET", "/api/collections/titles/records", nil, 200, &l)
		s.Super("GET", "/api/collections/titles", nil, 200, &view)
		if view["viewQuery"] != "SELECT id, title FROM posts" || view["listRule"] != "" || view["viewRule"] != "" {
			t.Errorf("the view after the key's changes: %v", view)
		}

		// The superuser's own account may.
		s.Super("POST", "/api/collections/meta/dry-run-view", map[string]any{"query": "SELECT id, data AS v FROM _collections"}, 200, nil)
	})
}

// The system collections a key's definition may not name are looked for
// in the JSON as it decodes, not in its bytes: "\u005fsuperusers" is
// "_superusers".
func TestAPIKeyCannotNameSystemCollectionsInJSONEscapes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		var root keyAnswer
		s.Super("POST", "/api/keys", map[string]any{"name": "ops", "superuser": true}, 200, &root)
		key := "Bearer " + root.Key
		for name, body := range map[string]string{
			"rule":     `{"name":"probe","listRule":"@collection.\u005fsuperusers.tokenKey ~ 'a%'"}`,
			"relation": `{"name":"probe","fields":[{"name":"k","type":"relation","collectionId":"\u005fapiKeys","maxSelect":1}]}`,
		} {
			if r := s.Request("POST", "/api/collections", key, body); r.Status != 403 {
				t.Errorf("%s: status %d: %.300s", name, r.Status, r.Body)
			}
		}
		s.Super("GET", "/api/collections/probe", nil, 404, nil)
	})
}

// An imported view query is checked as a created one: one SELECT, or the
// drivers, which paste it into CREATE VIEW and run that as a script, would
// run what follows a ';' in the import's transaction (on PostgreSQL a
// DELETE, an UPDATE of _superusers, a COPY … TO PROGRAM).
func TestImportViewQueryIsOneSelect(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		create(t, s, "posts", map[string]any{"title": "keep", "slug": "keep"})
		for _, q := range []string{
			"SELECT id, created, updated FROM posts) AS _view; DELETE FROM posts; SELECT * FROM (SELECT 1",
			"DELETE FROM posts RETURNING id, created, updated",
		} {
			var e errBody
			s.Super("PUT", "/api/collections/import", map[string]any{"collections": []any{
				map[string]any{"name": "inj", "type": "view", "viewQuery": q},
			}}, 400, &e)
			if e.Data["collections.0.viewQuery"].Code == "" {
				t.Errorf("%q: %+v", q, e)
			}
		}
		s.Super("GET", "/api/collections/inj", nil, 404, nil)
		var l list
		s.Super("GET", "/api/collections/posts/records", nil, 200, &l)
		if l.TotalItems != 1 {
			t.Errorf("posts after the refused imports: %d", l.TotalItems)
		}
	})
}

// An imported view's fields come from its query, as a created view's do,
// whether new or already there: an exported view imports as it was.
func TestImportViewDerivesFields(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		create(t, s, "posts", map[string]any{"title": "hello", "slug": "hello", "views": 3})
		s.Super("PUT", "/api/collections/import", map[string]any{"collections": []any{
			map[string]any{"name": "titles", "type": "view", "listRule": "", "viewQuery": "SELECT id, title FROM posts"},
		}}, 204, nil)
		var l list
		s.Do("GET", "/api/collections/titles/records", "", nil, 200, &l)
		if l.TotalItems != 1 || l.Items[0]["title"] != "hello" {
			t.Errorf("imported view: %+v", l)
		}
		// A new query over the same view re-derives its fields.
		s.Super("PUT", "/api/collections/import", map[string]any{"collections": []any{
			map[string]any{"name": "titles", "type": "view", "listRule": "", "viewQuery": "SELECT id, views FROM posts"},
		}}, 204, nil)
		s.Do("GET", "/api/collections/titles/records", "", nil, 200, &l)
		if l.TotalItems != 1 || l.Items[0]["views"] != 3.0 {
			t.Errorf("re-imported view: %+v", l)
		}
		// A view over a collection the same import creates.
		s.Super("PUT", "/api/collections/import", map[string]any{"collections": []any{
			map[string]any{"name": "notes", "fields": []any{map[string]any{"name": "body", "type": "text"}}},
			map[string]any{"name": "note_bodies", "type": "view", "viewQuery": "SELECT id, body FROM notes",
				"fields": []any{map[string]any{"name": "body", "type": "text"}}},
		}}, 204, nil)
		s.Super("GET", "/api/collections/note_bodies/records", nil, 200, &l)
	})
}

// On PostgreSQL a view runs its query at each read on the pool's
// connections, so a view calling set_config(…, false) would leave every
// connection that read it with another search_path and break the whole
// app; a view query calling a volatile function is refused, and the app
// keeps working.
func TestViewQueryCallsNoVolatileFunction(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "postgres")
	blogSchema(t, s)
	create(t, s, "posts", map[string]any{"title": "keep", "slug": "keep"})
	for _, q := range []string{
		"SELECT id, set_config('search_path', 'pg_catalog', false) AS x FROM posts",
		"SELECT id, pg_advisory_lock(42) AS x FROM posts",
		"SELECT id, (SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE false) AS x FROM posts",
	} {
		var e errBody
		s.Super("POST", "/api/collections", map[string]any{"name": "poison", "type": "view", "listRule": "", "viewQuery": q}, 400, &e)
		if e.Data["viewQuery"].Code == "" {
			t.Errorf("%q: %+v", q, e)
		}
	}
	s.Super("GET", "/api/collections/poison", nil, 404, nil)
	// Stable functions and aggregates are views' daily bread.
	s.Super("POST", "/api/collections", map[string]any{"name": "fine", "type": "view", "listRule": "",
		"viewQuery": "SELECT id, lower(title) AS t, now() AS at, (SELECT count(*) FROM posts) AS n FROM posts"}, 200, nil)
	for range 20 {
		var l list
		s.Do("GET", "/api/collections/posts/records", "", nil, 200, &l)
		s.Do("GET", "/api/collections/fine/records", "", nil, 200, &l)
	}
}

// A view imported together with the collection it reads could not be run
// before that collection existed, so the volatile check never saw it: an
// import carried set_config(…, false) into a view. The check now also
// runs on every view as the schema change's transaction creates it.
func TestImportedViewCallsNoVolatileFunction(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "postgres")
	var e errBody
	s.Super("PUT", "/api/collections/import", map[string]any{"collections": []any{
		map[string]any{"name": "imp_notes", "type": "base", "fields": []any{map[string]any{"name": "body", "type": "text"}}},
		map[string]any{"name": "imp_poison", "type": "view", "listRule": "",
			"viewQuery": "SELECT id, set_config('search_path', 'pg_catalog', false) AS x FROM imp_notes"},
	}}, 400, &e)
	if b, _ := json.Marshal(e); !strings.Contains(string(b), "set_config") {
		t.Errorf("refused, but not for set_config: %s", b)
	}
	s.Super("GET", "/api/collections/imp_notes", nil, 404, nil)
	s.Super("GET", "/api/collections/imp_poison", nil, 404, nil)
	// Without the poison the same import goes through.
	s.Super("PUT", "/api/collections/import", map[string]any{"collections": []any{
		map[string]any{"name": "imp_notes", "type": "base", "fields": []any{map[string]any{"name": "body", "type": "text"}}},
		map[string]any{"name": "imp_view", "type": "view", "listRule": "", "viewQuery": "SELECT id, lower(body) AS b FROM imp_notes"},
	}}, 204, nil)
}
