package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// Engine is what RunMigrations needs of a driver besides its Store: ways
// to reach a test's database beneath it. Each function refers to t's own
// database, empty when first used for t and the same on every call with
// that t (Memo helps). The suite calls DB first, then may call Open and
// Migrate from several goroutines at once, so they must report failure by
// their error, not t.Fatal.
type Engine struct {
	// Open opens a store on t's database and returns Open's error as is.
	Open func(t *testing.T) (store.Store, error)
	// DB opens a plain connection pool on t's database, outside any store;
	// the suite closes it.
	DB func(t *testing.T) *sql.DB
	// Migrate runs store.Migrate with the driver's lock and ms on t's
	// database, over connections of its own, as another process would.
	Migrate func(t *testing.T, ms []store.Migration) error
	// Known are the driver's migrations.
	Known []store.Migration
	// Old are the statements with which Tortoise created its own tables
	// before it had migrations, kept as they were.
	Old []string
}

// RunMigrations checks the migrations of the store's own tables: applied
// once and recorded, compatible with a database of the time before
// migrations, refused when newer than the binary, atomic, and applied
// once when processes start together.
func RunMigrations(t *testing.T, e Engine) {
	if len(e.Known) == 0 {
		t.Fatal("the driver knows no migrations")
	}
	t.Run("Fresh", func(t *testing.T) { t.Parallel(); testMigrateFresh(t, e) })
	t.Run("Reopen", func(t *testing.T) { t.Parallel(); testMigrateReopen(t, e) })
	t.Run("Existing", func(t *testing.T) { t.Parallel(); testMigrateExisting(t, e) })
	t.Run("Newer", func(t *testing.T) { t.Parallel(); testMigrateNewer(t, e) })
	t.Run("Atomic", func(t *testing.T) { t.Parallel(); testMigrateAtomic(t, e) })
	t.Run("Concurrent", func(t *testing.T) { t.Parallel(); testMigrateConcurrent(t, e) })
	t.Run("ConcurrentOpen", func(t *testing.T) { t.Parallel(); testMigrateConcurrentOpen(t, e) })
}

// migrationRow is a row of _migrations.
type migrationRow struct {
	Version int
	Name    string
	Applied string
}

func rawDB(t *testing.T, e Engine) *sql.DB {
	t.Helper()
	db := e.DB(t)
	t.Cleanup(func() { db.Close() })
	return db
}

func rawExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func rawCount(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func migrationRows(t *testing.T, db *sql.DB) []migrationRow {
	t.Helper()
	rows, err := db.Query("SELECT version, name, applied FROM _migrations ORDER BY version")
	if err != nil {
		t.Fatalf("read _migrations: %v", err)
	}
	defer rows.Close()
	var out []migrationRow
	for rows.Next() {
		var r migrationRow
		if err := rows.Scan(&r.Version, &r.Name, &r.Applied); err != nil {
			t.Fatalf("read _migrations: %v", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read _migrations: %v", err)
	}
	return out
}

// wantApplied fails unless _migrations records exactly ms, with times.
func wantApplied(t *testing.T, db *sql.DB, ms []store.Migration) []migrationRow {
	t.Helper()
	rows := migrationRows(t, db)
	if len(rows) != len(ms) {
		t.Fatalf("_migrations = %v, want %d rows", rows, len(ms))
	}
	for i, r := range rows {
		if r.Version != ms[i].Version || r.Name != ms[i].Name {
			t.Errorf("_migrations row %d = %d %q, want %s", i, r.Version, r.Name, ms[i])
		}
		if _, err := time.Parse(core.DateLayout, r.Applied); err != nil {
			t.Errorf("_migrations row %d: applied %q: %v", i, r.Applied, err)
		}
	}
	return rows
}

func mustOpen(t *testing.T, e Engine) store.Store {
	t.Helper()
	s, err := e.Open(t)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkUsable fails unless s can create a collection, write and read.
func checkUsable(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	c := newCollection("posts", text("title"))
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateCollection(ctx, c); err != nil {
			return err
		}
		return tx.Insert(ctx, record(c, fmtID("p", 1), "title", "hello"))
	})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if r, err := s.Get(ctx, c, fmtID("p", 1)); err != nil || r.Data["title"] != "hello" {
		t.Fatalf("read back: %v %v", r, err)
	}
}

// testMigrateFresh: a new database gets every migration, each recorded.
func testMigrateFresh(t *testing.T, e Engine) {
	db := rawDB(t, e)
	s := mustOpen(t, e)
	wantApplied(t, db, e.Known)
	checkUsable(t, s)
}

// testMigrateReopen: opening a migrated database applies nothing again.
func testMigrateReopen(t *testing.T, e Engine) {
	db := rawDB(t, e)
	s := mustOpen(t, e)
	checkUsable(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := wantApplied(t, db, e.Known)
	s = mustOpen(t, e)
	if after := migrationRows(t, db); !reflect.DeepEqual(after, before) {
		t.Errorf("_migrations after reopening = %v, want %v", after, before)
	}
	if cs, err := s.Collections(context.Background()); err != nil || len(cs) != 1 {
		t.Errorf("collections after reopening: %d %v", len(cs), err)
	}
}

// testMigrateExisting: a database made before migrations existed, with
// data, opens as it is and has 0001 recorded.
func testMigrateExisting(t *testing.T, e Engine) {
	db := rawDB(t, e)
	rawExec(t, db, e.Old...)
	rawExec(t, db, `INSERT INTO _params (key, value) VALUES ('settings', '{"old":true}')`)
	s := mustOpen(t, e)
	wantApplied(t, db, e.Known)
	ctx := context.Background()
	if v, err := s.Param(ctx, "settings"); err != nil || string(v) != `{"old":true}` {
		t.Errorf("param kept from before: %q %v", v, err)
	}
	checkUsable(t, s)
}

// testMigrateNewer: a database a newer Tortoise migrated is refused, and
// left as it is.
func testMigrateNewer(t *testing.T, e Engine) {
	db := rawDB(t, e)
	s := mustOpen(t, e)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	known := len(e.Known)
	rawExec(t, db, fmt.Sprintf(`INSERT INTO _migrations (version, name, applied) VALUES (%d, 'future', '%s')`, known+1, core.Now()))
	s, err := e.Open(t)
	if err == nil {
		s.Close()
		t.Fatal("a database migrated by a newer Tortoise opened")
	}
	wantKind(t, err, core.KindUnavailable)
	if !errors.Is(err, store.ErrNewerSchema) {
		t.Errorf("error %v does not wrap store.ErrNewerSchema", err)
	}
	want := fmt.Sprintf("The database was migrated by a newer Tortoise (version %d); this binary knows up to %d.", known+1, known)
	if msg := core.AsError(err).Message; msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
	if rows := migrationRows(t, db); len(rows) != known+1 {
		t.Errorf("_migrations = %v after a refused open", rows)
	}
}

// testMigrateAtomic: a failing migration leaves nothing behind and is not
// recorded; the ones before it stay applied; a fixed one applies later.
func testMigrateAtomic(t *testing.T, e Engine) {
	db := rawDB(t, e)
	first := store.Migration{Version: 1, Name: "first", SQL: "CREATE TABLE mig_first (n INTEGER NOT NULL)"}
	bad := store.Migration{Version: 2, Name: "second", SQL: "CREATE TABLE mig_second (n INTEGER NOT NULL);\nINSERT INTO mig_nowhere (n) VALUES (1)"}
	err := e.Migrate(t, []store.Migration{first, bad})
	if err == nil || !strings.Contains(err.Error(), "0002_second") {
		t.Fatalf("failing migration: %v, want an error naming 0002_second", err)
	}
	wantApplied(t, db, []store.Migration{first})
	if _, err := db.Exec("SELECT COUNT(*) FROM mig_second"); err == nil {
		t.Error("the failing migration's first statement was kept")
	}
	good := bad
	good.SQL = "CREATE TABLE mig_second (n INTEGER NOT NULL);\nINSERT INTO mig_second (n) VALUES (1)"
	if err := e.Migrate(t, []store.Migration{first, good}); err != nil {
		t.Fatalf("fixed migration: %v", err)
	}
	wantApplied(t, db, []store.Migration{first, good})
	if n := rawCount(t, db, "mig_second"); n != 1 {
		t.Errorf("mig_second has %d rows, want 1", n)
	}
}

// concurrency is how many processes the concurrency tests start at once.
const concurrency = 4

// testMigrateConcurrent: runners starting together apply each migration
// once. The migrations fail if run twice (CREATE TABLE without IF NOT
// EXISTS) or leave a trace of it (the INSERT).
func testMigrateConcurrent(t *testing.T, e Engine) {
	ms := []store.Migration{
		{Version: 1, Name: "create", SQL: "CREATE TABLE mig_once (n INTEGER NOT NULL)"},
		{Version: 2, Name: "insert", SQL: "INSERT INTO mig_once (n) VALUES (1)"},
		{Version: 3, Name: "more", SQL: "CREATE TABLE mig_more (n INTEGER NOT NULL);\nINSERT INTO mig_once (n) VALUES (2)"},
	}
	db := rawDB(t, e)
	var wg sync.WaitGroup
	errs := make([]error, concurrency)
	for i := range concurrency {
		wg.Go(func() { errs[i] = e.Migrate(t, ms) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent runners: %v", err)
	}
	wantApplied(t, db, ms)
	if n := rawCount(t, db, "mig_once"); n != 2 {
		t.Errorf("mig_once has %d rows, want 2", n)
	}
	if err := e.Migrate(t, ms); err != nil {
		t.Fatalf("runner on a migrated database: %v", err)
	}
	if n := rawCount(t, db, "mig_once"); n != 2 {
		t.Errorf("mig_once has %d rows after another run, want 2", n)
	}
}

// testMigrateConcurrentOpen: stores opening together on a new database
// all open, and record each migration once.
func testMigrateConcurrentOpen(t *testing.T, e Engine) {
	db := rawDB(t, e)
	var wg sync.WaitGroup
	stores := make([]store.Store, concurrency)
	errs := make([]error, concurrency)
	for i := range concurrency {
		wg.Go(func() { stores[i], errs[i] = e.Open(t) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] == nil { // a failed Open may return a nil *Store as a non-nil Store
			s.Close()
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent opens: %v", err)
	}
	wantApplied(t, db, e.Known)
}
