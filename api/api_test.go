package api_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// forEachEngine runs fn against a fresh server on SQLite and on PostgreSQL.
func forEachEngine(t *testing.T, fn func(t *testing.T, s *testkit.Server)) {
	t.Helper()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fn(t, testkit.NewServer(t, engine))
		})
	}
}

type errBody struct {
	Status  int                                       `json:"status"`
	Message string                                    `json:"message"`
	Data    map[string]struct{ Code, Message string } `json:"data"`
}

type list struct {
	Page, PerPage, TotalItems, TotalPages int
	Items                                 []map[string]any
}

func ids(l list) []string {
	var out []string
	for _, it := range l.Items {
		out = append(out, it["id"].(string))
	}
	return out
}

// blogSchema creates authors, posts (relating to authors) and comments
// (relating to posts), public to read, superusers-only to write.
func blogSchema(t testing.TB, s *testkit.Server) {
	t.Helper()
	s.Super("POST", "/api/collections", map[string]any{
		"name": "authors", "listRule": "", "viewRule": "",
		"fields": []map[string]any{{"name": "name", "type": "text", "required": true}, {"name": "rank", "type": "number"}},
	}, 200, nil)
	s.Super("POST", "/api/collections", map[string]any{
		"name": "posts", "listRule": "", "viewRule": "",
		"fields": []map[string]any{
			{"name": "title", "type": "text", "required": true, "max": 50},
			{"name": "slug", "type": "text"},
			{"name": "status", "type": "select", "values": []string{"draft", "published"}, "maxSelect": 1},
			{"name": "tags", "type": "select", "values": []string{"go", "db", "web"}, "maxSelect": 3},
			{"name": "views", "type": "number", "onlyInt": true, "min": 0},
			{"name": "author", "type": "relation", "collectionId": "authors", "maxSelect": 1},
			{"name": "meta", "type": "json"},
			{"name": "secret", "type": "text", "hidden": true},
		},
		"indexes": []string{"CREATE UNIQUE INDEX idx_posts_slug ON posts (slug)"},
	}, 200, nil)
	s.Super("POST", "/api/collections", map[string]any{
		"name": "comments", "listRule": "", "viewRule": "",
		"fields": []map[string]any{
			{"name": "message", "type": "text"},
			{"name": "post", "type": "relation", "collectionId": "posts", "maxSelect": 1, "cascadeDelete": true},
		},
	}, 200, nil)
}

func create(t *testing.T, s *testkit.Server, coll string, body map[string]any) map[string]any {
	t.Helper()
	var rec map[string]any
	s.Super("POST", "/api/collections/"+coll+"/records", body, 200, &rec)
	return rec
}

func TestRecordsCRUD(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		ann := create(t, s, "authors", map[string]any{"name": "Ann", "rank": 2})
		post := create(t, s, "posts", map[string]any{"title": "Hello", "slug": "hello", "status": "published",
			"tags": []string{"go", "db"}, "views": 3, "author": ann["id"], "meta": map[string]any{"a": 1}, "secret": "s3"})
		id := post["id"].(string)
		if len(id) != 15 || post["collectionName"] != "posts" || post["collectionId"] == "" {
			t.Fatalf("record shape: %v", post)
		}
		if _, leaked := post["secret"]; !leaked {
			t.Errorf("superuser should see hidden field: %v", post)
		}
		var guest map[string]any
		s.Do("GET", "/api/collections/posts/records/"+id, "", nil, 200, &guest)
		if _, leaked := guest["secret"]; leaked {
			t.Errorf("guest sees hidden field: %v", guest)
		}
		if guest["title"] != "Hello" || guest["views"] != 3.0 || fmt.Sprint(guest["tags"]) != "[go db]" {
			t.Errorf("values: %v", guest)
		}
		var upd map[string]any
		s.Super("PATCH", "/api/collections/posts/records/"+id, map[string]any{"views+": 2, "tags-": "db", "title": "Hi"}, 200, &upd)
		if upd["views"] != 5.0 || fmt.Sprint(upd["tags"]) != "[go]" || upd["title"] != "Hi" {
			t.Errorf("update: %v", upd)
		}
		if upd["created"] != post["created"] || upd["updated"] == "" {
			t.Errorf("autodates: created %v→%v updated %v", post["created"], upd["created"], upd["updated"])
		}
		s.Super("DELETE", "/api/collections/posts/records/"+id, nil, 204, nil)
		s.Super("GET", "/api/collections/posts/records/"+id, nil, 404, nil)
	})
}

