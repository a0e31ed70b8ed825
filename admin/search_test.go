package admin_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// The records table's search box: shown for searchable collections only,
// answered by records.Service.List with the search (relevance order,
// combined with filter, sort and paging, highlights as <mark>), its
// errors beside the box; and the collection editor keeping the search
// option it does not show.

// notesSchema makes "notes", searchable in title (weight 3) and body, and
// "plain", not searchable, and returns the notes' ids by title.
func notesSchema(t *testing.T, srv *testkit.Server) map[string]string {
	t.Helper()
	srv.Super("POST", "/api/collections", map[string]any{
		"name": "notes", "type": "base",
		"fields": []map[string]any{
			{"name": "title", "type": "text"},
			{"name": "body", "type": "text"},
			{"name": "n", "type": "number"},
		},
		"search": map[string]any{"fields": []map[string]any{{"name": "title", "weight": 3}, {"name": "body"}}},
	}, http.StatusOK, nil)
	srv.Super("POST", "/api/collections", map[string]any{
		"name": "plain", "type": "base", "fields": []map[string]any{{"name": "title", "type": "text"}},
	}, http.StatusOK, nil)
	ids := map[string]string{}
	for _, n := range []struct {
		title, body string
		n           int
	}{
		{"Tortoise racing", "slow and steady", 1},
		{"Garden", "a tortoise <b>lives</b> in the garden", 2},
		{"Hare", "fast and proud", 3},
		{"Pond", "the tortoise swims <script>alert(1)</script>", 4},
	} {
		var rec struct{ ID string }
		srv.Super("POST", "/api/collections/notes/records", map[string]any{"title": n.title, "body": n.body, "n": n.n}, http.StatusOK, &rec)
		ids[n.title] = rec.ID
	}
	return ids
}

// rowIDs are the ids of the table's rows, in order.
func rowIDs(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<td class="mono rec-nowrap"><a href="[^"]*">([A-Za-z0-9_]+)</a>`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// titlesOf maps row ids back to the notes' titles.
func titlesOf(ids map[string]string, rows []string) []string {
	var out []string
	for _, id := range rows {
		for title, x := range ids {
			if x == id {
				out = append(out, title)
			}
		}
	}
	return out
}

