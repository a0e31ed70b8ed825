package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"sync"

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

// migrator runs migrations on one connection, holding SQLite's write lock
// (BEGIN IMMEDIATE) from the check of what is applied to the commit, so
// another process opening the same file waits (busy_timeout) and then
// finds them applied.
type migrator struct{ conn *sql.Conn }

func (m migrator) Locked(ctx context.Context, fn func(store.MigrationTx) error) error {
	if _, err := m.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if err := fn(migrationTx(m)); err != nil {
		m.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") // the error to report is fn's
		return err
	}
	if _, err := m.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		m.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") // SQLite may have rolled back already
		return err
	}
	return nil
}

type migrationTx struct{ conn *sql.Conn }

func (t migrationTx) Exec(ctx context.Context, query string, args ...any) error {
	_, err := t.conn.ExecContext(ctx, query, args...)
	return err
}

func (t migrationTx) Ints(ctx context.Context, query string) ([]int64, error) {
	rows, err := t.conn.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
