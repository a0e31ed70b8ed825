package postgres

import (
	"context"
	"embed"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tortoise-dev/tortoise/store"
)

// migrationFiles are the migrations of the store's own tables; adding one
// is adding the next numbered file (see store.Migrate).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

var migrations = sync.OnceValues(func() ([]store.Migration, error) {
	return store.LoadMigrations(migrationFiles, "migrations")
})

// migrateLock is the advisory lock key that serialises migrations when
// many processes start at once on one database. It is the key Tortoise
// took around its CREATE TABLE IF NOT EXISTS before it had migrations, so
// a process of that time starting beside a migrating one waits too.
const migrateLock = 0x746f72746f697365 // "tortoise"

// migrator runs each migration in a transaction of the pool that first
// takes the advisory lock migrateLock (released at commit or rollback).
// The key is per database: stores in other schemas of the same database
// wait for each other's migrations, which are short.
type migrator struct{ pool *pgxpool.Pool }

func (m migrator) Locked(ctx context.Context, fn func(store.MigrationTx) error) error {
	return pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLock)); err != nil {
			return err
		}
		return fn(migrationTx{tx})
	})
}

type migrationTx struct{ tx pgx.Tx }

// Exec runs query; with args, its `?` placeholders are numbered. Without,
// pgx uses the simple protocol, which takes several statements.
func (t migrationTx) Exec(ctx context.Context, query string, args ...any) error {
	if len(args) > 0 {
		query, _ = store.NumberPlaceholders(query, 1)
	}
	_, err := t.tx.Exec(ctx, query, args...)
	return err
}

func (t migrationTx) Ints(ctx context.Context, query string) ([]int64, error) {
	rows, err := t.tx.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