func TestClientSuppliedID(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		rec := create(t, s, "authors", map[string]any{"id": "abcdefghij12345", "name": "X"})
		if rec["id"] != "abcdefghij12345" {
			t.Errorf("id = %v", rec["id"])
		}
		for _, bad := range []string{"short", "UPPERCASEUPPERC", "abcdefghij1234'"} {
			var e errBody
			s.Super("POST", "/api/collections/authors/records", map[string]any{"id": bad, "name": "Y"}, 400, &e)
			if e.Data["id"].Code == "" {
				t.Errorf("id %q: error data %v", bad, e.Data)
			}
		}
		var e errBody
		s.Super("POST", "/api/collections/authors/records", map[string]any{"id": "abcdefghij12345", "name": "dup"}, 400, &e)
		if e.Data["id"].Code != "validation_not_unique" {
			t.Errorf("duplicate id: %+v", e)
		}
	})
}

func TestListFilterSortPaging(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		for i := 1; i <= 25; i++ {
			create(t, s, "posts", map[string]any{"title": fmt.Sprintf("post %02d", i), "views": i, "slug": fmt.Sprint(i),
				"status": map[bool]string{true: "published", false: "draft"}[i%2 == 0]})
		}
		var l list
		s.Do("GET", "/api/collections/posts/records?perPage=10&page=2&sort=-views", "", nil, 200, &l)
		if l.Page != 2 || l.PerPage != 10 || l.TotalItems != 25 || l.TotalPages != 3 || len(l.Items) != 10 || l.Items[0]["views"] != 15.0 {
			t.Errorf("page: %+v first=%v", l, l.Items[0]["views"])
		}
		s.Do("GET", "/api/collections/posts/records?filter="+q(`status = "published" && views >= 10`)+"&sort=views", "", nil, 200, &l)
		if l.TotalItems != 8 || l.Items[0]["views"] != 10.0 {
			t.Errorf("filtered: total %d first %v", l.TotalItems, l.Items[0]["views"])
		}
		s.Do("GET", "/api/collections/posts/records?skipTotal=1&perPage=5", "", nil, 200, &l)
		if l.TotalItems != -1 || l.TotalPages != -1 || len(l.Items) != 5 {
			t.Errorf("skipTotal: %+v", l)
		}
		s.Do("GET", "/api/collections/posts/records?perPage=5000", "", nil, 200, &l)
		if l.PerPage != 1000 || len(l.Items) != 25 {
			t.Errorf("perPage clamp: %d items %d", l.PerPage, len(l.Items))
		}
		var trimmed list
		s.Do("GET", "/api/collections/posts/records?fields=id,title&perPage=1", "", nil, 200, &trimmed)
		if len(trimmed.Items[0]) != 2 {
			t.Errorf("fields: %v", trimmed.Items[0])
		}
		s.Do("GET", "/api/collections/posts/records?sort=@random&perPage=3", "", nil, 200, &l)
		if len(l.Items) != 3 {
			t.Errorf("random sort: %d items", len(l.Items))
		}
	})
}

func q(s string) string {
	return strings.NewReplacer(" ", "%20", "&", "%26", "\"", "%22", "=", "%3D", ">", "%3E", "<", "%3C", "~", "%7E", "{", "%7B", "}", "%7D").Replace(s)
}

