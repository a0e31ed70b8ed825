package admin_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// The collections pages without a browser: what a form posts is what the
// collections service gets, bad input is a 400 naming the input, and
// nothing changes without the CSRF token.

// colClient is a client signed in as the test server's superuser, with
// the CSRF token its forms carry.
func colClient(t *testing.T, srv *testkit.Server) (*client, string) {
	t.Helper()
	c := newClient(t, srv)
	if a := c.signIn(testkit.SuperuserEmail, testkit.SuperuserPassword, "/admin/"); a.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d\n%s", a.status, clip(a.body, 1000))
	}
	return c, c.formToken("/admin/collections/new")
}

// colEditorForm is the editor's form for a new collection of typ: rules
// unlocked and empty unless set.
func colEditorForm(csrf, name, typ string) url.Values {
	return url.Values{"csrf": {csrf}, "name": {name}, "type": {typ}}
}

// colAddField adds a field row with its options to an editor form.
func colAddField(form url.Values, key, typ, name string, opts map[string]string) {
	form.Add("field", key)
	form.Set("f."+key+".type", typ)
	form.Set("f."+key+".name", name)
	for k, v := range opts {
		form.Set("f."+key+"."+k, v)
	}
}

// colAPI reads a collection through the REST API.
func colAPI(t *testing.T, srv *testkit.Server, name string) map[string]any {
	t.Helper()
	var out map[string]any
	srv.Super("GET", "/api/collections/"+name, nil, http.StatusOK, &out)
	return out
}

// colAPIField is the named field of a collection as the REST API gives it.
func colAPIField(t *testing.T, col map[string]any, name string) map[string]any {
	t.Helper()
	for _, f := range col["fields"].([]any) {
		if m := f.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("collection %v has no field %q", col["name"], name)
	return nil
}

func colEachEngine(t *testing.T, fn func(t *testing.T, srv *testkit.Server)) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fn(t, testkit.NewServer(t, engine))
		})
	}
}

// Every state-changing collections request needs the CSRF token, even
// with the session cookie; nothing changes without it.
func TestCollectionsCSRF(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	srv.Super("POST", "/api/collections", map[string]any{"name": "keep", "fields": []any{}}, http.StatusOK, nil)
	c, csrf := colClient(t, srv)
	form := colEditorForm("", "sneaky", "base")
	colAddField(form, "a", "text", "title", nil)
	for _, path := range []string{"/admin/collections", "/admin/collections/keep", "/admin/collections/keep/delete",
		"/admin/collections/import", "/admin/collections/check-rule"} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("confirm", "keep")
		f.Set("schema", `[{"name":"sneaky"}]`)
		f.Set("check", "listRule")
		if a := c.do("POST", path, f, nil); a.status != http.StatusForbidden {
			t.Errorf("POST %s without the CSRF token: %d, want 403", path, a.status)
		}
		f.Set("csrf", "not-the-token")
		if a := c.do("POST", path, f, nil); a.status != http.StatusForbidden {
			t.Errorf("POST %s with a wrong CSRF token: %d, want 403", path, a.status)
		}
	}
	if a := srv.Super("GET", "/api/collections/sneaky", nil, http.StatusNotFound, nil); a.Status != http.StatusNotFound {
		t.Error("a collection was created without the CSRF token")
	}
	srv.Super("GET", "/api/collections/keep", nil, http.StatusOK, nil)
	// With the token, the same kind of POST goes through.
	form.Set("csrf", csrf)
	if a := c.do("POST", "/admin/collections", form, nil); a.status != http.StatusSeeOther {
		t.Fatalf("POST with the token: %d\n%s", a.status, clip(a.body, 2000))
	}
	colAPI(t, srv, "sneaky")
}

