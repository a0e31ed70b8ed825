package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"
	"time"
)

// The write turn. SQLite lets one connection write at a time, and a
// connection waiting for the lock polls for it (busy_timeout), sleeping
// between tries: against the writer, which begins its next group the
// moment it commits, the other connection that writes (OpenSQL's, the job
// queue's) almost never won. Under a stream of record writes the queue
// then fetched and completed almost nothing: webhook deliveries ran at
// 10–130 a second while creates ran at 4,000, and caught up only when the
// creates stopped. So the writer and OpenSQL's connection take turns
// through a channel of one slot, whose waiters are served in the order
// they came: the writer takes it for each group, the other connection for
// each transaction and each statement outside one.

// takeTurn waits for the write turn, for as long as a connection would
// wait for the lock.
func (s *Store) takeTurn(ctx context.Context) error {
	t := time.NewTimer(s.cfg.busyTimeout)
	defer t.Stop()
	select {
	case s.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errNoTurn
	}
}

func (s *Store) giveTurn() { <-s.turn }

// errNoTurn is what the connection would have answered after
// busy_timeout without the turn.
var errNoTurn = errors.New("database is locked (the store's writer held it past the busy timeout)")

// turnConn is a connection of OpenSQL's: it writes in turn with the
// store's writer.
type turnConn struct {
	*keptConn
	s    *Store
	inTx bool
}

// Begin takes the turn for the transaction (BEGIN IMMEDIATE: it writes).
func (c *turnConn) Begin() (driver.Tx, error) {
	if err := c.s.takeTurn(context.Background()); err != nil {
		return nil, err
	}
	tx, err := c.keptConn.Begin() // database/sql calls Begin: the interface keptConn exposes has no BeginTx
	if err != nil {
		c.s.giveTurn()
		return nil, err
	}
	c.inTx = true
	return &turnTx{Tx: tx, c: c}, nil
}

func (c *turnConn) endTx() {
	c.inTx = false
	c.s.giveTurn()
}

// ExecContext takes the turn for a statement outside a transaction.
func (c *turnConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.inTx {
		return c.keptConn.ExecContext(ctx, query, args)
	}
	if err := c.s.takeTurn(ctx); err != nil {
		return nil, err
	}
	defer c.s.giveTurn()
	return c.keptConn.ExecContext(ctx, query, args)
}

// QueryContext takes the turn for a statement outside a transaction,
// until its rows are closed (an UPDATE … RETURNING writes as they are
// read).
func (c *turnConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.inTx {
		return c.keptConn.QueryContext(ctx, query, args)
	}
	if err := c.s.takeTurn(ctx); err != nil {
		return nil, err
	}
	rows, err := c.keptConn.QueryContext(ctx, query, args)
	if err != nil {
		c.s.giveTurn()
		return nil, err
	}
	return &turnRows{Rows: rows, give: sync.OnceFunc(c.s.giveTurn)}, nil
}

type turnTx struct {
	driver.Tx
	c *turnConn
}

func (t *turnTx) Commit() error {
	defer t.c.endTx()
	return t.Tx.Commit()
}

func (t *turnTx) Rollback() error {
	defer t.c.endTx()
	return t.Tx.Rollback()
}

type turnRows struct {
	driver.Rows
	give func()
}

func (r *turnRows) Close() error {
	defer r.give()
	return r.Rows.Close()
}
