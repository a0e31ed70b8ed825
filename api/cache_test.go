package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// The record cache (api/cache.go): hits answer the same bytes, every
// kind of write is seen by the next read, callers never share entries,
// and what cannot be cached is not.

const cacheHeader = "X-Tortoise-Cache"

// cacheSchema creates "items" (public list and view, a superuser-only
// hidden field) and "tags", which items relate to.
func cacheSchema(t *testing.T, s *testkit.Server) {
	t.Helper()
	s.Super("POST", "/api/collections", map[string]any{
		"name": "tags", "listRule": "", "viewRule": "",
		"fields": []map[string]any{{"name": "label", "type": "text"}},
	}, 200, nil)
	s.Super("POST", "/api/collections", map[string]any{
		"name": "items", "listRule": "", "viewRule": "", "updateRule": "",
		"fields": []map[string]any{
			{"name": "title", "type": "text"},
			{"name": "n", "type": "number"},
			{"name": "secret", "type": "text", "hidden": true},
			{"name": "tag", "type": "relation", "collectionId": "tags", "maxSelect": 1},
		},
	}, 200, nil)
}

// get sends a GET with token (may be empty) and headers, and requires a 200.
func cacheGet(t *testing.T, s *testkit.Server, path, token string, headers map[string]string) testkit.Response {
	t.Helper()
	h := map[string]string{}
	for k, v := range headers {
		h[k] = v
	}
	if token != "" {
		h["Authorization"] = token
	}
	r := s.RequestWithHeaders("GET", path, h, nil)
	if r.Status != 200 {
		t.Fatalf("GET %s: status %d: %s", path, r.Status, r.Body)
	}
	return r
}

func TestCacheHitsAnswerTheSameBytes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		cacheSchema(t, s)
		it := create(t, s, "items", map[string]any{"title": "one", "n": 1, "secret": "s3"})
		create(t, s, "items", map[string]any{"title": "two", "n": 2})
		for _, tc := range []struct {
			name, path, again, token, cacheControl string
		}{
			{"view, guest", "/api/collections/items/records/" + it["id"].(string), "", "", "public, no-cache"},
			{"list, guest", "/api/collections/items/records?perPage=5&sort=-n", "/api/collections/items/records?sort=-n&perPage=5", "", "public, no-cache"},
			{"view, superuser", "/api/collections/items/records/" + it["id"].(string), "", s.Token, "private, no-cache"},
			{"list by name and by id", "/api/collections/items/records?filter=n>0", "", s.Token, "private, no-cache"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				first := cacheGet(t, s, tc.path, tc.token, nil)
				again := tc.again
				if again == "" {
					again = tc.path
				}
				second := cacheGet(t, s, again, tc.token, nil)
				if first.Header.Get(cacheHeader) != "miss" || second.Header.Get(cacheHeader) != "hit" {
					t.Errorf("%s then %s, want miss then hit", first.Header.Get(cacheHeader), second.Header.Get(cacheHeader))
				}
				if string(first.Body) != string(second.Body) {
					t.Errorf("the hit answered\n%s\nthe miss\n%s", second.Body, first.Body)
				}
				etag := first.Header.Get("ETag")
				if len(etag) < 10 || etag[0] != '"' || etag != second.Header.Get("ETag") {
					t.Errorf("ETags %q and %q: want one strong tag", etag, second.Header.Get("ETag"))
				}
				if cc := second.Header.Get("Cache-Control"); cc != tc.cacheControl {
					t.Errorf("Cache-Control %q, want %q", cc, tc.cacheControl)
				}
				if ct := second.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q from the cache", ct)
				}
				// Revalidation: 304 without a body for the tag, alone, weak
				// or in a list; a 200 for another tag.
				for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
					h := map[string]string{"If-None-Match": inm}
					if tc.token != "" {
						h["Authorization"] = tc.token
					}
					r := s.RequestWithHeaders("GET", tc.path, h, nil)
					if r.Status != 304 || len(r.Body) != 0 || r.Header.Get("ETag") != etag {
						t.Errorf("If-None-Match %s: status %d, %d bytes, ETag %q; want 304, none, %q", inm, r.Status, len(r.Body), r.Header.Get("ETag"), etag)
					}
				}
				r := cacheGet(t, s, tc.path, tc.token, map[string]string{"If-None-Match": `"other"`})
				if string(r.Body) != string(first.Body) {
					t.Errorf("If-None-Match of another tag answered %s", r.Body)
				}
			})
		}
	})
}

