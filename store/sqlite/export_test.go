package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/tortoise-dev/tortoise/store"
)

// Migrations returns the migrations this binary knows.
func Migrations() ([]store.Migration, error) { return migrations() }

// MigrateFile runs store.Migrate with ms on the database file at path, on
// a connection of its own, as another process opening the file would.
func MigrateFile(ctx context.Context, path string, ms []store.Migration) error {
	db, err := sql.Open("sqlite", dsn(path, config{busyTimeout: 10 * time.Second}, false))
	if err != nil {
		return err
	}
	defer db.Close()
	// As Open connects: a runner starting while another sets up the new
	// file's journal is answered SQLITE_BUSY at once.
	conn, err := connectWriter(ctx, db, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	return store.Migrate(ctx, migrator{conn}, ms)
}
