package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// These tests make the writer's transaction fail at each step and check
// three things: which callers are told success and which an error, that
// the store keeps working, and, after reopening the file, that every
// acknowledged write is there and no refused one is. Failures are forced
// with the engine where it can do it portably (PRAGMA max_page_count for
// a full disk, ON CONFLICT ROLLBACK, a commit hook, a lock held by another
// connection) and with writer.fault where it cannot (a ROLLBACK that
// fails).

// faultStore is a store in a fresh directory with a collection whose pad
// field can fill pages, logging to log.
type faultStore struct {
	*Store
	path string
	c    *core.Collection
	log  *syncBuffer
}

func setupFault(t *testing.T, opts ...Option) *faultStore {
	t.Helper()
	f := &faultStore{path: filepath.Join(t.TempDir(), "data.db"), log: &syncBuffer{}}
	f.c = &core.Collection{ID: "c1", Name: "items", Fields: []core.Field{
		{ID: "f0", Name: "id", Type: core.FieldText, PrimaryKey: true},
		{ID: "f1", Name: "pad", Type: core.FieldText},
	}}
	f.Store = f.open(t, opts...)
	if err := f.Update(context.Background(), func(tx store.Tx) error { return tx.CreateCollection(context.Background(), f.c) }); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *faultStore) open(t *testing.T, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(f.log, nil)))}, opts...)
	s, err := Open(context.Background(), f.path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// insert returns an Update function inserting a record with this id.
func (f *faultStore) insert(id string) func(store.Tx) error {
	return func(tx store.Tx) error { return f.insertTx(tx, id, "") }
}

func (f *faultStore) insertTx(tx store.Tx, id, pad string) error {
	r := core.NewRecord(f.c)
	r.Data["id"], r.Data["pad"] = id, pad
	return tx.Insert(context.Background(), r)
}

// check asserts that the store holds exactly the records ids, with a total
// that agrees, then that the file does too once reopened.
func (f *faultStore) check(t *testing.T, ids ...string) {
	t.Helper()
	slices.Sort(ids)
	look := func(s *Store, when string) {
		t.Helper()
		res, err := s.Find(context.Background(), store.Query{Collection: f.c, OrderBy: `"_r"."id"`, WithTotal: true})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		var got []string
		for _, r := range res.Records {
			got = append(got, r.Data["id"].(string))
		}
		if !slices.Equal(got, ids) || res.Total != len(ids) {
			t.Errorf("%s: records %q, total %d; want %q", when, got, res.Total, ids)
		}
	}
	look(f.Store, "before reopening")
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	f.Store = f.open(t)
	look(f.Store, "after reopening")
}

// result is what one Update call came back with.
type result struct {
	err      error
	panicked any
}

func (r result) String() string {
	if r.panicked != nil {
		return fmt.Sprintf("panic(%v)", r.panicked)
	}
	return fmt.Sprintf("%v", r.err)
}

// expect describes a wanted result; it returns "" when r matches.
type expect func(r result) string

func ok() expect {
	return func(r result) string {
		if r.err != nil || r.panicked != nil {
			return "want success"
		}
		return ""
	}
}

// fails wants an error of kind, wrapping target when target is not nil.
func fails(kind core.Kind, target error) expect {
	return func(r result) string {
		if r.err == nil || core.KindOf(r.err) != kind || target != nil && !errors.Is(r.err, target) {
			return fmt.Sprintf("want a %s error wrapping %v", kind, target)
		}
		return ""
	}
}

func panics(v any) expect {
	return func(r result) string {
		if r.panicked != v {
			return fmt.Sprintf("want panic(%v)", v)
		}
		return ""
	}
}

// runGroup queues fns in order behind a blocked writer so that they form
// one group, installs fault for that group and the ones that follow, and
// returns what each call came back with.
func (f *faultStore) runGroup(t *testing.T, fault func(string) error, fns ...func(store.Tx) error) []result {
	t.Helper()
	release, blocked := blockWriter(t, f.Store)
	res := make([]result, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			defer func() { res[i].panicked = recover() }()
			res[i].err = f.Update(context.Background(), fn)
		})
		waitQueued(t, f.Store, i+1)
	}
	// The writer is inside the blocking call: it read w.fault before
	// blockWriter saw the call start and reads it again only after
	// release, so this write races with nothing.
	if fault != nil {
		f.w.fault = fromNextGroup(fault)
	}
	release()
	wg.Wait()
	if err := <-blocked; err != nil {
		t.Fatalf("blocking call: %v", err)
	}
	f.w.fault = nil // every caller is answered: the writer is idle
	return res
}