// Every way of writing bumps the cache before the writer hears back:
// the API, the service layer as Go code calls it, a batch, a delete.
func TestCacheWritesInvalidateBeforeTheyReturn(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		cacheSchema(t, s)
		enableBatch(t, s)
		items, err := s.App.Service.Collection("items")
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, tc := range []struct {
			name  string
			write func(id string, n int)
		}{
			{"api", func(id string, n int) {
				s.Super("PATCH", "/api/collections/items/records/"+id, map[string]any{"n": n}, 200, nil)
			}},
			{"service", func(id string, n int) {
				if _, err := s.App.Records.Update(ctx, testkit.Superuser, items, id, map[string]any{"n": n}); err != nil {
					t.Fatal(err)
				}
			}},
			{"batch", func(id string, n int) {
				s.Super("POST", "/api/batch", map[string]any{"requests": []map[string]any{
					{"method": "PATCH", "url": "/api/collections/items/records/" + id, "body": map[string]any{"n": n}},
				}}, 200, nil)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := create(t, s, "items", map[string]any{"title": tc.name, "n": 0})["id"].(string)
				view := "/api/collections/items/records/" + id
				list := "/api/collections/items/records?filter=" + url.QueryEscape("title='"+tc.name+"'")
				for n := 1; n <= 3; n++ {
					cacheGet(t, s, view, "", nil)
					cacheGet(t, s, list, "", nil)
					if r := cacheGet(t, s, view, "", nil); r.Header.Get(cacheHeader) != "hit" {
						t.Fatalf("not cached: %s", r.Header.Get(cacheHeader))
					}
					tc.write(id, n)
					var rec map[string]any
					if err := json.Unmarshal(cacheGet(t, s, view, "", nil).Body, &rec); err != nil || rec["n"] != float64(n) {
						t.Errorf("view after writing n=%d: %v (%v)", n, rec, err)
					}
					var l struct{ Items []map[string]any }
					if err := json.Unmarshal(cacheGet(t, s, list, "", nil).Body, &l); err != nil || len(l.Items) != 1 || l.Items[0]["n"] != float64(n) {
						t.Errorf("list after writing n=%d: %v (%v)", n, l.Items, err)
					}
				}
			})
		}
		t.Run("create and delete", func(t *testing.T) {
			list := "/api/collections/items/records?filter=" + url.QueryEscape("title='cd'")
			count := func() int {
				var l struct{ TotalItems int }
				if err := json.Unmarshal(cacheGet(t, s, list, "", nil).Body, &l); err != nil {
					t.Fatal(err)
				}
				return l.TotalItems
			}
			for range 2 { // the second answer comes from the cache
				if count() != 0 {
					t.Fatal("want none yet")
				}
			}
			id := create(t, s, "items", map[string]any{"title": "cd"})["id"].(string)
			if n := count(); n != 1 {
				t.Errorf("after a create: %d items, want 1", n)
			}
			s.Super("DELETE", "/api/collections/items/records/"+id, nil, 204, nil)
			if n := count(); n != 0 {
				t.Errorf("after a delete: %d items, want 0", n)
			}
		})
		// An expanded answer reads another collection: a write there
		// reaches it; so does a filter through a relation.
		t.Run("other collections", func(t *testing.T) {
			tag := create(t, s, "tags", map[string]any{"label": "old"})["id"].(string)
			id := create(t, s, "items", map[string]any{"title": "tagged", "tag": tag})["id"].(string)
			expanded := "/api/collections/items/records/" + id + "?expand=tag"
			through := "/api/collections/items/records?filter=" + url.QueryEscape("tag.label='new'")
			cacheGet(t, s, expanded, "", nil)
			cacheGet(t, s, through, "", nil)
			tags, _ := s.App.Service.Collection("tags")
			if _, err := s.App.Records.Update(ctx, testkit.Superuser, tags, tag, map[string]any{"label": "new"}); err != nil {
				t.Fatal(err)
			}
			var rec struct {
				Expand struct{ Tag struct{ Label string } }
			}
			_ = json.Unmarshal(cacheGet(t, s, expanded, "", nil).Body, &rec)
			if rec.Expand.Tag.Label != "new" {
				t.Errorf("expanded tag after its change: %q, want new", rec.Expand.Tag.Label)
			}
			var l struct{ TotalItems int }
			_ = json.Unmarshal(cacheGet(t, s, through, "", nil).Body, &l)
			if l.TotalItems != 1 {
				t.Errorf("filter through the relation after the tag's change: %d items, want 1", l.TotalItems)
			}
		})
	})
}