// Bad input is a 400 showing the editor again, as typed, with each
// problem beside its input: a duplicate name, field options the form
// cannot read or the service refuses, a rule that does not parse.
func TestCollectionEditorBadInput(t *testing.T) {
	colEachEngine(t, func(t *testing.T, srv *testkit.Server) {
		srv.Super("POST", "/api/collections", map[string]any{"name": "posts", "fields": []any{}}, http.StatusOK, nil)
		c, csrf := colClient(t, srv)

		cases := []struct {
			name  string
			form  func() url.Values
			input string // the id of the input the error is next to
			want  string
		}{
			{"duplicate name", func() url.Values {
				f := colEditorForm(csrf, "Posts", "base")
				colAddField(f, "a", "text", "title", nil)
				return f
			}, "c-name", "must be unique"},
			{"number option that is not a number", func() url.Values {
				f := colEditorForm(csrf, "scores", "base")
				colAddField(f, "a", "number", "score", map[string]string{"min": "ten"})
				return f
			}, "f-a-min", "Must be a number."},
			{"max below min", func() url.Values {
				f := colEditorForm(csrf, "scores", "base")
				colAddField(f, "a", "text", "title", nil)
				colAddField(f, "b", "number", "score", map[string]string{"min": "10", "max": "5"})
				return f
			}, "f-b-max", "Max must be greater than or equal to min."},
			{"select without values", func() url.Values {
				f := colEditorForm(csrf, "tags", "base")
				colAddField(f, "a", "select", "color", map[string]string{"values": " , "})
				return f
			}, "f-a-values", "needs at least one value"},
			{"bad pattern", func() url.Values {
				f := colEditorForm(csrf, "slugs", "base")
				colAddField(f, "a", "text", "slug", map[string]string{"pattern": "([a-z"})
				return f
			}, "f-a-pattern", "Invalid regular expression."},
			{"relation to nothing", func() url.Values {
				f := colEditorForm(csrf, "links", "base")
				colAddField(f, "a", "relation", "post", map[string]string{"collectionId": "nope"})
				return f
			}, "f-a-collectionId", "Unknown collection"},
			{"field name taken twice", func() url.Values {
				f := colEditorForm(csrf, "twins", "base")
				colAddField(f, "a", "text", "title", nil)
				colAddField(f, "b", "text", "Title", nil)
				return f
			}, "f-b-name", "Duplicated field name"},
			{"rule that does not parse", func() url.Values {
				f := colEditorForm(csrf, "ruled", "base")
				colAddField(f, "a", "text", "title", nil)
				f.Set("listRule", "title ~~ 'x'")
				return f
			}, "r-listRule", "line 1, column 8"},
			{"bad index", func() url.Values {
				f := colEditorForm(csrf, "indexed", "base")
				colAddField(f, "a", "text", "title", nil)
				f.Set("indexes", "CREATE INDEX idx_x ON indexed (nope)")
				return f
			}, "c-indexes", "nope"},
		}
		for _, tc := range cases {
			a := c.do("POST", "/admin/collections", tc.form(), nil)
			if a.status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400\n%s", tc.name, a.status, clip(a.body, 1500))
				continue
			}
			// The message follows the input it is about, which is marked.
			at := strings.Index(a.body, `id="`+tc.input+`"`)
			if at < 0 {
				t.Errorf("%s: the page has no input #%s", tc.name, tc.input)
				continue
			}
			tag := a.body[strings.LastIndex(a.body[:at], "<"):]
			tag = tag[:strings.Index(tag, ">")]
			if !strings.Contains(tag, `aria-invalid="true"`) {
				t.Errorf("%s: #%s is not marked invalid: %s", tc.name, tc.input, tag)
			}
			if rest := a.body[at:]; !strings.Contains(rest[:min(len(rest), 2500)], tc.want) {
				t.Errorf("%s: %q is not shown beside #%s:\n%s", tc.name, tc.want, tc.input, clip(rest, 2500))
			}
		}
		// The collection of a refused form does not exist; the draft is
		// shown again as typed.
		srv.Super("GET", "/api/collections/scores", nil, http.StatusNotFound, nil)
		f := colEditorForm(csrf, "scores", "base")
		colAddField(f, "a", "number", "score", map[string]string{"min": "ten", "max": "99"})
		a := c.do("POST", "/admin/collections", f, nil)
		if !strings.Contains(a.body, `value="score"`) || !strings.Contains(a.body, `value="99"`) || !strings.Contains(a.body, `value="ten"`) {
			t.Errorf("the refused draft is not shown as typed:\n%s", clip(a.body, 3000))
		}
	})
}

