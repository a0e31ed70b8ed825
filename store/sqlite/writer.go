package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"

	sqlite "modernc.org/sqlite"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// WithLogger sets where the store logs what it cannot return to a caller:
// the stack of a panicking Update function, a discarded write connection
// (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

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
// rolls back fn's changes only, its stack is logged (the writer's stack
// is the one that shows where fn panicked), and it is re-raised in the
// caller, as it would be on PostgreSQL where fn runs in the caller.
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

// writer is the writer goroutine's own state. Only that goroutine touches
// it, SQLite's rollback hook included: SQLite calls it from inside the
// statement that rolls back, which runs on the writer goroutine.
type writer struct {
	// rolledBack is set by SQLite's rollback hook whenever the write
	// connection's transaction ends in a rollback: ours, or SQLite's own
	// after SQLITE_FULL, an I/O error, a constraint declared ON CONFLICT
	// ROLLBACK or a failed COMMIT. It is cleared by each BEGIN.
	rolledBack bool
	// hooked: the rollback hook is registered on s.wconn.
	hooked bool
	// broken: s.wconn was discarded (see resetConn); the next group needs
	// a new one.
	broken bool
	// fault is a test hook: when set, it is called with the text of each
	// of the writer's own statements (BEGIN IMMEDIATE, SAVEPOINT fn,
	// RELEASE fn, ROLLBACK TO fn; RELEASE fn, COMMIT, ROLLBACK) before it
	// runs, and an error it returns stands for that statement failing
	// without running. Tests set it between Update calls (the queue orders
	// that before the writer reads it).
	fault func(query string) error
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
			s.turn <- struct{}{}
			batch = s.commitGroup(batch)
			s.giveTurn()
		}
	}
}

// bg is the context of the writer's own statements. Callers' contexts are
// deliberately not passed to SQLite (see Update).
var bg = context.Background()

// group is the state of one grouped transaction.
type group struct {
	ops     countOps       // count effects of the savepoints released so far
	schema  bool           // a collection changed: drop cached statements after commit
	changes []store.Change // for the feed, in the order the savepoints ran
	lost    bool           // a call truncated a table: tell the feed's OnLost observers
	// search: a call wrote to a searchable collection's table (or used
	// SQLTx while search indexes exist, so may have): flush the search
	// queues before COMMIT.
	search bool
}

var (
	// errTxLost answers the callers of a group whose transaction SQLite
	// rolled back by itself; the caller whose statement caused it gets
	// that statement's error if it returned it.
	errTxLost = core.Internal(errors.New("sqlite rolled the write transaction back"), "The write transaction was lost.")
	// errWriteConn answers a group when there is no usable write connection.
	errWriteConn = &core.Error{Kind: core.KindUnavailable, Message: "The database cannot be written to at the moment."}
)

