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

func (m matchAll) FTS5([]string, bool) string  { return string(m) }
func (m matchAll) TSQuery(string, bool) string { return "" }