// A collection made through the editor with a field of every type has
// each option as the REST API shows it; the editor then shows it back,
// and saving it unchanged changes nothing but the update time.
func TestCollectionEditorFieldTypes(t *testing.T) {
	colEachEngine(t, func(t *testing.T, srv *testkit.Server) {
		var authors struct{ ID string }
		srv.Super("POST", "/api/collections", map[string]any{"name": "authors", "fields": []any{map[string]any{"name": "name", "type": "text"}}},
			http.StatusOK, &authors)
		c, csrf := colClient(t, srv)
		f := colEditorForm(csrf, "everything", "base")
		colAddField(f, "a", "text", "title", map[string]string{"required": "on", "presentable": "on", "min": "3", "max": "80", "pattern": "^[A-Z]", "autogeneratePattern": ""})
		colAddField(f, "b", "editor", "body", map[string]string{"maxSize": "1000", "convertURLs": "on"})
		colAddField(f, "c", "number", "score", map[string]string{"min": "0", "max": "10.5", "onlyInt": "on"})
		colAddField(f, "d", "bool", "done", nil)
		colAddField(f, "e", "email", "contact", map[string]string{"onlyDomains": "example.com, example.org"})
		colAddField(f, "g", "url", "site", map[string]string{"exceptDomains": "bad.example"})
		colAddField(f, "h", "date", "due", map[string]string{"min": "2024-01-01", "max": "2030-12-31 23:59:59"})
		colAddField(f, "i", "autodate", "touched", map[string]string{"onCreate": "on", "onUpdate": "on"})
		colAddField(f, "j", "select", "color", map[string]string{"values": "red, green,blue", "maxSelect": "2"})
		colAddField(f, "k", "file", "photos", map[string]string{"maxSelect": "3", "maxSize": "1048576", "mimeTypes": "image/png, image/jpeg", "thumbs": "100x100", "protected": "on"})
		colAddField(f, "l", "relation", "author", map[string]string{"collectionId": authors.ID, "cascadeDelete": "on", "minSelect": "1", "maxSelect": "2", "required": "on"})
		colAddField(f, "m", "json", "meta", map[string]string{"maxSize": "2048", "hidden": "on"})
		colAddField(f, "n", "geoPoint", "place", nil)
		colAddField(f, "o", "password", "pin", map[string]string{"min": "4", "max": "8", "cost": "11"})
		f.Set("listRule", `@request.auth.id != ""`)
		f.Set("viewRule", "")
		f.Set("createRule.locked", "on")
		f.Set("createRule", "ignored when locked")
		f.Set("updateRule.locked", "on")
		f.Set("deleteRule.locked", "on")
		f.Set("indexes", "CREATE INDEX `idx_everything_title`\n  ON `everything` (`title`)")
		if a := c.do("POST", "/admin/collections", f, nil); a.status != http.StatusSeeOther || a.header.Get("Location") != "/admin/collections/everything?flash=Saved+the+collection+everything." {
			t.Fatalf("create: %d to %q\n%s", a.status, a.header.Get("Location"), clip(a.body, 3000))
		}
		col := colAPI(t, srv, "everything")
		want := map[string]map[string]any{
			"title":   {"type": "text", "required": true, "presentable": true, "min": 3.0, "max": 80.0, "pattern": "^[A-Z]"},
			"body":    {"type": "editor", "maxSize": 1000.0, "convertURLs": true},
			"score":   {"type": "number", "min": 0.0, "max": 10.5, "onlyInt": true},
			"done":    {"type": "bool", "required": false},
			"contact": {"type": "email", "onlyDomains": []any{"example.com", "example.org"}},
			"site":    {"type": "url", "exceptDomains": []any{"bad.example"}},
			"due":     {"type": "date", "min": "2024-01-01 00:00:00.000Z", "max": "2030-12-31 23:59:59.000Z"},
			"touched": {"type": "autodate", "onCreate": true, "onUpdate": true},
			"color":   {"type": "select", "values": []any{"red", "green", "blue"}, "maxSelect": 2.0},
			"photos":  {"type": "file", "maxSelect": 3.0, "maxSize": 1048576.0, "mimeTypes": []any{"image/png", "image/jpeg"}, "thumbs": []any{"100x100"}, "protected": true},
			"author":  {"type": "relation", "collectionId": authors.ID, "cascadeDelete": true, "minSelect": 1.0, "maxSelect": 2.0, "required": true},
			"meta":    {"type": "json", "maxSize": 2048.0, "hidden": true},
			"place":   {"type": "geoPoint"},
			"pin":     {"type": "password", "min": 4.0, "max": 8.0, "cost": 11.0},
		}
		for name, opts := range want {
			got := colAPIField(t, col, name)
			for k, v := range opts {
				if fmt.Sprint(got[k]) != fmt.Sprint(v) {
					t.Errorf("field %s: %s = %v, want %v", name, k, got[k], v)
				}
			}
		}
		if col["listRule"] != `@request.auth.id != ""` || col["viewRule"] != "" || col["createRule"] != nil || col["deleteRule"] != nil {
			t.Errorf("rules: list %#v view %#v create %#v delete %#v", col["listRule"], col["viewRule"], col["createRule"], col["deleteRule"])
		}
		if idx := fmt.Sprint(col["indexes"]); !strings.Contains(idx, "CREATE INDEX `idx_everything_title` ON `everything` (`title`)") {
			t.Errorf("indexes: %s", idx)
		}
		if fields := col["fields"].([]any); fields[0].(map[string]any)["name"] != "id" || len(fields) != 17 {
			t.Errorf("fields: %d, first %v", len(fields), fields[0])
		}

		// The editor shows it back; saving what it shows changes nothing.
		page := c.do("GET", "/admin/collections/everything", nil, nil)
		if page.status != http.StatusOK {
			t.Fatalf("editor: %d", page.status)
		}
		form := colFormOf(t, page.body, "collection-form")
		if a := c.do("POST", "/admin/collections/everything", form, nil); a.status != http.StatusSeeOther {
			t.Fatalf("save unchanged: %d\n%s", a.status, clip(a.body, 3000))
		}
		again := colAPI(t, srv, "everything")
		delete(col, "updated")
		delete(again, "updated")
		if b1, b2 := colJSON(col), colJSON(again); b1 != b2 {
			t.Errorf("saving the editor unchanged changed the collection:\nbefore %s\nafter  %s", b1, b2)
		}

		// Renaming a field keeps its id (and data); moving it moves it.
		keyOf := func(name string) string {
			for _, k := range form["field"] {
				if form.Get("f."+k+".name") == name {
					return k
				}
			}
			t.Fatalf("no row for %s", name)
			return ""
		}
		form.Set("f."+keyOf("score")+".name", "points")
		keys := form["field"]
		i, j := slices.Index(keys, keyOf("place")), slices.Index(keys, keyOf("title"))
		keys[i], keys[j] = keys[j], keys[i]
		if a := c.do("POST", "/admin/collections/everything", form, nil); a.status != http.StatusSeeOther {
			t.Fatalf("rename: %d\n%s", a.status, clip(a.body, 3000))
		}
		renamed := colAPI(t, srv, "everything")
		if colAPIField(t, renamed, "points")["id"] != colAPIField(t, col, "score")["id"] {
			t.Error("the renamed field has a new id")
		}
		var order []string
		for _, f := range renamed["fields"].([]any) {
			order = append(order, f.(map[string]any)["name"].(string))
		}
		if slices.Index(order, "place") > slices.Index(order, "title") {
			t.Errorf("fields after the move: %v", order)
		}
	})
}