// Truncating a collection (no change per record on the feed) empties
// what the cache answers before the truncate's answer leaves.
func TestCacheTruncate(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		cacheSchema(t, s)
		create(t, s, "items", map[string]any{"title": "one"})
		list := "/api/collections/items/records"
		cacheGet(t, s, list, "", nil)
		if cacheGet(t, s, list, "", nil).Header.Get(cacheHeader) != "hit" {
			t.Fatal("not cached")
		}
		s.Super("DELETE", "/api/collections/items/truncate", nil, 204, nil)
		var l struct{ TotalItems int }
		_ = json.Unmarshal(cacheGet(t, s, list, "", nil).Body, &l)
		if l.TotalItems != 0 {
			t.Errorf("list after truncate: %d items", l.TotalItems)
		}
		// Go code truncating through the service layer, not the API.
		create(t, s, "items", map[string]any{"title": "two"})
		cacheWaitHit(t, s, list, nil)
		if err := s.App.Collections.Truncate(t.Context(), "items"); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(cacheGet(t, s, list, "", nil).Body, &l)
		if l.TotalItems != 0 {
			t.Errorf("list after a truncate by Go code: %d items", l.TotalItems)
		}
	})
}

// A truncate in one process empties what another process's in-process
// cache answers (the store notifies it; no change per record does).
func TestCacheTruncateAcrossProcesses(t *testing.T) {
	t.Parallel()
	a, b := twoApps(t, "")
	cacheSchema(t, a)
	create(t, a, "items", map[string]any{"title": "one"})
	list := "/api/collections/items/records"
	cacheWaitHit(t, b, list, nil)
	a.Super("DELETE", "/api/collections/items/truncate", nil, 204, nil)
	for deadline := time.Now().Add(10 * time.Second); ; {
		var l struct{ TotalItems int }
		_ = json.Unmarshal(cacheGet(t, b, list, "", nil).Body, &l)
		if l.TotalItems == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the other process still lists the truncated records from its cache")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A rule change (a schema change) moves every key.
func TestCacheRuleChangeInvalidates(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		cacheSchema(t, s)
		it := create(t, s, "items", map[string]any{"title": "one", "n": 1})
		list, view := "/api/collections/items/records", "/api/collections/items/records/"+it["id"].(string)
		cacheGet(t, s, list, "", nil)
		cacheGet(t, s, view, "", nil)
		if cacheGet(t, s, view, "", nil).Header.Get(cacheHeader) != "hit" {
			t.Fatal("not cached")
		}
		s.Super("PATCH", "/api/collections/items", map[string]any{"listRule": "n > 100", "viewRule": "n > 100"}, 200, nil)
		var l struct{ TotalItems int }
		_ = json.Unmarshal(cacheGet(t, s, list, "", nil).Body, &l)
		if l.TotalItems != 0 {
			t.Errorf("list after the rule hid every item: %d items", l.TotalItems)
		}
		if r := s.Request("GET", view, "", nil); r.Status != 404 {
			t.Errorf("view after the rule hid it: %d %s", r.Status, r.Body)
		}
	})
}

