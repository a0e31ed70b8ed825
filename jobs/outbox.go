package jobs

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// On SQLite a job's row is the dearest part of enqueueing it in a record
// write: River's table has an AUTOINCREMENT key and four indexes, and its
// JSON columns are converted to jsonb, so a commit that adds a job writes
// about three times the pages a commit of the record alone writes, and
// pays for each job's statement on the single writer. DeferTx writes one
// row of its own table instead (a plain rowid table, no index, JSON kept
// as text), in the write's transaction, so the job still commits or rolls
// back with the write. Shortly after, the outbox moves every waiting row
// into River's table with one INSERT … SELECT and deletes them in the
// same transaction: the move's pages and statements are shared by all the
// jobs it carries. A job is moved once: the move and the delete commit
// together, and a crash in between loses neither (the rows wait in the
// outbox, and the next start moves them).

const outboxSchema = `CREATE TABLE IF NOT EXISTS _jobs_outbox (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	queue TEXT NOT NULL,
	priority INTEGER NOT NULL,
	max_attempts INTEGER NOT NULL,
	state TEXT NOT NULL,
	created_at TEXT NOT NULL,
	scheduled_at TEXT NOT NULL,
	args TEXT NOT NULL,
	tags TEXT NOT NULL
)`

const outboxInsert = `INSERT INTO _jobs_outbox (kind, queue, priority, max_attempts, state, created_at, scheduled_at, args, tags)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// outboxMove writes the rows up to an id as sqliteLeanInsert writes one
// job, in the order they were deferred.
const outboxMove = `INSERT INTO river_job (args, created_at, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags)
SELECT jsonb(args), created_at, kind, max_attempts, jsonb('{}'), priority, queue, scheduled_at, state, jsonb(tags)
FROM _jobs_outbox WHERE id <= ? ORDER BY id`

const (
	// outboxDelay is how long the outbox waits, once a job is deferred,
	// before moving: the writes of that time share one move. River on
	// SQLite looks for new jobs every 250 ms, so the wait rarely delays a
	// job's start.
	outboxDelay = 20 * time.Millisecond
	// outboxBatch caps the jobs one move carries, and so how long it holds
	// the writer (about 8 µs a job).
	outboxBatch = 1000
)

// outbox holds deferred jobs until they are moved into River's table.
type outbox struct {
	st  store.Store
	log *slog.Logger

	wake     chan struct{} // a job was deferred
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// openOutbox creates the outbox table if needed, moves what an earlier
// process left in it, and starts moving jobs as they are deferred.
func openOutbox(ctx context.Context, st store.Store, log *slog.Logger) (*outbox, error) {
	o := &outbox{st: st, log: log,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	err := st.Update(ctx, func(stx store.Tx) error {
		tx, err := sqliteTx(ctx, stx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, outboxSchema); err != nil {
			return core.Internal(err, "Failed to create the jobs' outbox.")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := o.drain(ctx); err != nil {
		return nil, err
	}
	go o.run()
	return o, nil
}

// add writes ins to the outbox in tx, a write call of the SQLite store.
func (o *outbox) add(ctx context.Context, stx store.Tx, ins []insert) error {
	tx, err := sqliteTx(ctx, stx)
	if err != nil {
		return err
	}
	for _, in := range ins {
		row, err := sqliteRowOf(in)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, outboxInsert, in.kind.Name, in.opts.Queue, in.opts.Priority, in.opts.MaxAttempts,
			in.state(), row.created.Format(sqliteTime), row.scheduled.Format(sqliteTime), string(in.args), string(row.rawTags))
		if err != nil {
			return core.Internal(err, "Failed to enqueue the job.")
		}
	}
	// The move waits for the writer, so it runs after this write commits
	// (or in the same group commit, after it): it never sees a row this
	// write could still take back.
	o.poke()
	return nil
}

func (o *outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) run() {
	defer close(o.done)
	for {
		select {
		case <-o.stop:
			o.final()
			return
		case <-o.wake:
		}
		t := time.NewTimer(outboxDelay)
		select {
		case <-o.stop:
			t.Stop()
			o.final()
			return
		case <-t.C:
		}
		if err := o.drain(context.Background()); err != nil {
			o.log.Warn("jobs: failed to move deferred jobs into the queue; trying again in a second", "err", err)
			time.AfterFunc(time.Second, o.poke)
		}
	}
}

// final moves what is left when the queue stops.
func (o *outbox) final() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.drain(ctx); err != nil {
		o.log.Warn("jobs: failed to move deferred jobs into the queue; the next start moves them", "err", err)
	}
}

// drain moves every waiting job, a batch per transaction.
func (o *outbox) drain(ctx context.Context) error {
	for {
		n, err := o.move(ctx)
		if err != nil || n < outboxBatch {
			return err
		}
	}
}

// move moves up to outboxBatch jobs into River's table and returns how
// many it moved.
func (o *outbox) move(ctx context.Context) (int64, error) {
	var n int64
	err := o.st.Update(ctx, func(stx store.Tx) error {
		n = 0
		tx, err := sqliteTx(ctx, stx)
		if err != nil {
			return err
		}
		var last sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT max(id) FROM (SELECT id FROM _jobs_outbox ORDER BY id LIMIT ?)`, outboxBatch).Scan(&last)
		if err != nil {
			return core.Internal(err, "Failed to read the jobs' outbox.")
		}
		if !last.Valid {
			return nil
		}
		res, err := tx.ExecContext(ctx, outboxMove, last.Int64)
		if err != nil {
			return core.Internal(err, "Failed to move deferred jobs into the queue.")
		}
		if n, err = res.RowsAffected(); err != nil {
			return core.Internal(err, "Failed to move deferred jobs into the queue.")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM _jobs_outbox WHERE id <= ?`, last.Int64); err != nil {
			return core.Internal(err, "Failed to move deferred jobs into the queue.")
		}
		return nil
	})
	return n, err
}

// close moves what is waiting and stops moving. Later adds stay in the
// outbox until the next start.
func (o *outbox) close() {
	o.stopOnce.Do(func() { close(o.stop) })
	<-o.done
}
