package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
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

// joinConn is a write connection whose transactions join the writer's.
// It keeps its statements prepared (keptConn).
type joinConn struct {
	*keptConn
}

func (*joinConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	return joinedTx{}, nil
}

// Begin completes driver.Conn; database/sql calls BeginTx.
func (*joinConn) Begin() (driver.Tx, error) { return joinedTx{}, nil }

// joinedTx leaves the transaction to the writer.
type joinedTx struct{}

func (joinedTx) Commit() error   { return nil }
func (joinedTx) Rollback() error { return nil }

// openWriteDB opens the pool of the single write connection, whose
// transactions join the writer's.
func openWriteDB(dsn string) (*sql.DB, error) {
	return openKeptDB(dsn, func(c *keptConn) driver.Conn { return &joinConn{c} })
}