// Callers never share entries: a hidden field a superuser read never
// reaches a guest, and owner-only records never reach another user.
func TestCacheCallersApart(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		cacheSchema(t, s)
		it := create(t, s, "items", map[string]any{"title": "one", "secret": "s3cret"})
		for _, path := range []string{"/api/collections/items/records/" + it["id"].(string), "/api/collections/items/records"} {
			for range 2 {
				if r := cacheGet(t, s, path, s.Token, nil); !json.Valid(r.Body) || !cacheContains(r.Body, "s3cret") {
					t.Fatalf("the superuser does not see the hidden field: %s", r.Body)
				}
			}
			for range 2 {
				if r := cacheGet(t, s, path, "", nil); cacheContains(r.Body, "s3cret") {
					t.Errorf("a guest got the hidden field from %s: %s", path, r.Body)
				}
			}
		}

		usersSchema(t, s, "")
		ann := signUp(t, s, "ann@example.com", "password-123")
		bob := signUp(t, s, "bob@example.com", "password-123")
		var note map[string]any
		s.Do("POST", "/api/collections/notes/records", ann.Token, map[string]any{"text": "ann's", "owner": ann.Record["id"]}, 200, &note)
		notes, mine := "/api/collections/notes/records", "/api/collections/notes/records/"+note["id"].(string)
		me := "/api/collections/users/records/" + ann.Record["id"].(string)
		for range 2 {
			if r := cacheGet(t, s, notes, ann.Token, nil); !cacheContains(r.Body, "ann's") {
				t.Fatalf("ann does not see her note: %s", r.Body)
			}
			cacheGet(t, s, mine, ann.Token, nil)
			cacheGet(t, s, me, ann.Token, nil)
		}
		for _, who := range []struct{ name, token string }{{"bob", bob.Token}, {"a guest", ""}} {
			for range 2 {
				if r := cacheGet(t, s, notes, who.token, nil); cacheContains(r.Body, "ann's") {
					t.Errorf("%s got ann's note from the list: %s", who.name, r.Body)
				}
				if r := s.Request("GET", mine, who.token, nil); r.Status != 404 {
					t.Errorf("%s viewing ann's note: %d %s", who.name, r.Status, r.Body)
				}
				if r := s.Request("GET", me, who.token, nil); r.Status != 404 {
					t.Errorf("%s viewing ann's account: %d %s", who.name, r.Status, r.Body)
				}
			}
		}
	})
}

// Answers that change without a write are not cached; a macro's name
// inside a quoted string is text and does not count.
func TestCacheBypass(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		cacheSchema(t, s)
		s.Super("POST", "/api/collections", map[string]any{
			"name": "timed", "listRule": "created <= @now", "viewRule": "@request.headers.x_team = 'a'",
			"fields": []map[string]any{{"name": "title", "type": "text"}},
		}, 200, nil)
		s.Super("POST", "/api/collections", map[string]any{
			"name": "docs", "listRule": "",
			"fields": []map[string]any{{"name": "title", "type": "text"}},
			"search": map[string]any{"fields": []map[string]any{{"name": "title"}}},
		}, 200, nil)
		create(t, s, "docs", map[string]any{"title": "one"})
		rec := create(t, s, "timed", map[string]any{"title": "x"})
		for _, tc := range []struct {
			path, want string
			headers    map[string]string
		}{
			{"/api/collections/timed/records", "bypass", nil},
			{"/api/collections/timed/records/" + rec["id"].(string), "bypass", map[string]string{"X-Team": "a"}},
			{"/api/collections/items/records?filter=" + url.QueryEscape("created > @yesterday"), "bypass", nil},
			{"/api/collections/items/records?sort=@random", "bypass", nil},
			{"/api/collections/items/records?filter=" + url.QueryEscape("@request.headers.x = ''"), "bypass", nil},
			{"/api/collections/items/records?filter=" + url.QueryEscape("title != '@now a.b'"), "hit", nil},
			{"/api/collections/items/records?search=", "hit", nil},
			{"/api/collections/docs/records?search=one", "bypass", nil},
		} {
			cacheGet(t, s, tc.path, "", tc.headers)
			r := cacheGet(t, s, tc.path, "", tc.headers)
			if got := r.Header.Get(cacheHeader); got != tc.want {
				t.Errorf("%s: second read %q, want %q", tc.path, got, tc.want)
			}
			if r.Header.Get("ETag") == "" {
				t.Errorf("%s: no ETag", tc.path)
			}
		}
		// Not a 200: not stored, and answered as it was.
		for range 2 {
			if r := s.Request("GET", "/api/collections/items/records/nosuchrecord123", "", nil); r.Status != 404 || r.Header.Get(cacheHeader) == "hit" {
				t.Errorf("missing record: %d, %s", r.Status, r.Header.Get(cacheHeader))
			}
		}
	})
}

