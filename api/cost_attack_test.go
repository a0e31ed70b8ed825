package api_test

import (
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/records"
)

// linkedNodes creates "nodes", public to read, whose multiple relation
// "links" points back at nodes, with n records each linking to all n.
func linkedNodes(t *testing.T, s *testkit.Server, n int) []string {
	t.Helper()
	s.Super("POST", "/api/collections", map[string]any{
		"name": "nodes", "listRule": "", "viewRule": "",
		"fields": []map[string]any{{"name": "title", "type": "text"}},
	}, 200, nil)
	s.Super("PATCH", "/api/collections/nodes", map[string]any{"fields": []map[string]any{
		{"name": "title", "type": "text"},
		{"name": "links", "type": "relation", "collectionId": "nodes", "maxSelect": 100},
	}}, 200, nil)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = create(t, s, "nodes", map[string]any{"title": fmt.Sprintf("node %d", i)})["id"].(string)
	}
	for _, id := range ids {
		s.Super("PATCH", "/api/collections/nodes/records/"+id, map[string]any{"links": ids}, 200, nil)
	}
	return ids
}

// An expand repeats a related record under every parent that names it,
// so over records that relate to one another its answer grows as the
// fan-out to the power of its depth: over 8 nodes linking to all 8, one
// guest's list with links expanded 6 levels deep answered 613 MB, took
// 7.6 s and 2.3 GB of memory (over 12 nodes it would need about 25 GB),
// while the database did 6 small queries. The answer is now refused with
// a 400 naming expand, before any of it is written; a shallower expand of
// the same records, and the same records through fields, still answer.
func TestCostExpandFanOutIsBounded(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		ids := linkedNodes(t, s, 8)
		deep := strings.TrimSuffix(strings.Repeat("links.", 6), ".")
		for _, path := range []string{
			"/api/collections/nodes/records?expand=" + deep,
			"/api/collections/nodes/records?perPage=1&expand=" + deep,
			"/api/collections/nodes/records/" + ids[0] + "?expand=" + deep,
			"/api/collections/nodes/records?fields=id,expand.links.id&expand=" + deep,
		} {
			a := guestGet(s, path, "203.0.113.7")
			if a.status != 400 || a.body.Data["expand"].Code != "validation_expand_too_large" {
				t.Errorf("%s: %d %+v (%v) in %v, want 400 naming expand", path, a.status, a.body, a.err, a.took)
			}
			if a.took > 10*time.Second {
				t.Errorf("%s: refused after %v", path, a.took)
			}
		}
		var l list
		s.Do("GET", "/api/collections/nodes/records?expand=links.links", "", nil, 200, &l)
		if len(l.Items) != 8 {
			t.Fatalf("shallow expand: %d items", len(l.Items))
		}
		first := l.Items[0]["expand"].(map[string]any)["links"].([]any)
		if len(first) != 8 || len(first[0].(map[string]any)["expand"].(map[string]any)["links"].([]any)) != 8 {
			t.Errorf("shallow expand: %v", first)
		}
	})
}

// Every relation an expand names is a query of up to a thousand records,
// and distinct paths are not limited by the depth cap: over a collection
// relating to itself, expand=links.links,links.links.links... can name
// thousands. More than 30 relations are refused with a 400.
func TestCostExpandWidthIsBounded(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		linkedNodes(t, s, 2)
		var paths []string
		for i := 1; i <= 6; i++ {
			paths = append(paths, strings.TrimSuffix(strings.Repeat("links.", i), "."))
		}
		// Six paths, six relations: served.
		s.Do("GET", "/api/collections/nodes/records?perPage=1&fields=id&expand="+url.QueryEscape(strings.Join(paths, ",")), "", nil, 200, nil)
		// Every path of six hops through the relation and its
		// back-relation: 64 paths, 126 relations.
		var wide []string
		for i := range 64 {
			var p []string
			for b := range 6 {
				if i&(1<<b) != 0 {
					p = append(p, "nodes_via_links")
				} else {
					p = append(p, "links")
				}
			}
			wide = append(wide, strings.Join(p, "."))
		}
		a := guestGet(s, "/api/collections/nodes/records?perPage=1&fields=id&expand="+url.QueryEscape(strings.Join(wide, ",")), "203.0.113.7")
		if a.status != 400 || a.body.Data["expand"].Code != "validation_expand_too_wide" {
			t.Errorf("wide expand: %d %+v (%v) in %v, want 400 naming expand", a.status, a.body, a.err, a.took)
		}
	})
}