// commitGroup runs batch in one transaction and answers every caller,
// each only once the outcome of the whole transaction is known: success
// after COMMIT, otherwise an error (a caller's own error if it returned
// one). If the transaction is lost midway, the callers that ran are told
// and the requests not yet run are returned to go in a new transaction.
//
// The transaction can end early in two ways, each handled so that no
// statement of the group runs outside it (in autocommit mode, where each
// write would be committed on its own, acknowledged or not):
//   - SQLite rolls it back by itself (SQLITE_FULL, an I/O error, ON
//     CONFLICT ROLLBACK). The rollback hook records it, Tx methods refuse
//     to run statements from then on, and the writer ends the group.
//     sqlite3_get_autocommit would tell the same, but database/sql offers
//     no way to call it. Probing with a statement (a plain BEGIN succeeds
//     only outside a transaction) would have to follow every failed
//     statement wherever it runs; the hook sees every rollback, whatever
//     caused it, and costs nothing until one happens.
//   - ROLLBACK itself fails: the connection may still be inside the
//     transaction, so it is discarded (see resetConn).
func (s *Store) commitGroup(batch []*request) (rest []*request) {
	if err := s.readyConn(); err != nil {
		s.refuse(batch, err)
		return nil
	}
	s.w.rolledBack = false
	if err := s.control("BEGIN IMMEDIATE"); err != nil {
		// A failed BEGIN leaves the connection out of any transaction.
		s.refuse(batch, s.writeErr(err, "Failed to start a write transaction."))
		return nil
	}
	g := &group{ops: countOps{}}
	type answer struct {
		req *request
		o   outcome
	}
	answers := make([]answer, 0, len(batch))
	abort := func(err error) {
		s.rollback()
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
		if err := s.control("SAVEPOINT fn"); err != nil {
			answers = append(answers, answer{req, outcome{}})
			abort(s.writeErr(err, "Failed to start a write transaction."))
			return batch[i+1:]
		}
		tx := &writeTx{s: s, ctx: req.ctx, group: g, ops: countOps{}}
		o := s.run(req.fn, tx)
		if o.err == nil && !o.panicked && !s.w.rolledBack {
			// The hooks' writes go in the call's savepoint with its own.
			o = s.run(func(store.Tx) error { return s.hooks.Run(req.ctx, tx, tx.pending.Changes()) }, tx)
		}
		tx.end()
		answers = append(answers, answer{req, o})
		if s.w.rolledBack {
			abort(errTxLost)
			return batch[i+1:]
		}
		if o.err != nil || o.panicked {
			if err := s.control("ROLLBACK TO fn; RELEASE fn"); err != nil {
				abort(s.writeErr(err, "The write transaction was lost."))
				return batch[i+1:]
			}
			continue
		}
		if err := s.control("RELEASE fn"); err != nil {
			abort(s.writeErr(err, "The write transaction was lost."))
			return batch[i+1:]
		}
		g.ops.merge(tx.ops)
		g.schema = g.schema || tx.schema
		g.lost = g.lost || tx.truncated
		g.changes = append(g.changes, tx.pending.Take()...)
	}

	if g.search {
		if err := s.flushSearch(); err != nil {
			abort(s.writeErr(err, "Failed to update the search index."))
			return nil
		}
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
	if err := s.control("COMMIT"); err != nil {
		if gen >= 0 {
			s.commitSeq.Add(1)
		}
		abort(s.writeErr(err, "Failed to commit."))
		return nil
	}
	if gen >= 0 {
		if s.counts.forgetBehind(gen - 1) {
			// Another process committed since our last commit (others.go):
			// the counts were forgotten, and this commit's effects are
			// learnt with the rest.
			g.lost = true
		}
		s.counts.apply(gen, g.ops)
		s.commitSeq.Add(1) // even: the counts match what is committed
	}
	s.groups.Add(1)
	s.calls.Add(int64(len(answers)))
	// In commit order, before any caller hears of its commit: a caller that
	// subscribed before writing sees its own change by the time Update returns.
	s.feed.Publish(g.changes...)
	if g.lost {
		s.feed.Lost()
	}
	if g.schema {
		// Statements for old table shapes would only linger: drop them.
		s.reads.reset()
		s.resetWriteStmts()
		if err := s.countSearchQueues(); err != nil {
			s.searchQueues = 1 // unknown: flush after raw SQL, to be safe
		}
	}
	for _, a := range answers {
		a.req.done <- a.o
	}
	return nil
}

// refuse answers with err every request of batch its caller still waits for.
func (s *Store) refuse(batch []*request, err error) {
	for _, req := range batch {
		if req.state.CompareAndSwap(queued, running) {
			req.done <- outcome{err: err}
		}
	}
}

// control runs one of the writer's own statements (see writer.fault).
func (s *Store) control(query string) error {
	if s.w.fault != nil {
		if err := s.w.fault(query); err != nil {
			return err
		}
	}
	_, err := s.wconn.ExecContext(bg, query)
	return err
}

// rollback ends the group's transaction. Nothing is left to do if SQLite
// already rolled it back. If ROLLBACK fails, whether the transaction is
// still open is unknown, and the next BEGIN would fail or, worse, a later
// COMMIT would commit this group's writes: the connection is discarded.
func (s *Store) rollback() {
	if s.w.rolledBack {
		return
	}
	if err := s.control("ROLLBACK"); err != nil {
		s.resetConn(err)
	}
}

// resetConn discards the write connection, which brings the database to a
// known state: closing an SQLite connection rolls back whatever
// transaction it held. A new connection is opened at once (the DSN
// reapplies the pragmas) so that Close finds one; if that fails, the next
// group tries again.
func (s *Store) resetConn(cause error) {
	s.log.Error("sqlite: discarding the write connection: its transaction could not be rolled back",
		slog.String("path", s.path), slog.Any("err", cause))
	s.resetWriteStmts()
	// Raw returning driver.ErrBadConn makes database/sql close the driver
	// connection instead of keeping it for reuse.
	s.wconn.Raw(func(any) error { return driver.ErrBadConn })
	s.wconn.Close()
	s.w.broken, s.w.hooked = true, false
	s.readyConn()
}

// rollbackHooker is the part of the modernc.org/sqlite connection that
// registers sqlite3_rollback_hook.
type rollbackHooker interface {
	RegisterRollbackHook(sqlite.RollbackHookFn)
}

// readyConn makes sure the writer has a write connection with its rollback
// hook registered. Two flag checks when it does.
func (s *Store) readyConn() error {
	if s.w.broken {
		c, err := s.wdb.Conn(bg)
		if err != nil {
			s.log.Error("sqlite: reopening the write connection", slog.String("path", s.path), slog.Any("err", err))
			return &core.Error{Kind: errWriteConn.Kind, Message: errWriteConn.Message, Err: err}
		}
		s.wconn, s.w.broken = c, false
	}
	if !s.w.hooked {
		err := s.wconn.Raw(func(dc any) error {
			h, ok := dc.(rollbackHooker)
			if !ok {
				return fmt.Errorf("driver connection %T has no rollback hook", dc)
			}
			h.RegisterRollbackHook(func() { s.w.rolledBack = true })
			return nil
		})
		if err != nil {
			// Without the hook a transaction SQLite rolls back could go
			// unnoticed: refuse to write rather than risk it.
			return core.Internal(err, "The database cannot be written to.")
		}
		s.w.hooked = true
	}
	return nil
}

// run calls fn, turning a panic into an outcome so the writer survives it.
// The stack is logged here, where it still shows the panicking frames.
func (s *Store) run(fn func(store.Tx) error, tx store.Tx) (o outcome) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("sqlite: panic in an Update function; its changes are rolled back and the panic is re-raised in its caller",
				slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			o = outcome{panicked: true, panicVal: v}
		}
	}()
	return outcome{err: fn(tx)}
}

// wstmt returns a statement prepared on the write connection, cached by
// its text. Only the writer goroutine calls it. Like wexec, it refuses
// once SQLite has rolled the group's transaction back, so that a Tx
// method going on after such an error cannot write in autocommit mode.
func (s *Store) wstmt(query string) (*sql.Stmt, error) {
	if s.w.rolledBack {
		return nil, errTxLost
	}
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
	if s.w.rolledBack {
		return nil, errTxLost
	}
	return s.wconn.ExecContext(bg, query, args...)
}

// String describes the store for logs.
func (s *Store) String() string { return fmt.Sprintf("sqlite store %s", s.path) }
