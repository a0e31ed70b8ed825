package api_test

import (
	"encoding/json"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/records"
)

// countExpanded counts the related records an answer's expand holds, at
// every depth, as they are written.
func countExpanded(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		if ex, ok := v["expand"].(map[string]any); ok {
			for _, rel := range ex {
				switch rel := rel.(type) {
				case []any:
					for _, r := range rel {
						n += 1 + countExpanded(r)
					}
				case map[string]any:
					n += 1 + countExpanded(rel)
				}
			}
		}
	}
	return n
}

// TestAttackWriteExpandsAreBounded: the expand of a write's answer runs
// after the write has committed. Its names are checked before the write,
// so a bad one refuses the write instead of answering 400 for a write that
// took; the items of a batch share one budget of expanded records (each
// alone had one, so a batch of 50 answered 50 times as much); and what
// cannot be loaded within the budget leaves the answer without that
// expand, never with an error.
func TestAttackWriteExpandsAreBounded(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	liftLimits(t, s)
	enableBatch(t, s)
	s.Super("POST", "/api/collections", map[string]any{"name": "people", "type": "auth", "listRule": "", "viewRule": "",
		"fields": []map[string]any{{"name": "name", "type": "text"}}}, 200, nil)
	s.Super("POST", "/api/collections", map[string]any{"name": "posts", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "",
		"fields": []map[string]any{{"name": "t", "type": "text"},
			{"name": "author", "type": "relation", "collectionId": "people", "maxSelect": 1}}}, 200, nil)
	var who map[string]any
	s.Super("POST", "/api/collections/people/records", map[string]any{"email": "p@example.com",
		"password": "a-long-password", "passwordConfirm": "a-long-password"}, 200, &who)
	var ids []string
	for range 25 {
		var p map[string]any
		s.Super("POST", "/api/collections/posts/records", map[string]any{"author": who["id"]}, 200, &p)
		ids = append(ids, p["id"].(string))
	}
	// 25 posts of one author: three hops out and back reach about 16,900
	// records from each post.
	deep := "?expand=author.posts_via_author.author.posts_via_author.author.posts_via_author"
	count := func() int {
		var l struct{ TotalItems int }
		s.Do("GET", "/api/collections/posts/records?perPage=1", "", nil, 200, &l)
		return l.TotalItems
	}

	// A name that is no relation refuses the write, before it is made.
	for _, bad := range []string{"?expand=nothing", "?expand=author.nothing", "?expand=posts_via_nothing"} {
		if st := s.Request("POST", "/api/collections/posts/records"+bad, "", map[string]any{"t": "x"}).Status; st != 400 {
			t.Errorf("create with %s: %d, want 400", bad, st)
		}
		r := s.Request("POST", "/api/batch", "", map[string]any{"requests": []batchReq{
			{Method: "POST", URL: "/api/collections/posts/records", Body: map[string]any{"t": "x"}},
			{Method: "POST", URL: "/api/collections/posts/records" + bad, Body: map[string]any{"t": "y"}}}})
		if r.Status != 400 {
			t.Errorf("batch with %s: %d, want 400", bad, r.Status)
		}
	}
	if n := count(); n != 25 {
		t.Fatalf("refused writes were made: %d posts, want 25", n)
	}

	// Four items of about 16,900 each would answer 67,600 related records.
	var items []batchReq
	for _, id := range ids[:4] {
		items = append(items, batchReq{Method: "PATCH", URL: "/api/collections/posts/records/" + id + deep, Body: map[string]any{"t": "e"}})
	}
	r := s.Request("POST", "/api/batch", "", map[string]any{"requests": items})
	if r.Status != 200 {
		t.Fatalf("batch: %d %.300s", r.Status, r.Body)
	}
	var out []struct {
		Status int
		Body   map[string]any
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, o := range out {
		if o.Status != 200 || o.Body["t"] != "e" {
			t.Errorf("item %d: %d %v", i, o.Status, o.Body["t"])
		}
		total += countExpanded(o.Body)
	}
	if total > records.MaxExpandedRecords || countExpanded(out[0].Body) == 0 {
		t.Errorf("the batch's answers expand %d related records (first item %d), want at most %d in all",
			total, countExpanded(out[0].Body), records.MaxExpandedRecords)
	}

	t.Logf("the batch's four answers expand %d related records: %d, %d, %d, %d", total,
		countExpanded(out[0].Body), countExpanded(out[1].Body), countExpanded(out[2].Body), countExpanded(out[3].Body))

	// With 40 posts one answer alone would hold 67,000: a single write whose
	// expand cannot be answered still tells that it took.
	for range 15 {
		s.Super("POST", "/api/collections/posts/records", map[string]any{"author": who["id"]}, 200, nil)
	}
	var one map[string]any
	s.Do("PATCH", "/api/collections/posts/records/"+ids[5]+deep, "", map[string]any{"t": "single"}, 200, &one)
	if one["t"] != "single" || countExpanded(one) != 0 {
		t.Errorf("single write: %v, %d related records", one["t"], countExpanded(one))
	}
	if st := s.Request("GET", "/api/collections/posts/records/"+ids[5]+deep, "", nil).Status; st != 400 {
		t.Errorf("the same expand on a read: %d, want 400", st)
	}
}