// A view collection is made from its query; and every collection, system
// ones included, saves unchanged from its editor as it is shown.
func TestCollectionEditorRoundTrip(t *testing.T) {
	colEachEngine(t, func(t *testing.T, srv *testkit.Server) {
		srv.Super("POST", "/api/collections", map[string]any{"name": "posts", "fields": []any{map[string]any{"name": "title", "type": "text"}}}, http.StatusOK, nil)
		srv.Super("POST", "/api/collections", map[string]any{"name": "members", "type": "auth", "listRule": "id = @request.auth.id ||\n  verified = true"}, http.StatusOK, nil)
		c, csrf := colClient(t, srv)
		f := colEditorForm(csrf, "titles", "view")
		f.Set("viewQuery", "SELECT id, title FROM posts")
		f.Set("viewRule", "title != ''")
		if a := c.do("POST", "/admin/collections", f, nil); a.status != http.StatusSeeOther {
			t.Fatalf("create a view: %d\n%s", a.status, clip(a.body, 3000))
		}
		view := colAPI(t, srv, "titles")
		if view["type"] != "view" || colAPIField(t, view, "title")["type"] != "text" || view["viewRule"] != "title != ''" || view["listRule"] != "" {
			t.Errorf("view: %v", view)
		}
		f.Set("name", "broken")
		f.Set("viewQuery", "DELETE FROM posts")
		if a := c.do("POST", "/admin/collections", f, nil); a.status != http.StatusBadRequest || !strings.Contains(a.body, "one SELECT statement") {
			t.Errorf("a view query that is not a SELECT: %d\n%s", a.status, clip(a.body, 3000))
		}

		var list struct{ Items []struct{ ID, Name string } }
		srv.Super("GET", "/api/collections?perPage=100", nil, http.StatusOK, &list)
		for _, col := range list.Items {
			before := colAPI(t, srv, col.ID)
			page := c.do("GET", "/admin/collections/"+col.ID, nil, nil)
			if page.status != http.StatusOK {
				t.Errorf("%s: editor %d", col.Name, page.status)
				continue
			}
			if a := c.do("POST", "/admin/collections/"+col.ID, colFormOf(t, page.body, "collection-form"), nil); a.status != http.StatusSeeOther {
				t.Errorf("%s: save unchanged: %d\n%s", col.Name, a.status, clip(a.body, 3000))
				continue
			}
			after := colAPI(t, srv, col.ID)
			delete(before, "updated")
			delete(after, "updated")
			if colJSON(before) != colJSON(after) {
				t.Errorf("%s: saving the editor unchanged changed it:\nbefore %s\nafter  %s", col.Name, colJSON(before), colJSON(after))
			}
		}
	})
}