func checkResults(t *testing.T, got []result, want ...expect) {
	t.Helper()
	for i, w := range want {
		if msg := w(got[i]); msg != "" {
			t.Errorf("call %d: got %v, %s", i, got[i], msg)
		}
	}
}

// fromNextGroup arms fault at the next BEGIN, sparing the blocking call's
// group, which is still running when it is installed.
func fromNextGroup(fault func(string) error) func(string) error {
	armed := false
	return func(q string) error {
		armed = armed || q == "BEGIN IMMEDIATE"
		if !armed {
			return nil
		}
		return fault(q)
	}
}

var errInjected = errors.New("injected failure")

// failAt makes the nth run (from 1) of each statement given fail, without
// running it.
func failAt(nth map[string]int) func(string) error {
	seen := map[string]int{}
	return func(q string) error {
		seen[q]++
		if n, ok := nth[q]; ok && seen[q] == n {
			return fmt.Errorf("%s: %w", q, errInjected)
		}
		return nil
	}
}

// wtx gives a test's Update function the write transaction's internals.
func wtx(tx store.Tx) *writeTx { return tx.(*writeTx) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestWriterBeginFailure(t *testing.T) {
	t.Parallel()
	t.Run("injected", func(t *testing.T) {
		t.Parallel()
		f := setupFault(t)
		ran := false
		mark := func(tx store.Tx) error { ran = true; return nil }
		res := f.runGroup(t, failAt(map[string]int{"BEGIN IMMEDIATE": 1}), f.insert("a"), mark, f.insert("b"))
		checkResults(t, res, fails(core.KindInternal, errInjected), fails(core.KindInternal, errInjected), fails(core.KindInternal, errInjected))
		if ran {
			t.Error("a call ran without a transaction")
		}
		if err := f.Update(context.Background(), f.insert("after")); err != nil {
			t.Fatal(err)
		}
		f.check(t, "after")
	})

	t.Run("database locked by another connection", func(t *testing.T) {
		t.Parallel()
		f := setupFault(t, WithBusyTimeout(20*time.Millisecond))
		other, err := sql.Open("sqlite", f.path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		lock, err := other.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		if _, err := lock.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		ran := false
		errs := make([]error, 3)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				errs[i] = f.Update(context.Background(), func(tx store.Tx) error { ran = true; return f.insertTx(tx, fmt.Sprint("locked", i), "") })
			})
		}
		wg.Wait()
		for i, err := range errs {
			if core.KindOf(err) != core.KindUnavailable {
				t.Errorf("call %d: %v, want KindUnavailable", i, err)
			}
		}
		if ran {
			t.Error("a call ran without a transaction")
		}
		if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		if err := f.Update(context.Background(), f.insert("after")); err != nil {
			t.Fatal(err)
		}
		f.check(t, "after")
	})
}

// TestWriterReleaseFailure fails the statements around one call of a
// group of four: the calls before it are told the group failed (their
// changes went with it), it gets an error, and the call after it runs in
// a new transaction and commits.
func TestWriterReleaseFailure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault map[string]int
		third func(f *faultStore) func(store.Tx) error
		want  expect // for the third call
	}{
		{"RELEASE of the third call", map[string]int{"RELEASE fn": 3},
			func(f *faultStore) func(store.Tx) error { return f.insert("c") },
			fails(core.KindInternal, errInjected)},
		{"SAVEPOINT of the third call", map[string]int{"SAVEPOINT fn": 3},
			func(f *faultStore) func(store.Tx) error {
				return func(store.Tx) error { panic("a call ran without its savepoint") }
			},
			fails(core.KindInternal, errInjected)},
		{"ROLLBACK TO of the failing third call", map[string]int{"ROLLBACK TO fn; RELEASE fn": 1},
			func(f *faultStore) func(store.Tx) error {
				return func(tx store.Tx) error { f.insertTx(tx, "c", ""); return errBoom }
			},
			fails(core.KindInternal, errBoom)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setupFault(t)
			lost := fails(core.KindInternal, errInjected)
			res := f.runGroup(t, failAt(tc.fault), f.insert("a"), f.insert("b"), tc.third(f), f.insert("d"))
			checkResults(t, res, lost, lost, tc.want, ok())
			f.check(t, "d")
		})
	}
}

