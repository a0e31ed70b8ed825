package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"

	"github.com/tortoise-dev/tortoise/store"
)

// A request is one Update call waiting for, or being run by, the writer.
type request struct {
	ctx   context.Context
	fn    func(store.Tx) error
	state atomic.Int32
	done  chan outcome // buffered: the writer never blocks on a caller
}

// Request states: the writer and a caller whose context ends race to move a
// queued request on; whoever wins decides whether fn runs.
const (
	queued int32 = iota
	running
	cancelled
)

type outcome struct {
	err      error
	panicked bool
	panicVal any // re-raised in the caller's goroutine
}

// Update queues fn for the writer and waits for the commit of its group.
// While queued, the end of ctx withdraws it (fn never runs) and Update
// returns ctx.Err(); once fn has started, Update waits for the outcome,
// because the group's commit decides it. Tx methods check ctx between
// statements but never interrupt one: on SQLite, interrupting a write
// rolls back the whole transaction, which would undo the rest of the group.
//
// fn runs on the writer goroutine: it must not call Update (that would
// deadlock) and must not use tx from another goroutine. A panic in fn
// rolls back fn's changes and is re-raised in the caller.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &request{ctx: ctx, fn: fn, done: make(chan outcome, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	select {
	case s.queue <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	var o outcome
	select {
	case o = <-req.done:
	case <-ctx.Done():
		if req.state.CompareAndSwap(queued, cancelled) {
			return ctx.Err()
		}
		o = <-req.done
	}
	if o.panicked {
		panic(o.panicVal)
	}
	return o.err
}

// writeLoop is the writer goroutine: it takes whatever is queued, up to
// maxGroup requests, and commits it as one group. Requests that arrive
// while a group commits (its fsync dominates) form the next group, so the
// group size follows the load with no artificial delay.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	batch := make([]*request, 0, s.maxGroup)
	for req := range s.queue {
		batch = append(batch[:0], req)
	fill:
		for len(batch) < s.maxGroup {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		for len(batch) > 0 {
			batch = s.commitGroup(batch)
		}
	}
}

// bg is the context of the writer's own statements. Callers' contexts are
// deliberately not passed to SQLite (see Update).
var bg = context.Background()

// group is the state of one grouped transaction.
type group struct {
	ops    countOps // count effects of the savepoints released so far
	schema bool     // a collection changed: drop cached statements after commit
}

// commitGroup runs batch in one transaction and answers every caller. If
// the transaction is lost midway (SQLite rolled it back by itself, as it
// does on some I/O errors), the callers that ran are told and the
// requests not yet run are returned to go in a new transaction.
func (s *Store) commitGroup(batch []*request) (rest []*request) {
	if _, err := s.wconn.ExecContext(bg, "BEGIN IMMEDIATE"); err != nil {
		err = s.writeErr(err, "Failed to start a write transaction.")
		for _, req := range batch {
			if req.state.CompareAndSwap(queued, running) {
				req.done <- outcome{err: err}
			}
		}
		return nil
	}
	g := &group{ops: countOps{}}
	type answer struct {
		req *request
		o   outcome
	}
	answers := make([]answer, 0, len(batch))
	abort := func(err error) {
		s.wconn.ExecContext(bg, "ROLLBACK") // may fail if SQLite already rolled back; nothing to add
		s.resetWriteStmts()
		for _, a := range answers {
			if a.o.err == nil && !a.o.panicked {
				a.o.err = err
			}
			a.req.done <- a.o
		}
	}

	for i, req := range batch {
		if !req.state.CompareAndSwap(queued, running) {
			continue // its caller gave up while it was queued
		}
		if _, err := s.wconn.ExecContext(bg, "SAVEPOINT fn"); err != nil {
			answers = append(answers, answer{req, outcome{}})
			abort(s.writeErr(err, "Failed to start a write transaction."))
			return batch[i+1:]
		}
		tx := &writeTx{s: s, ctx: req.ctx, group: g, ops: countOps{}}
		o := run(req.fn, tx)
		tx.done = true
		answers = append(answers, answer{req, o})
		if o.err != nil || o.panicked {
			if _, err := s.wconn.ExecContext(bg, "ROLLBACK TO fn; RELEASE fn"); err != nil {
				abort(s.writeErr(err, "The write transaction was lost."))
				return batch[i+1:]
			}
			continue
		}
		if _, err := s.wconn.ExecContext(bg, "RELEASE fn"); err != nil {
			abort(s.writeErr(err, "The write transaction was lost."))
			return batch[i+1:]
		}
		g.ops.merge(tx.ops)
		g.schema = g.schema || tx.schema
	}

	gen := int64(-1)
	if len(g.ops) > 0 {
		if err := s.wconn.QueryRowContext(bg, `UPDATE _meta SET value = value + 1 WHERE key = 'gen' RETURNING value`).Scan(&gen); err != nil {
			abort(s.writeErr(err, "Failed to commit."))
			return nil
		}
	}
	if gen >= 0 {
		s.commitSeq.Add(1) // odd: counts are about to change
	}
	if _, err := s.wconn.ExecContext(bg, "COMMIT"); err != nil {
		if gen >= 0 {
			s.commitSeq.Add(1)
		}
		abort(s.writeErr(err, "Failed to commit."))
		return nil
	}
	if gen >= 0 {
		s.counts.apply(gen, g.ops)
		s.commitSeq.Add(1) // even: the counts match what is committed
	}
	s.groups.Add(1)
	s.calls.Add(int64(len(answers)))
	if g.schema {
		// Statements for old table shapes would only linger: drop them.
		s.reads.reset()
		s.resetWriteStmts()
	}
	for _, a := range answers {
		a.req.done <- a.o
	}
	return nil
}

// run calls fn, turning a panic into an outcome so the writer survives it.
func run(fn func(store.Tx) error, tx store.Tx) (o outcome) {
	defer func() {
		if v := recover(); v != nil {
			o = outcome{panicked: true, panicVal: v}
		}
	}()
	return outcome{err: fn(tx)}
}

// wstmt returns a statement prepared on the write connection, cached by
// its text. Only the writer goroutine calls it.
func (s *Store) wstmt(query string) (*sql.Stmt, error) {
	if st := s.wstmts[query]; st != nil {
		return st, nil
	}
	st, err := s.wconn.PrepareContext(bg, query)
	if err != nil {
		return nil, err
	}
	if len(s.wstmts) >= 256 {
		s.resetWriteStmts()
	}
	s.wstmts[query] = st
	return st, nil
}

func (s *Store) resetWriteStmts() {
	for q, st := range s.wstmts {
		st.Close()
		delete(s.wstmts, q)
	}
}

// wexec runs a statement on the write connection, uncached (for DDL).
func (s *Store) wexec(query string, args ...any) (sql.Result, error) {
	return s.wconn.ExecContext(bg, query, args...)
}

// String describes the store for logs.
func (s *Store) String() string { return fmt.Sprintf("sqlite store %s", s.path) }
