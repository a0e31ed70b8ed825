package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

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
type joinConn struct{ sqliteConn }

func (joinConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) { return joinedTx{}, nil }

//lint:ignore SA1019 database/sql calls BeginTx; Begin completes driver.Conn.
func (joinConn) Begin() (driver.Tx, error) { return joinedTx{}, nil }

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
	return joinConn{sc}, nil
}

// openWriteDB opens the pool of the single write connection.
func openWriteDB(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(joinConnector{c}), nil
}
