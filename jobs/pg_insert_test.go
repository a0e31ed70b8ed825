package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tortoise-dev/tortoise/internal/testdb"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
)

// The lean PostgreSQL insert writes River's table itself: every column of
// its row must be what River's own insert writes for the same job, and
// River's workers, on any process, must hear of it without waiting for a
// poll.
func TestLeanInsertMatchesRiverPostgres(t *testing.T) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, testdb.PostgresDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// A poll far longer than the test: only a notification gets a job run.
	q, err := New(ctx, st, Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Stop(context.Background()) })
	if err := q.Register(Kind{Name: "report", Handler: func(context.Context, *Job) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	b := q.be.(*riverBackend[pgx.Tx])
	at := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	for _, c := range insertBothWays(t, q, st, b.lean, b.riverInsert, at, func(id int64) string { return pgRawRow(t, st, id) }) {
		// DeferTx's insert, queued for the commit, writes the same row.
		if err := st.Update(ctx, func(tx store.Tx) error { return b.deferLean(ctx, tx, []insert{c.item}) }); err != nil {
			t.Fatal(err)
		}
		newest, err := q.List(ctx, ListParams{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if d, r := pgRawRow(t, st, newest.Jobs[0].ID), pgRawRow(t, st, c.river.ID); d != r {
			t.Errorf("%+v: the deferred insert wrote\n%s\nRiver's row\n%s", c.opts, d, r)
		}
	}

	ran := make(chan int64, 1)
	if err := q.Register(Kind{Name: "ping", Handler: func(_ context.Context, j *Job) error { ran <- j.ID; return nil }}); err != nil {
		t.Fatal(err)
	}
	// Deferred jobs carry their own number, as DeferTx returns no id.
	deferred := make(chan int64, 1)
	if err := q.Register(Kind{Name: "deferred-ping", Handler: func(_ context.Context, j *Job) error {
		var a struct{ N int64 }
		if err := json.Unmarshal(j.Args, &a); err != nil {
			return err
		}
		deferred <- a.N
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	deferTx := func(n int64) int64 {
		t.Helper()
		if err := st.Update(ctx, func(tx store.Tx) error {
			return q.DeferTx(ctx, tx, "deferred-ping", map[string]int64{"n": n}, nil)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the workers' first fetch and LISTEN
	awaitRuns(t, ran, "the workers were not told of the lean insert's job", enqueueTx(t, q, st, "ping"))
	// Inserts right after another carry no notification of their own; the
	// one sent after them gets them run.
	var ids []int64
	for range 3 {
		ids = append(ids, enqueueTx(t, q, st, "ping"))
	}
	awaitRuns(t, ran, "no notification covered the inserts of a burst", ids...)
	// The same for DeferTx, whose insert, and notification, go with the
	// commit.
	time.Sleep(2 * insertNotifyEvery)
	awaitRuns(t, deferred, "the workers were not told of a deferred job", deferTx(1))
	awaitRuns(t, deferred, "no notification covered the deferred jobs of a burst", deferTx(2), deferTx(3), deferTx(4))

	// A write that defers a job and then rolls back (a later hook failed)
	// does not use up the queue's notification: the inserts just before
	// it count on the next one.
	time.Sleep(2 * insertNotifyEvery)
	it, err := q.prepare(Item{Kind: "deferred-ping", Args: map[string]int64{"n": 5}})
	if err != nil {
		t.Fatal(err)
	}
	last := func() time.Time {
		b.notifier.mu.Lock()
		defer b.notifier.mu.Unlock()
		return b.notifier.last[it.opts.Queue]
	}
	before := last()
	failed := errors.New("a later hook failed")
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := b.deferLean(ctx, tx, []insert{it}); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("Update = %v, want the hook's error", err)
	}
	if after := last(); !after.Equal(before) {
		t.Fatalf("the rolled-back write took the queue's notification (last %v, now %v)", before, after)
	}
	awaitRuns(t, deferred, "the workers were not told of a deferred job after a rollback", deferTx(6))
}

// pgRawRow is a job's row as PostgreSQL holds it, but for its id, times
// and River's unique nonce.
func pgRawRow(t *testing.T, st *postgres.Store, id int64) string {
	t.Helper()
	var row string
	err := st.Pool().QueryRow(context.Background(), `SELECT json_build_array(
		args, attempt, attempted_at, attempted_by, errors, finalized_at, kind, max_attempts,
		metadata - 'river:unique_nonce', priority, queue, state, tags, unique_key, unique_states,
		pg_typeof(created_at), pg_typeof(scheduled_at))::text
		FROM river_job WHERE id = $1`, id).Scan(&row)
	if err != nil {
		t.Fatal(err)
	}
	return row
}
