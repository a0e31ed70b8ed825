package api_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

type searchList struct {
	list
	Highlights map[string]map[string]string `json:"highlights"`
}

// searchFixture creates notes (searchable: title weight 3, body, the
// hidden secret, tags) with a fixed corpus, and returns the records' ids
// by their key.
func searchFixture(t *testing.T, s *testkit.Server, listRule string) map[string]string {
	t.Helper()
	s.Super("POST", "/api/collections", map[string]any{"name": "people", "listRule": "", "viewRule": "",
		"fields": []map[string]any{{"name": "name", "type": "text"}}}, 200, nil)
	s.Super("POST", "/api/collections", map[string]any{
		"name": "notes", "listRule": listRule, "viewRule": listRule,
		"fields": []map[string]any{
			{"name": "title", "type": "text"},
			{"name": "body", "type": "editor"},
			{"name": "secret", "type": "text", "hidden": true},
			{"name": "summary", "type": "text"},
			{"name": "n", "type": "number"},
			{"name": "tags", "type": "select", "values": []string{"red", "green"}, "maxSelect": 2},
			{"name": "author", "type": "relation", "collectionId": "people", "maxSelect": 1},
		},
		"search": map[string]any{"fields": []map[string]any{
			{"name": "title", "weight": 3}, {"name": "body"}, {"name": "secret"}, {"name": "tags"}}},
	}, 200, nil)
	ann := create(t, s, "people", map[string]any{"name": "Ann"})
	ids := map[string]string{}
	for _, r := range []struct {
		key  string
		data map[string]any
	}{
		{"care", map[string]any{"title": "Tortoise care", "body": "Food and water", "n": 1, "author": ann["id"]}},
		{"garden", map[string]any{"title": "Garden notes", "body": "<p>The tortoise sleeps in winter</p>", "n": 2, "author": ann["id"]}},
		{"hares", map[string]any{"title": "Hares", "body": "Fast animals & <b>bold</b> ones", "secret": "tortoise password", "n": 3}},
		{"tortilla", map[string]any{"title": "Tortilla recipe", "body": "corn flour", "n": 4, "summary": "mexican kitchen"}},
		{"cart", map[string]any{"title": "Red cart", "body": "wheels", "n": 5, "tags": []string{"green"}}},
	} {
		ids[r.key] = create(t, s, "notes", r.data)["id"].(string)
	}
	return ids
}

func searchNotes(t *testing.T, s *testkit.Server, token, params string) searchList {
	t.Helper()
	var l searchList
	resp := s.Do("GET", "/api/collections/notes/records?"+params, token, nil, 200, &l)
	if !strings.Contains(string(resp.Body), `"highlights":`) {
		t.Fatalf("search answer without highlights: %s", resp.Body)
	}
	return l
}

func keysOf(t *testing.T, ids map[string]string, l list) []string {
	t.Helper()
	byID := map[string]string{}
	for k, id := range ids {
		byID[id] = k
	}
	var out []string
	for _, it := range l.Items {
		out = append(out, byID[it["id"].(string)])
	}
	return out
}