func TestExpand(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		ann := create(t, s, "authors", map[string]any{"name": "Ann"})
		p := create(t, s, "posts", map[string]any{"title": "P", "author": ann["id"], "slug": "p"})
		create(t, s, "comments", map[string]any{"message": "c1", "post": p["id"]})
		create(t, s, "comments", map[string]any{"message": "c2", "post": p["id"]})
		var rec map[string]any
		s.Do("GET", "/api/collections/posts/records/"+p["id"].(string)+"?expand=author,comments_via_post", "", nil, 200, &rec)
		exp, _ := rec["expand"].(map[string]any)
		if a, _ := exp["author"].(map[string]any); a["name"] != "Ann" {
			t.Errorf("expand author: %v", rec["expand"])
		}
		if cs, _ := exp["comments_via_post"].([]any); len(cs) != 2 {
			t.Errorf("expand back-relation: %v", rec["expand"])
		}
		var l list
		s.Do("GET", "/api/collections/comments/records?expand=post.author&sort=message", "", nil, 200, &l)
		post := l.Items[0]["expand"].(map[string]any)["post"].(map[string]any)
		if post["expand"].(map[string]any)["author"].(map[string]any)["name"] != "Ann" {
			t.Errorf("nested expand: %v", l.Items[0])
		}
		s.Do("GET", "/api/collections/posts/records?expand=nope", "", nil, 400, nil)
		s.Do("GET", "/api/collections/posts/records?expand=a.b.c.d.e.f.g", "", nil, 400, nil)
	})
}

func TestAccessRules(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "notes", "fields": []map[string]any{{"name": "text", "type": "text"}, {"name": "public", "type": "bool"}},
			"listRule": "public = true", "viewRule": "public = true", "createRule": "text != 'forbidden'",
			"updateRule": "public = true", "deleteRule": nil,
		}, 200, nil)
		pub := create(t, s, "notes", map[string]any{"text": "a", "public": true})
		priv := create(t, s, "notes", map[string]any{"text": "b", "public": false})
		var l list
		s.Do("GET", "/api/collections/notes/records", "", nil, 200, &l)
		if l.TotalItems != 1 || ids(l)[0] != pub["id"] {
			t.Errorf("list rule: %+v", l)
		}
		s.Do("GET", "/api/collections/notes/records/"+priv["id"].(string), "", nil, 404, nil)
		s.Do("GET", "/api/collections/notes/records/"+pub["id"].(string), "", nil, 200, nil)
		s.Do("POST", "/api/collections/notes/records", "", map[string]any{"text": "forbidden"}, 400, nil)
		s.Do("POST", "/api/collections/notes/records", "", map[string]any{"text": "fine"}, 200, nil)
		s.Do("PATCH", "/api/collections/notes/records/"+priv["id"].(string), "", map[string]any{"text": "x"}, 404, nil)
		s.Do("PATCH", "/api/collections/notes/records/"+pub["id"].(string), "", map[string]any{"text": "x"}, 200, nil)
		s.Do("DELETE", "/api/collections/notes/records/"+pub["id"].(string), "", nil, 403, nil)
		// The failed create left nothing behind.
		s.Super("GET", "/api/collections/notes/records?filter="+q("text='forbidden'"), nil, 200, &l)
		if l.TotalItems != 0 {
			t.Errorf("rejected create was stored: %+v", l)
		}
		// Superusers-only collections refuse guests with 403.
		s.Do("GET", "/api/collections/_superusers/records", "", nil, 403, nil)
	})
}

