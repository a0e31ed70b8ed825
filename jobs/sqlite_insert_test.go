package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/store"
)

// The lean SQLite insert and the outbox's move write River's table
// themselves: every column of the rows they write must be what River's
// own insert writes for the same job, read back the way River reads it,
// or River would misread the job (a time format it cannot compare, JSON
// it cannot parse).
func TestLeanInsertMatchesRiver(t *testing.T) {
	ctx := context.Background()
	path, st, q := outboxStore(t)
	b := q.be.(*riverBackend[*sql.Tx])
	at := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	for _, c := range insertBothWays(t, q, st, sqliteInsertLean, b.riverInsert, at, func(id int64) string { return rawRow(t, path, id) }) {
		// The outbox's move writes the same row.
		if err := st.Update(ctx, func(tx store.Tx) error { return idleOutbox(sqliteOutbox{st}).add(ctx, tx, []insert{c.item}) }); err != nil {
			t.Fatal(err)
		}
		if n, err := b.outbox.eng.take(ctx); n != 1 || err != nil {
			t.Fatalf("moved %d (%v), want 1", n, err)
		}
		newest, err := q.List(ctx, ListParams{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		moved := newest.Jobs[0]
		if m, r := rawRow(t, path, moved.ID), rawRow(t, path, c.river.ID); m != r {
			t.Errorf("%+v: the outbox moved the row\n%s\nRiver's row\n%s", c.opts, m, r)
		}
		if m, r := normalize(moved), normalize(c.river); !reflect.DeepEqual(m, r) {
			t.Errorf("%+v: River reads the moved job as\n%s\nRiver's own as\n%s", c.opts, jobJSON(m), jobJSON(r))
		}
		if !c.opts.RunAt.IsZero() && !moved.ScheduledAt.Equal(at) {
			t.Errorf("moved job scheduled at %v, want %v", moved.ScheduledAt, at)
		}
	}
	// River's own fetch takes the lean insert's job: it is found by the
	// query that selects available jobs by state, queue, priority and time.
	ran := make(chan int64, 1)
	if err := q.Register(Kind{Name: "ping", Handler: func(_ context.Context, j *Job) error { ran <- j.ID; return nil }}); err != nil {
		t.Fatal(err)
	}
	id := enqueueTx(t, q, st, "ping")
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	awaitRuns(t, ran, "River never ran the job the lean insert wrote", id)
}

// enqueueTx enqueues a job of kind in a write of its own and returns its id.
func enqueueTx(t *testing.T, q *Queue, st store.Store, kind string) int64 {
	t.Helper()
	ctx := context.Background()
	var e *Enqueued
	err := st.Update(ctx, func(tx store.Tx) error {
		var err error
		e, err = q.EnqueueTx(ctx, tx, kind, nil, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e.Job.ID
}

// awaitRuns waits until the jobs ids have run (their handlers send their
// ids to ran), or fails with why after 10 s.
func awaitRuns(t *testing.T, ran <-chan int64, why string, ids ...int64) {
	t.Helper()
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for len(want) > 0 {
		select {
		case id := <-ran:
			delete(want, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: jobs %v did not run", why, want)
		}
	}
}

// leanCase is one job written by a lean insert and by River's own.
type leanCase struct {
	opts        Options
	item        insert
	lean, river *Job
}

// insertBothWays writes, for each of a few option sets, the same job with
// lean and with River's own insert in one write, and checks that what each
// insert answered is what River reads back, that the two rows are the same
// (raw is a row's stored form, but for id and times) and that a RunAt is
// kept.
func insertBothWays(t *testing.T, q *Queue, st store.Store, lean, river func(context.Context, store.Tx, []insert) ([]*Enqueued, error),
	at time.Time, raw func(id int64) string) []leanCase {
	t.Helper()
	ctx := context.Background()
	var out []leanCase
	for _, opts := range []Options{
		{},
		{Priority: 3, MaxAttempts: 7, Tags: []string{"tag-one", "tag_two"}},
		{RunAt: at},
	} {
		it, err := q.prepare(Item{Kind: "report", Args: map[string]any{"n": 1, "s": "x"}, Options: &opts})
		if err != nil {
			t.Fatal(err)
		}
		var l, r []*Enqueued
		err = st.Update(ctx, func(tx store.Tx) error {
			if l, err = lean(ctx, tx, []insert{it}); err != nil {
				return err
			}
			r, err = river(ctx, tx, []insert{it})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []*Enqueued{l[0], r[0]} {
			got, err := q.Get(ctx, e.Job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJob(e.Job, got) {
				t.Errorf("%+v: the insert answered\n%s\nRiver reads\n%s", opts, jobJSON(e.Job), jobJSON(got))
			}
		}
		if lr, rr := raw(l[0].Job.ID), raw(r[0].Job.ID); lr != rr {
			t.Errorf("%+v: lean insert's row\n%s\nRiver's row\n%s", opts, lr, rr)
		}
		if ln, rn := normalize(l[0].Job), normalize(r[0].Job); !reflect.DeepEqual(ln, rn) {
			t.Errorf("%+v: lean insert wrote\n%s\nRiver's wrote\n%s", opts, jobJSON(ln), jobJSON(rn))
		}
		if opts.RunAt.IsZero() {
			if d := l[0].Job.ScheduledAt.Sub(r[0].Job.ScheduledAt).Abs(); d > time.Second {
				t.Errorf("scheduled %v apart", d)
			}
		} else if !l[0].Job.ScheduledAt.Equal(at) {
			t.Errorf("scheduled at %v, want %v", l[0].Job.ScheduledAt, at)
		}
		out = append(out, leanCase{opts: opts, item: it, lean: l[0].Job, river: r[0].Job})
	}
	return out
}

// rawRow is the stored form of a job's row, but for its id and times:
// every column as SQLite holds it (storage class, JSON as text), and the
// times' storage class and length. River's SQLite insert puts a nonce in
// every job's metadata, to tell its own insert from a unique conflict in
// what RETURNING gives back; it means nothing once the row is written,
// and the lean insert, never in conflict, leaves it out.
func rawRow(t *testing.T, path string, id int64) string {
	t.Helper()
	var row string
	readOnly(t, path, `SELECT json_array(
		typeof(args), json(args), attempt, attempted_at, attempted_by, typeof(created_at), length(created_at),
		errors, finalized_at, kind, max_attempts, typeof(metadata), json_remove(metadata, '$."river:unique_nonce"'), priority, queue, state,
		typeof(scheduled_at), length(scheduled_at), typeof(tags), json(tags), unique_key, unique_states)
		FROM river_job WHERE id = ?`, &row, id)
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
