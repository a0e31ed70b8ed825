package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
	"github.com/tortoise-dev/tortoise/store/sqlite"
)

// eachEngine runs fn on a fresh SQLite store and, when
// TORTOISE_TEST_POSTGRES is set, a fresh PostgreSQL database.
func eachEngine(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "data.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		st, err := postgres.Open(context.Background(), testkit.PostgresDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
}

// newQueue returns a started queue on st with kinds registered; it stops
// with the test, before the store closes.
func newQueue(t *testing.T, st store.Store, kinds ...jobs.Kind) *jobs.Queue {
	t.Helper()
	q, err := jobs.New(context.Background(), st, jobs.Config{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if err := q.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return q
}

// itemsCollection creates a collection of bare records on st.
func itemsCollection(t *testing.T, st store.Store) *core.Collection {
	t.Helper()
	ctx := context.Background()
	c := &core.Collection{ID: "c1", Name: "items", Type: core.TypeBase, Fields: []core.Field{
		{ID: "f0", Name: "id", Type: core.FieldText, PrimaryKey: true},
	}}
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitState waits until job id is in state and returns it.
func waitState(t *testing.T, q *jobs.Queue, id int64, state string) *jobs.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := q.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == state {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is %s (attempt %d, errors %+v), want %s", id, j.State, j.Attempt, j.Errors, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fast(int) time.Duration { return 10 * time.Millisecond }

// sameJSON reports whether got encodes the same value as want
// (PostgreSQL keeps args as jsonb, which spaces them its own way).
func sameJSON(got json.RawMessage, want string) bool {
	var a, b any
	return json.Unmarshal(got, &a) == nil && json.Unmarshal([]byte(want), &b) == nil && reflect.DeepEqual(a, b)
}

// A job that fails runs again after its backoff and completes; one that
// keeps failing is discarded after its last attempt, its errors kept.
func TestRetries(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, st store.Store) {
		var flakyRuns atomic.Int32
		q := newQueue(t, st,
			jobs.Kind{Name: "flaky", Backoff: fast, Handler: func(ctx context.Context, j *jobs.Job) error {
				if flakyRuns.Add(1) < 3 {
					return fmt.Errorf("not yet (attempt %d)", j.Attempt)
				}
				return nil
			}},
			jobs.Kind{Name: "broken", Backoff: fast, MaxAttempts: 3, Handler: func(ctx context.Context, j *jobs.Job) error {
				return errors.New("always broken")
			}},
		)
		ctx := context.Background()
		flaky, err := q.Enqueue(ctx, "flaky", map[string]any{"n": 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		broken, err := q.Enqueue(ctx, "broken", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		j := waitState(t, q, flaky.Job.ID, jobs.StateCompleted)
		if j.Attempt != 3 || len(j.Errors) != 2 || !strings.Contains(j.Errors[0].Error, "not yet (attempt 1)") {
			t.Errorf("flaky: attempt %d, errors %+v; want completed on attempt 3 after 2 errors", j.Attempt, j.Errors)
		}
		if !sameJSON(j.Args, `{"n":1}`) {
			t.Errorf("args %s", j.Args)
		}
		j = waitState(t, q, broken.Job.ID, jobs.StateDiscarded)
		if j.Attempt != 3 || len(j.Errors) != 3 || j.Errors[2].Error != "always broken" || j.FinalizedAt == nil {
			t.Errorf("broken: attempt %d, errors %+v, finalized %v; want discarded after 3", j.Attempt, j.Errors, j.FinalizedAt)
		}
		res, err := q.List(ctx, jobs.ListParams{States: []string{jobs.StateDiscarded}})
		if err != nil || len(res.Jobs) != 1 || res.Jobs[0].ID != broken.Job.ID {
			t.Fatalf("discarded list %+v, %v", res, err)
		}
		// Retry brings a discarded job back.
		if _, err := q.Retry(ctx, broken.Job.ID); err != nil {
			t.Fatal(err)
		}
		waitState(t, q, broken.Job.ID, jobs.StateDiscarded) // it fails again, once more
	})
}

// A job enqueued in a record write runs only if the write commits,
// whether enqueued with EnqueueTx or DeferTx (on SQLite through the
// outbox).
func TestEnqueueTx(t *testing.T) {
	t.Parallel()
	ways := map[string]func(ctx context.Context, q *jobs.Queue, tx store.Tx, args any) error{
		"EnqueueTx": func(ctx context.Context, q *jobs.Queue, tx store.Tx, args any) error {
			_, err := q.EnqueueTx(ctx, tx, "note", args, nil)
			return err
		},
		"DeferTx": func(ctx context.Context, q *jobs.Queue, tx store.Tx, args any) error {
			return q.DeferTx(ctx, tx, "note", args, nil)
		},
	}
	for name, enqueue := range ways {
		t.Run(name, func(t *testing.T) { testEnqueueTx(t, enqueue) })
	}
}

func testEnqueueTx(t *testing.T, enqueue func(ctx context.Context, q *jobs.Queue, tx store.Tx, args any) error) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, st store.Store) {
		ran := make(chan json.RawMessage, 10)
		q := newQueue(t, st, jobs.Kind{Name: "note", Handler: func(ctx context.Context, j *jobs.Job) error {
			ran <- j.Args
			return nil
		}})
		ctx := context.Background()
		c := itemsCollection(t, st)
		boom := errors.New("boom")
		err := st.Update(ctx, func(tx store.Tx) error {
			if err := tx.Insert(ctx, &core.Record{Collection: c, Data: map[string]any{"id": "gone"}}); err != nil {
				return err
			}
			if err := enqueue(ctx, q, tx, map[string]string{"for": "gone"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		err = st.Update(ctx, func(tx store.Tx) error {
			if err := tx.Insert(ctx, &core.Record{Collection: c, Data: map[string]any{"id": "kept"}}); err != nil {
				return err
			}
			return enqueue(ctx, q, tx, map[string]string{"for": "kept"})
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-ran:
			if !sameJSON(got, `{"for":"kept"}`) {
				t.Fatalf("ran %s", got)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the committed write's job did not run")
		}
		// (Ids may be reused after a rollback: look for the args.)
		all, err := q.List(ctx, jobs.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range all.Jobs {
			if sameJSON(j.Args, `{"for":"gone"}`) {
				t.Errorf("the rolled-back write's job is there: %+v", j)
			}
		}
		select {
		case got := <-ran:
			t.Fatalf("another job ran: %s", got)
		case <-time.After(300 * time.Millisecond):
		}
	})
}

// Snooze, Cancel, timeouts, unique jobs, scheduling and the API's
// operations on one job.
func TestJobControl(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, st store.Store) {
		var snoozed atomic.Bool
		block := make(chan struct{})
		q := newQueue(t, st,
			jobs.Kind{Name: "sleepy", Handler: func(ctx context.Context, j *jobs.Job) error {
				if !snoozed.Swap(true) {
					return jobs.Snooze(10 * time.Millisecond)
				}
				return nil
			}},
			jobs.Kind{Name: "quitter", Handler: func(ctx context.Context, j *jobs.Job) error {
				return jobs.Cancel(errors.New("nothing to do"))
			}},
			jobs.Kind{Name: "slow", Timeout: 50 * time.Millisecond, MaxAttempts: 1, Handler: func(ctx context.Context, j *jobs.Job) error {
				<-ctx.Done()
				return ctx.Err()
			}},
			jobs.Kind{Name: "blocked", Handler: func(ctx context.Context, j *jobs.Job) error {
				select {
				case <-block:
				case <-ctx.Done():
				}
				return ctx.Err()
			}},
		)
		ctx := context.Background()
		enqueue := func(kind string, args any, opts *jobs.Options) *jobs.Enqueued {
			t.Helper()
			e, err := q.Enqueue(ctx, kind, args, opts)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		if j := waitState(t, q, enqueue("sleepy", nil, nil).Job.ID, jobs.StateCompleted); j.Attempt != 1 {
			t.Errorf("snoozed job took %d attempts, want 1 (a snooze is not one)", j.Attempt)
		}
		if j := waitState(t, q, enqueue("quitter", nil, nil).Job.ID, jobs.StateCancelled); len(j.Errors) != 1 || !strings.Contains(j.Errors[0].Error, "nothing to do") {
			t.Errorf("cancelled job errors %+v", j.Errors)
		}
		if j := waitState(t, q, enqueue("slow", nil, nil).Job.ID, jobs.StateDiscarded); len(j.Errors) != 1 || !strings.Contains(j.Errors[0].Error, "deadline") {
			t.Errorf("timed-out job errors %+v", j.Errors)
		}

		// Unique by args: the second enqueue finds the first.
		u := &jobs.Options{Unique: &jobs.Unique{ByArgs: true}, RunAt: time.Now().Add(time.Hour)}
		first := enqueue("sleepy", map[string]int{"x": 1}, u)
		second := enqueue("sleepy", map[string]int{"x": 1}, u)
		other := enqueue("sleepy", map[string]int{"x": 2}, u)
		if first.Duplicate || !second.Duplicate || second.Job.ID != first.Job.ID || other.Duplicate {
			t.Errorf("unique: %v/%d %v/%d %v", first.Duplicate, first.Job.ID, second.Duplicate, second.Job.ID, other.Duplicate)
		}
		if first.Job.State != jobs.StateScheduled {
			t.Errorf("a job for later is %s, want scheduled", first.Job.State)
		}
		// Cancel a scheduled job: it never runs; Delete removes it.
		if j, err := q.Cancel(ctx, first.Job.ID); err != nil || j.State != jobs.StateCancelled {
			t.Fatalf("cancel: %+v %v", j, err)
		}
		if _, err := q.Delete(ctx, first.Job.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Get(ctx, first.Job.ID); core.KindOf(err) != core.KindNotFound {
			t.Errorf("deleted job: %v", err)
		}
		// A running job cannot be deleted; cancelling it ends its context.
		running := enqueue("blocked", nil, nil)
		waitState(t, q, running.Job.ID, jobs.StateRunning)
		if _, err := q.Delete(ctx, running.Job.ID); core.KindOf(err) != core.KindInvalid {
			t.Errorf("delete running: %v", err)
		}
		if _, err := q.Cancel(ctx, running.Job.ID); err != nil {
			t.Fatal(err)
		}
		waitState(t, q, running.Job.ID, jobs.StateCancelled)
		close(block)

		// Bad input.
		for _, tc := range []struct {
			kind string
			args any
			opts *jobs.Options
		}{
			{"nope", nil, nil},
			{"sleepy", func() {}, nil},
			{"sleepy", nil, &jobs.Options{Queue: "unknown"}},
			{"sleepy", nil, &jobs.Options{Priority: 9}},
			{"sleepy", nil, &jobs.Options{MaxAttempts: -1}},
		} {
			if _, err := q.Enqueue(ctx, tc.kind, tc.args, tc.opts); core.KindOf(err) != core.KindInvalid {
				t.Errorf("enqueue %q %+v: %v, want invalid", tc.kind, tc.opts, err)
			}
		}
		if _, err := q.List(ctx, jobs.ListParams{States: []string{"weird"}}); core.KindOf(err) != core.KindInvalid {
			t.Errorf("list by a bad state: %v", err)
		}
		if _, err := q.List(ctx, jobs.ListParams{After: "%%%"}); core.KindOf(err) != core.KindInvalid {
			t.Errorf("list after a bad cursor: %v", err)
		}
		if _, err := q.Get(ctx, 999999); core.KindOf(err) != core.KindNotFound {
			t.Errorf("get unknown: %v", err)
		}
	})
}

// Paging through the list with its cursor visits every job once.
func TestListPages(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, st store.Store) {
		q, err := jobs.New(context.Background(), st, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Stop(context.Background()) })
		if err := q.Register(jobs.Kind{Name: "idle", Handler: func(context.Context, *jobs.Job) error { return nil }}); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := range 7 {
			if _, err := q.Enqueue(ctx, "idle", map[string]int{"i": i}, nil); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[int64]bool{}
		after := ""
		for page := 0; ; page++ {
			res, err := q.List(ctx, jobs.ListParams{Limit: 3, After: after, Kinds: []string{"idle"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range res.Jobs {
				if seen[j.ID] {
					t.Fatalf("job %d listed twice", j.ID)
				}
				seen[j.ID] = true
			}
			if res.Cursor == "" {
				break
			}
			after = res.Cursor
			if page > 5 {
				t.Fatal("the cursor does not end")
			}
		}
		if len(seen) != 7 {
			t.Errorf("listed %d jobs, want 7", len(seen))
		}
	})
}

// Counts tells how many jobs are in each state, every state present.
func TestCounts(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, err := jobs.New(ctx, st, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Stop(context.Background()) })
		if err := q.Register(jobs.Kind{Name: "count_me", Handler: func(context.Context, *jobs.Job) error { return nil }}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := q.Enqueue(ctx, "count_me", nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := q.Enqueue(ctx, "count_me", nil, &jobs.Options{RunAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		c, err := q.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c[jobs.StateAvailable] != 3 || c[jobs.StateScheduled] != 1 || len(c) != len(jobs.States) {
			t.Errorf("counts %v, want 3 available, 1 scheduled, every state", c)
		}
	})
}

// On SQLite the queue's connection and the store's writer take turns
// (store/sqlite/turn.go): with 8 writers committing records without a
// pause, the queue's fetches and completions still get the lock and every
// job runs, and the writers go on committing meanwhile; neither side
// waits on the other for good. How much faster jobs run under writes
// with the turns than without is in docs/benchmarks.md.
func TestJobsRunWhileTheWriterIsBusy(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const n = 600
	var ran atomic.Int64
	q := newQueue(t, st, jobs.Kind{Name: "note", Handler: func(ctx context.Context, j *jobs.Job) error {
		ran.Add(1)
		return nil
	}})
	ctx := context.Background()
	c := itemsCollection(t, st)
	items := make([]jobs.Item, n)
	for i := range items {
		items[i] = jobs.Item{Kind: "note"}
	}
	// Writers keep the writer busy until the jobs have run, or for at
	// most 20 s.
	stop := make(chan struct{})
	var writers sync.WaitGroup
	var seq atomic.Int64
	for range 8 {
		writers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("r%09d", seq.Add(1))
				if err := st.Update(ctx, func(tx store.Tx) error {
					return tx.Insert(ctx, &core.Record{Collection: c, Data: map[string]any{"id": id}})
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // the writes are under way
	if _, err := q.EnqueueMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	before := seq.Load()
	deadline := time.Now().Add(20 * time.Second)
	for ran.Load() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	writes := seq.Load() - before
	close(stop)
	writers.Wait()
	if got := ran.Load(); got < n {
		t.Fatalf("%d of %d jobs ran in 20 s while the writers committed %d records", got, n, writes)
	}
	if writes == 0 {
		t.Error("the writers committed nothing while the jobs ran")
	}
	t.Logf("%d jobs ran while the writers committed %d records", n, writes)
}
