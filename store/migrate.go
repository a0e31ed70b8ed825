package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// Migration is one numbered change to the store's own tables (_collections,
// _params, …), as opposed to the tables of collections, which follow their
// definitions. Each driver keeps its migrations as files named
// NNNN_name.sql in its migrations folder, embedded in the binary.
type Migration struct {
	Version int    // 1, 2, 3…: the order they apply in
	Name    string // the file name's rest, such as "init"
	SQL     string // one or more statements, without placeholders
}

func (m Migration) String() string { return fmt.Sprintf("%04d_%s", m.Version, m.Name) }

// Migrator is what a driver gives Migrate to reach its database.
type Migrator interface {
	// Locked runs fn in one transaction holding a lock that excludes every
	// other Locked call on the same database, from other processes too,
	// until the transaction ends. It commits when fn returns nil, else
	// rolls back and returns fn's error.
	Locked(ctx context.Context, fn func(MigrationTx) error) error
}

// MigrationTx is the transaction Locked hands to its function.
type MigrationTx interface {
	// Exec runs query: without args, one or more statements; with args, one
	// statement with `?` placeholders.
	Exec(ctx context.Context, query string, args ...any) error
	// Ints runs a query that returns one integer column.
	Ints(ctx context.Context, query string) ([]int64, error)
}

// The statements Migrate runs besides the migrations, the same on both
// dialects. _migrations has a row per migration applied: its version, its
// name and when it was applied (core.DateLayout, UTC).
const (
	createMigrationsSQL = `CREATE TABLE IF NOT EXISTS _migrations (
	version INTEGER PRIMARY KEY NOT NULL,
	name TEXT NOT NULL,
	applied TEXT NOT NULL)`
	appliedSQL = `SELECT version FROM _migrations ORDER BY version`
	recordSQL  = `INSERT INTO _migrations (version, name, applied) VALUES (?, ?, ?)`
)

// ErrNewerSchema is in the chain of the error Migrate returns for a
// database that a newer Tortoise has migrated past the migrations this
// binary knows (errors.Is).
var ErrNewerSchema = errors.New("newer schema")

// Migrate brings the store's own tables up to date with ms, which must be
// numbered 1, 2, 3… in order. Each migration not yet recorded in
// _migrations is applied, in order, in a transaction of its own together
// with the row that records it, so a failing migration leaves nothing
// behind and is tried again at the next start. The check of what is
// applied and the applying run under m's lock, so processes starting
// together on one database apply each migration once.
//
// Errors: KindUnavailable wrapping ErrNewerSchema when _migrations holds a
// version newer than the last of ms (the binary is older than the
// database: it must not run on it); otherwise the driver's error, wrapped
// with the failing migration's name.
func Migrate(ctx context.Context, m Migrator, ms []Migration) error {
	if err := checkMigrations(ms); err != nil {
		return err
	}
	known := len(ms)
	for {
		var pending []Migration
		err := m.Locked(ctx, func(tx MigrationTx) error {
			if err := tx.Exec(ctx, createMigrationsSQL); err != nil {
				return fmt.Errorf("create _migrations: %w", err)
			}
			applied, err := tx.Ints(ctx, appliedSQL)
			if err != nil {
				return fmt.Errorf("read _migrations: %w", err)
			}
			if n := len(applied); n > 0 && applied[n-1] > int64(known) {
				return &core.Error{Kind: core.KindUnavailable, Err: ErrNewerSchema, Message: fmt.Sprintf(
					"The database was migrated by a newer Tortoise (version %d); this binary knows up to %d.",
					applied[n-1], known)}
			}
			pending = pending[:0]
			for _, mig := range ms {
				if _, found := slices.BinarySearch(applied, int64(mig.Version)); !found {
					pending = append(pending, mig)
				}
			}
			if len(pending) == 0 {
				return nil
			}
			// One migration per transaction: the next one re-checks under
			// the lock, as another process may have applied it meanwhile.
			mig := pending[0]
			if err := tx.Exec(ctx, mig.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", mig, err)
			}
			if err := tx.Exec(ctx, recordSQL, int64(mig.Version), mig.Name, core.Now()); err != nil {
				return fmt.Errorf("record migration %s: %w", mig, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(pending) <= 1 {
			return nil
		}
	}
}

// checkMigrations makes sure ms are numbered 1, 2, 3… with names.
func checkMigrations(ms []Migration) error {
	for i, m := range ms {
		if m.Version != i+1 {
			return fmt.Errorf("migration %s: version %d, want %d (numbered 1, 2, 3… with no gap)", m, m.Version, i+1)
		}
		if !migrationName.MatchString(m.Name) {
			return fmt.Errorf("migration %s: name must be lowercase letters, digits and _", m)
		}
	}
	return nil
}

var (
	migrationName = regexp.MustCompile(`^[a-z0-9_]+$`)
	migrationFile = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)
)

// LoadMigrations reads the migrations in folder dir of fsys (a driver's
// embedded files): every file must be named NNNN_name.sql, four digits
// then a lowercase name, numbered from 0001 with no gap.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries { // sorted by name, hence by version
		parts := migrationFile.FindStringSubmatch(e.Name())
		if parts == nil || e.IsDir() {
			return nil, fmt.Errorf("migration file %q: want a name such as 0001_init.sql", e.Name())
		}
		version, _ := strconv.Atoi(parts[1])
		text, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		if strings.TrimSpace(string(text)) == "" {
			return nil, fmt.Errorf("migration %s is empty", e.Name())
		}
		ms = append(ms, Migration{Version: version, Name: parts[2], SQL: string(text)})
	}
	if err := checkMigrations(ms); err != nil {
		return nil, err
	}
	return ms, nil
}