// An auth collection's options: the token durations and password
// sign-in the editor shows are saved; what it does not show (the MFA rule)
// is kept.
func TestCollectionEditorAuthOptions(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	srv.Super("POST", "/api/collections", map[string]any{"name": "members", "type": "auth",
		"fields":  []any{map[string]any{"name": "username", "type": "text"}},
		"indexes": []string{"CREATE UNIQUE INDEX `idx_members_username` ON `members` (`username`)"},
		"mfa":     map[string]any{"enabled": false, "duration": 900, "rule": "verified = true"}}, http.StatusOK, nil)
	c, _ := colClient(t, srv)
	page := c.do("GET", "/admin/collections/members", nil, nil)
	form := colFormOf(t, page.body, "collection-form")
	form.Set("authToken.duration", "3600")
	form.Set("passwordAuth.identityFields", "email, username")
	form.Set("manageRule.locked", "on")
	if a := c.do("POST", "/admin/collections/members", form, nil); a.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", a.status, clip(a.body, 3000))
	}
	col := colAPI(t, srv, "members")
	if got := fmt.Sprint(col["authToken"]); got != "map[duration:3600]" {
		t.Errorf("authToken: %s", got)
	}
	if got := fmt.Sprint(col["passwordAuth"]); got != "map[enabled:true identityFields:[email username]]" {
		t.Errorf("passwordAuth: %s", got)
	}
	if got := fmt.Sprint(col["mfa"]); got != "map[duration:900 enabled:false rule:verified = true]" {
		t.Errorf("mfa: %s", got)
	}
	// A duration out of bounds is named.
	form.Set("authToken.duration", "5")
	a := c.do("POST", "/admin/collections/members", form, nil)
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, "Duration must be between 60") {
		t.Errorf("a 5 s token: %d\n%s", a.status, clip(a.body, 2000))
	}
	// A blank manage rule is refused, beside the rule.
	form.Set("authToken.duration", "3600")
	form.Del("manageRule.locked")
	form.Set("manageRule", "")
	a = c.do("POST", "/admin/collections/members", form, nil)
	if at := strings.Index(a.body, `id="r-manageRule"`); a.status != http.StatusBadRequest || at < 0 || !strings.Contains(a.body[at:], "Cannot be blank") {
		t.Errorf("a blank manage rule: %d\n%s", a.status, clip(a.body, 2000))
	}
}

// The inline check of a rule: parsed and type-checked against the draft
// (a field only the form has counts), a problem given with its line and
// column and marked under the expression.
func TestCollectionRuleCheck(t *testing.T) {
	colEachEngine(t, func(t *testing.T, srv *testkit.Server) {
		c, csrf := colClient(t, srv)
		check := func(rule string, locked bool) string {
			t.Helper()
			f := colEditorForm("", "drafts", "base")
			colAddField(f, "a", "text", "title", nil)
			colAddField(f, "b", "relation", "parent", map[string]string{"collectionId": "drafts"})
			f.Set("check", "listRule")
			f.Set("listRule", rule)
			if locked {
				f.Set("listRule.locked", "on")
			}
			a := c.do("POST", "/admin/collections/check-rule", f, map[string]string{"X-CSRF-Token": csrf, "HX-Request": "true", "HX-Target": "r-listRule-check"})
			if a.status != http.StatusOK {
				t.Fatalf("check %q: %d\n%s", rule, a.status, a.body)
			}
			if strings.Contains(a.body, "<html") {
				t.Fatalf("check %q answers a whole page", rule)
			}
			return a.body
		}
		for _, tc := range []struct{ rule, want string }{
			{"title = ", "line 1, column 9"},
			{"title ~~ 'x'", "line 1, column 8"},
			{"title = 'a' &&\n  nope = 1", "line 2, column 3"},
			{"title = 'a' &&\n  nope = 1", "unknown field &#34;nope&#34;"},
			{"title = 'a' &&\r\n  nope = 1", "line 2, column 3"}, // as a browser sends a textarea
			{"title > 3", "cannot compare"},
		} {
			if got := check(tc.rule, false); !strings.Contains(got, tc.want) || !strings.Contains(got, `class="caret"`) {
				t.Errorf("check %q: want %q with a caret, got\n%s", tc.rule, tc.want, got)
			}
		}
		if got := check("title = ", false); !strings.Contains(got, "title = \n<span class=\"caretmark\">        ^</span>") {
			t.Errorf("the caret is not under the column:\n%s", got)
		}
		for _, tc := range []struct {
			rule   string
			locked bool
			want   string
		}{
			{`title = "x" && parent.title != "" && @request.auth.id != ""`, false, "Valid"},
			{"", false, "Empty: everyone may"},
			{"", true, "Locked: only superusers"},
			{"title = 'x'", true, "valid, but the rule is locked"},
		} {
			if got := check(tc.rule, tc.locked); !strings.Contains(got, tc.want) {
				t.Errorf("check %q (locked %v): want %q, got\n%s", tc.rule, tc.locked, tc.want, got)
			}
		}
	})
}

