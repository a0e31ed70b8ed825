package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
)

// tickKind counts the runs of its jobs.
type tickKind struct {
	mu   sync.Mutex
	runs []time.Time
}

func (k *tickKind) kind() jobs.Kind {
	return jobs.Kind{Name: "tick", Handler: func(ctx context.Context, j *jobs.Job) error {
		k.mu.Lock()
		k.runs = append(k.runs, j.CreatedAt)
		k.mu.Unlock()
		return nil
	}}
}

func (k *tickKind) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.runs)
}

// waitRuns waits until the kind ran at least n times.
func (k *tickKind) waitRuns(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for k.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs, want %d", k.count(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Crons saved at run time fire on schedule, report their next and last
// run, stop when disabled or deleted, and run on demand.
func TestCrons(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, st store.Store) {
		k := &tickKind{}
		q := newQueue(t, st, k.kind())
		ctx := context.Background()
		if err := q.AddCron(jobs.Cron{ID: "nightly", Schedule: "0 3 * * *", Kind: "tick"}); err != nil {
			t.Fatal(err)
		}
		saved, err := q.SaveCron(ctx, jobs.Cron{ID: "every-second", Schedule: "@every 1s", Kind: "tick"})
		if err != nil {
			t.Fatal(err)
		}
		if saved.Next == nil || saved.Next.Before(time.Now().Add(-time.Second)) {
			t.Errorf("next run %v", saved.Next)
		}
		k.waitRuns(t, 2)
		st1, err := q.CronStatus(ctx, "every-second")
		if err != nil || st1.Last == nil || st1.Last.Kind != "tick" {
			t.Fatalf("status %+v, %v", st1, err)
		}
		all, err := q.Crons(ctx)
		if err != nil || len(all) != 2 || all[0].ID != "every-second" || !all[1].FromCode || all[1].Next.Hour() != 3 {
			t.Fatalf("crons %+v, %v", all, err)
		}

		// Disabled: no more ticks, but it runs on demand.
		if _, err := q.SaveCron(ctx, jobs.Cron{ID: "every-second", Schedule: "@every 1s", Kind: "tick", Disabled: true}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // a tick in flight may still land
		before := k.count()
		time.Sleep(2500 * time.Millisecond)
		if n := k.count(); n != before {
			t.Fatalf("a disabled cron fired: %d runs, then %d", before, n)
		}
		if _, err := q.RunCron(ctx, "every-second"); err != nil {
			t.Fatal(err)
		}
		k.waitRuns(t, before+1)

		if err := q.DeleteCron(ctx, "every-second"); err != nil {
			t.Fatal(err)
		}
		if _, err := q.CronStatus(ctx, "every-second"); core.KindOf(err) != core.KindNotFound {
			t.Errorf("deleted cron: %v", err)
		}
		for _, bad := range []jobs.Cron{
			{ID: "x", Schedule: "not a cron", Kind: "tick"},
			{ID: "x", Schedule: "* * * * * *", Kind: "tick"},
			{ID: "x", Schedule: "TZ=Europe/Paris 0 3 * * *", Kind: "tick"},
			{ID: "Bad Id", Schedule: "@daily", Kind: "tick"},
			{ID: "x", Schedule: "@daily", Kind: "nope"},
			{ID: "nightly", Schedule: "@daily", Kind: "tick"}, // defined in code
		} {
			if _, err := q.SaveCron(ctx, bad); core.KindOf(err) != core.KindInvalid {
				t.Errorf("save %+v: %v, want invalid", bad, err)
			}
		}
		if err := q.DeleteCron(ctx, "nightly"); core.KindOf(err) != core.KindInvalid {
			t.Errorf("delete a code cron: %v", err)
		}
		if err := q.DeleteCron(ctx, "missing"); core.KindOf(err) != core.KindNotFound {
			t.Errorf("delete a missing cron: %v", err)
		}
	})
}

// Two processes on one PostgreSQL database, both running jobs and both
// defining the same cron: each tick fires once.
func TestCronOncePerTickTwoProcesses(t *testing.T) {
	t.Parallel()
	url := testkit.PostgresDatabase(t)
	k := &tickKind{}
	var queues []*jobs.Queue
	for range 2 {
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		q, err := jobs.New(context.Background(), st, jobs.Config{PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Register(k.kind()); err != nil {
			t.Fatal(err)
		}
		if err := q.AddCron(jobs.Cron{ID: "second", Schedule: "@every 1s", Kind: "tick"}); err != nil {
			t.Fatal(err)
		}
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Stop(context.Background()) })
		queues = append(queues, q)
	}
	k.waitRuns(t, 5)
	k.mu.Lock()
	defer k.mu.Unlock()
	seen := map[int64]bool{}
	for _, at := range k.runs {
		s := at.Unix()
		if seen[s] {
			t.Errorf("two runs for the tick of %s: %v", at.Format(time.TimeOnly), k.runs)
		}
		seen[s] = true
	}
	// Every run is in the one list both processes see.
	res, err := queues[1].List(context.Background(), jobs.ListParams{Kinds: []string{"tick"}, Limit: 500})
	if err != nil || len(res.Jobs) < len(k.runs) {
		t.Errorf("listed %d jobs for %d runs: %v", len(res.Jobs), len(k.runs), err)
	}
}