// A back-relation expand queries the other collection by the relation's
// value, which without an index reads it whole, up to the read timeout
// at each level: it counts among a client's costly reads in progress, as
// a filter or a sort does. With the client's slots held by costly
// filters, its back-relation expands wait, then answer 429, on a list
// and on one record; another client's, and plain reads, are served.
// Not parallel: its two costly filters keep both cores busy for the
// timeout, which under the race detector starves other tests' queries
// past theirs (a fuzzy search that takes 4 s there timed out).
func TestBackRelationExpandIsACostlyRead(t *testing.T) {
	const timeout = 3 * time.Second
	s, post := slowPostsServer(t, timeout)
	s.Super("POST", "/api/collections", map[string]any{
		"name": "notes", "listRule": "", "viewRule": "",
		"fields": []map[string]any{{"name": "post", "type": "relation", "collectionId": "posts", "maxSelect": 1}},
	}, 200, nil)
	create(t, s, "notes", map[string]any{"post": post})
	const attacker, other = "203.0.113.7", "198.51.100.9"
	list := "/api/collections/posts/records"
	slow := list + "?filter=" + url.QueryEscape(aliasCycle(5))
	var wg sync.WaitGroup
	for range 2 { // the client's two slots, each held until the timeout
		wg.Go(func() { guestGet(s, slow, attacker) })
	}
	defer wg.Wait()
	time.Sleep(timeout / 6)
	for _, path := range []string{list + "?expand=notes_via_post", list + "/" + post + "?expand=notes_via_post"} {
		if a := guestGet(s, path, attacker); a.status != 429 {
			t.Errorf("%s while the client's costly reads run: %d %+v (%v)", path, a.status, a.body, a.err)
		}
		if a := guestGet(s, path, other); a.status != 200 {
			t.Errorf("%s from another client: %d %+v (%v)", path, a.status, a.body, a.err)
		}
	}
	if a := guestGet(s, list+"/"+post, attacker); a.status != 200 {
		t.Errorf("a plain read while the client's costly reads run: %d %+v", a.status, a.body)
	}
}

// The reads behind one answer share the read timeout: an expand of many
// relations, each query under the timeout alone, used to hold its
// connection for as many timeouts as it named relations. The test times
// one relation's costly read first, sets the timeout to five of them,
// and expands thirty: 503, where each query alone passes.
func TestReadTimeoutBoundsAWholeAnswer(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "posts", "listRule": "", "viewRule": "",
			"fields": []map[string]any{{"name": "title", "type": "text"}},
		}, 200, nil)
		for i := range 60 {
			create(t, s, "posts", map[string]any{"title": fmt.Sprintf("post %03d", i)})
		}
		// A view rule that costs a scan of posts cubed for each record read.
		s.Super("POST", "/api/collections", map[string]any{
			"name": "targets", "listRule": "", "viewRule": aliasCycle(3),
			"fields": []map[string]any{{"name": "name", "type": "text"}},
		}, 200, nil)
		fields := []map[string]any{}
		var names []string
		for i := range records.MaxExpandRelations {
			name := fmt.Sprintf("r%d", i)
			names = append(names, name)
			fields = append(fields, map[string]any{"name": name, "type": "relation", "collectionId": "targets", "maxSelect": 1})
		}
		s.Super("POST", "/api/collections", map[string]any{"name": "hubs", "listRule": "", "viewRule": "", "fields": fields}, 200, nil)
		target := create(t, s, "targets", map[string]any{"name": "t"})["id"].(string)
		body := map[string]any{}
		for _, n := range names {
			body[n] = target
		}
		hub := "/api/collections/hubs/records/" + create(t, s, "hubs", body)["id"].(string)

		one := time.Duration(1<<63 - 1)
		for i := range 3 { // each a query of its own: not a cached answer
			a := guestGet(s, fmt.Sprintf("%s?expand=r0&try=%d", hub, i), "203.0.113.7")
			if a.status != 200 {
				t.Fatalf("one relation: %d %+v (%v)", a.status, a.body, a.err)
			}
			one = min(one, a.took)
		}
		timeout := max(5*one, 20*time.Millisecond)
		s = s.Restart(func(c *config.Config) { c.QueryTimeout = timeout })
		if a := guestGet(s, hub+"?expand=r0", "203.0.113.7"); a.status != 200 {
			t.Fatalf("one relation under a timeout of %v (it took %v): %d %+v", timeout, one, a.status, a.body)
		}
		a := guestGet(s, hub+"?expand="+strings.Join(names, ","), "203.0.113.7")
		if a.status != 503 {
			t.Errorf("thirty relations of %v each under a timeout of %v: %d in %v, want 503", one, timeout, a.status, a.took)
		}
		if a.took > 3*timeout {
			t.Errorf("the answer took %v, the timeout is %v", a.took, timeout)
		}
	})
}