// Without JavaScript the row buttons post the form: the draft comes back
// with the row added, moved or removed (and the id field it left out
// put back), and nothing is saved.
func TestCollectionEditorWithoutScript(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	c, csrf := colClient(t, srv)
	f := colEditorForm(csrf, "plain", "base")
	colAddField(f, "a", "text", "first", nil)
	colAddField(f, "b", "number", "second", nil)
	f.Set("newType", "relation")
	f.Set("op", "add")
	a := c.do("POST", "/admin/collections", f, nil)
	if a.status != http.StatusOK || strings.Count(a.body, `name="field"`) != 4 || !strings.Contains(a.body, "Related collection") {
		t.Fatalf("add: %d\n%s", a.status, clip(a.body, 3000))
	}
	f.Set("op", "up:b")
	a = c.do("POST", "/admin/collections", f, nil)
	if strings.Index(a.body, `value="second"`) > strings.Index(a.body, `value="first"`) {
		t.Error("up: the second row did not move up")
	}
	f.Set("op", "remove:a")
	a = c.do("POST", "/admin/collections", f, nil)
	if strings.Contains(a.body, `value="first"`) || !strings.Contains(a.body, `value="second"`) {
		t.Error("remove: the row is still there")
	}
	srv.Super("GET", "/api/collections/plain", nil, http.StatusNotFound, nil)
	// htmx asks for a new row alone.
	a = c.do("GET", "/admin/collections/field-row?newType=select", nil, map[string]string{"HX-Request": "true"})
	if a.status != http.StatusOK || strings.Contains(a.body, "<html") || !strings.Contains(a.body, "Comma-separated choices") {
		t.Errorf("field row: %d\n%s", a.status, a.body)
	}
}

