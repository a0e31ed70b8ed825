package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/search"
	"github.com/tortoise-dev/tortoise/store"
)

// words is a SearchMatcher for the suite: every word must match, the
// last as a prefix when prefix is set. It stands in for package search's
// Query, whose parsing and typo variants are tested there; the suite
// checks what the drivers do with the text.
type words struct {
	list   []string
	prefix bool
}

func (w words) Typos() []string { return nil }

func (w words) FTS5(columns []string, _ map[string]bool) string {
	parts := make([]string, len(w.list))
	for i, x := range w.list {
		parts[i] = `"` + x + `"`
		if w.prefix && i == len(w.list)-1 {
			parts[i] += "*"
		}
	}
	return "{" + strings.Join(columns, " ") + "} : (" + strings.Join(parts, " AND ") + ")"
}

func (w words) TSQuery(labels string, _ map[string]bool) string {
	parts := make([]string, len(w.list))
	for i, x := range w.list {
		parts[i] = "'" + x + "':"
		if w.prefix && i == len(w.list)-1 {
			parts[i] += "*"
		}
		parts[i] += labels
	}
	return strings.Join(parts, " & ")
}

var testMarks = [2]string{"\ue000", "\ue001"}

func (h *harness) search(c *core.Collection, q string, columns []string, mod func(*store.Query)) *store.Result {
	h.t.Helper()
	w := words{list: strings.Fields(q)}
	if strings.HasSuffix(q, "*") {
		w.prefix = true
		w.list[len(w.list)-1] = strings.TrimSuffix(w.list[len(w.list)-1], "*")
	}
	sq := store.Query{Collection: c, WithTotal: true, Search: &store.SearchQuery{
		Query: w, Columns: columns, Highlights: true, Marks: testMarks}}
	if mod != nil {
		mod(&sq)
	}
	return h.find(sq)
}

func wantIDs(t *testing.T, res *store.Result, want ...string) {
	t.Helper()
	if got := ids(res.Records); !slices.Equal(got, want) {
		t.Fatalf("ids = %v, want %v", got, want)
	}
}

// searchable returns a collection posts(title, body, secret hidden, n)
// searchable on title (weight 3), body, and secret.
func searchable(name string) *core.Collection {
	secret := text("secret")
	secret.Hidden = true
	c := newCollection(name, text("title"), text("body"), secret, number("n"), sel("tags", 3))
	c.Search = &core.SearchOptions{Fields: []core.SearchField{{Name: "title", Weight: 3}, {Name: "body"}, {Name: "secret"}, {Name: "tags"}}}
	return c
}

var visibleCols = []string{"title", "body", "tags"}

