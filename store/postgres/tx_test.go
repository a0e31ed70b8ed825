package postgres_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
)

type atCommitter interface {
	AtCommit(sql string, args ...any) error
}

// notesStore is a store on a fresh database with a table of notes beside
// the store's own, for statements queued with AtCommit to write.
func notesStore(t *testing.T) *postgres.Store {
	t.Helper()
	s := openTestStore(t)
	if _, err := s.Pool().Exec(context.Background(), `CREATE TABLE notes (v text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return s
}

// A statement queued with AtCommit commits with the write or not at all:
// it runs only when the write commits, a failing one rolls the write back
// (and its change never reaches the feed), and it rides the round trip of
// the feed's own statement without disturbing it.
func TestAtCommit(t *testing.T) {
	ctx := context.Background()
	s := notesStore(t)
	c := &core.Collection{ID: "pbc_atcommit", Name: "posts", Type: core.TypeBase,
		Fields:  []core.Field{core.IDField(), {ID: "t1", Name: "title", Type: core.FieldText}},
		Indexes: []string{}, Created: core.Now(), Updated: core.Now()}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	notes := func() []string {
		t.Helper()
		rows, err := s.Pool().Query(ctx, `SELECT v FROM notes ORDER BY v`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	exists := func(id string) bool {
		t.Helper()
		_, err := s.Get(ctx, c, id)
		if err != nil && core.KindOf(err) != core.KindNotFound {
			t.Fatal(err)
		}
		return err == nil
	}
	sub := s.Changes().Subscribe(16)
	defer sub.Close()
	create := func(id, note string, extra func(tx store.Tx) error) error {
		return s.Update(ctx, func(tx store.Tx) error {
			r := core.NewRecord(c)
			r.Data["id"], r.Data["title"] = id, "t"
			if err := tx.Insert(ctx, r); err != nil {
				return err
			}
			if err := tx.(atCommitter).AtCommit(`INSERT INTO notes (v) VALUES ($1)`, note); err != nil {
				return err
			}
			if extra != nil {
				return extra(tx)
			}
			return nil
		})
	}

	// Committed: the record, the note and the feed's change all land.
	if err := create("r1aaaaaaaaaaaaa", "one", nil); err != nil {
		t.Fatal(err)
	}
	if got := notes(); len(got) != 1 || got[0] != "one" {
		t.Fatalf("notes after a commit = %q, want [one]", got)
	}
	select {
	case ch := <-sub.C:
		if ch.Action != store.ActionCreate || ch.Record.ID() != "r1aaaaaaaaaaaaa" {
			t.Fatalf("feed got %s %s, want the create of r1", ch.Action, ch.Record.ID())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the create never reached the feed")
	}

	// The write's function fails: the queued statement never runs.
	boom := errors.New("boom")
	if err := create("r2aaaaaaaaaaaaa", "two", func(store.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}

	// The queued statement fails: the write rolls back with it.
	var stmtTx store.Tx
	err := create("r3aaaaaaaaaaaaa", "three", func(tx store.Tx) error {
		stmtTx = tx
		return tx.(atCommitter).AtCommit(`INSERT INTO notes (v) VALUES (NULL)`)
	})
	if err == nil {
		t.Fatal("a failing queued statement committed")
	}
	if exists("r2aaaaaaaaaaaaa") || exists("r3aaaaaaaaaaaaa") {
		t.Fatal("a rolled-back record was written")
	}
	if got := notes(); len(got) != 1 {
		t.Fatalf("notes after the rollbacks = %q, want [one]", got)
	}
	// Once Update has returned, the transaction takes no more.
	if err := stmtTx.(atCommitter).AtCommit(`INSERT INTO notes (v) VALUES ('late')`); err == nil {
		t.Fatal("AtCommit after the write was accepted")
	}

	// A write of nothing but queued statements runs them.
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.(atCommitter).AtCommit(`INSERT INTO notes (v) VALUES ($1)`, "zero")
	}); err != nil {
		t.Fatal(err)
	}
	if got := notes(); len(got) != 2 || got[1] != "zero" {
		t.Fatalf("notes = %q, want [one zero]", got)
	}
	select {
	case ch := <-sub.C:
		t.Fatalf("the feed got %s %s from a rolled-back or record-less write", ch.Action, ch.Record.ID())
	case <-time.After(200 * time.Millisecond):
	}
}

type afterCommitter interface {
	AfterCommit(fn func()) error
}

// AfterCommit's functions run once the write is durable and never for a
// write that rolls back, at the function or at a queued statement.
func TestAfterCommit(t *testing.T) {
	ctx := context.Background()
	s := notesStore(t)
	var calls []string
	write := func(name string, fn func(tx store.Tx) error) error {
		return s.Update(ctx, func(tx store.Tx) error {
			if err := tx.(atCommitter).AtCommit(`INSERT INTO notes (v) VALUES ($1)`, name); err != nil {
				return err
			}
			if err := tx.(afterCommitter).AfterCommit(func() {
				// The write is visible to every connection by now.
				var n int
				if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM notes WHERE v = $1`, name).Scan(&n); err != nil || n != 1 {
					t.Errorf("%s: after commit the note is counted %d times (%v)", name, n, err)
				}
				calls = append(calls, name)
			}); err != nil {
				return err
			}
			return fn(tx)
		})
	}
	if err := write("kept", func(store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := write("failed", func(store.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	var late store.Tx
	if err := write("statement failed", func(tx store.Tx) error {
		late = tx
		return tx.(atCommitter).AtCommit(`INSERT INTO notes (v) VALUES (NULL)`)
	}); err == nil {
		t.Fatal("a failing queued statement committed")
	}
	if len(calls) != 1 || calls[0] != "kept" {
		t.Fatalf("AfterCommit ran for %q, want [kept]", calls)
	}
	if err := late.(afterCommitter).AfterCommit(func() {}); err == nil {
		t.Fatal("AfterCommit after the write was accepted")
	}
}

// savepointCounter counts the SAVEPOINTs sent in round trips of their own.
type savepointCounter struct{ n atomic.Int64 }

func (c *savepointCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if d.SQL == "SAVEPOINT s" {
		c.n.Add(1)
	}
	return ctx
}

func (c *savepointCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A write whose statement already ran on its connection sends the
// SAVEPOINT in the statement's own round trip, and a statement failing
// there is still undone alone: the transaction goes on and commits.
func TestGuardedOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.MaxConns = 1 // every write on the one connection
	var sp savepointCounter
	cfg.ConnConfig.Tracer = &sp
	s, err := postgres.OpenConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &core.Collection{ID: "pbc_oneround", Name: "posts", Type: core.TypeBase,
		Fields:  []core.Field{core.IDField(), {ID: "t1", Name: "title", Type: core.FieldText}},
		Indexes: []string{}, Created: core.Now(), Updated: core.Now()}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	insert := func(tx store.Tx, id string) error {
		r := core.NewRecord(c)
		r.Data["id"], r.Data["title"] = id, "title "+id
		return tx.Insert(ctx, r)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return insert(tx, "aaaaaaaaaaaaaaa") }); err != nil {
		t.Fatal(err)
	}
	var alone int64
	var dupErr error
	err = s.Update(ctx, func(tx store.Tx) error {
		before := sp.n.Load()
		if err := insert(tx, "bbbbbbbbbbbbbbb"); err != nil {
			return err
		}
		alone = sp.n.Load() - before
		dupErr = insert(tx, "aaaaaaaaaaaaaaa") // fails in the one round trip
		return insert(tx, "ccccccccccccccc")
	})
	if err != nil {
		t.Fatalf("the write after a failed statement: %v", err)
	}
	if alone != 0 {
		t.Errorf("%d SAVEPOINTs went in round trips of their own for a statement run before on the connection, want 0", alone)
	}
	if core.KindOf(dupErr) != core.KindInvalid {
		t.Errorf("duplicate id: %v (kind %v), want a 400 naming the id", dupErr, core.KindOf(dupErr))
	}
	for _, id := range []string{"aaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbb", "ccccccccccccccc"} {
		r, err := s.Get(ctx, c, id)
		if err != nil {
			t.Fatalf("%s after the commit: %v", id, err)
		}
		if r.Data["title"] != "title "+id {
			t.Errorf("%s: title %v", id, r.Data["title"])
		}
	}
}