func TestSearchFTS(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		ids := searchFixture(t, s, "")
		q := func(search string) string { return "search=" + url.QueryEscape(search) }

		t.Run("ranking: a title match outranks a body match", func(t *testing.T) {
			l := searchNotes(t, s, "", q("tortoise"))
			if got := keysOf(t, ids, l.list); !slices.Equal(got, []string{"care", "garden"}) {
				t.Fatalf("got %v", got)
			}
			if l.TotalItems != 2 || l.TotalPages != 1 {
				t.Errorf("totals = %d/%d", l.TotalItems, l.TotalPages)
			}
		})
		t.Run("prefix as you type", func(t *testing.T) {
			got := keysOf(t, ids, searchNotes(t, s, "", q("tortoi")).list)
			if !slices.Equal(got, []string{"care", "garden"}) {
				t.Fatalf("got %v", got)
			}
			got = keysOf(t, ids, searchNotes(t, s, "", q("tort")).list)
			slices.Sort(got)
			if !slices.Equal(got, []string{"care", "garden", "tortilla"}) {
				t.Fatalf("tort: got %v", got)
			}
		})
		t.Run("one typo", func(t *testing.T) {
			got := keysOf(t, ids, searchNotes(t, s, "", q("tortoize care")).list)
			if !slices.Equal(got, []string{"care"}) {
				t.Fatalf("got %v", got)
			}
			l := searchNotes(t, s, "", q("tortoize "))
			if got := keysOf(t, ids, l.list); !slices.Equal(got, []string{"care", "garden"}) || l.TotalItems != 2 {
				t.Fatalf("tortoize: got %v of %d", got, l.TotalItems)
			}
			if h := l.Highlights[ids["care"]]["title"]; h != "<mark>Tortoise</mark> care" {
				t.Errorf("typo's highlight = %q", h)
			}
			// A word one typo away from a hidden field's only: found by a
			// superuser, not by a guest.
			if l := searchNotes(t, s, "", q("passwurd ")); len(l.Items) != 0 || l.TotalItems != 0 {
				t.Errorf("guest found the hidden field by a typo: %v", keysOf(t, ids, l.list))
			}
			if got := keysOf(t, ids, searchNotes(t, s, s.Token, q("passwurd ")).list); !slices.Equal(got, []string{"hares"}) {
				t.Errorf("superuser, passwurd: got %v", got)
			}
			// An exact match wins: "cart" matches the cart, and does not
			// go fuzzy to "care".
			got = keysOf(t, ids, searchNotes(t, s, "", q("cart wheels")).list)
			if !slices.Equal(got, []string{"cart"}) {
				t.Fatalf("cart: got %v", got)
			}
		})
		t.Run("highlights are escaped HTML", func(t *testing.T) {
			l := searchNotes(t, s, "", q("animals"))
			h := l.Highlights[ids["hares"]]["body"]
			if !strings.Contains(h, "<mark>animals</mark>") || strings.Contains(h, "<b>") || !strings.Contains(h, "&amp;") {
				t.Fatalf("body highlight = %q", h)
			}
			if _, ok := l.Highlights[ids["hares"]]["title"]; ok {
				t.Errorf("title highlighted without a match: %v", l.Highlights)
			}
			l = searchNotes(t, s, "", q("tortoise"))
			if h := l.Highlights[ids["care"]]["title"]; h != "<mark>Tortoise</mark> care" {
				t.Errorf("title highlight = %q", h)
			}
		})
		t.Run("hidden fields: not for guests, yes for superusers", func(t *testing.T) {
			l := searchNotes(t, s, "", q("password"))
			if len(l.Items) != 0 || l.TotalItems != 0 || len(l.Highlights) != 0 {
				t.Fatalf("guest found hidden text: %+v", l)
			}
			// A visible match does not highlight the hidden field either.
			l = searchNotes(t, s, "", q("tortoise"))
			for id, h := range l.Highlights {
				if _, ok := h["secret"]; ok {
					t.Errorf("guest got the hidden field highlighted for %s: %v", id, h)
				}
			}
			if slices.Contains(keysOf(t, ids, l.list), "hares") {
				t.Errorf("guest found a record by its hidden text")
			}
			l = searchNotes(t, s, s.Token, q("password"))
			if got := keysOf(t, ids, l.list); !slices.Equal(got, []string{"hares"}) {
				t.Fatalf("superuser: got %v", got)
			}
			if h := l.Highlights[ids["hares"]]["secret"]; !strings.Contains(h, "<mark>password</mark>") {
				t.Errorf("superuser highlight = %q", h)
			}
		})
		t.Run("with filter, sort, expand and paging", func(t *testing.T) {
			l := searchNotes(t, s, "", q("tortoise")+"&filter="+url.QueryEscape("n >= 1")+"&sort=-n&expand=author&perPage=1&page=2")
			if got := keysOf(t, ids, l.list); !slices.Equal(got, []string{"care"}) {
				t.Fatalf("got %v", got)
			}
			if l.TotalItems != 2 || l.TotalPages != 2 || l.Page != 2 || l.PerPage != 1 {
				t.Errorf("paging = %+v", l.list)
			}
			exp, _ := l.Items[0]["expand"].(map[string]any)
			if a, _ := exp["author"].(map[string]any); a == nil || a["name"] != "Ann" {
				t.Errorf("expand = %v", l.Items[0]["expand"])
			}
			if _, ok := l.Highlights[ids["garden"]]; ok {
				t.Errorf("highlights for a record not on the page: %v", l.Highlights)
			}
			l = searchNotes(t, s, "", q("tortoise")+"&filter="+url.QueryEscape("n >= 2"))
			if got := keysOf(t, ids, l.list); !slices.Equal(got, []string{"garden"}) {
				t.Fatalf("filtered: got %v", got)
			}
			l = searchNotes(t, s, "", q("tortoise")+"&skipTotal=1")
			if l.TotalItems != -1 || len(l.Items) != 2 {
				t.Errorf("skipTotal: %+v", l.list)
			}
			l = searchNotes(t, s, "", q("green"))
			if got := keysOf(t, ids, l.list); !slices.Equal(got, []string{"cart"}) {
				t.Fatalf("select: got %v", got)
			}
		})
		t.Run("a view over a searchable collection", func(t *testing.T) {
			// SELECT * must not make the index (which holds the hidden
			// field's words) a field of the view.
			s.Super("POST", "/api/collections", map[string]any{"name": "notes_view", "type": "view",
				"listRule": "", "viewQuery": "SELECT * FROM notes"}, 200, nil)
			resp := s.Do("GET", "/api/collections/notes_view/records", "", nil, 200, nil)
			if strings.Contains(string(resp.Body), `"_search"`) {
				t.Fatalf("view shows the search index: %s", resp.Body)
			}
		})
		t.Run("a list without search is unchanged", func(t *testing.T) {
			for _, params := range []string{"", "search=", "search=" + url.QueryEscape("   ")} {
				resp := s.Do("GET", "/api/collections/notes/records?"+params, "", nil, 200, nil)
				if strings.Contains(string(resp.Body), "highlights") {
					t.Errorf("%q: %s", params, resp.Body)
				}
			}
		})
		t.Run("400s", func(t *testing.T) {
			resp := s.Do("GET", "/api/collections/people/records?"+q("ann"), "", nil, 400, nil)
			wantErrField(t, resp.Body, "search")
			resp = s.Do("GET", "/api/collections/notes/records?"+q(strings.Repeat("tortoise ", 2000)), "", nil, 400, nil)
			wantErrField(t, resp.Body, "search")
		})
	})
}

