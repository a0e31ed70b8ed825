package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
)

func countsCollection(name string) *core.Collection {
	now := core.Now()
	return &core.Collection{ID: "pbc_" + core.RandomString(10, "0123456789"), Name: name, Type: core.TypeBase,
		Fields: []core.Field{
			{ID: "text3208210256", Name: "id", Type: core.FieldText, System: true, Required: true, PrimaryKey: true},
			{ID: "number1", Name: "n", Type: core.FieldNumber},
		}, Indexes: []string{}, Created: now, Updated: now}
}

func countsRecord(c *core.Collection) *core.Record {
	r := core.NewRecord(c)
	r.Data["id"] = core.NewID()
	return r
}

// rawCounts returns the sum of c's counter rows and its table's COUNT(*).
func rawCounts(t *testing.T, pool *pgxpool.Pool, c *core.Collection) (sum, count int64) {
	t.Helper()
	ctx := context.Background()
	if err := pool.QueryRow(ctx, `SELECT COALESCE(SUM(n), -1)::bigint FROM _counts WHERE collection = $1`, c.ID).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT COUNT(*) FROM `+store.QuoteIdent(c.Name)).Scan(&count); err != nil {
		t.Fatal(err)
	}
	return sum, count
}

func findTotal(t *testing.T, s *postgres.Store, c *core.Collection) int64 {
	t.Helper()
	res, err := s.Find(context.Background(), store.Query{Collection: c, WithTotal: true, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return int64(res.Total)
}

// TestCountsProcesses writes to one collection from two Store values on
// one database, as two processes would, each with writers on several
// connections, plus statements of a third party (psql) straight on the
// table; the counters must end equal to COUNT(*).
func TestCountsProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	var stores [2]*postgres.Store
	for i := range stores {
		s, err := postgres.OpenConfig(ctx, cfg.Copy())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	c := countsCollection("shared")
	if err := stores[0].Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	var rolledBack atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		s := stores[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				err := s.Update(ctx, func(tx store.Tx) error {
					keep, drop := countsRecord(c), countsRecord(c)
					for _, r := range []*core.Record{keep, drop} {
						if err := tx.Insert(ctx, r); err != nil {
							return err
						}
					}
					if err := tx.Delete(ctx, c, drop.ID()); err != nil {
						return err
					}
					if i%7 == 0 {
						return errors.New("rolled back")
					}
					return nil
				})
				if err != nil {
					rolledBack.Add(1)
				}
			}
		}()
	}
	// The third party: multi-row statements, and deletes of rows the
	// writers inserted.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			if _, err := stores[1].Pool().Exec(ctx, `INSERT INTO shared (id) SELECT 'raw'||$1::int||'x'||g FROM generate_series(1, 5) g`, i); err != nil {
				t.Error(err)
				return
			}
			if _, err := stores[1].Pool().Exec(ctx, `DELETE FROM shared WHERE id IN (SELECT id FROM shared WHERE id NOT LIKE 'raw%' LIMIT 1)`); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	if rolledBack.Load() != 8*6 { // i = 0, 7, …, 35 per writer
		t.Fatalf("%d calls failed, want the 48 rolled back", rolledBack.Load())
	}
	sum, count := rawCounts(t, stores[0].Pool(), c)
	if sum != count {
		t.Errorf("counters say %d, COUNT(*) %d", sum, count)
	}
	for i, s := range stores {
		if got := findTotal(t, s, c); got != count {
			t.Errorf("store %d: total %d, COUNT(*) %d", i, got, count)
		}
	}

	// The total is read from the counters, not counted: a counter moved
	// by hand shows.
	if _, err := stores[0].Pool().Exec(ctx, `UPDATE _counts SET n = n + 1000 WHERE collection = $1 AND shard = 3`, c.ID); err != nil {
		t.Fatal(err)
	}
	if got := findTotal(t, stores[0], c); got != count+1000 {
		t.Errorf("total after moving a counter = %d, want %d", got, count+1000)
	}
}

// TestCountsMigration runs migrations 0003 and 0004 on a database with
// collections made before them, while an older process goes on inserting:
// the seeded counts must match the rows, and the view collection must be
// left out.
func TestCountsMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	known, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	if err := postgres.MigrateConfig(ctx, cfg, known[:2]); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	c := countsCollection("legacy")
	view := countsCollection("legacy_view")
	view.Type, view.ViewQuery = core.TypeView, "SELECT id, n FROM legacy"
	ghost := countsCollection("ghost") // its table is missing
	for _, col := range []*core.Collection{c, view, ghost} {
		data, err := col.StoredJSON()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO _collections (id, name, data) VALUES ($1, $2, $3)`, col.ID, col.Name, string(data)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, store.CreateTableSQL(store.Postgres, c, c.Name)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, store.CreateViewSQL(store.Postgres, view, view.Name)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO legacy (id) SELECT 'seed'||g FROM generate_series(1, 500) g`); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var inserted atomic.Int64
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if _, err := pool.Exec(ctx, `INSERT INTO legacy (id) VALUES ($1)`, core.NewID()); err != nil {
				writerDone <- err
				return
			}
			inserted.Add(1)
		}
	}()
	for inserted.Load() < 20 { // let the old process get going
		time.Sleep(time.Millisecond)
	}
	if err := postgres.MigrateConfig(ctx, cfg, known); err != nil {
		t.Fatal(err)
	}
	for n := inserted.Load(); inserted.Load() < n+20; { // and go on after the migration
		time.Sleep(time.Millisecond)
	}
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}

	sum, count := rawCounts(t, pool, c)
	if sum != count || count != 500+inserted.Load() {
		t.Errorf("counters %d, COUNT(*) %d, rows written %d", sum, count, 500+inserted.Load())
	}
	var viewRows int
	if err := pool.QueryRow(ctx, `SELECT COUNT(*) FROM _counts WHERE collection = $1`, view.ID).Scan(&viewRows); err != nil {
		t.Fatal(err)
	}
	if viewRows != 0 {
		t.Errorf("the view collection has %d counter rows", viewRows)
	}
	s, err := postgres.OpenConfig(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := findTotal(t, s, c); got != count {
		t.Errorf("total %d, COUNT(*) %d", got, count)
	}
	if got := findTotal(t, s, view); got != count {
		t.Errorf("view total %d, want %d", got, count)
	}

	// Migration 0004 gave the table its commit-time trigger: without it,
	// the changes after a transaction's first statement would be lost.
	err = s.Update(ctx, func(tx store.Tx) error {
		for range 3 {
			if err := tx.Insert(ctx, countsRecord(c)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum, count := rawCounts(t, pool, c); sum != count {
		t.Errorf("after a transaction of three inserts: counters %d, COUNT(*) %d", sum, count)
	}
}

// TestCountsLongTransaction writes many statements in one transaction:
// the count must stay exact (its own reads included, a failed statement's
// savepoint, a rollback and a truncate), and the counter row must be
// updated a bounded number of times, not once per statement: each update
// of a row the transaction already updated walks the versions it made, so
// a transaction of n statements cost n² (4,000 inserts took 24 times as
// long as without counting).
func TestCountsLongTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTestStore(t)
	c := countsCollection("long_tx")
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	total := func(tx store.Tx) int64 {
		t.Helper()
		res, err := tx.Find(ctx, store.Query{Collection: c, WithTotal: true, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return int64(res.Total)
	}
	// counterUpdates is how many rows of _counts the connection has
	// updated or inserted (pg_stat_xact_user_tables).
	counterUpdates := func(tx store.Tx) int64 {
		t.Helper()
		var n int64
		err := tx.(interface{ PgxTx() pgx.Tx }).PgxTx().QueryRow(ctx,
			`SELECT n_tup_upd + n_tup_ins FROM pg_stat_xact_user_tables WHERE relid = '_counts'::regclass`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	const n = 400
	err := s.Update(ctx, func(tx store.Tx) error {
		// The view's figures may include earlier transactions of the
		// connection not yet reported: take the difference.
		before := counterUpdates(tx)
		var ids []string
		for range n {
			r := countsRecord(c)
			if err := tx.Insert(ctx, r); err != nil {
				return err
			}
			ids = append(ids, r.ID())
		}
		if got := counterUpdates(tx) - before; got > 2 {
			t.Errorf("%d inserts updated the counters %d times, want at most 2", n, got)
		}
		if got := total(tx); got != n {
			t.Errorf("total inside the transaction = %d, want %d", got, n)
		}
		for _, id := range ids[:50] {
			if err := tx.Delete(ctx, c, id); err != nil {
				return err
			}
		}
		dup := countsRecord(c)
		dup.Data["id"] = ids[60]
		if err := tx.Insert(ctx, dup); err == nil {
			t.Error("inserting a repeated id succeeded")
		}
		if got := total(tx); got != n-50 {
			t.Errorf("total after the deletes and a failed insert = %d, want %d", got, n-50)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, count := rawCounts(t, s.Pool(), c)
	if sum != count || count != n-50 {
		t.Errorf("after commit: counters %d, COUNT(*) %d, want %d", sum, count, n-50)
	}

	// A rolled-back transaction of many statements leaves the count alone.
	_ = s.Update(ctx, func(tx store.Tx) error {
		for range 20 {
			if err := tx.Insert(ctx, countsRecord(c)); err != nil {
				return err
			}
		}
		return errors.New("rolled back")
	})
	if got := findTotal(t, s, c); got != n-50 {
		t.Errorf("after a rollback: total %d, want %d", got, n-50)
	}

	// Truncate after several statements (PostgreSQL refuses TRUNCATE while
	// the commit-time event is queued), then more writes.
	err = s.Update(ctx, func(tx store.Tx) error {
		for range 5 {
			if err := tx.Insert(ctx, countsRecord(c)); err != nil {
				return err
			}
		}
		if err := tx.Truncate(ctx, c); err != nil {
			return err
		}
		for range 3 {
			if err := tx.Insert(ctx, countsRecord(c)); err != nil {
				return err
			}
		}
		if got := total(tx); got != 3 {
			t.Errorf("total after the truncate = %d, want 3", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, count = rawCounts(t, s.Pool(), c)
	if sum != count || count != 3 || findTotal(t, s, c) != 3 {
		t.Errorf("after the truncate: counters %d, COUNT(*) %d, want 3", sum, count)
	}
}
