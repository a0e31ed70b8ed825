package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// TestCountsMigration runs migration 0003 on a database with collections
// made before it, while an older process goes on inserting: the seeded
// counts must match the rows, and the view collection must be left out.
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
}
