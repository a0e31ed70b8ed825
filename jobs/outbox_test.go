package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
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

// idleOutbox writes to st's outbox but never moves on its own: what a
// process killed between a write's commit and the move leaves behind.
func idleOutbox(st store.Store) *outbox {
	return &outbox{st: st, wake: make(chan struct{}, 1)}
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

func outboxRows(t *testing.T, path string) int {
	t.Helper()
	var n int
	readOnly(t, path, `SELECT count(*) FROM _jobs_outbox`, &n)
	return n
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
	ctx := context.Background()
	path, st, q := outboxStore(t)
	ins := reports(t, q, map[string]int{"n": 1}, map[string]int{"n": 2}, map[string]int{"n": 3})
	if err := st.Update(ctx, func(tx store.Tx) error { return idleOutbox(st).add(ctx, tx, ins) }); err != nil {
		t.Fatal(err)
	}
	if n := outboxRows(t, path); n != 3 {
		t.Fatalf("%d rows in the outbox, want 3", n)
	}
	before, err := q.List(ctx, ListParams{Kinds: []string{"report"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Jobs) != 0 {
		t.Fatalf("%d jobs in the queue before the move", len(before.Jobs))
	}

	quietQueue(t, st) // the next start
	if n := outboxRows(t, path); n != 0 {
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
}

// Stop moves what is waiting, however recently it was deferred.
func TestOutboxStopMoves(t *testing.T) {
	ctx := context.Background()
	path, st, q := outboxStore(t)
	for i := range 50 {
		if err := st.Update(ctx, func(tx store.Tx) error { return q.DeferTx(ctx, tx, "report", map[string]int{"i": i}, nil) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := outboxRows(t, path); n != 0 {
		t.Errorf("%d rows left in the outbox after Stop", n)
	}
	var n int
	readOnly(t, path, `SELECT count(*) FROM river_job WHERE kind = 'report'`, &n)
	if n != 50 {
		t.Errorf("%d jobs in the queue, want 50", n)
	}
}

// A move carries at most outboxBatch jobs per transaction and drains
// them all, and a job deferred while the queue runs is in it within
// moments of its write's commit.
func TestOutboxMovesInBatches(t *testing.T) {
	ctx := context.Background()
	path, st, q := outboxStore(t)
	args := make([]map[string]int, outboxBatch*2+5)
	for i := range args {
		args[i] = map[string]int{"i": i}
	}
	ins := reports(t, q, args...)
	if err := st.Update(ctx, func(tx store.Tx) error { return idleOutbox(st).add(ctx, tx, ins) }); err != nil {
		t.Fatal(err)
	}
	o := q.be.(*riverBackend[*sql.Tx]).outbox
	n, err := o.move(ctx)
	if err != nil || n != outboxBatch {
		t.Fatalf("one move carried %d (%v), want %d", n, err, outboxBatch)
	}
	if err := o.drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := outboxRows(t, path); n != 0 {
		t.Fatalf("%d rows left after drain", n)
	}
	counts, err := q.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[StateAvailable] != len(ins) {
		t.Fatalf("%d available jobs, want %d", counts[StateAvailable], len(ins))
	}

	if err := st.Update(ctx, func(tx store.Tx) error { return q.DeferTx(ctx, tx, "report", nil, nil) }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		counts, err := q.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[StateAvailable] == len(ins)+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a deferred job was not moved within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
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

// DeferTx refuses what Enqueue refuses, before writing anything.
func TestDeferTxRefuses(t *testing.T) {
	ctx := context.Background()
	path, st, q := outboxStore(t)
	if err := q.DeferTx(ctx, nil, "report", nil, nil); core.AsError(err) == nil || core.AsError(err).Kind != core.KindInvalid {
		t.Errorf("no transaction: %v, want invalid", err)
	}
	for name, call := range map[string]func(store.Tx) error{
		"unknown kind": func(tx store.Tx) error { return q.DeferTx(ctx, tx, "nope", nil, nil) },
		"bad args":     func(tx store.Tx) error { return q.DeferTx(ctx, tx, "report", json.RawMessage(`{"a":`), nil) },
		"bad queue":    func(tx store.Tx) error { return q.DeferTx(ctx, tx, "report", nil, &Options{Queue: "nope"}) },
		"bad priority": func(tx store.Tx) error { return q.DeferTx(ctx, tx, "report", nil, &Options{Priority: 9}) },
	} {
		err := st.Update(ctx, call)
		if e := core.AsError(err); e == nil || e.Kind != core.KindInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if n := outboxRows(t, path); n != 0 {
		t.Errorf("%d rows in the outbox", n)
	}
}