func TestRecordsSearch(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			srv := testkit.NewServer(t, engine)
			ids := notesSchema(t, srv)
			c := newAdminClient(t, srv)
			notes := "/admin/collections/notes/records"
			box := regexp.MustCompile(`<label for="search">Search</label>\s*<input type="search" id="search" name="search"`)

			t.Run("the box is shown for searchable collections only", func(t *testing.T) {
				if resp, body := c.get(notes); resp.StatusCode != http.StatusOK || !box.MatchString(body) {
					t.Errorf("notes: status %d, search box shown %v", resp.StatusCode, box.MatchString(body))
				}
				if resp, body := c.get("/admin/collections/plain/records"); resp.StatusCode != http.StatusOK || strings.Contains(body, `name="search"`) {
					t.Errorf("plain: status %d, a search box is shown", resp.StatusCode)
				}
			})

			t.Run("a search is not offered where it cannot run", func(t *testing.T) {
				// A ?search= on a collection without a search option (an
				// old link) is a 400 saying so, not a silent full list.
				resp, body := c.get("/admin/collections/plain/records?search=tortoise")
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "is not searchable") || !strings.Contains(body, `role="alert"`) {
					t.Errorf("status %d, want 400 naming the collection as not searchable\n%s", resp.StatusCode, clip(body, 3000))
				}
			})

			for _, tc := range []struct {
				name, query string
				want        []string // titles in order
			}{
				{"the best match first: a title match weighs three times a body match", "search=tortoise", []string{"Tortoise racing", "Garden", "Pond"}},
				{"search and filter combine", "search=tortoise&filter=" + url.QueryEscape("n >= 2"), []string{"Garden", "Pond"}},
				{"a sort replaces relevance", "search=tortoise&sort=-n", []string{"Pond", "Garden", "Tortoise racing"}},
				{"search-as-you-type: the last word is a prefix", "search=torto", []string{"Tortoise racing", "Garden", "Pond"}},
				{"a typo still finds", "search=" + url.QueryEscape("tortise racing"), []string{"Tortoise racing"}},
				{"all the words must match", "search=" + url.QueryEscape("tortoise garden"), []string{"Garden"}},
				{"paging keeps the order", "search=tortoise&perPage=10&page=1", []string{"Tortoise racing", "Garden", "Pond"}},
			} {
				resp, body := c.get(notes + "?" + tc.query)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: status %d\n%s", tc.name, resp.StatusCode, clip(body, 3000))
					continue
				}
				got := titlesOf(ids, rowIDs(body))
				// Garden and Pond match in body only, with the same weight:
				// their relative order is the engine's.
				if i := slices.Index(got, "Pond"); i >= 0 && i+1 < len(got) && got[i+1] == "Garden" && !strings.Contains(tc.query, "sort=") {
					got[i], got[i+1] = "Garden", "Pond"
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: rows %q, want %q", tc.name, got, tc.want)
				}
			}

			t.Run("the links keep the search", func(t *testing.T) {
				_, body := c.get(notes + "?search=tortoise&perPage=1&filter=" + url.QueryEscape("n > 0"))
				if got := titlesOf(ids, rowIDs(body)); !slices.Equal(got, []string{"Tortoise racing"}) {
					t.Errorf("first page of one: %q", got)
				}
				next := regexp.MustCompile(`href="([^"]*)"[^>]*rel="next"`).FindStringSubmatch(body)
				if next == nil {
					t.Fatalf("no next link\n%s", clip(body, 3000))
				}
				u, _ := url.Parse(html.UnescapeString(next[1]))
				if q := u.Query(); q.Get("search") != "tortoise" || q.Get("filter") != "n > 0" || q.Get("page") != "2" {
					t.Errorf("next link %s drops the search or filter", u)
				}
				sorts := regexp.MustCompile(`<th scope="col"[^>]*><a href="([^"]*)"`).FindAllStringSubmatch(body, -1)
				if len(sorts) == 0 {
					t.Fatal("no sort links")
				}
				for _, m := range sorts {
					if u, _ := url.Parse(html.UnescapeString(m[1])); u.Query().Get("search") != "tortoise" {
						t.Errorf("sort link %s drops the search", u)
					}
				}
				// The form carries the search back with the other inputs.
				if !strings.Contains(body, `name="search" value="tortoise"`) {
					t.Error("the search box does not show the search")
				}
				// Sorted, the page offers relevance again, keeping the search.
				_, body = c.get(notes + "?search=tortoise&sort=n")
				rel := regexp.MustCompile(`<a href="([^"]*)"[^>]*>Best matches first</a>`).FindStringSubmatch(body)
				if rel == nil {
					t.Fatal("a sorted search offers no way back to relevance")
				}
				if u, _ := url.Parse(html.UnescapeString(rel[1])); u.Query().Get("search") != "tortoise" || u.Query().Has("sort") {
					t.Errorf("relevance link %s", u)
				}
			})

			t.Run("highlights mark the matched words, escaped", func(t *testing.T) {
				_, body := c.get(notes + "?search=tortoise")
				if !strings.Contains(body, "<mark>Tortoise</mark> racing") {
					t.Errorf("the title match is not marked\n%s", clip(body, 4000))
				}
				if !strings.Contains(body, "<mark>tortoise</mark>") {
					t.Error("the body matches are not marked")
				}
				// Record text is text, in a highlight as anywhere else.
				if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<b>lives</b>") {
					t.Error("record text reached the page as HTML")
				}
				// SQLite's snippets keep the text whole; PostgreSQL's
				// ts_headline leaves tags out of its snippets.
				if engine == "sqlite" && !strings.Contains(body, "&lt;b&gt;lives&lt;/b&gt;") {
					t.Error("the escaped record text is missing")
				}
				// A match in a column not shown is listed under the id.
				_, body = c.get(notes + "?search=garden&cols=n")
				m := regexp.MustCompile(`(?s)<dl class="rec-matches">(.*?)</dl>`).FindStringSubmatch(body)
				if m == nil || !strings.Contains(m[1], "<dt>title</dt><dd><mark>Garden</mark></dd>") || !strings.Contains(m[1], "<dt>body</dt>") {
					t.Errorf("matches outside the columns: %q", m)
				}
			})

			t.Run("no match says so", func(t *testing.T) {
				resp, body := c.get(notes + "?search=zebra")
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, "No records match this search.") || len(rowIDs(body)) != 0 {
					t.Errorf("status %d, rows %d\n%s", resp.StatusCode, len(rowIDs(body)), clip(body, 3000))
				}
			})

			t.Run("a bad search is shown beside the box, 400", func(t *testing.T) {
				for _, tc := range []struct{ name, search, want string }{
					{"too long", strings.Repeat("tortoise ", 40), "at most 256 bytes"},
					{"too many words", "a1 b2 c3 d4 e5 f6 g7 h8 i9", "at most 8 words"},
				} {
					resp, body := c.get(notes + "?search=" + url.QueryEscape(tc.search))
					if resp.StatusCode != http.StatusBadRequest {
						t.Errorf("%s: status %d, want 400\n%s", tc.name, resp.StatusCode, clip(body, 3000))
						continue
					}
					msg := regexp.MustCompile(`<p class="fielderror" id="search-error" role="alert">([^<]*)</p>`).FindStringSubmatch(body)
					if msg == nil || !strings.Contains(msg[1], tc.want) {
						t.Errorf("%s: message %q, want %q", tc.name, msg, tc.want)
					}
					if !regexp.MustCompile(`id="search" name="search"[^>]*aria-describedby="search-help search-error" aria-invalid="true"`).MatchString(body) {
						t.Errorf("%s: the search box is not marked invalid", tc.name)
					}
					if strings.Contains(body, "No records") {
						t.Errorf("%s: an error is not an empty result", tc.name)
					}
				}
			})
		})
	}
}

