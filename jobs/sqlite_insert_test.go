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

	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/sqlite"
)

// The lean SQLite insert writes River's table itself: every column of
// the row it writes must be what River's own insert writes for the same
// job, read back the way River reads it, or River would misread the job
// (a time format it cannot compare, JSON it cannot parse).
func TestLeanInsertMatchesRiver(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q, err := New(ctx, st, Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Stop(context.Background()) })
	if err := q.Register(Kind{Name: "report", Handler: func(context.Context, *Job) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	b := q.be.(*riverBackend[*sql.Tx])
	at := time.Now().Add(time.Hour).Truncate(time.Millisecond)
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
			if lean, err = sqliteInsertLean(ctx, tx, []insert{it}); err != nil {
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
		// What each insert said it wrote, and what River reads back.
		for _, e := range []*Enqueued{lean[0], viaRiver[0]} {
			got, err := q.Get(ctx, e.Job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJob(e.Job, got) {
				t.Errorf("%+v: the insert answered\n%s\nRiver reads\n%s", opts, jobJSON(e.Job), jobJSON(got))
			}
		}
		if l, r := rawRow(t, path, lean[0].Job.ID), rawRow(t, path, viaRiver[0].Job.ID); l != r {
			t.Errorf("%+v: lean insert's row\n%s\nRiver's row\n%s", opts, l, r)
		}
		// The outbox's move writes the same row.
		if err := st.Update(ctx, func(tx store.Tx) error { return idleOutbox(st).add(ctx, tx, []insert{it}) }); err != nil {
			t.Fatal(err)
		}
		if n, err := b.outbox.move(ctx); n != 1 || err != nil {
			t.Fatalf("moved %d (%v), want 1", n, err)
		}
		newest, err := q.List(ctx, ListParams{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		moved := newest.Jobs[0]
		if m, r := rawRow(t, path, moved.ID), rawRow(t, path, viaRiver[0].Job.ID); m != r {
			t.Errorf("%+v: the outbox moved the row\n%s\nRiver's row\n%s", opts, m, r)
		}
		if m, r := normalize(moved), normalize(viaRiver[0].Job); !reflect.DeepEqual(m, r) {
			t.Errorf("%+v: River reads the moved job as\n%s\nRiver's own as\n%s", opts, jobJSON(m), jobJSON(r))
		}
		if !opts.RunAt.IsZero() && !moved.ScheduledAt.Equal(at) {
			t.Errorf("moved job scheduled at %v, want %v", moved.ScheduledAt, at)
		}
		l, r := normalize(lean[0].Job), normalize(viaRiver[0].Job)
		if !reflect.DeepEqual(l, r) {
			t.Errorf("%+v: lean insert wrote\n%s\nRiver's wrote\n%s", opts, jobJSON(l), jobJSON(r))
		}
		if opts.RunAt.IsZero() {
			if d := lean[0].Job.ScheduledAt.Sub(viaRiver[0].Job.ScheduledAt).Abs(); d > time.Second {
				t.Errorf("scheduled %v apart", d)
			}
		} else if !lean[0].Job.ScheduledAt.Equal(at) {
			t.Errorf("scheduled at %v, want %v", lean[0].Job.ScheduledAt, at)
		}
	}
	// River's own fetch takes the lean insert's job: it is found by the
	// query that selects available jobs by state, queue, priority and time.
	ran := make(chan int64, 1)
	if err := q.Register(Kind{Name: "ping", Handler: func(_ context.Context, j *Job) error { ran <- j.ID; return nil }}); err != nil {
		t.Fatal(err)
	}
	var e *Enqueued
	if err := st.Update(ctx, func(tx store.Tx) error {
		e, err = q.EnqueueTx(ctx, tx, "ping", nil, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-ran:
		if id != e.Job.ID {
			t.Errorf("ran job %d, want %d", id, e.Job.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("River never ran the job the lean insert wrote")
	}
}

// rawRow is the stored form of a job's row, but for its id and times:
// every column as SQLite holds it (storage class, JSON as text), and the
// times' storage class and length. River's SQLite insert puts a nonce in
// every job's metadata, to tell its own insert from a unique conflict in
// what RETURNING gives back; it means nothing once the row is written,
// and the lean insert, never in conflict, leaves it out.
func rawRow(t *testing.T, path string, id int64) string {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var row string
	err = db.QueryRow(`SELECT json_array(
		typeof(args), json(args), attempt, attempted_at, attempted_by, typeof(created_at), length(created_at),
		errors, finalized_at, kind, max_attempts, typeof(metadata), json_remove(metadata, '$."river:unique_nonce"'), priority, queue, state,
		typeof(scheduled_at), length(scheduled_at), typeof(tags), json(tags), unique_key, unique_states)
		FROM river_job WHERE id = ?`, id).Scan(&row)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// sameJob: a and b are the same job, times to the millisecond River keeps.
func sameJob(a, b *Job) bool {
	return reflect.DeepEqual(normalize(a), normalize(b)) &&
		a.ID == b.ID && a.CreatedAt.Equal(b.CreatedAt) && a.ScheduledAt.Equal(b.ScheduledAt)
}

// normalize drops what differs between two inserts of the same job.
func normalize(j *Job) Job {
	c := *j
	c.ID, c.CreatedAt, c.ScheduledAt = 0, time.Time{}, time.Time{}
	var args any
	_ = json.Unmarshal(c.Args, &args)
	c.Args, _ = json.Marshal(args)
	return c
}

func jobJSON(j any) string {
	b, _ := json.MarshalIndent(j, "", "  ")
	return string(b)
}
