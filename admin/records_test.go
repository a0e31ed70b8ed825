package admin_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// booksSchema sets up what the records tests work on: "authors" (a
// presentable name) with Ada and Grace, and "books" with a field of each
// kind the record form has an input for. It returns the authors' ids by
// name.
func booksSchema(t *testing.T, srv *testkit.Server) map[string]string {
	t.Helper()
	srv.Super("POST", "/api/collections", map[string]any{
		"name": "authors", "type": "base",
		"fields": []map[string]any{{"name": "name", "type": "text", "required": true, "presentable": true}},
	}, 200, nil)
	srv.Super("POST", "/api/collections", map[string]any{
		"name": "books", "type": "base",
		"fields": []map[string]any{
			{"name": "title", "type": "text", "required": true},
			{"name": "count", "type": "number", "min": 1},
			{"name": "done", "type": "bool"},
			{"name": "kind", "type": "select", "values": []string{"novel", "essay", "poem"}, "maxSelect": 1},
			{"name": "meta", "type": "json"},
			{"name": "author", "type": "relation", "collectionId": "authors", "maxSelect": 1},
			{"name": "cover", "type": "file", "maxSelect": 1, "mimeTypes": []string{"image/png"}, "thumbs": []string{"100x100"}},
		},
	}, 200, nil)
	ids := map[string]string{}
	for _, name := range []string{"Ada", "Grace"} {
		var rec struct{ ID string }
		srv.Super("POST", "/api/collections/authors/records", map[string]any{"name": name}, 200, &rec)
		ids[name] = rec.ID
	}
	return ids
}

// adminClient calls the admin as the test server's superuser: the
// session cookie is the superuser's token, as signing in sets it.
type adminClient struct {
	t    *testing.T
	srv  *testkit.Server
	csrf string
}

func newAdminClient(t *testing.T, srv *testkit.Server) *adminClient {
	t.Helper()
	c := &adminClient{t: t, srv: srv}
	_, body := c.get("/admin/")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the dashboard:\n%s", body)
	}
	c.csrf = m[1]
	return c
}

func (c *adminClient) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	req.AddCookie(&http.Cookie{Name: "tortoise_admin", Value: c.srv.Token})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *adminClient) get(path string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.srv.URL+path, nil)
	return c.do(req)
}

// post sends form as multipart (the record form's encoding), with the
// CSRF token unless withCSRF is false.
func (c *adminClient) post(path string, form url.Values, withCSRF bool) (*http.Response, string) {
	c.t.Helper()
	return c.postFiles(path, form, nil, withCSRF)
}

