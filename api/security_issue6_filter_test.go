package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// aliasChain is the filter of issue 6, finding 3: aliases of @collection
// each compared with the next, @collection.posts:a0.id ?!=
// @collection.posts:a1.title && ... up to a<n>.
func aliasChain(n int) string {
	parts := make([]string, n)
	for i := range n {
		parts[i] = fmt.Sprintf("@collection.posts:a%d.id ?!= @collection.posts:a%d.title", i, i+1)
	}
	return strings.Join(parts, " && ")
}

// aliasCycle is a filter within every limit that still makes the engines
// try the combinations of n aliases: each title is less than the next and
// the last less than the first, which no records satisfy, while every
// part of the cycle short of closing it is satisfiable, so no join order
// prunes early. Over 100 records and 5 aliases it runs for more than 20 s.
func aliasCycle(n int) string {
	parts := make([]string, n)
	for i := range n {
		parts[i] = fmt.Sprintf("@collection.posts:c%d.title ?< @collection.posts:c%d.title", i, (i+1)%n)
	}
	return strings.Join(parts, " && ")
}

type answer struct {
	status int
	header http.Header
	body   errBody
	took   time.Duration
	err    error
}

// guestGet lists as a guest whose address, behind the trusted proxy, is
// client. It is safe in goroutines (no t.Fatal).
func guestGet(s *testkit.Server, path, client string) answer {
	start := time.Now()
	req, err := http.NewRequest("GET", s.URL+path, nil)
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("X-Forwarded-For", client)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, took: time.Since(start)}
	if resp.StatusCode != 200 {
		a.err = json.Unmarshal(b, &a.body)
	}
	return a
}

// Issue 6, finding 3: a guest's filter chaining @collection aliases made a
// join that ran for minutes, and a few of them at once stalled every
// reader. Now the chain is refused at once with a 400 naming the filter;
// a costly filter within the limits is stopped at the query timeout with
// a 503 and frees its connection; one client's costly filters beyond two
// in progress answer 429; and meanwhile plain lists, and other clients'
// filtered lists, are served.
func TestExpensiveFilterIsBounded(t *testing.T) {
	t.Parallel()
	const timeout = 3 * time.Second
	const slack = 10 * time.Second // generous: the machine may be loaded
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s = s.Restart(func(c *config.Config) { c.QueryTimeout = timeout })
		s.Super("PATCH", "/api/settings", map[string]any{"trustedProxies": []string{"127.0.0.1", "::1"}}, 200, nil)
		s.Super("POST", "/api/collections", map[string]any{
			"name": "posts", "listRule": "", "viewRule": "",
			"fields": []map[string]any{{"name": "title", "type": "text"}},
		}, 200, nil)
		n := 0
		addPosts := func(upTo int) {
			for ; n < upTo; n++ {
				s.Super("POST", "/api/collections/posts/records", map[string]any{"title": fmt.Sprintf("post %03d", n)}, 200, nil)
			}
		}
		addPosts(12)
		const attacker, victim = "203.0.113.7", "198.51.100.9"
		list := "/api/collections/posts/records"

		// The reported filter, over a dozen posts: refused at once.
		for _, aliases := range []int{6, 8, 10} {
			a := guestGet(s, list+"?filter="+url.QueryEscape(aliasChain(aliases-1)), attacker)
			if a.status != 400 || a.body.Data["filter"].Code != "validation_invalid_filter" ||
				!strings.Contains(a.body.Data["filter"].Message, "@collection") {
				t.Fatalf("%d aliases: %d %+v (%v), want 400 naming the filter", aliases, a.status, a.body, a.err)
			}
			if a.took > slack {
				t.Errorf("%d aliases: refused after %v", aliases, a.took)
			}
		}
		// Within the limit, over a dozen posts, it is cheap.
		if a := guestGet(s, list+"?filter="+url.QueryEscape(aliasChain(4)), attacker); a.status != 200 {
			t.Fatalf("5 aliases: %d %+v", a.status, a.body)
		}

		// A costly filter within the limits is stopped at the timeout.
		addPosts(100)
		slow := list + "?filter=" + url.QueryEscape(aliasCycle(5))
		for _, path := range []string{slow, slow + "&skipTotal=1"} {
			a := guestGet(s, path, attacker)
			if a.status != 503 || a.body.Message != "The query took too long and was stopped." {
				t.Fatalf("costly filter: %d %+v (%v), want 503", a.status, a.body, a.err)
			}
			if a.took > timeout+slack {
				t.Errorf("costly filter stopped after %v, timeout %v", a.took, timeout)
			}
		}

		// Six at once from one client: two run to the timeout, the others
		// wait a second for a slot, then answer 429. Meanwhile plain lists
		// and other clients' filtered lists are served.
		var wg sync.WaitGroup
		answers := make([]answer, 6)
		var mu sync.Mutex
		finished := 0
		for i := range answers {
			wg.Go(func() {
				answers[i] = guestGet(s, slow, attacker)
				mu.Lock()
				finished++
				mu.Unlock()
			})
		}
		time.Sleep(timeout / 10)
		for _, c := range []struct{ path, client string }{
			{list + "?perPage=1", attacker},
			{list + "?filter=" + url.QueryEscape("title = 'post 001'"), victim},
			{list + "?filter=" + url.QueryEscape("title ~ 'post'") + "&sort=-title", victim},
		} {
			a := guestGet(s, c.path, c.client)
			mu.Lock()
			done := finished
			mu.Unlock()
			if a.status != 200 {
				t.Errorf("%s from %s while costly filters run: %d %+v (%v)", c.path, c.client, a.status, a.body, a.err)
			}
			if done == len(answers) {
				t.Errorf("%s from %s answered only after every costly filter (in %v)", c.path, c.client, a.took)
			}
		}
		wg.Wait()
		count := map[int]int{}
		for _, a := range answers {
			count[a.status]++
			switch a.status {
			case 429:
				if a.header.Get("Retry-After") == "" || !strings.Contains(a.body.Message, "in progress") {
					t.Errorf("429: %v %+v", a.header, a.body)
				}
			case 503:
			default:
				t.Errorf("costly filter among six: %d %+v (%v)", a.status, a.body, a.err)
			}
			if a.took > timeout+slack {
				t.Errorf("costly filter among six answered after %v", a.took)
			}
		}
		if count[503] != 2 || count[429] != 4 {
			t.Errorf("six costly filters at once: %v, want two 503 and four 429", count)
		}

		// Their slots and connections are free again.
		for range 3 {
			if a := guestGet(s, list+"?filter="+url.QueryEscape("title = 'post 002'"), attacker); a.status != 200 {
				t.Errorf("after the costly filters: %d %+v", a.status, a.body)
			}
		}
		if logs := s.Logs(); strings.Contains(logs, "internal error") {
			t.Errorf("internal errors logged:\n%s", logs)
		}
	})
}
