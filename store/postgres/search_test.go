package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/search"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
)

func searchCollection(name string) *core.Collection {
	c := countsCollection(name)
	c.Fields = append(c.Fields,
		core.Field{ID: "text1", Name: "title", Type: core.FieldText},
		core.Field{ID: "select1", Name: "tags", Type: core.FieldSelect, Values: []string{"Thé", "b"}, MaxSelect: 2})
	c.Search = &core.SearchOptions{Fields: []core.SearchField{{Name: "title"}, {Name: "tags"}}}
	return c
}

// searchIDs returns the ids of the records of c that text finds.
func searchIDs(t *testing.T, s *postgres.Store, c *core.Collection, text string) []string {
	t.Helper()
	q, err := search.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Find(context.Background(), store.Query{Collection: c, OrderBy: `"id"`, Search: &store.SearchQuery{
		Query: q, Columns: []string{"title", "tags"}, Marks: [2]string{search.MarkStart, search.MarkEnd}}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range res.Records {
		ids = append(ids, r.ID())
	}
	return ids
}

// createRows creates c on s with n records, ids row00000 and on, the
// title of record i title(i), in one transaction.
func createRows(t *testing.T, s *postgres.Store, c *core.Collection, n int, title func(i int) string) {
	t.Helper()
	ctx := context.Background()
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateCollection(ctx, c); err != nil {
			return err
		}
		for i := range n {
			r := core.NewRecord(c)
			r.Data["id"], r.Data["title"] = fmt.Sprintf("row%05d", i), title(i)
			if err := tx.Insert(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// unfold makes c's search index what a Tortoise from before the folded
// layout built: a trigger computing the words as written, without the
// comment naming the key, and every row indexed by it.
func unfold(t *testing.T, pool *pgxpool.Pool, c *core.Collection) {
	t.Helper()
	fn, table := store.QuoteIdent("_search_"+c.ID), store.QuoteIdent(c.Name)
	for _, q := range []string{
		"CREATE OR REPLACE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW._search := " +
			"setweight(to_tsvector('simple'::regconfig, coalesce(NEW.title, '')), 'A') || " +
			"setweight(to_tsvector('simple'::regconfig, coalesce(NEW.tags::text, '')), 'A'); RETURN NEW; END$$",
		"DROP TRIGGER " + fn + " ON " + table,
		"CREATE TRIGGER " + fn + " BEFORE INSERT OR UPDATE ON " + table + " FOR EACH ROW EXECUTE FUNCTION " + fn + "()",
		"UPDATE " + table + " SET _search = NULL",
	} {
		if _, err := pool.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestSearchUpgrade: a search index built before words were folded
// (a stored "Café" indexed as "café", which the folded query "cafe"
// misses) is rebuilt when the store opens, in the opening transaction
// for a small table and online for a large one, and only once.
func TestSearchUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	s, err := postgres.OpenConfig(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	small, large := searchCollection("small"), searchCollection("large")
	rec := func(c *core.Collection, id, title string, tags ...string) *core.Record {
		r := core.NewRecord(c)
		r.Data["id"], r.Data["title"] = id, title
		if tags != nil {
			r.Data["tags"] = tags
		}
		return r
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		for _, c := range []*core.Collection{small, large} {
			if err := tx.CreateCollection(ctx, c); err != nil {
				return err
			}
		}
		for _, r := range []*core.Record{
			rec(small, "cafe1", "Café crème brûlée"), rec(small, "tea1", "Tea", "Thé"), rec(small, "plain1", "Plain"),
			rec(large, "zz_cafe", "Café au lait"),
		} {
			if err := tx.Insert(ctx, r); err != nil {
				return err
			}
		}
		for i := range store.SearchInlineRows + 200 {
			if err := tx.Insert(ctx, rec(large, fmt.Sprintf("row%05d", i), "row")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, s, small, "cafe "); len(got) != 1 {
		t.Fatalf("folded from the start: cafe finds %v", got)
	}
	unfold(t, s.Pool(), small)
	unfold(t, s.Pool(), large)
	if got := searchIDs(t, s, small, "cafe "); len(got) != 0 {
		t.Fatalf("the old layout: cafe finds %v", got)
	}
	s.Close()

	s, err = postgres.OpenConfig(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, text := range []string{"cafe ", "café ", "CAFÉ ", "creme ", "bru"} {
		if got := searchIDs(t, s, small, text); len(got) != 1 || got[0] != "cafe1" {
			t.Errorf("small, %q: %v, want [cafe1]", text, got)
		}
	}
	if got := searchIDs(t, s, small, "the "); len(got) != 1 || got[0] != "tea1" {
		t.Errorf("small, a multiple select: %v, want [tea1]", got)
	}
	// The trigger is the new one: a write after the upgrade is folded.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, rec(large, "aa_cafe", "Crème")) }); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, s, large, "creme "); len(got) != 1 || got[0] != "aa_cafe" {
		t.Errorf("large, written after the upgrade: %v", got)
	}
	// The large table fills online; then its index is built again.
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := searchIDs(t, s, large, "cafe ")
		var fill, index int
		if err := s.Pool().QueryRow(ctx, "SELECT (SELECT count(*) FROM _params WHERE key = $1), (SELECT count(*) FROM pg_indexes "+
			"WHERE schemaname = current_schema() AND indexname = $2)", store.SearchFillKey(large), "_search_"+large.ID+"_gin").Scan(&fill, &index); err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 && got[0] == "zz_cafe" && fill == 0 && index == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("large: cafe finds %v; fill records %d, indexes %d", got, fill, index)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Opening again rebuilds nothing: the column is the same one.
	attnum := func() (n int) {
		t.Helper()
		if err := s.Pool().QueryRow(ctx, "SELECT attnum FROM pg_attribute WHERE attrelid = to_regclass('small') AND attname = '_search'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := attnum()
	s2, err := postgres.OpenConfig(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if after := attnum(); after != before {
		t.Errorf("the column was rebuilt at the second open: attnum %d, then %d", before, after)
	}
}

// A fuzzy search first looks up which of its words' neighbours the index
// holds, one GIN lookup each. Guessing that a word matches thousands of
// rows, the planner would read the table until a first match instead
// (LIMIT 1): for a word the table does not hold, the whole table, once
// per neighbour (a minute over 100k records). The lookup's plan must be
// the index's.
func TestSearchTyposUseTheIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTestStore(t)
	c := searchCollection("typos")
	createRows(t, s, c, 3000, func(i int) string { return fmt.Sprintf("tortoise number %d", i) })
	if _, err := s.Pool().Exec(ctx, "ANALYZE "+store.QuoteIdent(c.Name)); err != nil {
		t.Fatal(err)
	}
	q, err := search.Parse("tortoize ")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := postgres.ExplainTypos(ctx, s, store.Query{Collection: c, Search: &store.SearchQuery{
		Query: q, Columns: []string{"title"}, Fuzzy: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "Bitmap Index Scan on _search_") || strings.Contains(plan, "Seq Scan on typos") {
		t.Errorf("the typo lookup does not go through the index:\n%s", plan)
	}
	if got := searchIDs(t, s, c, "number 42 "); len(got) != 1 {
		t.Fatalf("exact: %v", got)
	}
	res, err := s.Find(ctx, store.Query{Collection: c, Limit: 5, WithTotal: true, Search: &store.SearchQuery{
		Query: q, Columns: []string{"title"}, Fuzzy: true, Marks: [2]string{search.MarkStart, search.MarkEnd}}})
	if err != nil || res.Total != 3000 || len(res.Records) != 5 {
		t.Fatalf("fuzzy search: %v, %+v", err, res)
	}
}

// TestSearchFillGivesWayToWriters: an online fill locks each batch's rows
// in the order of their ids. A writer holding the batch's last row and
// then asking for one the batch holds must not wait for PostgreSQL's
// deadlock check (a second, and either side may be ended): the fill
// gives way within a fraction of it and goes on afterwards.
func TestSearchFillGivesWayToWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTestStore(t)
	c := searchCollection("yielding")
	const n = store.SearchFillBatch*2 + 200
	createRows(t, s, c, n, func(int) string { return "tortoise" })
	id := func(i int) string { return fmt.Sprintf("row%05d", i) }
	// Every row unindexed and a fill on record, as a restart leaves them.
	table, trigger := store.QuoteIdent(c.Name), store.QuoteIdent("_search_"+c.ID)
	for _, q := range []string{
		"ALTER TABLE " + table + " DISABLE TRIGGER " + trigger,
		"UPDATE " + table + " SET _search = NULL",
		"ALTER TABLE " + table + " ENABLE TRIGGER " + trigger,
		"INSERT INTO _params (key, value) VALUES ('" + store.SearchFillKey(c) + `', '{"gen":"g1"}')`,
	} {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// A writer takes the last row, then the fill starts (a search resumes
	// it) and reaches that row in its last batch.
	w, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Rollback(ctx)
	if _, err := w.Exec(ctx, "UPDATE "+table+" SET title = 'hare' WHERE id = $1", id(n-1)); err != nil {
		t.Fatal(err)
	}
	searchIDs(t, s, c, "tortoise ")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting bool
		if err := s.Pool().QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "+
			"AND query LIKE $1)", "%UPDATE "+table+" AS _t SET _search = NULL%").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fill never reached the writer's row")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The writer now wants a row the waiting batch holds.
	if _, err := w.Exec(ctx, "SET LOCAL lock_timeout = '500ms'"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(ctx, "UPDATE "+table+" SET title = 'hare' WHERE id = $1", id(n-2)); err != nil {
		t.Fatalf("the writer waited for the fill: %v", err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// The fill goes on and indexes every row.
	for {
		var fill int
		if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM _params WHERE key = $1", store.SearchFillKey(c)).Scan(&fill); err != nil {
			t.Fatal(err)
		}
		if fill == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fill did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := searchIDs(t, s, c, "tortoise "); len(got) != n-2 {
		t.Errorf("tortoise finds %d records, want %d", len(got), n-2)
	}
	if got := searchIDs(t, s, c, "hare "); len(got) != 2 {
		t.Errorf("hare finds %v, want the two the writer changed", got)
	}
}
