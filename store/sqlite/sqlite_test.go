package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/sqlite"
	"github.com/tortoise-dev/tortoise/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		path := testPath(t)
		s, err := sqlite.Open(context.Background(), path, sqlite.WithReadTimeout(storetest.ReadTimeout))
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		return s
	})
}

// testPath returns the path of t's database file.
func testPath(t *testing.T) string {
	return storetest.Memo(t, "path", func() string { return filepath.Join(t.TempDir(), "data.db") })
}

func TestMigrations(t *testing.T) {
	known, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	storetest.RunMigrations(t, storetest.Engine{
		Open: func(t *testing.T) (store.Store, error) {
			return sqlite.Open(context.Background(), testPath(t))
		},
		DB: func(t *testing.T) *sql.DB {
			db, err := sql.Open("sqlite", testPath(t))
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
		Migrate: func(t *testing.T, ms []store.Migration) error {
			return sqlite.MigrateFile(context.Background(), testPath(t), ms)
		},
		Known: known,
		Old:   oldSchema,
	})
}

// oldSchema is how Tortoise created its own tables before it had
// migrations; databases made so must open unchanged.
var oldSchema = []string{
	`CREATE TABLE IF NOT EXISTS _collections (
			id TEXT PRIMARY KEY NOT NULL,
			name TEXT NOT NULL UNIQUE COLLATE NOCASE,
			data TEXT NOT NULL,
			created TEXT NOT NULL DEFAULT '',
			updated TEXT NOT NULL DEFAULT '')`,
	`CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS _params (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)`,
	`INSERT OR IGNORE INTO _meta (key, value) VALUES ('gen', 0)`,
}
