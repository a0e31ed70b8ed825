package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testdb"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
	"github.com/tortoise-dev/tortoise/store/sqlite"
)

// outboxStore is an SQLite store at a fresh path with a queue on it that
// knows the kind "report".
func outboxStore(t *testing.T) (string, store.Store, *Queue) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q := quietQueue(t, st)
	return path, st, q
}

func quietQueue(t *testing.T, st store.Store) *Queue {
	t.Helper()
	q, err := New(context.Background(), st, Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Stop(context.Background()) })
	if err := q.Register(Kind{Name: "report", Handler: func(context.Context, *Job) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	return q
}

// idleOutbox writes to an engine's outbox but never moves on its own:
// what a process killed between a write's commit and the move leaves
// behind.
func idleOutbox(eng outboxEngine) *outbox {
	return &outbox{eng: eng, wake: make(chan struct{}, 1)}
}

// readOnly scans the one row query gives on the database at path,
// opened read-only beside the store, into dest.
func readOnly(t *testing.T, path, query string, dest any, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(query, args...).Scan(dest); err != nil {
		t.Fatal(err)
	}
}

// outboxEnv is a fresh store of one engine with a queue on it that knows
// the kind "report".
type outboxEnv struct {
	st  store.Store
	q   *Queue
	eng outboxEngine // the engine's outbox on st
	// count is the one number query gives on the store's database.
	count func(t *testing.T, query string) int
}

func (e outboxEnv) outboxRows(t *testing.T) int {
	t.Helper()
	return e.count(t, `SELECT count(*) FROM _jobs_outbox`)
}

// outboxEngines runs fn on SQLite and, when TORTOISE_TEST_POSTGRES is
// set, on PostgreSQL.
func outboxEngines(t *testing.T, fn func(t *testing.T, e outboxEnv)) {
	t.Run("sqlite", func(t *testing.T) {
		path, st, q := outboxStore(t)
		fn(t, outboxEnv{st: st, q: q, eng: sqliteOutbox{st}, count: func(t *testing.T, query string) int {
			t.Helper()
			var n int
			readOnly(t, path, query, &n)
			return n
		}})
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), testdb.PostgresDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		q := quietQueue(t, st)
		fn(t, outboxEnv{st: st, q: q, eng: pgOutbox{st}, count: func(t *testing.T, query string) int {
			t.Helper()
			var n int
			if err := st.Pool().QueryRow(context.Background(), query).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}})
	})
}

// outboxOf is the outbox of q's backend.
func outboxOf(q *Queue) *outbox {
	switch b := q.be.(type) {
	case *riverBackend[*sql.Tx]:
		return b.outbox
	case *riverBackend[pgx.Tx]:
		return b.outbox
	}
	return nil
}

// reports are prepared jobs of kind "report", one per args.
func reports[A any](t *testing.T, q *Queue, args ...A) []insert {
	t.Helper()
	ins := make([]insert, len(args))
	for i, a := range args {
		var err error
		if ins[i], err = q.prepare(Item{Kind: "report", Args: a}); err != nil {
			t.Fatal(err)
		}
	}
	return ins
}

