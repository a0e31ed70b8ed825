package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// forwardedFor sends every request as coming from the client ip, behind
// a trusted proxy.
type forwardedFor string

func (ip forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(ip))
	return http.DefaultTransport.RoundTrip(r)
}

// One realtime dispatcher serves every client in turn. A guest holding a
// thousand "*" topics whose filters follow a relation (each a query per
// event, none shared with anyone) made every event, for every subscriber,
// wait for a thousand queries. Past its share of the dispatcher (half of
// it, with one other address served), that guest's address is
// disconnected; another address's subscriber gets every event.
func TestRealtimeCostlyFiltersAreBoundedPerAddress(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		s.Super("PATCH", "/api/settings", map[string]any{"trustedProxies": []string{"127.0.0.1", "::1"}}, 200, nil)
		ann := create(t, s, "authors", map[string]any{"name": "Ann"})

		victim, vid := connectRealtimeVia(t, &http.Client{Transport: forwardedFor("198.51.100.9")}, s.URL)
		subscribe(t, s, "", vid, "posts/*")
		attacker, aid := connectRealtimeVia(t, &http.Client{Transport: forwardedFor("203.0.113.7")}, s.URL)
		topics := make([]string, 1000)
		for i := range topics {
			topics[i] = "posts/*?options=" + url.QueryEscape(fmt.Sprintf(`{"query":{"filter":"author.name = 'n%d'"}}`, i))
		}
		subscribe(t, s, "", aid, topics...)

		gone := func() bool {
			select {
			case _, ok := <-attacker.events:
				return !ok
			default:
				return false
			}
		}
		disconnected := false
		for i := 0; i < 200 && !disconnected; i++ {
			create(t, s, "posts", map[string]any{"title": fmt.Sprintf("post %d", i), "slug": fmt.Sprint(i), "author": ann["id"]})
			if ev := victim.nextRecord(t, "posts/*"); ev.Record["title"] != fmt.Sprintf("post %d", i) {
				t.Fatalf("event %d: %+v", i, ev)
			}
			disconnected = gone()
		}
		if !disconnected {
			t.Fatal("200 events each cost a thousand queries for one guest, and it was never disconnected")
		}
		create(t, s, "posts", map[string]any{"title": "after", "slug": "after", "author": ann["id"]})
		if ev := victim.nextRecord(t, "posts/*"); ev.Record["title"] != "after" {
			t.Fatalf("after the attacker went: %+v", ev)
		}
	})
}

// The dispatcher's time is shared among the addresses it serves: clients
// that all come from one address (behind a proxy whose addresses are not
// trusted) may use all of it, so costly subscriptions that the
// dispatcher keeps up with are never disconnected for their cost.
func TestRealtimeOneAddressMayUseTheWholeDispatcher(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		ann := create(t, s, "authors", map[string]any{"name": "Ann"})
		plain, pid := connectRealtime(t, s)
		subscribe(t, s, "", pid, "posts/*")
		costly, cid := connectRealtime(t, s)
		topics := make([]string, 300)
		for i := range topics {
			topics[i] = "posts/*?options=" + url.QueryEscape(fmt.Sprintf(`{"query":{"filter":"author.name = 'n%d'"}}`, i))
		}
		subscribe(t, s, "", cid, topics...)
		for i := range 15 {
			create(t, s, "posts", map[string]any{"title": fmt.Sprintf("post %d", i), "slug": fmt.Sprint(i), "author": ann["id"]})
			if ev := plain.nextRecord(t, "posts/*"); ev.Record["title"] != fmt.Sprintf("post %d", i) {
				t.Fatalf("event %d: %+v", i, ev)
			}
			select {
			case e, ok := <-costly.events:
				if !ok {
					t.Fatalf("event %d: the costly subscriber was disconnected", i)
				}
				t.Fatalf("event %d: the costly subscriber got %v", i, e)
			default:
			}
		}
	})
}
