package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/internal/testdb"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
)

// pgProcesses opens n stores on one fresh PostgreSQL database, as n
// processes would, each with a queue that knows "report".
func pgProcesses(t *testing.T, n int) ([]*postgres.Store, []*Queue) {
	t.Helper()
	url := testdb.PostgresDatabase(t)
	var sts []*postgres.Store
	var qs []*Queue
	for range n {
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		sts = append(sts, st)
		qs = append(qs, quietQueue(t, st))
	}
	return sts, qs
}

func pgCount(t *testing.T, st *postgres.Store, query string) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// On PostgreSQL a process that died between a write's commit and the move
// leaves its jobs to the processes still running, which sweep them up
// without a restart.
func TestOutboxSweepPostgres(t *testing.T) {
	ctx := context.Background()
	sts, qs := pgProcesses(t, 1)
	st := sts[0]
	ins := reports(t, qs[0], map[string]int{"n": 1}, map[string]int{"n": 2})
	if err := st.Update(ctx, func(tx store.Tx) error { return idleOutbox(pgOutbox{st}).add(ctx, tx, ins) }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * outboxSweep)
	for pgCount(t, st, `SELECT count(*) FROM river_job WHERE kind = 'report'`) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the jobs a dead process left were not swept up within %v", 3*outboxSweep)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := pgCount(t, st, `SELECT count(*) FROM _jobs_outbox`); n != 0 {
		t.Errorf("%d rows left in the outbox", n)
	}
}

// Processes moving one outbox at the same time move each job exactly
// once.
func TestOutboxConcurrentMovesPostgres(t *testing.T) {
	ctx := context.Background()
	sts, qs := pgProcesses(t, 3)
	const total = 3*outboxBatch + 17
	args := make([]map[string]int, total)
	for i := range args {
		args[i] = map[string]int{"i": i}
	}
	ins := reports(t, qs[0], args...)
	if err := sts[0].Update(ctx, func(tx store.Tx) error { return idleOutbox(pgOutbox{sts[0]}).add(ctx, tx, ins) }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(qs))
	for _, q := range qs {
		wg.Go(func() { errs <- outboxOf(q).drain(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := sts[0]
	if n := pgCount(t, st, `SELECT count(*) FROM _jobs_outbox`); n != 0 {
		t.Fatalf("%d rows left in the outbox", n)
	}
	if n := pgCount(t, st, `SELECT count(*) FROM river_job WHERE kind = 'report'`); n != total {
		t.Errorf("%d jobs in the queue, want %d", n, total)
	}
	if n := pgCount(t, st, `SELECT count(DISTINCT args) FROM river_job WHERE kind = 'report'`); n != total {
		t.Errorf("%d distinct jobs in the queue, want %d", n, total)
	}
}

// A job River's table would refuse fails the write that defers it, as
// River's own insert would, and never reaches the outbox, where it would
// stop every move after it.
func TestOutboxRefusesAtTheWritePostgres(t *testing.T) {
	ctx := context.Background()
	sts, qs := pgProcesses(t, 1)
	st, q := sts[0], qs[0]
	// Valid JSON that jsonb refuses (a lone surrogate). DeferTx's checks
	// refuse it first; here it goes to the outbox as if they had not.
	ins := reports(t, q, map[string]int{"n": 1})
	ins[0].args = json.RawMessage(`{"s":"\ud800"}`)
	if err := st.Update(ctx, func(tx store.Tx) error { return outboxOf(q).add(ctx, tx, ins) }); err == nil {
		t.Fatal("a job jsonb refuses was deferred")
	}
	for i := range 3 {
		if err := st.Update(ctx, func(tx store.Tx) error {
			return q.DeferTx(ctx, tx, "report", map[string]string{"s": fmt.Sprint(i)}, nil)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := pgCount(t, st, `SELECT count(*) FROM river_job WHERE kind = 'report'`); n != 3 {
		t.Errorf("%d jobs in the queue, want the 3 good ones", n)
	}
}