// Costly reads are capped for all clients together below the read
// connections, so plain reads always find one. Each address may run two
// costly reads; two addresses (one attacker's IPv4 and IPv6 /64) held all
// four readers of a small server until the read timeout, and every other
// client's uncached read waited for them. Now a quarter of the readers
// stays free: the costly reads past the shared slots wait a second, then
// answer 503, and a plain read from anyone is served meanwhile. Not
// parallel: its slow filters keep both cores busy for the timeout.
func TestCostlyReadsLeavePlainReadsAConnection(t *testing.T) {
	const timeout = 3 * time.Second
	s, post := slowPostsServer(t, timeout)
	readers := max(4, runtime.GOMAXPROCS(0)) // the SQLite store's default
	slow := "/api/collections/posts/records?filter=" + url.QueryEscape(aliasCycle(5))
	answers := make(chan answer, readers)
	var wg sync.WaitGroup
	for i := range readers { // two per address, the most each may run
		wg.Go(func() { answers <- guestGet(s, slow, fmt.Sprintf("203.0.113.%d", i/2+1)) })
	}
	time.Sleep(timeout / 6)
	a := guestGet(s, "/api/collections/posts/records/"+post, "198.51.100.9")
	if a.status != 200 || a.took > timeout/2 {
		t.Errorf("a plain read while %d costly reads run: %d in %v, want 200 at once", readers, a.status, a.took)
	}
	wg.Wait()
	close(answers)
	busy := 0
	for a := range answers {
		if a.status == 503 && a.body.Message == "Too many list requests with a filter or sort are in progress; retry shortly." {
			busy++
		} else if a.status != 503 {
			t.Errorf("a costly read: %d %+v", a.status, a.body)
		}
	}
	if want := max(1, readers/4); busy != want {
		t.Errorf("%d costly reads refused for want of a shared slot, want %d", busy, want)
	}
}

// slowPostsServer starts an SQLite server with the read timeout given,
// trusting the test's X-Forwarded-For, and a public collection "posts" of
// 100 records, over which aliasCycle(5) runs until the timeout. It
// returns the server and the last post's id.
func slowPostsServer(t *testing.T, timeout time.Duration) (*testkit.Server, string) {
	t.Helper()
	s := testkit.NewServer(t, "sqlite").Restart(func(c *config.Config) { c.QueryTimeout = timeout })
	s.Super("PATCH", "/api/settings", map[string]any{"trustedProxies": []string{"127.0.0.1", "::1"}}, 200, nil)
	s.Super("POST", "/api/collections", map[string]any{
		"name": "posts", "listRule": "", "viewRule": "",
		"fields": []map[string]any{{"name": "title", "type": "text"}},
	}, 200, nil)
	var post string
	for i := range 100 {
		post = create(t, s, "posts", map[string]any{"title": fmt.Sprintf("post %03d", i)})["id"].(string)
	}
	return s, post
}
