package jobs

import (
	"context"
	"io"
	"log/slog"
	"reflect"
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
	for _, opts := range []Options{
		{},
		{Priority: 3, MaxAttempts: 7, Tags: []string{"tag-one", "tag_two"}},
		{RunAt: at},
	} {
		it, err := q.prepare(Item{Kind: "report", Args: map[string]any{"n": 1, "s": "x"}, Options: &opts})
		if err != nil {
			t.Fatal(err)
		}
		var lean, viaRiver []*Enqueued
		err = st.Update(ctx, func(tx store.Tx) error {
			if lean, err = b.lean(ctx, tx, []insert{it}); err != nil {
				return err
			}
			saved := b.lean
			b.lean = nil
			defer func() { b.lean = saved }()
			viaRiver, err = b.insert(ctx, tx, []insert{it})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []*Enqueued{lean[0], viaRiver[0]} {
			got, err := q.Get(ctx, e.Job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJob(e.Job, got) {
				t.Errorf("%+v: the insert answered\n%s\nRiver reads\n%s", opts, jobJSON(e.Job), jobJSON(got))
			}
		}
		if l, r := pgRawRow(t, st, lean[0].Job.ID), pgRawRow(t, st, viaRiver[0].Job.ID); l != r {
			t.Errorf("%+v: lean insert's row\n%s\nRiver's row\n%s", opts, l, r)
		}
		if l, r := normalize(lean[0].Job), normalize(viaRiver[0].Job); !reflect.DeepEqual(l, r) {
			t.Errorf("%+v: lean insert wrote\n%s\nRiver's wrote\n%s", opts, jobJSON(l), jobJSON(r))
		}
		if !opts.RunAt.IsZero() && !lean[0].Job.ScheduledAt.Equal(at) {
			t.Errorf("scheduled at %v, want %v", lean[0].Job.ScheduledAt, at)
		}
	}

	ran := make(chan int64, 1)
	if err := q.Register(Kind{Name: "ping", Handler: func(_ context.Context, j *Job) error { ran <- j.ID; return nil }}); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the workers' first fetch and LISTEN
	var e *Enqueued
	if err := st.Update(ctx, func(tx store.Tx) error {
		e, err = q.EnqueueTx(ctx, tx, "ping", nil, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-ran:
		if id != e.Job.ID {
			t.Errorf("ran job %d, want %d", id, e.Job.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the workers were not told of the lean insert's job")
	}
	// Inserts right after another carry no notification of their own; the
	// one sent after them gets them run.
	want := map[int64]bool{}
	for range 3 {
		if err := st.Update(ctx, func(tx store.Tx) error {
			e, err = q.EnqueueTx(ctx, tx, "ping", nil, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		want[e.Job.ID] = true
	}
	for len(want) > 0 {
		select {
		case id := <-ran:
			delete(want, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("jobs %v never ran: no notification covered them", want)
		}
	}
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