func TestBadInputGets4xx(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		create(t, s, "posts", map[string]any{"title": "one", "slug": "one"})
		tests := []struct {
			name, method, path string
			body               any
			status             int
			field              string
		}{
			{"malformed json", "POST", "/api/collections/posts/records", "{bad", 400, ""},
			{"json array", "POST", "/api/collections/posts/records", "[1,2]", 400, ""},
			{"unknown field", "POST", "/api/collections/posts/records", map[string]any{"title": "x", "nope": 1}, 400, "nope"},
			{"wrong type", "POST", "/api/collections/posts/records", map[string]any{"title": map[string]any{}}, 400, "title"},
			{"number as object", "POST", "/api/collections/posts/records", map[string]any{"title": "x", "views": []any{1}}, 400, "views"},
			{"required", "POST", "/api/collections/posts/records", map[string]any{"slug": "z"}, 400, "title"},
			{"too long", "POST", "/api/collections/posts/records", map[string]any{"title": strings.Repeat("x", 51)}, 400, "title"},
			{"bad select", "POST", "/api/collections/posts/records", map[string]any{"title": "x", "status": "gone"}, 400, "status"},
			{"too many selects", "POST", "/api/collections/posts/records", map[string]any{"title": "x", "tags": []string{"go", "db", "web", "x"}}, 400, "tags"},
			{"below min", "POST", "/api/collections/posts/records", map[string]any{"title": "x", "views": -1}, 400, "views"},
			{"not int", "POST", "/api/collections/posts/records", map[string]any{"title": "x", "views": 1.5}, 400, "views"},
			{"missing relation", "POST", "/api/collections/posts/records", map[string]any{"title": "x", "author": "aaaaaaaaaaaaaaa"}, 400, "author"},
			{"duplicate unique", "POST", "/api/collections/posts/records", map[string]any{"title": "x", "slug": "one"}, 400, "slug"},
			{"bad filter", "GET", "/api/collections/posts/records?filter=" + q("title ==== 1"), nil, 400, "filter"},
			{"unknown filter field", "GET", "/api/collections/posts/records?filter=" + q("nope = 1"), nil, 400, "filter"},
			{"hidden filter field", "GET", "/api/collections/posts/records?filter=" + q("secret = 's3'"), nil, 400, "filter"},
			{"bad sort", "GET", "/api/collections/posts/records?sort=nope", nil, 400, "sort"},
			{"bad page", "GET", "/api/collections/posts/records?page=x", nil, 400, "page"},
			{"unknown collection", "GET", "/api/collections/nope/records", nil, 404, ""},
			{"unknown record", "GET", "/api/collections/posts/records/nope", nil, 404, ""},
			{"unknown route", "GET", "/api/nothing", nil, 404, ""},
			{"huge body", "POST", "/api/collections/posts/records", `{"title":"` + strings.Repeat("x", 33<<20) + `"}`, 413, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp := s.Request(tt.method, tt.path, "", tt.body)
				if tt.method == "POST" {
					resp = s.Request(tt.method, tt.path, s.Token, tt.body)
				}
				if resp.Status != tt.status {
					t.Fatalf("status %d, want %d: %s", resp.Status, tt.status, resp.Body)
				}
				var e errBody
				if err := json.Unmarshal(resp.Body, &e); err != nil || e.Status != tt.status || e.Message == "" {
					t.Fatalf("error shape: %s", resp.Body)
				}
				if tt.field != "" && e.Data[tt.field].Code == "" {
					t.Errorf("want data.%s in %s", tt.field, resp.Body)
				}
			})
		}
		var l list
		s.Super("GET", "/api/collections/posts/records", nil, 200, &l)
		if l.TotalItems != 1 {
			t.Errorf("rejected writes were stored: %d records", l.TotalItems)
		}
	})
}

