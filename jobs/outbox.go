package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tortoise-dev/tortoise/store"
)

// DeferTx's jobs go through an outbox, a table of the jobs' own beside
// River's. A job's row in River's table is the dearest part of enqueueing
// it in a record write: on SQLite that table has an AUTOINCREMENT key and
// four indexes and converts its JSON to jsonb, so a commit that adds a job
// writes about three times the pages a commit of the record alone writes;
// on PostgreSQL it has five indexes, two of them GIN over the job's args
// and metadata, and a webhook delivery's args hold the whole record.
// DeferTx writes one row of the outbox instead (a table without indexes),
// in the write's transaction, so the job still commits or rolls back with
// the write. Shortly after, the outbox moves every waiting row into
// River's table with one statement and deletes them in the same
// transaction: the move's pages, index work and statements are shared by
// all the jobs it carries. A job is moved once: the move and the delete
// commit together, and a crash in between loses neither (the rows wait in
// the outbox for the next start, and on PostgreSQL for any process's
// sweep).
//
// What differs between the engines (outbox_sqlite.go, outbox_pg.go) is an
// outboxEngine.
type outboxEngine interface {
	// create makes the outbox's table if it is not there.
	create(ctx context.Context) error
	// add writes ins to the outbox in tx, a write call of the store, and
	// arranges for poke to be called once a move is sure to see them.
	add(ctx context.Context, tx store.Tx, ins []insert, poke func()) error
	// take moves up to outboxBatch jobs, oldest first, into River's table
	// and returns how many it moved.
	take(ctx context.Context) (int64, error)
}

const (
	// outboxDelay is the least time between two moves: a job deferred
	// after a quiet spell is moved at once, and under a stream of writes
	// the jobs deferred during the wait share one move. Workers on SQLite
	// look for new jobs every 250 ms anyway; on PostgreSQL the move
	// notifies them.
	outboxDelay = 20 * time.Millisecond
	// outboxBatch caps the jobs one move carries, and so how long it holds
	// SQLite's writer (about 8 µs a job).
	outboxBatch = 1000
	// outboxSweep is how often a PostgreSQL process looks for jobs that
	// nobody told it of: those another process left when it died between
	// a write's commit and the move.
	outboxSweep = 2 * time.Second
)

// outbox holds deferred jobs until they are moved into River's table.
type outbox struct {
	eng   outboxEngine
	log   *slog.Logger
	sweep time.Duration // 0: only moves when poked (SQLite: one process)

	wake     chan struct{} // a job was deferred
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// openOutbox creates the outbox table if needed, moves what an earlier
// process left in it, and starts moving jobs as they are deferred.
func openOutbox(ctx context.Context, eng outboxEngine, sweep time.Duration, log *slog.Logger) (*outbox, error) {
	o := &outbox{eng: eng, log: log, sweep: sweep,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if err := eng.create(ctx); err != nil {
		return nil, err
	}
	if err := o.drain(ctx); err != nil {
		return nil, err
	}
	go o.run()
	return o, nil
}

// add writes ins to the outbox in tx, a write call of the store.
func (o *outbox) add(ctx context.Context, tx store.Tx, ins []insert) error {
	return o.eng.add(ctx, tx, ins, o.poke)
}

func (o *outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) run() {
	defer close(o.done)
	var sweep <-chan time.Time
	if o.sweep > 0 {
		t := time.NewTicker(o.sweep)
		defer t.Stop()
		sweep = t.C
	}
	var last time.Time // the latest move's start
	for {
		select {
		case <-o.stop:
			o.final()
			return
		case <-sweep:
		case <-o.wake:
			if wait := outboxDelay - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-o.stop:
					t.Stop()
					o.final()
					return
				case <-t.C:
				}
			}
		}
		last = time.Now()
		o.drainOrRetry()
	}
}

// drainOrRetry drains, and on failure tries again a second later.
func (o *outbox) drainOrRetry() {
	if err := o.drain(context.Background()); err != nil {
		o.log.Warn("jobs: failed to move deferred jobs into the queue; trying again in a second", "err", err)
		time.AfterFunc(time.Second, o.poke)
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
		n, err := o.eng.take(ctx)
		if err != nil || n < outboxBatch {
			return err
		}
	}
}

// close moves what is waiting and stops moving. Later adds stay in the
// outbox until the next start.
func (o *outbox) close() {
	o.stopOnce.Do(func() { close(o.stop) })
	<-o.done
}
