package api_test

import (
	"fmt"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// A forward expand loads every related record the caller may view,
// however many the page's records name together. It read them with one
// query capped at a thousand rows, so past a thousand distinct ids an
// arbitrary part of them was left out of the answer without a word; and
// with one bound variable per id, a full page of records naming a
// thousand each would have passed SQLite's 32,766 and failed.
func TestExpandForwardLoadsEveryRelatedRecord(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("PATCH", "/api/settings", map[string]any{"batch": map[string]any{"enabled": true, "maxRequests": 500, "timeout": 30}}, 200, nil)
		s.Super("POST", "/api/collections", map[string]any{"name": "tags", "listRule": "", "viewRule": "",
			"fields": []map[string]any{{"name": "name", "type": "text"}}}, 200, nil)
		s.Super("POST", "/api/collections", map[string]any{"name": "posts", "listRule": "", "viewRule": "",
			"fields": []map[string]any{{"name": "title", "type": "text"},
				{"name": "tags", "type": "relation", "collectionId": "tags", "maxSelect": 1000}}}, 200, nil)
		const n = 2300
		var ids []string
		for len(ids) < n {
			var items []batchReq
			for i := 0; i < 500 && len(ids)+len(items) < n; i++ {
				id := fmt.Sprintf("tag%012d", len(ids)+i)
				items = append(items, batchReq{Method: "POST", URL: "/api/collections/tags/records",
					Body: map[string]any{"id": id, "name": id}})
			}
			s.Super("POST", "/api/batch", map[string]any{"requests": items}, 200, nil)
			for _, it := range items {
				ids = append(ids, it.Body["id"].(string))
			}
		}
		// Three posts naming 900, 900 and 700 tags, 100 in common
		// between neighbours: 2,300 distinct ids on one page.
		var posts []map[string]any
		for i, r := range [][2]int{{0, 900}, {800, 1700}, {1600, n}} {
			posts = append(posts, create(t, s, "posts", map[string]any{"title": fmt.Sprint(i), "tags": ids[r[0]:r[1]]}))
		}
		expanded := func(item map[string]any) int {
			exp, _ := item["expand"].(map[string]any)
			list, _ := exp["tags"].([]any)
			return len(list)
		}
		var l list
		s.Do("GET", "/api/collections/posts/records?sort=title&expand=tags", "", nil, 200, &l)
		var got []int
		for _, it := range l.Items {
			got = append(got, expanded(it))
		}
		if fmt.Sprint(got) != "[900 900 700]" {
			t.Errorf("list: tags expanded %v, want [900 900 700]", got)
		}
		var one map[string]any
		s.Do("GET", "/api/collections/posts/records/"+posts[1]["id"].(string)+"?expand=tags", "", nil, 200, &one)
		if got := expanded(one); got != 900 {
			t.Errorf("GET one: %d tags expanded, want 900", got)
		}
	})
}
