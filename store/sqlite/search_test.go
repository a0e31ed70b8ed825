package sqlite_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/sqlite"
)

// A row written to a searchable collection's table by raw SQL through
// SQLTx (as Go code using database/sql may) is indexed when its group
// commits, like a row the store wrote: the search queue is flushed for
// any group that used SQLTx while search indexes exist.
func TestSearchRawSQLWrite(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, testPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &core.Collection{ID: "pbc_raw", Name: "notes", Type: core.TypeBase, Fields: []core.Field{core.IDField(),
		{ID: "text_title", Name: "title", Type: core.FieldText}},
		Search: &core.SearchOptions{Fields: []core.SearchField{{Name: "title"}}}}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		stx, err := tx.(interface {
			SQLTx(context.Context) (*sql.Tx, error)
		}).SQLTx(ctx)
		if err != nil {
			return err
		}
		_, err = stx.ExecContext(ctx, `INSERT INTO notes (id, title) VALUES ('raw000000000001', 'written by hand')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Find(ctx, store.Query{Collection: c, WithTotal: true, Search: &store.SearchQuery{
		Query: matchAll(`"hand"`), Columns: []string{"title"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 1 || res.Records[0].ID() != "raw000000000001" {
		t.Fatalf("search hand = %d records, want the raw row", len(res.Records))
	}
	if err := s.CheckSearch(ctx, c); err != nil {
		t.Fatal(err)
	}
}

// matchAll is a SearchMatcher giving FTS5 a fixed MATCH text.
type matchAll string

func (m matchAll) Typos() []string                        { return nil }
func (m matchAll) FTS5([]string, map[string]bool) string  { return string(m) }
func (m matchAll) TSQuery(string, map[string]bool) string { return "" }

// An index built before the queue (triggers writing to FTS5 directly) is
// moved onto the queue at Open, keeping its content: records written
// before and after are found, and FTS5's integrity check passes.
func TestSearchUpgrade(t *testing.T) {
	ctx := context.Background()
	path := testPath(t)
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	c := &core.Collection{ID: "pbc_old", Name: "notes", Type: core.TypeBase, Fields: []core.Field{core.IDField(),
		{ID: "text_title", Name: "title", Type: core.FieldText}},
		Search: &core.SearchOptions{Fields: []core.SearchField{{Name: "title"}}}}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// The triggers as Tortoise made them before the queue.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TRIGGER _search_pbc_old_ai`, `DROP TRIGGER _search_pbc_old_ad`, `DROP TRIGGER _search_pbc_old_au`,
		`DROP TRIGGER _search_pbc_old_flush`, `DROP TABLE _search_pbc_old_q`,
		`CREATE TRIGGER _search_pbc_old_ai AFTER INSERT ON notes BEGIN INSERT INTO _search_pbc_old(rowid, title) VALUES (new.rowid, new.title); END`,
		`CREATE TRIGGER _search_pbc_old_ad AFTER DELETE ON notes BEGIN INSERT INTO _search_pbc_old(_search_pbc_old, rowid, title) VALUES ('delete', old.rowid, old.title); END`,
		`CREATE TRIGGER _search_pbc_old_au AFTER UPDATE ON notes WHEN old.title IS NOT new.title BEGIN INSERT INTO _search_pbc_old(_search_pbc_old, rowid, title) VALUES ('delete', old.rowid, old.title); INSERT INTO _search_pbc_old(rowid, title) VALUES (new.rowid, new.title); END`,
		`INSERT INTO notes (id, title) VALUES ('before000000001', 'written before the upgrade')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var flush int
	db, _ = sql.Open("sqlite", path)
	defer db.Close()
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('_search_pbc_old_flush', '_search_pbc_old_q')`).Scan(&flush); err != nil || flush != 2 {
		t.Fatalf("queue and flush trigger after Open: %d (%v), want 2", flush, err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		r := core.NewRecord(c)
		r.Data["id"], r.Data["title"] = "after0000000001", "written after the upgrade"
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		r = core.NewRecord(c)
		r.Data["id"], r.Data["title"] = "before000000001", "rewritten after the upgrade"
		return tx.Update(ctx, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	for word, want := range map[string]int{"upgrade": 2, "written": 1, "rewritten": 1, "before": 0} {
		res, err := s.Find(ctx, store.Query{Collection: c, WithTotal: true, Search: &store.SearchQuery{
			Query: matchAll(`"` + word + `"`), Columns: []string{"title"}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != want {
			t.Errorf("search %s: %d records, want %d", word, res.Total, want)
		}
	}
	if err := s.CheckSearch(ctx, c); err != nil {
		t.Fatal(err)
	}
}