// Export downloads every collection as the API lists them; the export
// imports back unchanged; a bad import says which collection is wrong.
func TestCollectionsExportImport(t *testing.T) {
	colEachEngine(t, func(t *testing.T, srv *testkit.Server) {
		srv.Super("POST", "/api/collections", map[string]any{"name": "posts", "listRule": "",
			"fields": []any{map[string]any{"name": "title", "type": "text"}}}, http.StatusOK, nil)
		c, csrf := colClient(t, srv)
		a := c.do("GET", "/admin/collections/export", nil, nil)
		if a.status != http.StatusOK || !strings.Contains(a.header.Get("Content-Disposition"), `attachment; filename="tortoise_schema.json"`) {
			t.Fatalf("export: %d %v", a.status, a.header)
		}
		var cols []map[string]any
		if err := json.Unmarshal([]byte(a.body), &cols); err != nil {
			t.Fatalf("export is not a JSON array: %v", err)
		}
		names := map[string]bool{}
		for _, col := range cols {
			names[col["name"].(string)] = true
		}
		if !names["posts"] || !names["_superusers"] || strings.Contains(a.body, `"secret"`) {
			t.Errorf("export: %v (secrets shown: %v)", names, strings.Contains(a.body, `"secret"`))
		}
		one := c.do("GET", "/admin/collections/export?collection=posts", nil, nil)
		if !strings.Contains(one.header.Get("Content-Disposition"), "posts_schema.json") || strings.Contains(one.body, "_superusers") {
			t.Errorf("export of one: %v\n%s", one.header, clip(one.body, 500))
		}

		// The export imports back unchanged.
		before := colAPI(t, srv, "posts")
		imp := c.do("POST", "/admin/collections/import", url.Values{"csrf": {csrf}, "schema": {a.body}}, nil)
		if imp.status != http.StatusSeeOther {
			t.Fatalf("import the export: %d\n%s", imp.status, clip(imp.body, 3000))
		}
		after := colAPI(t, srv, "posts")
		delete(before, "updated")
		delete(after, "updated")
		if colJSON(before) != colJSON(after) {
			t.Errorf("the round trip changed posts:\n%s\n%s", colJSON(before), colJSON(after))
		}

		// A new collection; the API's {"collections": [...]} body too.
		imp = c.do("POST", "/admin/collections/import", url.Values{"csrf": {csrf},
			"schema": {`{"collections": [{"name": "notes", "fields": [{"name": "text", "type": "editor"}]}]}`}}, nil)
		if imp.status != http.StatusSeeOther {
			t.Fatalf("import notes: %d\n%s", imp.status, clip(imp.body, 3000))
		}
		colAPI(t, srv, "notes")

		for _, tc := range []struct{ name, schema, want string }{
			{"malformed", `[{"name": "x",]`, "Malformed JSON"},
			{"empty", ``, "Paste the schema"},
			{"not collections", `{"a": 1}`, "lists no collections"},
			{"bad field", `[{"name": "fine"}, {"name": "broken", "fields": [{"name": "c", "type": "select"}]}]`,
				"collection 2 (broken), fields.1.values: A select field needs at least one value."},
		} {
			imp := c.do("POST", "/admin/collections/import", url.Values{"csrf": {csrf}, "schema": {tc.schema}}, nil)
			if imp.status != http.StatusBadRequest || !strings.Contains(imp.body, tc.want) {
				t.Errorf("import %s: %d, want 400 with %q\n%s", tc.name, imp.status, tc.want, clip(imp.body, 3000))
			}
		}
		// Nothing of a refused import was made.
		srv.Super("GET", "/api/collections/fine", nil, http.StatusNotFound, nil)
	})
}

// Deleting takes the collection's name typed to confirm; the service's
// refusal (another collection relates to it) is shown, not a 500.
func TestCollectionDelete(t *testing.T) {
	colEachEngine(t, func(t *testing.T, srv *testkit.Server) {
		var target struct{ ID string }
		srv.Super("POST", "/api/collections", map[string]any{"name": "target", "fields": []any{}}, http.StatusOK, &target)
		srv.Super("POST", "/api/collections", map[string]any{"name": "pointer",
			"fields": []any{map[string]any{"name": "t", "type": "relation", "collectionId": target.ID}}}, http.StatusOK, nil)
		c, csrf := colClient(t, srv)
		if a := c.do("GET", "/admin/collections/pointer/delete", nil, nil); a.status != http.StatusOK || !strings.Contains(a.body, `id="confirm"`) {
			t.Fatalf("confirmation page: %d", a.status)
		}
		a := c.do("POST", "/admin/collections/pointer/delete", url.Values{"csrf": {csrf}, "confirm": {"pointe"}}, nil)
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, "Type the collection") {
			t.Errorf("wrong name: %d\n%s", a.status, clip(a.body, 2000))
		}
		srv.Super("GET", "/api/collections/pointer", nil, http.StatusOK, nil)
		a = c.do("POST", "/admin/collections/target/delete", url.Values{"csrf": {csrf}, "confirm": {"target"}}, nil)
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, "relates to it") {
			t.Errorf("a collection others relate to: %d\n%s", a.status, clip(a.body, 2000))
		}
		a = c.do("POST", "/admin/collections/pointer/delete", url.Values{"csrf": {csrf}, "confirm": {"pointer"}}, nil)
		if a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/admin/collections?flash=") {
			t.Fatalf("delete: %d %q", a.status, a.header.Get("Location"))
		}
		srv.Super("GET", "/api/collections/pointer", nil, http.StatusNotFound, nil)
		if a := c.do("GET", "/admin/collections/_superusers/delete", nil, nil); strings.Contains(a.body, `id="confirm"`) {
			t.Error("a system collection offers deletion")
		}
		if a := c.do("GET", "/admin/collections/nope", nil, nil); a.status != http.StatusNotFound {
			t.Errorf("unknown collection: %d", a.status)
		}
	})
}