// postFiles is post with files, by part name, each {filename: content}.
func (c *adminClient) postFiles(path string, form url.Values, files map[string]map[string][]byte, withCSRF bool) (*http.Response, string) {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if withCSRF {
		mw.WriteField("csrf", c.csrf)
	}
	for k, vs := range form {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for part, fs := range files {
		for name, data := range fs {
			w, _ := mw.CreateFormFile(part, name)
			w.Write(data)
		}
	}
	mw.Close()
	req, _ := http.NewRequest("POST", c.srv.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func countRecords(t *testing.T, srv *testkit.Server, collection string) int {
	t.Helper()
	var list struct{ TotalItems int }
	srv.Super("GET", "/api/collections/"+collection+"/records?perPage=1", nil, 200, &list)
	return list.TotalItems
}

// The record pages' answers that need no browser: CSRF, bad input,
// records that are not there.
func TestRecordsPages(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			srv := testkit.NewServer(t, engine)
			authors := booksSchema(t, srv)
			c := newAdminClient(t, srv)
			good := url.Values{"title": {"Dune"}, "count": {"3"}, "author": {authors["Ada"]}, "meta": {`{"a": [1, 2]}`}, "done": {"false", "true"}}

			t.Run("a POST without the CSRF token is refused", func(t *testing.T) {
				resp, _ := c.post("/admin/collections/books/records", good, false)
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("status %d, want 403", resp.StatusCode)
				}
				if n := countRecords(t, srv, "books"); n != 0 {
					t.Errorf("%d books after a refused POST, want 0", n)
				}
			})

			t.Run("bad input is 400 with the field named", func(t *testing.T) {
				for _, tc := range []struct {
					name, field, value, want string
				}{
					{"number below its min", "count", "0", "Must be larger than 1"},
					{"required field empty", "title", "", "Cannot be blank"},
					{"invalid JSON", "meta", `{"a": }`, "Invalid JSON at line 1, column 7"},
					{"unknown relation", "author", "nosuchauthor123", "Failed to find all relation records"},
					{"unknown select value", "kind", "comic", "Value must be one of"},
				} {
					form := url.Values{}
					for k, v := range good {
						form[k] = v
					}
					form.Set(tc.field, tc.value)
					resp, body := c.post("/admin/collections/books/records", form, true)
					if resp.StatusCode != http.StatusBadRequest {
						t.Errorf("%s: status %d, want 400", tc.name, resp.StatusCode)
						continue
					}
					// The message is in the field's slot, and the input is
					// marked invalid.
					slot := regexp.MustCompile(`(?s)<div id="f-` + tc.field + `-msg" class="rec-msg">(.*?)</div>`).FindStringSubmatch(body)
					if slot == nil || !strings.Contains(slot[1], tc.want) {
						t.Errorf("%s: the %s field's message is %q, want %q", tc.name, tc.field, slot, tc.want)
					}
					if !regexp.MustCompile(`id="f-` + tc.field + `"[^>]*aria-invalid="true"`).MatchString(body) {
						t.Errorf("%s: the %s input is not marked aria-invalid", tc.name, tc.field)
					}
				}
				if n := countRecords(t, srv, "books"); n != 0 {
					t.Errorf("%d books after refused forms, want 0", n)
				}
			})

			// A good form creates the record and leads to its page.
			resp, body := c.post("/admin/collections/books/records", good, true)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("create: status %d, want 303\n%s", resp.StatusCode, body)
			}
			var list struct {
				Items []struct {
					ID, Title, Author string
					Count             float64
					Done              bool
					Meta              map[string]any
				}
			}
			srv.Super("GET", "/api/collections/books/records", nil, 200, &list)
			if len(list.Items) != 1 {
				t.Fatalf("%d books after creating one", len(list.Items))
			}
			book := list.Items[0]
			if book.Title != "Dune" || book.Count != 3 || !book.Done || book.Author != authors["Ada"] || fmt.Sprint(book.Meta["a"]) != "[1 2]" {
				t.Errorf("created %+v", book)
			}
			if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/admin/collections/books/records/"+book.ID) {
				t.Errorf("after creating, sent to %s", loc)
			}

			t.Run("an update's bad input is 400 and changes nothing", func(t *testing.T) {
				resp, body := c.post("/admin/collections/books/records/"+book.ID, url.Values{"title": {"Dune"}, "count": {"-4"}}, true)
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Must be larger than 1") {
					t.Errorf("status %d, want 400 naming count", resp.StatusCode)
				}
				var got struct{ Count float64 }
				srv.Super("GET", "/api/collections/books/records/"+book.ID, nil, 200, &got)
				if got.Count != 3 {
					t.Errorf("count is %v after a refused update", got.Count)
				}
			})

			t.Run("a record of another collection or a missing one is 404", func(t *testing.T) {
				ada := authors["Ada"]
				for _, path := range []string{
					"/admin/collections/books/records/" + ada,
					"/admin/collections/books/records/nosuchrecord123",
					"/admin/collections/books/records/" + ada + "/delete",
					"/admin/collections/nosuchcollection/records",
					"/admin/collections/nosuchcollection/records/" + ada,
				} {
					if resp, _ := c.get(path); resp.StatusCode != http.StatusNotFound {
						t.Errorf("GET %s: status %d, want 404", path, resp.StatusCode)
					}
				}
				for _, path := range []string{
					"/admin/collections/books/records/" + ada,
					"/admin/collections/books/records/" + ada + "/delete",
					"/admin/collections/books/records/nosuchrecord123/delete",
				} {
					if resp, _ := c.post(path, url.Values{"title": {"x"}}, true); resp.StatusCode != http.StatusNotFound {
						t.Errorf("POST %s: status %d, want 404", path, resp.StatusCode)
					}
				}
				if n := countRecords(t, srv, "authors"); n != 2 {
					t.Errorf("%d authors, want the 2 untouched", n)
				}
			})

			t.Run("a filter the service refuses is 400 with its message", func(t *testing.T) {
				resp, body := c.get("/admin/collections/books/records?filter=" + url.QueryEscape("title ~"))
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="filter-error"`) {
					t.Errorf("status %d, want 400 with the filter's error", resp.StatusCode)
				}
				resp, body = c.get("/admin/collections/books/records?filter=" + url.QueryEscape(`title = "Dune"`))
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, book.ID) {
					t.Errorf("a good filter: status %d, or the book is missing", resp.StatusCode)
				}
			})

			t.Run("the relation picker searches the related collection", func(t *testing.T) {
				resp, body := c.get("/admin/collections/books/records/pick-relation?field=author&author.search=gra")
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, authors["Grace"]) || strings.Contains(body, authors["Ada"]) {
					t.Errorf("status %d; body:\n%s", resp.StatusCode, body)
				}
				// Quotes and backslashes are text, not filter syntax.
				if resp, body := c.get("/admin/collections/books/records/pick-relation?field=author&author.search=" + url.QueryEscape(`a" || id != "\`)); resp.StatusCode != http.StatusOK || strings.Contains(body, authors["Ada"]) {
					t.Errorf("a search with quotes: status %d; body:\n%s", resp.StatusCode, body)
				}
			})

			t.Run("delete", func(t *testing.T) {
				resp, _ := c.post("/admin/collections/books/records/"+book.ID+"/delete", nil, false)
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("delete without CSRF: status %d, want 403", resp.StatusCode)
				}
				resp, _ = c.post("/admin/collections/books/records/"+book.ID+"/delete", nil, true)
				if resp.StatusCode != http.StatusSeeOther {
					t.Errorf("delete: status %d, want 303", resp.StatusCode)
				}
				srv.Super("GET", "/api/collections/books/records/"+book.ID, nil, 404, nil)
			})

			t.Run("bulk delete", func(t *testing.T) {
				resp, body := c.get("/admin/collections/authors/records/delete-selected?id=" + authors["Ada"] + "&id=" + authors["Grace"])
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Delete 2 records?") {
					t.Errorf("confirmation: status %d\n%s", resp.StatusCode, body)
				}
				if n := countRecords(t, srv, "authors"); n != 2 {
					t.Errorf("the confirmation deleted: %d authors left", n)
				}
				resp, _ = c.post("/admin/collections/authors/records/delete-selected", url.Values{"id": {authors["Ada"], authors["Grace"]}, "back": {"https://evil.example/"}}, true)
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/collections/authors/records?") {
					t.Errorf("bulk delete: status %d to %q", resp.StatusCode, resp.Header.Get("Location"))
				}
				if n := countRecords(t, srv, "authors"); n != 0 {
					t.Errorf("%d authors left after deleting both", n)
				}
			})
		})
	}
}

// Impersonating an auth record shows a token that acts as the record.
func TestRecordsImpersonate(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	srv.Super("POST", "/api/collections", map[string]any{"name": "users", "type": "auth", "viewRule": "id = @request.auth.id",
		"fields": []map[string]any{{"name": "name", "type": "text"}}}, 200, nil)
	var user struct{ ID string }
	srv.Super("POST", "/api/collections/users/records", map[string]any{"email": "u@example.com", "password": "user-password-1", "passwordConfirm": "user-password-1"}, 200, &user)
	c := newAdminClient(t, srv)

	resp, body := c.post("/admin/collections/users/records/"+user.ID+"/impersonate", url.Values{"duration": {"-5"}}, true)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Duration must be between") {
		t.Errorf("negative duration: status %d", resp.StatusCode)
	}
	resp, body = c.post("/admin/collections/users/records/"+user.ID+"/impersonate", url.Values{"duration": {"600"}}, true)
	m := regexp.MustCompile(`<textarea id="imp-token"[^>]*>([^<]+)</textarea>`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("impersonate: status %d, no token shown", resp.StatusCode)
	}
	srv.Do("GET", "/api/collections/users/records/"+user.ID, m[1], nil, 200, nil)

	// The record page of an auth collection: password and confirmation,
	// which must match.
	resp, body = c.post("/admin/collections/users/records/"+user.ID, url.Values{"password": {"new-password-1"}, "passwordConfirm": {"new-password-2"}}, true)
	if resp.StatusCode != http.StatusBadRequest || !regexp.MustCompile(`(?s)id="f-password-confirm-msg">.*Values don`).MatchString(body) {
		t.Errorf("mismatched confirmation: status %d", resp.StatusCode)
	}
	resp, _ = c.post("/admin/collections/users/records/"+user.ID, url.Values{"password": {"new-password-1"}, "passwordConfirm": {"new-password-1"}}, true)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("new password: status %d", resp.StatusCode)
	}
	srv.Do("POST", "/api/collections/users/auth-with-password", "", map[string]any{"identity": "u@example.com", "password": "new-password-1"}, 200, nil)
}

// A protected file's thumbnail on the record page carries a file token
// of the superuser's, with which the API's file route serves it.
func TestRecordsProtectedFile(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	srv.Super("POST", "/api/collections", map[string]any{"name": "docs", "type": "base",
		"fields": []map[string]any{{"name": "scans", "type": "file", "maxSelect": 3, "protected": true}}}, 200, nil)
	c := newAdminClient(t, srv)
	img, err := os.ReadFile(writePNG(t))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := c.postFiles("/admin/collections/docs/records", nil, map[string]map[string][]byte{"scans+": {"a.png": img}}, true)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create with a file: status %d\n%s", resp.StatusCode, body)
	}
	page := resp.Header.Get("Location")
	_, body = c.get(page)
	m := regexp.MustCompile(`<img class="rec-thumb rec-thumb-big" src="([^"]+)"`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(m[1], "token=") {
		t.Fatalf("no thumbnail with a file token on the record page:\n%s", body)
	}
	src := strings.ReplaceAll(m[1], "&amp;", "&")
	got := srv.Request("GET", src, "", nil)
	if got.Status != http.StatusOK || !bytes.Equal(got.Body, img) {
		t.Errorf("GET %s: status %d", src, got.Status)
	}
	bare := srv.Request("GET", src[:strings.Index(src, "?")], "", nil)
	if bare.Status != http.StatusForbidden {
		t.Errorf("without the token: status %d, want 403", bare.Status)
	}

	// Adding a second file keeps the first; the delete box removes one.
	name := regexp.MustCompile(`name="scans-" value="([^"]+)"`).FindStringSubmatch(body)[1]
	id := page[strings.LastIndex(page, "/")+1 : strings.Index(page, "?")]
	c.postFiles("/admin/collections/docs/records/"+id, nil, map[string]map[string][]byte{"scans+": {"b.png": img}}, true)
	var rec struct{ Scans []string }
	srv.Super("GET", "/api/collections/docs/records/"+id, nil, 200, &rec)
	if len(rec.Scans) != 2 || rec.Scans[0] != name {
		t.Fatalf("after adding a file: %v", rec.Scans)
	}
	c.post("/admin/collections/docs/records/"+id, url.Values{"scans-": {name}}, true)
	srv.Super("GET", "/api/collections/docs/records/"+id, nil, 200, &rec)
	if len(rec.Scans) != 1 || rec.Scans[0] == name {
		t.Errorf("after deleting the first file: %v", rec.Scans)
	}
}

// The record form's JSON editor stores the JSON typed in it: a JSON
// string stays a string, though the API reads plain text that looks like
// JSON as JSON.
func TestRecordsJSONEditorKeepsStrings(t *testing.T) {
	t.Parallel()
	srv := testkit.NewServer(t, "sqlite")
	booksSchema(t, srv)
	c := newAdminClient(t, srv)
	for typed, want := range map[string]any{`"12"`: "12", `"true"`: "true", `12`: 12.0, `[1, "a"]`: []any{1.0, "a"}} {
		resp, body := c.post("/admin/collections/books/records", url.Values{"title": {typed}, "count": {"3"}, "meta": {typed}}, true)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create with meta %s: status %d\n%s", typed, resp.StatusCode, body)
		}
		var list struct{ Items []struct{ Meta any } }
		srv.Super("GET", "/api/collections/books/records?filter="+url.QueryEscape(fmt.Sprintf("title=%q", typed)), nil, 200, &list)
		if len(list.Items) != 1 || !reflect.DeepEqual(list.Items[0].Meta, want) {
			t.Errorf("meta typed as %s: stored %#v, want %#v", typed, list.Items, want)
		}
	}
}