// TestWriterCommitFailureAnswersEveryCaller fails COMMIT, once with the
// transaction left open (ROLLBACK ends it) and once the way SQLite fails
// it when it has rolled back by itself: every caller hears of it, a
// caller's own error stays its answer, no count drifts.
func TestWriterCommitFailureAnswersEveryCaller(t *testing.T) {
	t.Parallel()
	type commitHooker interface {
		RegisterCommitHook(msqlite.CommitHookFn)
	}
	cases := []struct {
		name  string
		fault map[string]int
		hook  bool // a commit hook vetoes the first COMMIT: SQLite rolls back
		want  expect
	}{
		{"injected, transaction still open", map[string]int{"COMMIT": 1}, false, fails(core.KindInternal, errInjected)},
		{"rolled back by SQLite", nil, true, fails(core.KindInternal, nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setupFault(t)
			if err := f.Update(context.Background(), f.insert("before")); err != nil {
				t.Fatal(err)
			}
			first := f.insert("a")
			if tc.hook {
				first = func(tx store.Tx) error {
					vetoed := false
					err := wtx(tx).s.wconn.Raw(func(dc any) error {
						dc.(commitHooker).RegisterCommitHook(func() int32 {
							if vetoed {
								return 0
							}
							vetoed = true
							return 1
						})
						return nil
					})
					if err != nil {
						return err
					}
					return f.insertTx(tx, "a", "")
				}
			}
			failing := func(tx store.Tx) error { f.insertTx(tx, "b", ""); return errBoom }
			inject := failAt(tc.fault)
			rollbacks := 0
			fault := func(q string) error {
				if q == "ROLLBACK" {
					rollbacks++
				}
				return inject(q)
			}
			res := f.runGroup(t, fault, first, failing, f.insert("c"))
			checkResults(t, res, tc.want, fails(core.KindInternal, errBoom), tc.want)
			if code, _ := sqliteCode(res[0].err); tc.hook && code != sqlite3.SQLITE_CONSTRAINT_COMMITHOOK {
				t.Errorf("first call: %v, want the commit hook's veto", res[0].err)
			}
			// ROLLBACK is for a transaction still open; after SQLite's own
			// rollback the writer knows there is nothing left to end.
			if want := map[bool]int{false: 1, true: 0}[tc.hook]; rollbacks != want {
				t.Errorf("%d ROLLBACK statements, want %d", rollbacks, want)
			}
			if err := f.Update(context.Background(), f.insert("after")); err != nil {
				t.Fatal(err)
			}
			f.check(t, "before", "after")
		})
	}
}

// TestWriterRollbackFailureResetsConnection makes ROLLBACK fail after a
// failed step, leaving the connection inside the group's transaction. The
// writer must discard it: otherwise the next BEGIN fails, or a later
// COMMIT commits writes whose callers were told they failed.
func TestWriterRollbackFailureResetsConnection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault map[string]int
	}{
		{"after COMMIT fails", map[string]int{"COMMIT": 1, "ROLLBACK": 1}},
		{"after RELEASE fails", map[string]int{"RELEASE fn": 2, "ROLLBACK": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setupFault(t)
			old := f.wconn
			lost := fails(core.KindInternal, errInjected)
			res := f.runGroup(t, failAt(tc.fault), f.insert("a"), f.insert("b"))
			checkResults(t, res, lost, lost)
			// Replaced at once, so that Close finds a connection to close.
			if f.wconn == old || f.w.broken || !f.w.hooked {
				t.Errorf("write connection not replaced (same: %v, broken: %v, hooked: %v)", f.wconn == old, f.w.broken, f.w.hooked)
			}
			if err := f.Update(context.Background(), f.insert("after")); err != nil {
				t.Fatalf("next write: %v", err)
			}
			if !strings.Contains(f.log.String(), "discarding the write connection") {
				t.Errorf("reset not logged; log:\n%s", f.log)
			}
			// The new connection must detect SQLite's own rollbacks too.
			checkAutoRollbackDetected(t, f)
			f.check(t, "after")
		})
	}
}

func checkAutoRollbackDetected(t *testing.T, f *faultStore) {
	t.Helper()
	err := f.Update(context.Background(), func(tx store.Tx) error {
		if _, err := wtx(tx).s.wexec(`CREATE TABLE IF NOT EXISTS rb (id INTEGER PRIMARY KEY ON CONFLICT ROLLBACK)`); err != nil {
			return err
		}
		wtx(tx).s.wexec(`INSERT INTO rb VALUES (1), (1)`)
		return f.insertTx(tx, "autocommitted", "")
	})
	if !errors.Is(err, errTxLost) {
		t.Errorf("write after SQLite rolled back: %v, want errTxLost", err)
	}
}