// wantErrField fails unless body is an error naming field.
func wantErrField(t *testing.T, body []byte, field string) {
	t.Helper()
	var e errBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if _, ok := e.Data[field]; !ok {
		t.Fatalf("error does not name %s: %s", field, body)
	}
}

// TestSearchFTSListRule: the list rule hides records from a search
// exactly as from a list.
func TestSearchFTSListRule(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		searchFixture(t, s, "n >= 2 && n != 4")
		for _, word := range []string{"tort", "tortoise", "red", "animals", "corn"} {
			var viaList list
			filter := `title ~ "` + word + `" || body ~ "` + word + `"`
			s.Do("GET", "/api/collections/notes/records?perPage=500&filter="+url.QueryEscape(filter), "", nil, 200, &viaList)
			viaSearch := searchNotes(t, s, "", "perPage=500&search="+url.QueryEscape(word))
			a, b := ids(viaList), ids(viaSearch.list)
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Errorf("%s: list %v, search %v", word, a, b)
			}
			if viaSearch.TotalItems != len(b) {
				t.Errorf("%s: total %d for %d items", word, viaSearch.TotalItems, len(b))
			}
			for id := range viaSearch.Highlights {
				if !slices.Contains(b, id) {
					t.Errorf("%s: highlights for %s, not listed", word, id)
				}
			}
		}
		// Superusers-only list rule: a guest's search is refused as a list is.
		var c map[string]any
		s.Super("GET", "/api/collections/notes", nil, 200, &c)
		s.Super("PATCH", "/api/collections/notes", map[string]any{"listRule": nil}, 200, nil)
		l := s.Request("GET", "/api/collections/notes/records", "", nil)
		sr := s.Request("GET", "/api/collections/notes/records?search=tortoise", "", nil)
		if l.Status != sr.Status || (sr.Status == 200 && !strings.Contains(string(sr.Body), `"items":[]`)) {
			t.Errorf("list %d %s, search %d %s", l.Status, l.Body, sr.Status, sr.Body)
		}
	})
}