// A Redis that is down costs the cache, not the reads or the writes.
func TestCacheRedisDown(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite").Restart(func(c *config.Config) { c.RedisURL = "redis://127.0.0.1:1/0" })
	cacheSchema(t, s)
	it := create(t, s, "items", map[string]any{"title": "one", "n": 1})
	path := "/api/collections/items/records/" + it["id"].(string)
	for n := 2; n <= 3; n++ {
		s.Super("PATCH", path, map[string]any{"n": n}, 200, nil)
		var rec map[string]any
		r := cacheGet(t, s, path, "", nil)
		if err := json.Unmarshal(r.Body, &rec); err != nil || rec["n"] != float64(n) || r.Header.Get(cacheHeader) != "bypass" {
			t.Errorf("read with Redis down: %s, %s", r.Header.Get(cacheHeader), r.Body)
		}
	}
}

// The proof: many clients each write their own record and read
// it back at once, alone and in a list page; no read is ever older than
// the client's last acknowledged write. On SQLite and on PostgreSQL with
// the in-process cache through one app; across two apps on one
// PostgreSQL sharing Redis, writing through one and reading through the
// other.
func TestCacheNeverStale(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s := testkit.NewServer(t, "sqlite")
		neverStale(t, s, s)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		s := testkit.NewServer(t, "postgres")
		neverStale(t, s, s)
	})
	t.Run("postgres+redis, two apps", func(t *testing.T) {
		t.Parallel()
		a, b := twoApps(t, testkit.RedisURL(t))
		neverStale(t, a, b)
	})
}

func neverStale(t *testing.T, writer, reader *testkit.Server) {
	const clients, rounds = 16, 25
	writer.Super("POST", "/api/collections", map[string]any{
		"name": "counters", "listRule": "", "viewRule": "", "updateRule": "",
		"fields": []map[string]any{{"name": "n", "type": "number"}},
	}, 200, nil)
	ids := make([]string, clients)
	for i := range ids {
		ids[i] = create(t, writer, "counters", map[string]any{"n": 0})["id"].(string)
	}
	list := "/api/collections/counters/records?perPage=50&sort=id"
	var hits, reads sync.Map
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			view := "/api/collections/counters/records/" + ids[c]
			for n := 1; n <= rounds; n++ {
				if r := writer.Request("PATCH", view, "", map[string]any{"n": n}); r.Status != 200 {
					t.Errorf("client %d: write %d: %d %s", c, n, r.Status, r.Body)
					return
				}
				// n is acknowledged: no read may show less.
				r := reader.Request("GET", view, "", nil)
				var rec struct{ N int }
				if r.Status != 200 || json.Unmarshal(r.Body, &rec) != nil || rec.N < n {
					t.Errorf("client %d: read n=%d (status %d) after n=%d was acknowledged (%s)", c, rec.N, r.Status, n, r.Header.Get(cacheHeader))
				}
				cacheCount(&reads, &hits, r)
				r = reader.Request("GET", list, "", nil)
				var l struct {
					Items []struct {
						ID string
						N  int
					}
				}
				if r.Status != 200 || json.Unmarshal(r.Body, &l) != nil {
					t.Errorf("client %d: list: %d %s", c, r.Status, r.Body)
					return
				}
				i := slices.IndexFunc(l.Items, func(it struct {
					ID string
					N  int
				}) bool {
					return it.ID == ids[c]
				})
				if i < 0 || l.Items[i].N < n {
					t.Errorf("client %d: list page shows %+v after n=%d was acknowledged", c, l.Items, n)
				}
				cacheCount(&reads, &hits, r)
			}
		}()
	}
	wg.Wait()
	// Quiet now: reads are fresh, and soon served from the cache (bumps
	// of other processes' writes may still arrive through their
	// notifications for a moment: extra misses, never stale reads).
	for c, id := range ids {
		view := "/api/collections/counters/records/" + id
		cacheWaitHit(t, reader, view, func(r testkit.Response) {
			var rec struct{ N int }
			if r.Status != 200 || json.Unmarshal(r.Body, &rec) != nil || rec.N != rounds {
				t.Errorf("client %d at rest: %d %s", c, r.Status, r.Body)
			}
		})
	}
	h, _ := hits.Load("hit")
	rd, _ := reads.Load("all")
	t.Logf("%v of %v reads answered from the cache", h, rd)
}

// cacheCount tallies reads and hits.
func cacheCount(reads, hits *sync.Map, r testkit.Response) {
	inc := func(m *sync.Map, k string) {
		for {
			v, _ := m.LoadOrStore(k, 0)
			if m.CompareAndSwap(k, v, v.(int)+1) {
				return
			}
		}
	}
	inc(reads, "all")
	if r.Header.Get(cacheHeader) == "hit" {
		inc(hits, "hit")
	}
}

