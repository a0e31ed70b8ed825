package jobs

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// On PostgreSQL River's insert is one statement, but a large one: every
// column unnested from an array, a unique-key conflict clause and whole
// rows returned, then a second round trip for pg_notify so that workers
// listening elsewhere fetch at once. In a record write that came to about
// a third of a one-record create (bench/jobs_test.go, BenchmarkEnqueueTx).
// A job without uniqueness is inserted here with one prepared statement
// into River's table, as River writes it (times from the database's
// now(), metadata {}), which also sends River's insert notification when
// insertNotifier says so. TestLeanInsertMatchesRiverPostgres holds its
// rows to River's own.

// pgLeanInsert's notification goes to River's insert topic in the current
// schema, as River's driver names it, and is delivered at commit.
const pgLeanInsert = `WITH job AS (
	INSERT INTO river_job (args, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags)
	VALUES ($1::jsonb, $2, $3, '{}'::jsonb, $4, $5, coalesce($6::timestamptz, now()), $7::river_job_state, $8::varchar(255)[])
	RETURNING id, created_at, scheduled_at
)
SELECT id, created_at, scheduled_at,
	CASE WHEN $9::boolean THEN pg_notify(current_schema() || '.river_insert', json_build_object('queue', $5::text)::text) END IS NULL
FROM job`

// pgInsertLean inserts ins in tx, a write call of the PostgreSQL store.
func pgInsertLean(n *insertNotifier) func(context.Context, store.Tx, []insert) ([]*Enqueued, error) {
	return func(ctx context.Context, stx store.Tx, ins []insert) ([]*Enqueued, error) {
		tx, err := pgxTx(ctx, stx)
		if err != nil {
			return nil, err
		}
		out := make([]*Enqueued, len(ins))
		for i, in := range ins {
			j := &Job{Kind: in.kind.Name, Args: in.args, State: in.state(), Queue: in.opts.Queue,
				Priority: in.opts.Priority, MaxAttempts: in.opts.MaxAttempts, Tags: in.tags(), Errors: []AttemptError{}}
			var ignored bool
			err := tx.QueryRow(ctx, pgLeanInsert, string(in.args), in.kind.Name, in.opts.MaxAttempts, in.opts.Priority,
				in.opts.Queue, pgRunAt(in), j.State, j.Tags, n.carry(in.opts.Queue)).Scan(&j.ID, &j.CreatedAt, &j.ScheduledAt, &ignored)
			if err != nil {
				return nil, core.Internal(err, "Failed to enqueue the job.")
			}
			out[i] = &Enqueued{Job: j}
		}
		return out, nil
	}
}

// pgRunAt is when in runs, or nil for the database's now().
func pgRunAt(in insert) *time.Time {
	if in.opts.RunAt.IsZero() {
		return nil
	}
	t := in.opts.RunAt.UTC()
	return &t
}

// insertNotifyEvery is how often, at most, an insert into a queue carries
// a notification for the workers.
const insertNotifyEvery = 20 * time.Millisecond

// insertNotifier decides which inserts tell River's workers, on every
// process, that a queue has new jobs. A notification sent in the write's
// transaction costs nothing at commit beyond the message (on a connection
// of its own it would be a transaction, and a WAL flush, of its own), and
// a fetch it starts takes every job committed by then, so one insert per
// queue every insertNotifyEvery carries it. When inserts stop inside a
// window, the last ones would wait for the workers' poll; one notification
// sent on its own connection after the window covers them.
type insertNotifier struct {
	// tell sends River's insert notifications for payloads outside any
	// write, through River's driver.
	tell func(ctx context.Context, payloads []string) error
	log  *slog.Logger

	mu      sync.Mutex
	last    map[string]time.Time // the latest notification per queue
	pending map[string]bool      // queues with inserts since it
	timer   bool
}

// carry reports whether an insert into queue now should notify.
func (n *insertNotifier) carry(queue string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.last == nil {
		n.last, n.pending = map[string]time.Time{}, map[string]bool{}
	}
	now := time.Now()
	if now.Sub(n.last[queue]) >= insertNotifyEvery {
		n.last[queue] = now
		delete(n.pending, queue)
		return true
	}
	n.pending[queue] = true
	if !n.timer {
		n.timer = true
		time.AfterFunc(2*insertNotifyEvery, n.trail)
	}
	return false
}

// trail notifies the queues whose latest inserts carried no notification
// and were followed by none.
func (n *insertNotifier) trail() {
	n.mu.Lock()
	now := time.Now()
	var payloads []string
	for q := range n.pending {
		if now.Sub(n.last[q]) < insertNotifyEvery {
			continue // an insert carries one soon, or its successor will
		}
		p, _ := json.Marshal(map[string]string{"queue": q})
		payloads = append(payloads, string(p))
		n.last[q] = now
		delete(n.pending, q)
	}
	n.timer = len(n.pending) > 0
	if n.timer {
		time.AfterFunc(insertNotifyEvery, n.trail)
	}
	n.mu.Unlock()
	if len(payloads) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.tell(ctx, payloads); err != nil {
		n.log.Debug("jobs: could not tell the workers of new jobs; they find them at their next poll", "err", err)
	}
}