// TestSearchFTSSchemaChanges: renames keep search working; changing the
// searchable fields rebuilds the index over the records already there;
// the option is validated.
func TestSearchFTSSchemaChanges(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		ids := searchFixture(t, s, "")
		find := func(coll, search string) []string {
			t.Helper()
			var l searchList
			s.Do("GET", "/api/collections/"+coll+"/records?search="+url.QueryEscape(search), "", nil, 200, &l)
			return ids2(l.list)
		}
		s.Super("PATCH", "/api/collections/notes", map[string]any{"name": "memos"}, 200, nil)
		if got := find("memos", "winter"); !slices.Equal(got, []string{ids["garden"]}) {
			t.Fatalf("after collection rename: %v", got)
		}

		var c struct {
			Fields []map[string]any `json:"fields"`
			Search struct {
				Fields []map[string]any `json:"fields"`
			} `json:"search"`
		}
		s.Super("GET", "/api/collections/memos", nil, 200, &c)
		for _, f := range c.Fields {
			if f["name"] == "body" {
				f["name"] = "content"
			}
		}
		s.Super("PATCH", "/api/collections/memos", map[string]any{"fields": c.Fields}, 200, &c)
		if c.Search.Fields[1]["name"] != "content" {
			t.Fatalf("search fields after the rename: %v", c.Search.Fields)
		}
		if got := find("memos", "winter"); !slices.Equal(got, []string{ids["garden"]}) {
			t.Fatalf("after field rename: %v", got)
		}
		create(t, s, "memos", map[string]any{"title": "New", "content": "spring rain"})
		if got := find("memos", "spring"); len(got) != 1 {
			t.Fatalf("new record after field rename: %v", got)
		}

		// A field made searchable: the records already there are found by it.
		s.Super("PATCH", "/api/collections/memos", map[string]any{"search": map[string]any{
			"language": "english",
			"fields":   []map[string]any{{"name": "title", "weight": 3}, {"name": "content"}, {"name": "summary", "weight": 2}}}}, 200, nil)
		if got := find("memos", "mexican"); !slices.Equal(got, []string{ids["tortilla"]}) {
			t.Fatalf("after adding summary: %v", got)
		}
		if got := find("memos", "kitchens"); !slices.Equal(got, []string{ids["tortilla"]}) {
			t.Fatalf("english stemming: %v", got)
		}
		if got := find("memos", "kitchns "); !slices.Equal(got, []string{ids["tortilla"]}) {
			t.Fatalf("english stemming, one typo: %v", got)
		}

		bad := func(body map[string]any, field string) {
			t.Helper()
			resp := s.Super("PATCH", "/api/collections/memos", body, 400, nil)
			wantErrField(t, resp.Body, field)
		}
		// Dropping a searchable field while it is listed.
		var keep []map[string]any
		for _, f := range c.Fields {
			if f["name"] != "summary" {
				keep = append(keep, f)
			}
		}
		bad(map[string]any{"fields": keep}, "search.fields.2.name")
		bad(map[string]any{"search": map[string]any{"language": "klingon", "fields": []map[string]any{{"name": "title"}}}}, "search.language")
		bad(map[string]any{"search": map[string]any{"fields": []map[string]any{{"name": "n"}}}}, "search.fields.0.name")
		bad(map[string]any{"search": map[string]any{"fields": []map[string]any{{"name": "nope"}}}}, "search.fields.0.name")
		bad(map[string]any{"search": map[string]any{"fields": []map[string]any{{"name": "title"}, {"name": "title"}}}}, "search.fields.1.name")
		bad(map[string]any{"search": map[string]any{"fields": []map[string]any{{"name": "title", "weight": 101}}}}, "search.fields.0.weight")
		bad(map[string]any{"search": map[string]any{"fields": []map[string]any{{"name": "title", "weight": -1}}}}, "search.fields.0.weight")
		// Five weight classes; a hidden field's weight counts apart.
		bad(map[string]any{"search": map[string]any{"fields": []map[string]any{
			{"name": "title", "weight": 1}, {"name": "content", "weight": 2}, {"name": "summary", "weight": 3},
			{"name": "tags", "weight": 4}, {"name": "secret", "weight": 4}}}}, "search.fields")

		// Search off: a search is a 400 again, the list still works.
		s.Super("PATCH", "/api/collections/memos", map[string]any{"search": nil}, 200, nil)
		resp := s.Do("GET", "/api/collections/memos/records?search=tortoise", "", nil, 400, nil)
		wantErrField(t, resp.Body, "search")
		s.Do("GET", "/api/collections/memos/records", "", nil, 200, nil)
	})
}

