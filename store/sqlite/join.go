package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	sqlite "modernc.org/sqlite"
)

// The write connection joins code that speaks database/sql to the
// writer's transaction. River's SQLite driver inserts jobs through a
// *sql.Tx; for a job to commit or roll back with the record write that
// enqueued it, that *sql.Tx must be the write connection inside the
// call's savepoint. The writer opens and ends its group transaction with
// statements of its own (BEGIN IMMEDIATE … COMMIT, see commitGroup), so on
// this connection BeginTx starts nothing: the *sql.Tx it returns runs its
// statements in whatever transaction and savepoint are open, and its
// Commit and Rollback do nothing, as the group decides. writeTx.SQLTx is
// the only caller, and only while a call runs.

// sqliteConn is what database/sql uses of a modernc.org/sqlite
// connection, and the rollback hook the writer registers.
type sqliteConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	rollbackHooker
	RegisterCommitHook(sqlite.CommitHookFn) // for tests that veto a commit
}

// joinConn is a write connection whose transactions join the writer's.
//
// It also keeps the statements of QueryContext prepared: the store's own
// statements are prepared once already (wstmt), but River's queries come
// as text each time, and parsing its long INSERT cost more than running
// it. A statement whose rows are still open is not reused (a second one
// is prepared meanwhile), and only single statements are kept.
type joinConn struct {
	sqliteConn
	stmts map[string]*joinStmt
}

type joinStmt struct {
	st    driver.Stmt
	inUse bool
}

// maxCachedStmts bounds the statements kept; beyond it they are dropped.
const maxCachedStmts = 64

func (*joinConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	return joinedTx{}, nil
}

// Begin completes driver.Conn; database/sql calls BeginTx.
func (*joinConn) Begin() (driver.Tx, error) { return joinedTx{}, nil }

func (c *joinConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs := c.stmts[query] // only single statements are kept: no check needed then
	if cs == nil && strings.Contains(strings.TrimRight(strings.TrimSpace(query), ";"), ";") {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	if cs == nil || cs.inUse {
		st, err := c.sqliteConn.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		if cs != nil { // in use: a statement for this query alone
			rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
			if err != nil {
				st.Close()
				return nil, err
			}
			return &ownRows{Rows: rows, st: st}, nil
		}
		if len(c.stmts) >= maxCachedStmts {
			c.dropStmts()
		}
		cs = &joinStmt{st: st}
		c.stmts[query] = cs
	}
	rows, err := cs.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.inUse = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

func (c *joinConn) dropStmts() {
	for q, cs := range c.stmts {
		if !cs.inUse {
			cs.st.Close()
			delete(c.stmts, q)
		}
	}
}

func (c *joinConn) Close() error {
	for q, cs := range c.stmts {
		cs.st.Close()
		delete(c.stmts, q)
	}
	return c.sqliteConn.Close()
}

// cachedRows frees its cached statement when closed.
type cachedRows struct {
	driver.Rows
	cs *joinStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.inUse = false
	return err
}

// ownRows closes its statement with it.
type ownRows struct {
	driver.Rows
	st driver.Stmt
}

func (r *ownRows) Close() error {
	err := r.Rows.Close()
	r.st.Close()
	return err
}

// joinedTx leaves the transaction to the writer.
type joinedTx struct{}

func (joinedTx) Commit() error   { return nil }
func (joinedTx) Rollback() error { return nil }

// joinConnector opens write connections that join the writer's
// transaction.
type joinConnector struct{ driver.Connector }

func (c joinConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := dc.(sqliteConn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("sqlite connection %T lacks a method the writer needs", dc)
	}
	return &joinConn{sqliteConn: sc, stmts: map[string]*joinStmt{}}, nil
}

// openWriteDB opens the pool of the single write connection.
func openWriteDB(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(joinConnector{c}), nil
}
