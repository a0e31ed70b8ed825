package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// Requests racing a change of their collection: a create or a filtered
// list that read the collection's definition before a rename committed
// and ran its statement after named a table that was gone (SQLite "no
// such table", PostgreSQL undefined_table): a 500 for the create, a 400
// "Invalid filter or sort." for the list. They now run again with the new
// definition; one that meets yet another change answers a 503 that says to
// try again (in a batch's 400, its item's answer); every create answered
// 200 is there.
func TestRequestsRacingARename(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		enableBatch(t, s)
		var c struct{ ID string }
		s.Super("POST", "/api/collections", map[string]any{"name": "race1", "createRule": "", "listRule": "",
			"fields": []map[string]any{{"name": "a", "type": "text"}}}, 200, &c)
		base := "/api/collections/" + c.ID + "/records"
		const changed = "The collection changed while this request ran; please try again."
		var mu sync.Mutex
		created, refused := 0, 0
		check := func(what string, r testkit.Response) bool {
			if r.Status == 200 {
				return true
			}
			var e struct{ Message string }
			if json.Unmarshal(r.Body, &e); r.Status != 503 || e.Message != changed {
				t.Errorf("%s during renames: %d %s", what, r.Status, r.Body)
			}
			mu.Lock()
			refused++
			mu.Unlock()
			return false
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for range 200 {
				if check("create", s.Request("POST", base, "", map[string]any{"a": "x"})) {
					mu.Lock()
					created++
					mu.Unlock()
				}
			}
		})
		wg.Go(func() {
			for range 100 {
				r := s.Request("POST", "/api/batch", "", map[string]any{"requests": []batchReq{
					{Method: "POST", URL: base, Body: map[string]any{"a": "x"}}, {Method: "POST", URL: base, Body: map[string]any{"a": "x"}}}})
				if r.Status == 200 {
					mu.Lock()
					created += 2
					mu.Unlock()
					continue
				}
				if r.Status != 400 || !strings.Contains(string(r.Body), changed) {
					t.Errorf("batch during renames: %d %s", r.Status, r.Body)
				}
				mu.Lock()
				refused++
				mu.Unlock()
			}
		})
		wg.Go(func() {
			for range 200 {
				check("list", s.Request("GET", base+"?perPage=1&filter="+url.QueryEscape("a = 'x'"), "", nil))
			}
		})
		wg.Go(func() {
			for i := range 40 {
				s.Super("PATCH", "/api/collections/"+c.ID, map[string]any{"name": fmt.Sprintf("race%d", i%2+2),
					"fields": []map[string]any{{"name": "a", "type": "text"}, {"name": fmt.Sprintf("n%d", i), "type": "number"}}}, 200, nil)
			}
		})
		wg.Wait()
		var l struct{ TotalItems int }
		s.Super("GET", base+"?perPage=1", nil, 200, &l)
		if l.TotalItems != created {
			t.Errorf("%d records, %d creates answered 200", l.TotalItems, created)
		}
		t.Logf("%d creates stored, %d requests refused while the collection changed", created, refused)
	})
}