func TestWriterCallbackPanicLogsStackAndIsolates(t *testing.T) {
	t.Parallel()
	f := setupFault(t)
	before := f.Stats()
	res := f.runGroup(t, nil, f.insert("a"), panicsAfterInsert(f, "b"), f.insert("c"))
	checkResults(t, res, ok(), panics("kaboom"), ok())
	if got := f.Stats(); got.Groups-before.Groups != 2 {
		t.Errorf("%d groups, want 2: the blocking call's, then one for the three", got.Groups-before.Groups)
	}
	log := f.log.String()
	for _, want := range []string{"panic in an Update function", "kaboom", "panicsAfterInsert"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	f.check(t, "a", "c")
}

// panicsAfterInsert is named so that the logged stack can be checked.
func panicsAfterInsert(f *faultStore, id string) func(store.Tx) error {
	return func(tx store.Tx) error {
		if err := f.insertTx(tx, id, ""); err != nil {
			return err
		}
		panic("kaboom")
	}
}

// TestWriterDetectsAutoRollback has SQLite roll the group's transaction
// back by itself in the middle of a call. Whatever the call does next,
// nothing may run in autocommit mode (where it would be committed on its
// own), the group's callers are all told, and the calls queued after it
// commit in a new transaction.
func TestWriterDetectsAutoRollback(t *testing.T) {
	t.Parallel()
	// diskFull fills the database up to max_page_count (SQLITE_FULL) and
	// returns that error.
	diskFull := func(t *testing.T, f *faultStore, tx store.Tx) error {
		var pages int64
		if err := wtx(tx).s.wconn.QueryRowContext(bg, "PRAGMA page_count").Scan(&pages); err != nil {
			return err
		}
		if _, err := wtx(tx).s.wexec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+4)); err != nil {
			return err
		}
		for i := range 100 {
			if err := f.insertTx(tx, fmt.Sprint("fill", i), strings.Repeat("x", 3000)); err != nil {
				if code, _ := sqliteCode(err); code&0xff != sqlite3.SQLITE_FULL {
					t.Errorf("filling: %v, want SQLITE_FULL", err)
				}
				return err
			}
		}
		t.Error("max_page_count never reached")
		return nil
	}
	onConflictRollback := func(t *testing.T, f *faultStore, tx store.Tx) error {
		_, err := wtx(tx).s.wexec(`INSERT INTO rb VALUES (1), (1)`)
		if err == nil {
			t.Error("duplicate accepted")
		}
		return err
	}
	cases := []struct {
		name    string
		cause   func(t *testing.T, f *faultStore, tx store.Tx) error
		goOn    bool   // the call ignores the error and writes again
		wantOwn expect // the failing call's answer
	}{
		{"disk full, the call returns the error", diskFull, false, fails(core.KindInternal, nil)},
		{"disk full, the call goes on", diskFull, true, fails(core.KindInternal, errTxLost)},
		{"ON CONFLICT ROLLBACK, the call goes on", onConflictRollback, true, fails(core.KindInternal, errTxLost)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setupFault(t)
			err := f.Update(context.Background(), func(tx store.Tx) error {
				if _, err := wtx(tx).s.wexec(`CREATE TABLE rb (id INTEGER PRIMARY KEY ON CONFLICT ROLLBACK)`); err != nil {
					return err
				}
				return f.insertTx(tx, "before", "")
			})
			if err != nil {
				t.Fatal(err)
			}
			var goOnErr error
			failing := func(tx store.Tx) error {
				err := tc.cause(t, f, tx)
				if !tc.goOn {
					return err
				}
				goOnErr = f.insertTx(tx, "autocommitted", "")
				return nil
			}
			// The last call lifts the page limit the first may have set on
			// the connection, then writes.
			last := func(tx store.Tx) error {
				if _, err := wtx(tx).s.wexec("PRAGMA max_page_count = 1073741823"); err != nil {
					return err
				}
				return f.insertTx(tx, "c", "")
			}
			res := f.runGroup(t, nil, f.insert("a"), failing, last)
			checkResults(t, res, fails(core.KindInternal, errTxLost), tc.wantOwn, ok())
			if tc.goOn && !errors.Is(goOnErr, errTxLost) {
				t.Errorf("write after SQLite rolled back: %v, want errTxLost", goOnErr)
			}
			if !tc.goOn {
				if code, _ := sqliteCode(res[1].err); code&0xff != sqlite3.SQLITE_FULL {
					t.Errorf("failing call: %v, want its SQLITE_FULL", res[1].err)
				}
			}
			f.check(t, "before", "c")
		})
	}
}