// A collection named like one of the pages ("new") is reached by its id.
func TestCollectionNamedNew(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	var col struct{ ID string }
	srv.Super("POST", "/api/collections", map[string]any{"name": "new", "fields": []any{}}, http.StatusOK, &col)
	c, _ := colClient(t, srv)
	list := c.do("GET", "/admin/collections", nil, nil)
	if !strings.Contains(list.body, `href="/admin/collections/`+col.ID+`"`) {
		t.Fatalf("the list does not link the collection \"new\" by id:\n%s", clip(list.body, 3000))
	}
	if a := c.do("GET", "/admin/collections/"+col.ID, nil, nil); a.status != http.StatusOK || !strings.Contains(a.body, `value="new"`) {
		t.Errorf("editor by id: %d", a.status)
	}
}

// The API preview names the collection's fields and says who may do what.
func TestCollectionAPIPreview(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	srv.Super("POST", "/api/collections", map[string]any{"name": "posts", "listRule": "", "viewRule": `@request.auth.id != ""`,
		"fields": []any{map[string]any{"name": "title", "type": "text"}, map[string]any{"name": "cover", "type": "file"}}}, http.StatusOK, nil)
	c, _ := colClient(t, srv)
	a := c.do("GET", "/admin/collections/posts/api", nil, nil)
	for _, want := range []string{
		"pb.collection(&#39;posts&#39;).getList(1, 30",
		"pb.collection(&#39;posts&#39;).create(data)",
		"pb.collection(&#39;posts&#39;).subscribe(&#39;*&#39;",
		srv.URL + "/api/collections/posts/records",
		"-F &#39;cover=@./example.png&#39;",
		"-F &#39;title=example&#39;",
		"Everyone, signed in or not",
		"Superusers only (locked)",
		"@request.auth.id != &#34;&#34;",
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the API preview lacks %q", want)
		}
	}
}

// colFormOf reads the named form of a page as a browser would submit it
// (without its buttons): inputs, checked checkboxes, textareas and
// selects. Enough for the admin's own markup, not HTML at large.
func colFormOf(t *testing.T, page, id string) url.Values {
	t.Helper()
	start := strings.Index(page, `<form`)
	for start >= 0 && !strings.Contains(page[start:start+strings.Index(page[start:], ">")], `id="`+id+`"`) {
		next := strings.Index(page[start+1:], `<form`)
		if next < 0 {
			start = -1
			break
		}
		start += 1 + next
	}
	if start < 0 {
		t.Fatalf("no form #%s", id)
	}
	body := page[start : start+strings.Index(page[start:], "</form>")]
	out := url.Values{}
	attr := func(tag, name string) (string, bool) {
		m := regexp.MustCompile(`\s` + name + `(?:="([^"]*)")?`).FindStringSubmatch(tag)
		if m == nil {
			return "", false
		}
		return html.UnescapeString(m[1]), true
	}
	for _, m := range regexp.MustCompile(`(?s)<input\b[^>]*>|<textarea\b[^>]*>.*?</textarea>|<select\b[^>]*>.*?</select>`).FindAllString(body, -1) {
		tag := m[:strings.Index(m, ">")+1]
		name, ok := attr(tag, "name")
		if !ok {
			continue
		}
		if _, disabled := attr(tag, "disabled"); disabled {
			continue
		}
		switch {
		case strings.HasPrefix(m, "<textarea"):
			text := m[len(tag):strings.LastIndex(m, "</textarea>")]
			// Browsers send a textarea's line breaks as CRLF.
			out.Add(name, strings.ReplaceAll(strings.TrimPrefix(html.UnescapeString(text), "\n"), "\n", "\r\n"))
		case strings.HasPrefix(m, "<select"):
			if sel := regexp.MustCompile(`<option value="([^"]*)" selected>`).FindStringSubmatch(m); sel != nil {
				out.Add(name, html.UnescapeString(sel[1]))
			} else if first := regexp.MustCompile(`<option value="([^"]*)"`).FindStringSubmatch(m); first != nil {
				out.Add(name, html.UnescapeString(first[1]))
			}
		default:
			typ, _ := attr(tag, "type")
			if typ == "checkbox" {
				if _, checked := attr(tag, "checked"); !checked {
					continue
				}
				v, ok := attr(tag, "value")
				if !ok {
					v = "on"
				}
				out.Add(name, v)
				continue
			}
			if typ == "file" {
				continue
			}
			v, _ := attr(tag, "value")
			out.Add(name, v)
		}
	}
	return out
}

func colJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