// Jobs a process deferred but did not move before it died are moved by
// the next start, once each and in the order they were deferred.
func TestOutboxLeftoversMoveAtStart(t *testing.T) {
	outboxEngines(t, func(t *testing.T, e outboxEnv) {
		ctx := context.Background()
		// The running queue stops first: on PostgreSQL it would sweep the
		// rows up itself.
		if err := e.q.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		ins := reports(t, e.q, map[string]int{"n": 1}, map[string]int{"n": 2}, map[string]int{"n": 3})
		if err := e.st.Update(ctx, func(tx store.Tx) error { return idleOutbox(e.eng).add(ctx, tx, ins) }); err != nil {
			t.Fatal(err)
		}
		if n := e.outboxRows(t); n != 3 {
			t.Fatalf("%d rows in the outbox, want 3", n)
		}
		if n := e.count(t, `SELECT count(*) FROM river_job WHERE kind = 'report'`); n != 0 {
			t.Fatalf("%d jobs in the queue before the move", n)
		}

		q := quietQueue(t, e.st) // the next start
		if n := e.outboxRows(t); n != 0 {
			t.Errorf("%d rows left in the outbox after the start", n)
		}
		after, err := q.List(ctx, ListParams{Kinds: []string{"report"}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, j := range after.Jobs { // newest first
			got = append([]string{string(j.Args)}, got...)
		}
		if !sameArgs(got, `{"n":1}`, `{"n":2}`, `{"n":3}`) {
			t.Errorf("the queue holds %v, want n = 1, 2, 3 in that order", got)
		}
	})
}

// Stop moves what is waiting, however recently it was deferred.
func TestOutboxStopMoves(t *testing.T) {
	outboxEngines(t, func(t *testing.T, e outboxEnv) {
		ctx := context.Background()
		for i := range 50 {
			if err := e.st.Update(ctx, func(tx store.Tx) error { return e.q.DeferTx(ctx, tx, "report", map[string]int{"i": i}, nil) }); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.q.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if n := e.outboxRows(t); n != 0 {
			t.Errorf("%d rows left in the outbox after Stop", n)
		}
		if n := e.count(t, `SELECT count(*) FROM river_job WHERE kind = 'report'`); n != 50 {
			t.Errorf("%d jobs in the queue, want 50", n)
		}
	})
}

// A move carries at most outboxBatch jobs per transaction and drains
// them all, and a job deferred while the queue runs is in it within
// moments of its write's commit.
func TestOutboxMovesInBatches(t *testing.T) {
	outboxEngines(t, func(t *testing.T, e outboxEnv) {
		ctx := context.Background()
		args := make([]map[string]int, outboxBatch*2+5)
		for i := range args {
			args[i] = map[string]int{"i": i}
		}
		ins := reports(t, e.q, args...)
		o := outboxOf(e.q)
		// The running outbox may move some of them too (PostgreSQL's
		// sweep): either way each ends in the queue once.
		err := e.st.Update(ctx, func(tx store.Tx) error { return idleOutbox(e.eng).add(ctx, tx, ins) })
		if err != nil {
			t.Fatal(err)
		}
		if err := o.drain(ctx); err != nil {
			t.Fatal(err)
		}
		if n := e.outboxRows(t); n != 0 {
			t.Fatalf("%d rows left after drain", n)
		}
		counts, err := e.q.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[StateAvailable] != len(ins) {
			t.Fatalf("%d available jobs, want %d", counts[StateAvailable], len(ins))
		}

		if err := e.st.Update(ctx, func(tx store.Tx) error { return e.q.DeferTx(ctx, tx, "report", nil, nil) }); err != nil {
			t.Fatal(err)
		}
		// Well within PostgreSQL's sweep: the write's commit starts the
		// move.
		deadline := time.Now().Add(time.Second)
		for {
			counts, err := e.q.Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if counts[StateAvailable] == len(ins)+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a deferred job was not moved within 1 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// One move carries at most outboxBatch jobs.
func TestOutboxMoveIsBounded(t *testing.T) {
	outboxEngines(t, func(t *testing.T, e outboxEnv) {
		ctx := context.Background()
		if err := e.q.Stop(ctx); err != nil { // nothing else moves
			t.Fatal(err)
		}
		args := make([]map[string]int, outboxBatch+5)
		for i := range args {
			args[i] = map[string]int{"i": i}
		}
		ins := reports(t, e.q, args...)
		if err := e.st.Update(ctx, func(tx store.Tx) error { return idleOutbox(e.eng).add(ctx, tx, ins) }); err != nil {
			t.Fatal(err)
		}
		if n, err := e.eng.take(ctx); err != nil || n != outboxBatch {
			t.Fatalf("one move carried %d (%v), want %d", n, err, outboxBatch)
		}
		if n := e.outboxRows(t); n != 5 {
			t.Fatalf("%d rows left after one move, want 5", n)
		}
	})
}

// sameArgs: got holds the JSON of want, in order.
func sameArgs(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		var a, b any
		if json.Unmarshal([]byte(got[i]), &a) != nil || json.Unmarshal([]byte(want[i]), &b) != nil || !reflect.DeepEqual(a, b) {
			return false
		}
	}
	return true
}

// DeferTx refuses what Enqueue refuses, before writing anything, and a
// write that defers a job and then fails leaves nothing behind.
func TestDeferTxRefuses(t *testing.T) {
	outboxEngines(t, func(t *testing.T, e outboxEnv) {
		ctx := context.Background()
		q := e.q
		if err := q.DeferTx(ctx, nil, "report", nil, nil); core.AsError(err) == nil || core.AsError(err).Kind != core.KindInvalid {
			t.Errorf("no transaction: %v, want invalid", err)
		}
		for name, call := range map[string]func(store.Tx) error{
			"unknown kind": func(tx store.Tx) error { return q.DeferTx(ctx, tx, "nope", nil, nil) },
			"bad args":     func(tx store.Tx) error { return q.DeferTx(ctx, tx, "report", json.RawMessage(`{"a":`), nil) },
			"bad queue":    func(tx store.Tx) error { return q.DeferTx(ctx, tx, "report", nil, &Options{Queue: "nope"}) },
			"bad priority": func(tx store.Tx) error { return q.DeferTx(ctx, tx, "report", nil, &Options{Priority: 9}) },
			// PostgreSQL's jsonb cannot hold it: refused on both engines.
			"NUL in args": func(tx store.Tx) error {
				return q.DeferTx(ctx, tx, "report", map[string]string{"s": "a\x00b"}, nil)
			},
			// So is a number beyond a float64, which no worker could read.
			"number out of range": func(tx store.Tx) error {
				return q.DeferTx(ctx, tx, "report", json.RawMessage(`{"n":1e1000000}`), nil)
			},
			"lone surrogate": func(tx store.Tx) error {
				return q.DeferTx(ctx, tx, "report", json.RawMessage(`{"s":"\ud800"}`), nil)
			},
		} {
			err := e.st.Update(ctx, call)
			if e := core.AsError(err); e == nil || e.Kind != core.KindInvalid {
				t.Errorf("%s: %v, want invalid", name, err)
			}
		}
		failed := errors.New("a later hook failed")
		err := e.st.Update(ctx, func(tx store.Tx) error {
			if err := q.DeferTx(ctx, tx, "report", map[string]int{"rolled": 1}, nil); err != nil {
				return err
			}
			return failed
		})
		if !errors.Is(err, failed) {
			t.Fatalf("Update = %v, want the hook's error", err)
		}
		if err := q.Stop(ctx); err != nil { // moves whatever is there
			t.Fatal(err)
		}
		if n := e.outboxRows(t); n != 0 {
			t.Errorf("%d rows in the outbox", n)
		}
		if n := e.count(t, `SELECT count(*) FROM river_job`); n != 0 {
			t.Errorf("%d jobs in the queue", n)
		}
	})
}
