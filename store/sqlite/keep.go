package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	sqlite "modernc.org/sqlite"
)

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

// keptConn is an SQLite connection that keeps the statements of
// QueryContext and ExecContext prepared, for code that speaks
// database/sql with query text each time. River's queries are long, and
// modernc.org/sqlite took longer to parse them than to run them: a job's
// completion cost about 700 µs, nearly all of it parsing. The store's own
// statements are prepared once already (wstmt). A statement whose rows
// are still open is not reused (a second one is prepared meanwhile). A
// text of several statements is kept too: the driver then parses each
// statement as it runs it, as it would unprepared. Like any driver.Conn it is used by one
// goroutine at a time.
type keptConn struct {
	sqliteConn
	stmts map[string]*joinStmt
}

func newKeptConn(c sqliteConn) *keptConn {
	return &keptConn{sqliteConn: c, stmts: map[string]*joinStmt{}}
}

// openKeptDB opens a database/sql pool whose connections keep their
// statements; wrap may dress each connection further.
func openKeptDB(dsn string, wrap func(*keptConn) driver.Conn) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(keptConnector{c, wrap}), nil
}

type keptConnector struct {
	driver.Connector
	wrap func(*keptConn) driver.Conn
}

func (c keptConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := dc.(sqliteConn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("sqlite connection %T lacks a method the store needs", dc)
	}
	kc := newKeptConn(sc)
	if c.wrap != nil {
		return c.wrap(kc), nil
	}
	return kc, nil
}

type joinStmt struct {
	st    driver.Stmt
	inUse bool
}

// maxCachedStmts bounds the statements kept; beyond it they are dropped.
const maxCachedStmts = 64

func (c *keptConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, own, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case own != nil:
		rows, err := own.(driver.StmtQueryContext).QueryContext(ctx, args)
		if err != nil {
			own.Close()
			return nil, err
		}
		return &ownRows{Rows: rows, st: own}, nil
	}
	rows, err := cs.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.inUse = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

// ExecContext runs kept statements too: the writer's own BEGIN, SAVEPOINT
// and COMMIT, and the job inserts of jobs/sqlite_insert.go.
func (c *keptConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, own, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case own != nil:
		defer own.Close()
		return own.(driver.StmtExecContext).ExecContext(ctx, args)
	}
	return cs.st.(driver.StmtExecContext).ExecContext(ctx, args)
}

// stmt finds or prepares the statement for query: kept (cs), or one of
// its own (own) when the kept one's rows are still open.
func (c *keptConn) stmt(ctx context.Context, query string) (cs *joinStmt, own driver.Stmt, err error) {
	cs = c.stmts[query]
	if cs != nil && !cs.inUse {
		return cs, nil, nil
	}
	st, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	if cs != nil { // in use: a statement for this query alone
		return nil, st, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		c.dropStmts()
	}
	cs = &joinStmt{st: st}
	c.stmts[query] = cs
	return cs, nil, nil
}

func (c *keptConn) dropStmts() {
	for q, cs := range c.stmts {
		if !cs.inUse {
			cs.st.Close()
			delete(c.stmts, q)
		}
	}
}

func (c *keptConn) Close() error {
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
