package jobs

import (
	"context"
	"encoding/json"
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
	newestID := func() int64 {
		t.Helper()
		l, err := q.List(ctx, ListParams{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Jobs) == 0 {
			return 0
		}
		return l.Jobs[0].ID
	}
	for _, c := range insertBothWays(t, q, st, b.lean, b.riverInsert, at, func(id int64) string { return pgRawRow(t, st, id) }) {
		// DeferTx's row, once the outbox has moved it, is the same row.
		before := newestID()
		if err := st.Update(ctx, func(tx store.Tx) error { return b.deferLean(ctx, tx, []insert{c.item}) }); err != nil {
			t.Fatal(err)
		}
		if err := b.outbox.drain(ctx); err != nil {
			t.Fatal(err)
		}
		// The queue's own mover, woken by the commit, may hold the row
		// (SKIP LOCKED): drain then returns before it is in River's table.
		moved := newestID()
		for deadline := time.Now().Add(5 * time.Second); moved == before && time.Now().Before(deadline); moved = newestID() {
			time.Sleep(5 * time.Millisecond)
		}
		if moved == before {
			t.Fatalf("%+v: the deferred job never reached River's table", c.opts)
		}
		if d, r := pgRawRow(t, st, moved), pgRawRow(t, st, c.river.ID); d != r {
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
	// Deferred jobs are told of by the outbox's move, alone or in a burst.
	awaitRuns(t, deferred, "the workers were not told of a deferred job", deferTx(1))
	awaitRuns(t, deferred, "no notification covered the deferred jobs of a burst", deferTx(2), deferTx(3), deferTx(4))
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