func testSearch(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	c := searchable("posts")
	h.createCollection(c)
	h.insert(
		record(c, "body1", "title", "Garden notes", "body", "The tortoise sleeps in winter", "n", 1.0),
		record(c, "title1", "title", "Tortoise care", "body", "Food and water", "n", 2.0),
		record(c, "other", "title", "Hares", "body", "Fast animals & more", "n", 3.0, "secret", "tortoise password"),
		record(c, "tags1", "title", "Tagged", "tags", []string{"a", "c"}, "n", 4.0),
	)

	t.Run("ranking by field weight", func(t *testing.T) {
		res := h.search(c, "tortoise", visibleCols, nil)
		wantIDs(t, res, "title1", "body1")
		if res.Total != 2 {
			t.Errorf("total = %d, want 2", res.Total)
		}
	})
	t.Run("prefix", func(t *testing.T) {
		wantIDs(t, h.search(c, "tort*", visibleCols, nil), "title1", "body1")
		wantIDs(t, h.search(c, "gard*", visibleCols, nil), "body1")
		wantIDs(t, h.search(c, "tort", visibleCols, nil)) // no prefix: no match
	})
	t.Run("all words", func(t *testing.T) {
		wantIDs(t, h.search(c, "tortoise winter", visibleCols, nil), "body1")
	})
	t.Run("hidden column only when allowed", func(t *testing.T) {
		wantIDs(t, h.search(c, "password", visibleCols, nil))
		res := h.search(c, "password", append(slices.Clone(visibleCols), "secret"), nil)
		wantIDs(t, res, "other")
		if got := res.Highlights["other"]["secret"]; !strings.Contains(got, testMarks[0]+"password"+testMarks[1]) {
			t.Errorf("highlight = %q", got)
		}
		// Allowed to see the hidden field's class but asked about visible
		// text: tortoise in "other"'s secret is found for a superuser only.
		wantIDs(t, h.search(c, "tortoise", visibleCols, nil), "title1", "body1")
		all := ids(h.search(c, "tortoise", []string{"title", "body", "secret", "tags"}, nil).Records)
		if len(all) != 3 || all[0] != "title1" || !slices.Contains(all, "other") {
			t.Errorf("with the hidden field: %v, want title1 first, then body1 and other", all)
		}
	})
	t.Run("no allowed columns matches nothing", func(t *testing.T) {
		res := h.search(c, "tortoise", nil, nil)
		wantIDs(t, res)
		if res.Total != 0 {
			t.Errorf("total = %d", res.Total)
		}
	})
	t.Run("highlights", func(t *testing.T) {
		res := h.search(c, "tortoise", visibleCols, nil)
		hl := res.Highlights
		if got := hl["title1"]["title"]; got != testMarks[0]+"Tortoise"+testMarks[1]+" care" {
			t.Errorf("title1 title = %q", got)
		}
		if _, ok := hl["title1"]["body"]; ok {
			t.Errorf("title1 body highlighted without a match: %q", hl["title1"]["body"])
		}
		if got := hl["body1"]["body"]; !strings.Contains(got, testMarks[0]+"tortoise"+testMarks[1]+" sleeps") {
			t.Errorf("body1 body = %q", got)
		}
		res = h.search(c, "tortoise", visibleCols, func(q *store.Query) { q.Search.Highlights = false })
		if res.Highlights != nil {
			t.Errorf("highlights without asking: %v", res.Highlights)
		}
		res = h.search(c, "animals", visibleCols, nil)
		if got := res.Highlights["other"]["body"]; !strings.Contains(got, testMarks[0]+"animals"+testMarks[1]+" & more") {
			t.Errorf("raw text not kept for the HTML step: %q", got)
		}
	})
	t.Run("multiple select", func(t *testing.T) {
		wantIDs(t, h.search(c, "c", visibleCols, nil), "tags1")
	})
	t.Run("accents are folded", func(t *testing.T) {
		// Words are indexed as search.Parse folds a query's: without case
		// and without the diacritics of Latin letters, whichever way the
		// stored text or the query spells them; highlights show the text
		// as written.
		ca := searchable("accents")
		h.createCollection(ca)
		h.insert(
			record(ca, "cafe1", "title", "Café crème brûlée", "n", 1.0),
			record(ca, "tea1", "title", "Tea", "tags", []string{"Thé", "b"}, "n", 2.0),
			record(ca, "plain1", "title", "Cafeteria", "n", 3.0),
			record(ca, "summer1", "title", `L'été à C:\été`, "n", 4.0),
		)
		parsed := func(s string) func(*store.Query) {
			return func(q *store.Query) {
				p, err := search.Parse(s)
				if err != nil {
					t.Fatal(err)
				}
				q.Search.Query = p
			}
		}
		for _, s := range []string{"cafe ", "café ", "CAFÉ ", "creme ", "crème ", "bru", "BRÛ", "cafe creme brulee ", `"café crème"`} {
			wantIDs(t, h.search(ca, "", visibleCols, parsed(s)), "cafe1")
		}
		wantIDs(t, h.search(ca, "", visibleCols, parsed("the ")), "tea1") // a multiple select
		if got := ids(h.search(ca, "", visibleCols, parsed("cafe")).Records); len(got) != 2 || !slices.Contains(got, "cafe1") || !slices.Contains(got, "plain1") {
			t.Errorf("prefix cafe: %v, want cafe1 and plain1", got)
		}

		res := h.search(ca, "", visibleCols, parsed("cafe "))
		if got, want := res.Highlights["cafe1"]["title"], testMarks[0]+"Café"+testMarks[1]+" crème brûlée"; got != want {
			t.Errorf("cafe: highlight %q, want %q", got, want)
		}
		res = h.search(ca, "", visibleCols, parsed("CRÈME bru"))
		if got, want := res.Highlights["cafe1"]["title"], "Café "+testMarks[0]+"crème"+testMarks[1]+" "+testMarks[0]+"brûlée"+testMarks[1]; got != want {
			t.Errorf("crème bru: highlight %q, want %q", got, want)
		}
		res = h.search(ca, "", visibleCols, parsed("ete "))
		// PostgreSQL's snippet may leave out the short word in front.
		if got, want := res.Highlights["summer1"]["title"], testMarks[0]+"été"+testMarks[1]+" à C:\\"+testMarks[0]+"été"+testMarks[1]; !strings.HasSuffix(got, want) {
			t.Errorf("ete: highlight %q, want it to end with %q", got, want)
		}
		h.update(func(tx store.Tx) error {
			return tx.Update(h.ctx, record(ca, "tea1", "title", "Thé vert", "n", 2.0))
		})
		wantIDs(t, h.search(ca, "", visibleCols, parsed("the vert")), "tea1")
	})
	t.Run("where, order and paging", func(t *testing.T) {
		where := &store.SQL{Text: `"_r"."n" >= ?`, Args: []any{2.0}}
		res := h.search(c, "tortoise", visibleCols, func(q *store.Query) { q.Where = where })
		wantIDs(t, res, "title1")
		if res.Total != 1 {
			t.Errorf("total = %d", res.Total)
		}
		res = h.search(c, "tort*", visibleCols, func(q *store.Query) { q.OrderBy = `"_r"."n" ASC`; q.Limit = 1 })
		wantIDs(t, res, "body1")
		if res.Total != 2 {
			t.Errorf("total = %d, want 2", res.Total)
		}
		if _, ok := res.Highlights["title1"]; ok {
			t.Errorf("highlights beyond the page: %v", res.Highlights)
		}
		res = h.search(c, "tort*", visibleCols, func(q *store.Query) { q.OrderBy = `"_r"."n" ASC`; q.Limit = 1; q.Offset = 1 })
		wantIDs(t, res, "title1")
	})
	t.Run("relevance pages cover every match once", func(t *testing.T) {
		// Equal ranks (the same text) and no filter: pages of 3 over 10
		// matches must neither repeat nor skip a record, and their
		// highlights stay on the page.
		var want []string
		for i := range 10 {
			id := fmt.Sprintf("same%02d", i)
			want = append(want, id)
			h.insert(record(c, id, "title", "Quokka", "n", float64(100+i)))
		}
		seen := map[string]bool{}
		for off := 0; off < 12; off += 3 {
			res := h.search(c, "quokka", visibleCols, func(q *store.Query) { q.Limit = 3; q.Offset = off })
			if res.Total != 10 {
				t.Fatalf("total = %d, want 10", res.Total)
			}
			for _, r := range res.Records {
				if seen[r.ID()] {
					t.Fatalf("%s on two pages", r.ID())
				}
				seen[r.ID()] = true
				if _, ok := res.Highlights[r.ID()]; !ok {
					t.Errorf("no highlight for %s", r.ID())
				}
			}
			if len(res.Highlights) != len(res.Records) {
				t.Errorf("%d highlights for a page of %d", len(res.Highlights), len(res.Records))
			}
		}
		for _, id := range want {
			if !seen[id] {
				t.Errorf("%s on no page", id)
			}
		}
		h.update(func(tx store.Tx) error {
			for _, id := range want {
				if err := tx.Delete(h.ctx, c, id); err != nil {
					return err
				}
			}
			return nil
		})
	})
	t.Run("writes keep the index", func(t *testing.T) {
		h.insert(record(c, "new1", "title", "Tortoise shell", "n", 9.0))
		wantIDs(t, h.search(c, "shell", visibleCols, nil), "new1")
		h.update(func(tx store.Tx) error {
			return tx.Update(h.ctx, record(c, "new1", "title", "Turtle shell", "n", 9.0))
		})
		wantIDs(t, h.search(c, "tortoise", visibleCols, nil), "title1", "body1")
		wantIDs(t, h.search(c, "turtle", visibleCols, nil), "new1")
		// A rolled-back write leaves nothing in the index.
		err := h.s.Update(h.ctx, func(tx store.Tx) error {
			if err := tx.Insert(h.ctx, record(c, "gone", "title", "Phantom")); err != nil {
				return err
			}
			return errBoom
		})
		if err != errBoom {
			t.Fatalf("Update: %v", err)
		}
		wantIDs(t, h.search(c, "phantom", visibleCols, nil))
		h.update(func(tx store.Tx) error { return tx.Delete(h.ctx, c, "new1") })
		wantIDs(t, h.search(c, "turtle", visibleCols, nil))
		// Search inside a write transaction sees its own writes.
		h.update(func(tx store.Tx) error {
			if err := tx.Insert(h.ctx, record(c, "intx", "title", "Inside")); err != nil {
				return err
			}
			res, err := tx.Find(h.ctx, store.Query{Collection: c, WithTotal: true, Search: &store.SearchQuery{
				Query: words{list: []string{"inside"}}, Columns: visibleCols, Highlights: true, Marks: testMarks}})
			if err != nil {
				return err
			}
			wantIDs(t, res, "intx")
			return tx.Delete(h.ctx, c, "intx")
		})
	})
	t.Run("concurrent writes and rollbacks keep the index exact", func(t *testing.T) {
		// Writers at once (so calls share groups on SQLite), each call
		// creating, rewriting and deleting records of a small id space,
		// some calls failing after their writes. Afterwards every word
		// finds exactly the records holding it.
		cc := searchable("churn")
		h.createCollection(cc)
		vocab := []string{"amber", "birch", "cedar", "delta", "ember", "fjord"}
		text := func(rng *rand.Rand) string {
			return vocab[rng.IntN(len(vocab))] + " " + vocab[rng.IntN(len(vocab))]
		}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 42))
				for range 60 {
					// A call touches its rows in id order, as an
					// application must for PostgreSQL not to abort
					// one of two calls locking the same rows in
					// opposite orders (a deadlock is not what this
					// test is about).
					ids := make([]int, 1+rng.IntN(3))
					for i := range ids {
						ids[i] = rng.IntN(40)
					}
					slices.Sort(ids)
					err := h.s.Update(h.ctx, func(tx store.Tx) error {
						for _, n := range ids {
							id := fmt.Sprintf("churn%05d", n)
							r := record(cc, id, "title", text(rng), "body", text(rng))
							var err error
							switch rng.IntN(3) {
							case 0:
								err = tx.Insert(h.ctx, r)
							case 1:
								err = tx.Update(h.ctx, r)
							default:
								err = tx.Delete(h.ctx, cc, id)
							}
							if err != nil && core.KindOf(err) != core.KindNotFound && core.KindOf(err) != core.KindInvalid {
								return err
							}
						}
						if rng.IntN(5) == 0 {
							return errBoom
						}
						return nil
					})
					if err != nil && err != errBoom {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		all := h.find(store.Query{Collection: cc, Limit: 1000})
		for _, word := range vocab {
			var want []string
			for _, r := range all.Records {
				if strings.Contains(r.Data["title"].(string)+" "+r.Data["body"].(string), word) {
					want = append(want, r.ID())
				}
			}
			slices.Sort(want)
			got := ids(h.search(cc, word, visibleCols, func(q *store.Query) { q.OrderBy = `"id"`; q.Limit = 1000 }).Records)
			if !slices.Equal(got, want) {
				t.Errorf("search %q = %v, want %v", word, got, want)
			}
		}
		// An engine that can check its index against the rows does.
		if ck, ok := h.s.(interface {
			CheckSearch(context.Context, *core.Collection) error
		}); ok {
			if err := ck.CheckSearch(h.ctx, cc); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("online rebuild", func(t *testing.T) {
		// More rows than a driver indexes in the changing transaction:
		// the index fills after it, while writes go on.
		big := searchable("big")
		big.Search.Fields = []core.SearchField{{Name: "title"}}
		h.createCollection(big)
		const n = 1300
		recs := make([]*core.Record, n)
		for i := range recs {
			recs[i] = record(big, fmtID("b", i), "title", "row", "body", "needle")
		}
		h.insert(recs...)
		next := big.Clone()
		next.Search.Fields = append(next.Search.Fields, core.SearchField{Name: "body"})
		h.migrate(big, next)
		big = next
		cols := []string{"title", "body"}
		h.update(func(tx store.Tx) error {
			for i := range 10 {
				if err := tx.Delete(h.ctx, big, fmtID("b", i)); err != nil {
					return err
				}
				if err := tx.Update(h.ctx, record(big, fmtID("b", n-1-i), "title", "row", "body", "haystack")); err != nil {
					return err
				}
				if err := tx.Insert(h.ctx, record(big, fmtID("z", i), "body", "needle")); err != nil {
					return err
				}
			}
			return nil
		})
		deadline := time.Now().Add(60 * time.Second)
		for {
			res := h.search(big, "needle", cols, func(q *store.Query) { q.Limit = 1 })
			if res.Total > n {
				t.Fatalf("needle total %d > %d: a row indexed twice", res.Total, n)
			}
			if res.Total == n-20+10 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("needle total %d, want %d", res.Total, n-20+10)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if res := h.search(big, "haystack", cols, nil); res.Total != 10 {
			t.Errorf("haystack total %d, want 10", res.Total)
		}
		wantIDs(t, h.search(big, "needle", cols, func(q *store.Query) { q.Where = &store.SQL{Text: `"_r"."id" = ?`, Args: []any{fmtID("b", 0)}} }))
	})
	t.Run("not searchable", func(t *testing.T) {
		plain := newCollection("plain", text("title"))
		h.createCollection(plain)
		_, err := h.s.Find(h.ctx, store.Query{Collection: plain, Search: &store.SearchQuery{Query: words{list: []string{"x"}}, Columns: []string{"title"}}})
		e := wantKind(t, err, core.KindInvalid)
		if _, ok := e.Fields["search"]; !ok {
			t.Errorf("error fields = %v, want search", e.Fields)
		}
	})
	t.Run("schema changes", func(t *testing.T) {
		c2 := searchable("notes")
		h.createCollection(c2)
		h.insert(record(c2, "n1", "title", "Alpha", "body", "beta gamma"), record(c2, "n2", "title", "Delta"))

		// Rename the collection.
		next := c2.Clone()
		next.Name = "notes2"
		h.migrate(c2, next)
		c2 = next
		wantIDs(t, h.search(c2, "beta", visibleCols, nil), "n1")
		h.insert(record(c2, "n3", "body", "beta again"))
		wantIDs(t, h.search(c2, "again", visibleCols, nil), "n3")

		// Rename a searchable field (the collections service renames it
		// in the search option too).
		next = c2.Clone()
		next.Field("body").Name = "content"
		next.Search.Fields[1].Name = "content"
		h.migrate(c2, next)
		c2 = next
		cols := []string{"title", "content"}
		wantIDs(t, h.search(c2, "gamma", cols, nil), "n1")
		h.insert(record(c2, "n4", "content", "gamma ray"))
		got := ids(h.search(c2, "gamma", cols, nil).Records)
		slices.Sort(got)
		if !slices.Equal(got, []string{"n1", "n4"}) {
			t.Fatalf("after field rename: %v", got)
		}

		// Add a field and make it searchable: existing records are found by it.
		next = c2.Clone()
		next.Fields = append(next.Fields, core.Field{ID: "text_extra", Name: "extra", Type: core.FieldText})
		h.migrate(c2, next)
		c2 = next
		h.update(func(tx store.Tx) error {
			return tx.Update(h.ctx, record(c2, "n2", "title", "Delta", "extra", "epsilon"))
		})
		next = c2.Clone()
		next.Search.Fields = append(next.Search.Fields, core.SearchField{Name: "extra", Weight: 2})
		next.Search.Language = "english"
		h.migrate(c2, next)
		c2 = next
		cols = append(cols, "extra")
		wantIDs(t, h.search(c2, "epsilon", cols, nil), "n2")
		wantIDs(t, h.search(c2, "ray", cols, nil), "n4")
		// english stems: "rays" finds "ray".
		wantIDs(t, h.search(c2, "rays", cols, nil), "n4")

		// Weights alone change the order, not the index.
		h.insert(record(c2, "w1", "title", "zeta"), record(c2, "w2", "extra", "zeta"))
		wantIDs(t, h.search(c2, "zeta", cols, nil), "w1", "w2")
		next = c2.Clone()
		next.Search.Fields[0].Weight = 1
		next.Search.Fields[3].Weight = 5
		h.migrate(c2, next)
		c2 = next
		wantIDs(t, h.search(c2, "zeta", cols, nil), "w2", "w1")

		// Search off: the index goes; on again: it comes back filled.
		next = c2.Clone()
		next.Search = nil
		h.migrate(c2, next)
		c2 = next
		_, err := h.s.Find(h.ctx, store.Query{Collection: c2, Search: &store.SearchQuery{Query: words{list: []string{"zeta"}}, Columns: cols}})
		wantKind(t, err, core.KindInvalid)
		h.insert(record(c2, "w3", "title", "zeta"))
		next = c2.Clone()
		next.Search = &core.SearchOptions{Fields: []core.SearchField{{Name: "title"}}}
		h.migrate(c2, next)
		c2 = next
		got = ids(h.search(c2, "zeta", []string{"title"}, nil).Records)
		slices.Sort(got)
		if !slices.Equal(got, []string{"w1", "w3"}) {
			t.Fatalf("after search on again: %v", got)
		}

		// Truncate and delete.
		h.update(func(tx store.Tx) error { return tx.Truncate(h.ctx, c2) })
		wantIDs(t, h.search(c2, "zeta", []string{"title"}, nil))
		h.insert(record(c2, "w4", "title", "zeta"))
		wantIDs(t, h.search(c2, "zeta", []string{"title"}, nil), "w4")
		h.update(func(tx store.Tx) error { return tx.DeleteCollection(h.ctx, c2) })
		again := searchable("notes2")
		again.ID = c2.ID // same id, so the same index names
		h.createCollection(again)
		h.insert(record(again, "x1", "title", "zeta"))
		wantIDs(t, h.search(again, "zeta", visibleCols, nil), "x1")
	})
}