// When a process's notification connection drops, the changes other
// processes commit meanwhile never reach its in-process cache: on
// reconnecting it drops everything (store.Feed's OnLost), so it does not
// go on serving what they changed; and a writer whose own change cannot
// come back through its listener drops its cache before it answers.
func TestCacheListenerLostDropsAll(t *testing.T) {
	t.Parallel()
	a, b := twoApps(t, "")
	a.Super("POST", "/api/collections", map[string]any{
		"name": "counters", "listRule": "", "viewRule": "", "updateRule": "",
		"fields": []map[string]any{{"name": "n", "type": "number"}},
	}, 200, nil)
	id := create(t, a, "counters", map[string]any{"n": 0})["id"].(string)
	path := "/api/collections/counters/records/" + id
	for _, s := range []*testkit.Server{a, b} {
		cacheWaitHit(t, s, path, nil)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, a.App.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Both apps' listening connections (their last statements are the
	// LISTEN or reads of the outbox).
	var pids []int32
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()
		AND (query LIKE 'LISTEN%' OR query LIKE '%FROM _changes%')`)
	if err != nil {
		t.Fatal(err)
	}
	if pids, err = pgx.CollectRows(rows, pgx.RowTo[int32]); err != nil {
		t.Fatal(err)
	}
	if len(pids) < 2 {
		t.Fatalf("found %d listening connections, want both apps'", len(pids))
	}
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid`, pids); err != nil {
		t.Fatal(err)
	}
	// Gone for sure (the apps wait a second before they listen again).
	for gone := false; !gone; {
		if err := conn.QueryRow(ctx, `SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = ANY($1))`, pids).Scan(&gone); err != nil {
			t.Fatal(err)
		}
	}
	// Written while nobody listens: the notification is lost to b.
	a.Super("PATCH", path, map[string]any{"n": 1}, 200, nil)
	// The writer's own cache is fresh the moment it answers, though its
	// listener never brought the change back (its Update stopped waiting,
	// or the listener came back: either way it dropped its cache first).
	var mine struct{ N int }
	_ = json.Unmarshal(cacheGet(t, a, path, "", nil).Body, &mine)
	if mine.N != 1 {
		t.Errorf("the writing app answers n=%d after its write of n=1 was acknowledged", mine.N)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var rec struct{ N int }
		_ = json.Unmarshal(cacheGet(t, b, path, "", nil).Body, &rec)
		if rec.N == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the second app still answers n=0 from its cache long after its listener came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cacheWaitHit reads path as a guest until the cache answers, checking
// each answer with check (nil: none); it fails after ten seconds.
func cacheWaitHit(t *testing.T, s *testkit.Server, path string, check func(testkit.Response)) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		r := s.Request("GET", path, "", nil)
		if check != nil {
			check(r)
		}
		if r.Header.Get(cacheHeader) == "hit" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never answered from the cache (last: %d %q)", path, r.Status, r.Header.Get(cacheHeader))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// twoApps boots two apps on one fresh PostgreSQL database, as two
// processes behind a load balancer; with redis set they share it.
func twoApps(t testing.TB, redis string) (a, b *testkit.Server) {
	t.Helper()
	a = testkit.NewServer(t, "postgres")
	if redis != "" {
		a = a.Restart(func(c *config.Config) { c.RedisURL = redis })
	}
	cfg := a.App.Config
	cfg.Dir = t.TempDir()
	log := slog.New(slog.NewTextHandler(cacheLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	app, err := tortoise.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("second app: %v", err)
	}
	hs := httptest.NewServer(app.API)
	t.Cleanup(func() {
		hs.Close()
		if err := app.Close(context.Background()); err != nil {
			t.Errorf("close the second app: %v", err)
		}
	})
	b = (&testkit.Server{App: app, URL: hs.URL}).With(t)
	var auth struct{ Token string }
	b.Do("POST", "/api/collections/_superusers/auth-with-password", "",
		map[string]any{"identity": testkit.SuperuserEmail, "password": testkit.SuperuserPassword}, 200, &auth)
	b.Token = auth.Token
	return a, b
}

type cacheLogWriter struct{ t testing.TB }

func (w cacheLogWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func cacheContains(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }

// BenchmarkCacheStaleWindow measures how long a second process on one
// PostgreSQL (each with its own in-process cache) may answer from its
// cache with data older than a write the first acknowledged: the time
// from the write's answer to the first fresh read through the other app,
// which polls as fast as it can. Run with
// -run '^$' -bench CacheStaleWindow -benchtime 300x.
func BenchmarkCacheStaleWindow(b *testing.B) {
	a, other := twoApps(b, "")
	a.Super("POST", "/api/collections", map[string]any{
		"name": "counters", "listRule": "", "viewRule": "", "updateRule": "",
		"fields": []map[string]any{{"name": "n", "type": "number"}},
	}, 200, nil)
	var rec map[string]any
	a.Super("POST", "/api/collections/counters/records", map[string]any{"n": 0}, 200, &rec)
	path := "/api/collections/counters/records/" + rec["id"].(string)
	var windows []time.Duration
	stale := 0
	b.ResetTimer()
	for n := 1; n <= b.N; n++ {
		other.Request("GET", path, "", nil) // cached in the other app
		a.Super("PATCH", path, map[string]any{"n": n}, 200, nil)
		acked := time.Now()
		for {
			// The window ends where the first fresh read began.
			start := time.Since(acked)
			var got struct{ N int }
			r := other.Request("GET", path, "", nil)
			_ = json.Unmarshal(r.Body, &got)
			if got.N >= n {
				windows = append(windows, start)
				break
			}
			stale++
		}
	}
	b.StopTimer()
	slices.Sort(windows)
	q := func(p float64) float64 { return float64(windows[int(p*float64(len(windows)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(windows[len(windows)-1].Microseconds()), "max-µs")
	b.ReportMetric(float64(stale)/float64(b.N), "stale-reads/op")
	fmt.Fprintf(os.Stderr, "stale window over %d writes: p50 %v p99 %v max %v, %d stale reads\n", b.N,
		windows[len(windows)/2], windows[int(0.99*float64(len(windows)-1))], windows[len(windows)-1], stale)
}

// BenchmarkRecordCache is what the record cache saves: a record read and
// a list page (20 records with totals) served by App.API in process, from
// parallel guests, with the cache off (TORTOISE_CACHE_MB=0), in process
// and in Redis (TORTOISE_TEST_REDIS), on each engine. Reads without writes: every read after the first of its
// key is a hit. Alternate the modes on a busy machine:
//
//	go test -run '^$' -bench RecordCache -benchtime 2s ./api
func BenchmarkRecordCache(b *testing.B) {
	for _, engine := range testkit.Engines() {
		for _, mode := range []string{"off", "on", "redis"} {
			b.Run(engine+"/"+mode, func(b *testing.B) {
				s := testkit.NewServer(b, engine)
				s = s.Restart(func(c *config.Config) {
					c.LogsDays = -1 // the request log's own writes are not what is measured
					switch mode {
					case "off":
						c.CacheMB = -1
					case "redis":
						c.RedisURL = testkit.RedisURL(b)
					}
				})
				benchReads(b, s, 200, 10, nil)
			})
		}
	}
}

// TestCacheReadsItsWritesOnPostgres: on PostgreSQL a write's caller hears
// of its commit once this process's feed has published the write (the
// cache's bump among its observers). The listener let the writer go just
// before publishing, so a read right after an acknowledged write could be
// a hit of the answer before it while readers kept that answer warm.
func TestCacheReadsItsWritesOnPostgres(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "postgres")
	s.Super("POST", "/api/collections", map[string]any{"name": "ctr", "listRule": "", "viewRule": "", "updateRule": "",
		"fields": []map[string]any{{"name": "v", "type": "number"}}}, 200, nil)
	id := create(t, s, "ctr", map[string]any{"v": 0})["id"].(string)
	view := "/api/collections/ctr/records/" + id
	stop := hammer(8, func() { s.Request("GET", view, "", nil) })
	stale := 0
	for i := 1; i <= 600; i++ {
		s.Do("PATCH", view, "", map[string]any{"v": i}, 200, nil)
		var rec struct{ V int }
		if r := s.Request("GET", view, "", nil); json.Unmarshal(r.Body, &rec) != nil || rec.V < i {
			stale++
		}
	}
	stop()
	if stale > 0 {
		t.Errorf("%d of 600 reads right after an acknowledged write answered an older value", stale)
	}
}