// The collection editor shows the search option as JSON in a textarea:
// saving unchanged keeps it, also when a searchable field is renamed;
// removing a searchable field is refused with the reason beside the
// textarea; the textarea changes or removes the option, and bad JSON is a
// 400 beside it.
func TestCollectionEditorSearchOption(t *testing.T) {
	colEachEngine(t, func(t *testing.T, srv *testkit.Server) {
		notesSchema(t, srv)
		c, _ := colClient(t, srv)
		search := func() string {
			t.Helper()
			b, _ := json.Marshal(colAPI(t, srv, "notes")["search"])
			return string(b)
		}
		want := `{"fields":[{"name":"title","weight":3},{"name":"body"}]}`
		if got := search(); got != want {
			t.Fatalf("search option before: %s", got)
		}
		searched := func(q string) int {
			t.Helper()
			var list struct{ TotalItems int }
			srv.Super("GET", "/api/collections/notes/records?search="+url.QueryEscape(q), nil, http.StatusOK, &list)
			return list.TotalItems
		}

		page := c.do("GET", "/admin/collections/notes", nil, nil)
		form := colFormOf(t, page.body, "collection-form")
		if !strings.Contains(page.body, `<label for="c-search">`) || !strings.Contains(form.Get("search"), `"weight": 3`) {
			t.Errorf("the editor does not show the search option: %q", form.Get("search"))
		}
		if a := c.do("POST", "/admin/collections/notes", form, nil); a.status != http.StatusSeeOther {
			t.Fatalf("save unchanged: %d\n%s", a.status, clip(a.body, 3000))
		}
		if got := search(); got != want {
			t.Errorf("saved unchanged, the search option is %s, want %s", got, want)
		}
		if n := searched("tortoise"); n != 3 {
			t.Errorf("after saving, a search finds %d notes, want 3", n)
		}

		// Rename body to text: the option follows the field.
		key := ""
		for k, v := range form {
			if strings.HasSuffix(k, ".name") && len(v) == 1 && v[0] == "body" {
				key = strings.TrimSuffix(k, ".name")
			}
		}
		if key == "" {
			t.Fatalf("no row for body in %v", form)
		}
		form.Set(key+".name", "text")
		if a := c.do("POST", "/admin/collections/notes", form, nil); a.status != http.StatusSeeOther {
			t.Fatalf("rename: %d\n%s", a.status, clip(a.body, 3000))
		}
		if got, want := search(), `{"fields":[{"name":"title","weight":3},{"name":"text"}]}`; got != want {
			t.Errorf("after renaming body, the search option is %s, want %s", got, want)
		}
		if n := searched("garden"); n != 1 {
			t.Errorf("after renaming, a search finds %d notes, want 1", n)
		}

		// Removing a searchable field is refused, with the reason shown.
		form = colFormOf(t, c.do("GET", "/admin/collections/notes", nil, nil).body, "collection-form")
		row := ""
		for k, v := range form {
			if strings.HasSuffix(k, ".name") && len(v) == 1 && v[0] == "text" {
				row = strings.TrimSuffix(strings.TrimPrefix(k, "f."), ".name")
			}
		}
		form["field"] = slices.DeleteFunc(slices.Clone(form["field"]), func(k string) bool { return k == row })
		a := c.do("POST", "/admin/collections/notes", form, nil)
		beside := regexp.MustCompile(`(?s)<textarea id="c-search" name="search"[^>]*aria-invalid="true".*?</textarea>\s*<p class="hint"[^>]*>.*?</p>\s*<p class="fielderror" role="alert">([^<]*)</p>`)
		if m := beside.FindStringSubmatch(a.body); a.status != http.StatusBadRequest || m == nil || !strings.Contains(m[1], "is searchable") {
			t.Errorf("removing a searchable field: %d, want 400 saying beside the search option that it is searchable\n%s", a.status, clip(a.body, 3000))
		}
		if got := search(); got != `{"fields":[{"name":"title","weight":3},{"name":"text"}]}` {
			t.Errorf("a refused save changed the search option: %s", got)
		}

		// The textarea edits the option.
		form = colFormOf(t, c.do("GET", "/admin/collections/notes", nil, nil).body, "collection-form")
		for _, tc := range []struct {
			name, text string
			status     int
			want       string // the stored option, or the message beside the textarea
		}{
			{"bad JSON", `{"fields": [`, http.StatusBadRequest, "Invalid JSON"},
			{"a misspelt key", `{"field": [{"name": "title"}]}`, http.StatusBadRequest, "Invalid JSON"},
			{"an unknown field", `{"fields": [{"name": "nope"}]}`, http.StatusBadRequest, `Unknown field &#34;nope&#34;`},
			{"a number field", `{"fields": [{"name": "n"}]}`, http.StatusBadRequest, "only text, editor, email, url and select fields"},
			{"a weight too big", `{"fields": [{"name": "title", "weight": 1000}]}`, http.StatusBadRequest, "at most 100"},
			{"a new option", `{"fields": [{"name": "text", "weight": 2}], "language": "english"}`, http.StatusSeeOther, `{"fields":[{"name":"text","weight":2}],"language":"english"}`},
			{"empty: not searchable", "\r\n", http.StatusSeeOther, `null`},
		} {
			form.Set("search", tc.text)
			a := c.do("POST", "/admin/collections/notes", form, nil)
			if a.status != tc.status {
				t.Errorf("%s: status %d, want %d\n%s", tc.name, a.status, tc.status, clip(a.body, 3000))
				continue
			}
			if tc.status == http.StatusBadRequest {
				if m := beside.FindStringSubmatch(a.body); m == nil || !strings.Contains(m[1], tc.want) {
					t.Errorf("%s: message beside the search option %q, want %q", tc.name, m, tc.want)
				}
				continue
			}
			if got := search(); got != tc.want {
				t.Errorf("%s: stored %s, want %s", tc.name, got, tc.want)
			}
		}
		if resp := srv.Request("GET", "/api/collections/notes/records?search=tortoise", srv.Token, nil); resp.Status != http.StatusBadRequest {
			t.Errorf("a search after removing the option: %d, want 400", resp.Status)
		}
	})
}