func ids2(l list) []string {
	out := []string{}
	for _, it := range l.Items {
		out = append(out, it["id"].(string))
	}
	return out
}

// An account's email is shown only to its owner (unless made visible), so
// a search by anyone else neither matches nor highlights it, even when
// the collection lists email among its searchable fields; a superuser's
// does.
func TestSearchFTSAuthEmail(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "members", "type": "auth", "listRule": "", "viewRule": "",
			"fields": []map[string]any{{"name": "nick", "type": "text"}},
			"search": map[string]any{"fields": []map[string]any{{"name": "nick"}, {"name": "email"}}},
		}, 200, nil)
		s.Super("POST", "/api/collections/members/records", map[string]any{
			"email": "zebediah@example.com", "password": "a-long-password", "passwordConfirm": "a-long-password", "nick": "zed",
		}, 200, nil)
		path := "/api/collections/members/records?search=" + url.QueryEscape("zebediah")
		var guest struct {
			TotalItems int            `json:"totalItems"`
			Highlights map[string]any `json:"highlights"`
		}
		s.Do("GET", path, "", nil, 200, &guest)
		if guest.TotalItems != 0 || len(guest.Highlights) != 0 {
			t.Errorf("a guest's search matched a hidden email: %+v", guest)
		}
		var super struct {
			TotalItems int `json:"totalItems"`
		}
		s.Super("GET", path, nil, 200, &super)
		if super.TotalItems != 1 {
			t.Errorf("a superuser's search by email found %d accounts, want 1", super.TotalItems)
		}
	})
}

// TestSearchFTSAccents: words are found and highlighted whichever way
// the stored text and the query spell their accents, on both engines;
// and stored text holding the engines' highlight marks cannot forge a
// highlight.
func TestSearchFTSAccents(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "dishes", "listRule": "", "viewRule": "",
			"fields": []map[string]any{{"name": "title", "type": "text"}, {"name": "body", "type": "text"}},
			"search": map[string]any{"fields": []map[string]any{{"name": "title", "weight": 2}, {"name": "body"}}},
		}, 200, nil)
		cafe := create(t, s, "dishes", map[string]any{"title": "Café crème brûlée", "body": "dessert"})["id"].(string)
		forged := create(t, s, "dishes", map[string]any{"title": "\ue000x\ue001 tortoise", "body": "a tortoise shell"})["id"].(string)
		find := func(search string) searchList {
			t.Helper()
			var l searchList
			s.Do("GET", "/api/collections/dishes/records?search="+url.QueryEscape(search), "", nil, 200, &l)
			return l
		}
		for _, q := range []string{"cafe", "café", "CAFÉ", "creme", "bru", "cafe creme brulee", `"café crème"`} {
			if got := ids2(find(q).list); !slices.Equal(got, []string{cafe}) {
				t.Errorf("%q finds %v, want the café", q, got)
			}
		}
		if h := find("cafe").Highlights[cafe]["title"]; h != "<mark>Café</mark> crème brûlée" {
			t.Errorf("cafe: title highlight %q", h)
		}
		if h := find("CRÈME bru").Highlights[cafe]["title"]; h != "Café <mark>crème</mark> <mark>brûlée</mark>" {
			t.Errorf("crème bru: title highlight %q", h)
		}

		l := find("tortoise")
		if got := ids2(l.list); !slices.Equal(got, []string{forged}) {
			t.Fatalf("tortoise finds %v", got)
		}
		if h, ok := l.Highlights[forged]["title"]; ok {
			t.Errorf("a title holding the marks is highlighted: %q", h)
		}
		if h := l.Highlights[forged]["body"]; !strings.Contains(h, "<mark>tortoise</mark> shell") {
			t.Errorf("body highlight %q", h)
		}
	})
}