func TestCollectionsLiveMigration(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		p := create(t, s, "posts", map[string]any{"title": "keep me", "slug": "k", "views": 7, "tags": []string{"go"}})
		var col map[string]any
		s.Super("GET", "/api/collections/posts", nil, 200, &col)
		fields := col["fields"].([]any)
		var kept []any
		for _, f := range fields {
			fm := f.(map[string]any)
			switch fm["name"] {
			case "title":
				fm["name"] = "headline" // rename keeps data
			case "views":
				continue // removed
			}
			kept = append(kept, fm)
		}
		kept = append(kept, map[string]any{"name": "subtitle", "type": "text"})
		s.Super("PATCH", "/api/collections/posts", map[string]any{"name": "articles", "fields": kept, "indexes": []string{}}, 200, nil)
		var rec map[string]any
		s.Super("GET", "/api/collections/articles/records/"+p["id"].(string), nil, 200, &rec)
		if rec["headline"] != "keep me" || rec["subtitle"] != "" || rec["views"] != nil || fmt.Sprint(rec["tags"]) != "[go]" {
			t.Errorf("after migration: %v", rec)
		}
		// Unique index dropped: the duplicate slug is accepted now.
		create(t, s, "articles", map[string]any{"headline": "two", "slug": "k"})
		s.Super("GET", "/api/collections/posts", nil, 404, nil)

		// A failing change leaves the collection as it was.
		var e errBody
		s.Super("PATCH", "/api/collections/articles", map[string]any{"listRule": "nope = 1"}, 400, &e)
		if e.Data["listRule"].Code == "" {
			t.Errorf("bad rule error: %+v", e)
		}
		s.Super("PATCH", "/api/collections/articles", map[string]any{"indexes": []string{"DROP TABLE articles"}}, 400, nil)
		s.Super("GET", "/api/collections/articles/records/"+p["id"].(string), nil, 200, nil)

		// System collections stay whole.
		s.Super("DELETE", "/api/collections/_superusers", nil, 400, nil)
		s.Super("PATCH", "/api/collections/_superusers", map[string]any{"name": "admins"}, 400, nil)
		s.Super("PATCH", "/api/collections/_superusers", map[string]any{"listRule": ""}, 400, nil)
		var su map[string]any
		s.Super("PATCH", "/api/collections/_superusers", map[string]any{"indexes": []string{}}, 200, &su)
		if len(su["indexes"].([]any)) != 2 {
			t.Errorf("superusers lost their unique indexes: %v", su["indexes"])
		}
		var dup errBody
		s.Super("POST", "/api/collections/_superusers/records", map[string]any{"email": strings.ToUpper(testkit.SuperuserEmail), "password": "another-pass-1"}, 400, &dup)
		if dup.Data["email"].Code != "validation_not_unique" {
			t.Errorf("duplicate email in another case: %+v", dup)
		}
		// A collection others relate to cannot be deleted.
		s.Super("DELETE", "/api/collections/authors", nil, 400, nil)
		s.Super("DELETE", "/api/collections/comments", nil, 204, nil)
		s.Super("DELETE", "/api/collections/articles", nil, 204, nil)
	})
}

func TestCollectionValidation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		tests := []struct {
			name  string
			body  any
			field string
		}{
			{"no name", map[string]any{"fields": []any{}}, "name"},
			{"bad name", map[string]any{"name": "a-b"}, "name"},
			{"system name", map[string]any{"name": "_mine"}, "name"},
			{"taken name", map[string]any{"name": "_SUPERUSERS"}, "name"},
			{"bad type", map[string]any{"name": "x", "type": "graph"}, "type"},
			{"unknown field type", map[string]any{"name": "x", "fields": []any{map[string]any{"name": "a", "type": "blob"}}}, "fields.1.type"},
			{"dup field", map[string]any{"name": "x", "fields": []any{map[string]any{"name": "a", "type": "text"}, map[string]any{"name": "A", "type": "text"}}}, "fields.2.name"},
			{"reserved field", map[string]any{"name": "x", "fields": []any{map[string]any{"name": "expand", "type": "text"}}}, "fields.1.name"},
			{"relation target", map[string]any{"name": "x", "fields": []any{map[string]any{"name": "r", "type": "relation", "collectionId": "nope"}}}, "fields.1.collectionId"},
			{"select values", map[string]any{"name": "x", "fields": []any{map[string]any{"name": "s", "type": "select"}}}, "fields.1.values"},
			{"bad rule", map[string]any{"name": "x", "listRule": "a ="}, "listRule"},
			{"wrong json type", map[string]any{"name": 5}, "name"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var e errBody
				s.Super("POST", "/api/collections", tt.body, 400, &e)
				if e.Data[tt.field].Code == "" {
					t.Errorf("want data.%s, got %+v", tt.field, e)
				}
			})
		}
		s.Do("GET", "/api/collections", "", nil, 401, nil)
		s.Do("GET", "/api/collections", "not-a-token", nil, 401, nil)
		var l struct {
			TotalItems int
			Items      []map[string]any
		}
		s.Super("GET", "/api/collections?filter="+q("system = true"), nil, 200, &l)
		var names []string
		for _, it := range l.Items {
			names = append(names, it["name"].(string))
		}
		sort.Strings(names)
		if fmt.Sprint(names) != "[_apiKeys _authOrigins _externalAuths _mfas _otps _superusers]" {
			t.Errorf("system collections: %v", names)
		}
	})
}
