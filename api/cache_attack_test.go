package api_test

import (
	"encoding/json"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// Attacks on the record cache: routes by which a caller could be
// answered from the cache with what the rules no longer let it see.
// The key and dependency logic is the same on every engine, so these
// run on SQLite.

// A rule's // comments are not code: an apostrophe in one must not make
// the cache's scan of the rule take what follows for a quoted string and
// miss a dependency on the caller's record or on the time.
func TestCacheAttackCommentsInRules(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	s.Super("POST", "/api/collections", map[string]any{
		"name": "users", "type": "auth", "createRule": "", "listRule": "id = @request.auth.id", "viewRule": "id = @request.auth.id",
		"fields": []map[string]any{{"name": "name", "type": "text"}, {"name": "role", "type": "text"}},
	}, 200, nil)
	// Drafts for editors only; offers until they expire.
	s.Super("POST", "/api/collections", map[string]any{
		"name":     "posts",
		"listRule": "status = 'published' // everyone's\n|| @request.auth.role = 'editor' // and editors' drafts",
		"viewRule": "status = 'published' // everyone's\n|| @request.auth.role = 'editor' // and editors' drafts",
		"fields":   []map[string]any{{"name": "status", "type": "text"}},
	}, 200, nil)
	s.Super("POST", "/api/collections", map[string]any{
		"name":     "offers",
		"listRule": "// today's offers\nexpires > @now // (yesterday's are gone)",
		"viewRule": "// today's offers\nexpires > @now // (yesterday's are gone)",
		"fields":   []map[string]any{{"name": "expires", "type": "date"}},
	}, 200, nil)

	ann := signUp(t, s, "ann@example.com", "password-123")
	s.Super("PATCH", "/api/collections/users/records/"+ann.Record["id"].(string), map[string]any{"role": "editor"}, 200, nil)
	draft := create(t, s, "posts", map[string]any{"status": "draft"})["id"].(string)
	for _, path := range []string{"/api/collections/posts/records/" + draft, "/api/collections/posts/records"} {
		for range 2 {
			if r := cacheGet(t, s, path, ann.Token, nil); !cacheContains(r.Body, draft) {
				t.Fatalf("the editor does not see the draft at %s: %s", path, r.Body)
			}
		}
	}
	s.Super("PATCH", "/api/collections/users/records/"+ann.Record["id"].(string), map[string]any{"role": "reader"}, 200, nil)
	if r := s.Request("GET", "/api/collections/posts/records/"+draft, ann.Token, nil); r.Status != 404 {
		t.Errorf("a former editor viewing the draft: %d %s (%s)", r.Status, r.Body, r.Header.Get(cacheHeader))
	}
	if r := cacheGet(t, s, "/api/collections/posts/records", ann.Token, nil); cacheContains(r.Body, draft) {
		t.Errorf("a former editor listing the drafts: %s (%s)", r.Body, r.Header.Get(cacheHeader))
	}

	soon := time.Now().UTC().Add(1500 * time.Millisecond)
	offer := create(t, s, "offers", map[string]any{"expires": soon.Format(core.DateLayout)})["id"].(string)
	view := "/api/collections/offers/records/" + offer
	for range 2 {
		cacheGet(t, s, view, "", nil)
		cacheGet(t, s, "/api/collections/offers/records?filter="+url.QueryEscape("id != ''"), "", nil)
	}
	time.Sleep(time.Until(soon) + 100*time.Millisecond)
	if r := s.Request("GET", view, "", nil); r.Status != 404 {
		t.Errorf("an expired offer: %d %s (%s)", r.Status, r.Body, r.Header.Get(cacheHeader))
	}
	var l struct{ TotalItems int }
	if err := json.Unmarshal(cacheGet(t, s, "/api/collections/offers/records?filter="+url.QueryEscape("id != ''"), "", nil).Body, &l); err != nil || l.TotalItems != 0 {
		t.Errorf("expired offers listed: %d (%v)", l.TotalItems, err)
	}
}

// The filter's only escape is a backslash before the string's own quote:
// "\\'" inside a string is a kept backslash then an escaped quote, so the
// string goes on. Read otherwise, the scan would take the relation path
// that follows for quoted text and cache the list under the collection's
// own generation, missing the related record's change.
func TestCacheAttackEscapedQuoteInFilter(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	cacheSchema(t, s)
	tag := create(t, s, "tags", map[string]any{"label": "old"})["id"].(string)
	create(t, s, "items", map[string]any{"title": "new", "tag": tag})
	path := "/api/collections/items/records?filter=" + url.QueryEscape(`title = '\\' || title = ' || tag.label = title || title = '\\''`)
	count := func() (int, string) {
		r := cacheGet(t, s, path, "", nil)
		var l struct{ TotalItems int }
		if err := json.Unmarshal(r.Body, &l); err != nil {
			t.Fatal(err)
		}
		return l.TotalItems, r.Header.Get(cacheHeader)
	}
	for range 2 {
		if n, _ := count(); n != 0 {
			t.Fatalf("%d items before the tag's change, want 0", n)
		}
	}
	s.Super("PATCH", "/api/collections/tags/records/"+tag, map[string]any{"label": "new"}, 200, nil)
	if n, state := count(); n != 1 {
		t.Errorf("after the tag's change: %d items (%s), want 1", n, state)
	}
}

// An API key's access is its record in _apiKeys: a superuser narrowing
// it there (the records API, as for any system record) must stop the
// key's reads of the collection it lost at once.
func TestCacheAttackAPIKeyNarrowed(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	cacheSchema(t, s)
	s.Super("PATCH", "/api/collections/items", map[string]any{"listRule": nil, "viewRule": nil}, 200, nil)
	it := create(t, s, "items", map[string]any{"title": "internal", "secret": "k3y"})["id"].(string)
	var key struct {
		Key    string
		APIKey struct{ ID string }
	}
	s.Super("POST", "/api/keys", map[string]any{"name": "reporting", "collections": []string{"items", "tags"}}, 200, &key)
	view := "/api/collections/items/records/" + it
	for range 2 {
		cacheGet(t, s, view, "Bearer "+key.Key, nil)
	}
	tags, err := s.App.Service.Collection("tags")
	if err != nil {
		t.Fatal(err)
	}
	s.Super("PATCH", "/api/collections/_apiKeys/records/"+key.APIKey.ID, map[string]any{
		"scope": map[string]any{"name": "reporting", "collections": []string{tags.ID}},
	}, 200, nil)
	if r := s.Request("GET", view, "Bearer "+key.Key, nil); r.Status != 403 {
		t.Errorf("a key no longer given items reads one: %d %s (%s)", r.Status, r.Body, r.Header.Get(cacheHeader))
	}
}

// A view collection's query may read the clock itself (SQLite's 'now',
// PostgreSQL's now()): its answer changes without a write, so it must
// not be answered from the cache.
func TestCacheAttackViewQueryReadsTheClock(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	s.Super("POST", "/api/collections", map[string]any{
		"name": "offers", "fields": []map[string]any{{"name": "expires", "type": "date"}},
	}, 200, nil)
	s.Super("POST", "/api/collections", map[string]any{
		"name": "live_offers", "type": "view", "listRule": "", "viewRule": "",
		"viewQuery": "SELECT id, expires FROM offers WHERE expires > strftime('%Y-%m-%d %H:%M:%fZ', 'now')",
	}, 200, nil)
	// A rule of another collection reading the view.
	live := "@collection.live_offers.id ?= id"
	s.Super("PATCH", "/api/collections/offers", map[string]any{"listRule": live, "viewRule": live}, 200, nil)
	soon := time.Now().UTC().Add(1500 * time.Millisecond)
	offer := create(t, s, "offers", map[string]any{"expires": soon.Format(core.DateLayout)})["id"].(string)
	for _, coll := range []string{"live_offers", "offers"} {
		view, list := "/api/collections/"+coll+"/records/"+offer, "/api/collections/"+coll+"/records"
		for range 2 {
			cacheGet(t, s, view, "", nil)
			if r := cacheGet(t, s, list, "", nil); !cacheContains(r.Body, offer) {
				t.Fatalf("the live offer is not listed in %s: %s", coll, r.Body)
			}
		}
	}
	time.Sleep(time.Until(soon) + 100*time.Millisecond)
	for _, coll := range []string{"live_offers", "offers"} {
		view, list := "/api/collections/"+coll+"/records/"+offer, "/api/collections/"+coll+"/records"
		if r := s.Request("GET", view, "", nil); r.Status != 404 {
			t.Errorf("%s: an expired offer viewed: %d %s (%s)", coll, r.Status, r.Body, r.Header.Get(cacheHeader))
		}
		if r := cacheGet(t, s, list, "", nil); cacheContains(r.Body, offer) {
			t.Errorf("%s: an expired offer listed: %s (%s)", coll, r.Body, r.Header.Get(cacheHeader))
		}
	}
}

// The check for volatile views is of words, not of every substring: a
// view that groups by date(created) or has a column named "known" is
// cached, and a volatile view does not stop the caching of answers that
// cannot reach it (an expand between two other collections).
func TestCacheVolatileViewsAreNarrow(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	cacheSchema(t, s)
	s.Super("POST", "/api/collections", map[string]any{
		"name": "offers", "fields": []map[string]any{{"name": "expires", "type": "date"}, {"name": "known", "type": "bool"}},
	}, 200, nil)
	s.Super("POST", "/api/collections", map[string]any{
		"name": "daily", "type": "view", "listRule": "", "viewRule": "",
		"viewQuery": "SELECT max(id) AS id, date(created) AS day, count(*) AS n, max(known) AS known FROM offers GROUP BY date(created)",
	}, 200, nil)
	s.Super("POST", "/api/collections", map[string]any{
		"name": "live_offers", "type": "view", "listRule": "", "viewRule": "",
		"viewQuery": "SELECT id, expires FROM offers WHERE expires > datetime('now')",
	}, 200, nil)
	create(t, s, "offers", map[string]any{"expires": "2030-01-01 00:00:00.000Z"})
	tag := create(t, s, "tags", map[string]any{"label": "red"})["id"].(string)
	create(t, s, "items", map[string]any{"title": "a", "tag": tag})
	for path, want := range map[string]string{
		"/api/collections/daily/records":            "hit",
		"/api/collections/items/records?expand=tag": "hit",
		"/api/collections/live_offers/records":      "bypass",
		"/api/collections/items/records?filter=" + url.QueryEscape("@collection.live_offers.id != ''"): "bypass",
	} {
		cacheGet(t, s, path, "", nil)
		if got := cacheGet(t, s, path, "", nil).Header.Get(cacheHeader); got != want {
			t.Errorf("%s: the second read was a %q, want %q", path, got, want)
		}
	}
}

// GET one also answers HEAD, and a rule may tell them apart by
// @request.method: the two must not share an answer.
func TestCacheAttackHeadAndGet(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	s.Super("POST", "/api/collections", map[string]any{
		"name": "notes", "listRule": "@request.method = 'HEAD'", "viewRule": "@request.method = 'HEAD'",
		"fields": []map[string]any{{"name": "text", "type": "text"}},
	}, 200, nil)
	id := create(t, s, "notes", map[string]any{"text": "only heads"})["id"].(string)
	for range 2 {
		if r := s.Request("HEAD", "/api/collections/notes/records/"+id, "", nil); r.Status != 200 {
			t.Fatalf("HEAD: %d", r.Status)
		}
	}
	if r := s.Request("GET", "/api/collections/notes/records/"+id, "", nil); r.Status != 404 || cacheContains(r.Body, "only heads") {
		t.Errorf("GET after HEADs: %d %s (%s)", r.Status, r.Body, r.Header.Get(cacheHeader))
	}
}

// The records an expand adds are there by their own collections' view
// rules: a rule there that reads the request's headers or the clock makes
// the answer one the cache may not keep. The cache read only the main
// collection's rule, so one guest's header-gated expand went to the next
// guest, and an expired related record stayed in the answer.
func TestCacheAttackExpandedCollectionsRules(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	gate := `@request.headers.x_key = "letmein"`
	s.Super("POST", "/api/collections", map[string]any{"name": "secrets", "listRule": gate, "viewRule": gate,
		"fields": []map[string]any{{"name": "name", "type": "text"}}}, 200, nil)
	s.Super("POST", "/api/collections", map[string]any{"name": "offers", "listRule": "expires > @now", "viewRule": "expires > @now",
		"fields": []map[string]any{{"name": "code", "type": "text"}, {"name": "expires", "type": "date"}}}, 200, nil)
	// shelf's create rule reads the header too (as the report's did), so
	// its requests carried their headers before any expand asked for them.
	s.Super("POST", "/api/collections", map[string]any{"name": "shelf", "listRule": "", "viewRule": "", "createRule": gate,
		"fields": []map[string]any{{"name": "secret", "type": "relation", "collectionId": "secrets", "maxSelect": 1},
			{"name": "offer", "type": "relation", "collectionId": "offers", "maxSelect": 1}}}, 200, nil)
	soon := time.Now().UTC().Add(1500 * time.Millisecond)
	sec := create(t, s, "secrets", map[string]any{"name": "TOP-SECRET-VALUE"})["id"].(string)
	off := create(t, s, "offers", map[string]any{"code": "SECRET-CODE-123", "expires": soon.Format(core.DateLayout)})["id"].(string)
	item := create(t, s, "shelf", map[string]any{"secret": sec, "offer": off})["id"].(string)

	view := "/api/collections/shelf/records/" + item + "?expand=secret"
	if r := cacheGet(t, s, view, "", map[string]string{"X-Key": "letmein"}); !cacheContains(r.Body, "TOP-SECRET-VALUE") {
		t.Fatalf("the header's holder does not see the secret: %s", r.Body)
	}
	for _, path := range []string{view, "/api/collections/shelf/records?expand=secret"} {
		if r := cacheGet(t, s, path, "", nil); cacheContains(r.Body, "TOP-SECRET-VALUE") {
			t.Errorf("a guest without the header at %s: %s (%s)", path, r.Body, r.Header.Get(cacheHeader))
		}
	}

	offers := []string{"/api/collections/shelf/records/" + item + "?expand=offer", "/api/collections/shelf/records?expand=offer"}
	for _, path := range offers {
		for range 2 {
			if r := cacheGet(t, s, path, "", nil); !cacheContains(r.Body, "SECRET-CODE-123") {
				t.Fatalf("the offer is not expanded before it expires: %s", r.Body)
			}
		}
	}
	time.Sleep(time.Until(soon) + 100*time.Millisecond)
	for _, path := range offers {
		if r := cacheGet(t, s, path, "", nil); cacheContains(r.Body, "SECRET-CODE-123") {
			t.Errorf("an expired offer expanded at %s: %s (%s)", path, r.Body, r.Header.Get(cacheHeader))
		}
	}
}

// A read that loaded its caller's record before a change of it (a
// demotion) but took the cache's generation after the change's bump
// stored its answer under the new generation, keyed by the caller's id
// alone: the demoted caller was then answered from it. The key holds the
// caller's record as read now. This races demotions against readers; on
// the code before, some demoted reads were answered from the cache.
func TestCacheAttackDemotionRacingReads(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	token, path := staffAndDocs(t, s)
	create(t, s, "docs", map[string]any{"title": "ADMIN-ONLY-DOC"})
	stop := hammer(4, func() { s.Request("GET", "/api/collections/docs/records", token, nil) })
	stale := 0
	for range 150 {
		s.Super("PATCH", path, map[string]any{"role": "admin"}, 200, nil)
		s.Super("PATCH", path, map[string]any{"role": "user"}, 200, nil)
		if r := s.Request("GET", "/api/collections/docs/records", token, nil); cacheContains(r.Body, "ADMIN-ONLY-DOC") {
			stale++
		}
	}
	stop()
	if stale > 0 {
		t.Errorf("%d of 150 reads after a demotion listed the admin-only doc", stale)
	}
}

// staffAndDocs makes an auth collection "staff" with a role field and a
// collection "docs" only admins may list or view, and a staff member
// u1 who is an admin: it returns u1's token and record path.
func staffAndDocs(t *testing.T, s *testkit.Server) (token, path string) {
	t.Helper()
	liftLimits(t, s)
	s.Super("POST", "/api/collections", map[string]any{"name": "staff", "type": "auth", "listRule": "id = @request.auth.id",
		"viewRule": "id = @request.auth.id", "fields": []map[string]any{{"name": "role", "type": "text"}}}, 200, nil)
	admin := `@request.auth.role = "admin"`
	s.Super("POST", "/api/collections", map[string]any{"name": "docs", "listRule": admin, "viewRule": admin,
		"fields": []map[string]any{{"name": "title", "type": "text"}}}, 200, nil)
	var u map[string]any
	s.Super("POST", "/api/collections/staff/records", map[string]any{"email": "u1@example.com", "role": "admin",
		"password": "a-long-password", "passwordConfirm": "a-long-password"}, 200, &u)
	var login struct{ Token string }
	s.Do("POST", "/api/collections/staff/auth-with-password", "", map[string]any{"identity": "u1@example.com", "password": "a-long-password"}, 200, &login)
	return login.Token, "/api/collections/staff/records/" + u["id"].(string)
}

// hammer runs fn over and over on n goroutines until the returned stop
// is called (which waits for them).
func hammer(n int, fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
					fn()
				}
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}
