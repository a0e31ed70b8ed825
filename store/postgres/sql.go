package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tortoise-dev/tortoise/store"
)

var _ store.SQLConsole = (*Store)(nil)

// codeReadOnlyTransaction is the error of a statement that would write in
// a READ ONLY transaction.
const codeReadOnlyTransaction = "25006"

// ConsoleQuery runs one read-only statement of the SQL console in a READ
// ONLY transaction bounded by the read timeout (statement_timeout), which
// it then rolls back, on a connection it then closes, so nothing the
// statement does stays: PostgreSQL refuses writes in it, SET and the like
// end with the transaction, and anything held by the session with it.
//
// The statement is sent with the extended protocol, which carries one
// statement only, so text after a semicolon the parser missed could
// never run outside the transaction. A query is read through a cursor
// (DECLARE … FETCH maxRows+1), so the server computes and sends no more
// rows than are shown. Errors: see store.SQLConsole.
func (s *Store) ConsoleQuery(ctx context.Context, statement string, maxRows int) (*store.ConsoleResult, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	st, err := store.ParseConsoleStatement(store.Postgres, statement)
	if err != nil {
		return nil, err
	}
	maxRows = max(maxRows, 1)
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, s.connErr(ctx, err, "Failed to read from the database.")
	}
	// The connection leaves the pool for good: what a statement can do to
	// its session outside the transaction (a session advisory lock, say)
	// ends when it is closed, instead of reaching the store's next user.
	conn := pooled.Hijack()
	defer func() {
		// The server drops what the session held when its backend exits,
		// which may be after Close returns: session advisory locks are let
		// go here first, so the next statement never finds them held.
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(bg, "SELECT pg_advisory_unlock_all()")
		conn.Close(bg)
	}()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, s.connErr(ctx, err, "Failed to read from the database.")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if s.setTimeout != "" {
		if _, err := tx.Exec(ctx, s.setTimeout); err != nil {
			return nil, s.connErr(ctx, err, "Failed to read from the database.")
		}
	}
	if st.Kind != store.ConsoleSelect {
		return s.consoleText(ctx, tx, st.Text, maxRows)
	}
	// The newline keeps a trailing -- comment from swallowing what follows.
	declare := `DECLARE "_console" NO SCROLL CURSOR FOR ` + st.Text + "\n"
	if _, err := tx.Conn().PgConn().ExecParams(ctx, declare, nil, nil, nil, nil).Close(); err != nil {
		return nil, s.consoleErr(ctx, err)
	}
	return s.consoleText(ctx, tx, fmt.Sprintf(`FETCH FORWARD %d FROM "_console"`, maxRows+1), maxRows)
}

// consoleText runs text, one statement with no parameters, with the
// extended protocol and answers in text format: the values are written
// by PostgreSQL itself, as psql shows them.
func (s *Store) consoleText(ctx context.Context, tx pgx.Tx, text string, maxRows int) (*store.ConsoleResult, error) {
	rr := tx.Conn().PgConn().ExecParams(ctx, text, nil, nil, nil, nil)
	fields := rr.FieldDescriptions()
	res := &store.ConsoleResult{Columns: make([]store.ConsoleColumn, len(fields)), Rows: [][]any{}}
	types := tx.Conn().TypeMap()
	for i, f := range fields {
		res.Columns[i] = store.ConsoleColumn{Name: f.Name, Nullable: true}
		if t, ok := types.TypeForOID(f.DataTypeOID); ok {
			res.Columns[i].Type = t.Name
		}
	}
	size := 0
	for rr.NextRow() {
		if res.Truncated || len(res.Rows) == maxRows {
			res.Truncated = true
			continue // Close would read the rest anyway
		}
		vals := rr.Values()
		row := make([]any, len(vals))
		for i, v := range vals {
			if v != nil {
				row[i] = string(v)
				size += store.ConsoleSize(row[i])
			}
		}
		if size > store.ConsoleMaxBytes {
			// The row that would pass the bound is left out, as on SQLite.
			res.Truncated = true
			continue
		}
		res.Rows = append(res.Rows, row)
	}
	if _, err := rr.Close(); err != nil {
		return nil, s.consoleErr(ctx, err)
	}
	return res, nil
}

// consoleErr maps a console statement's failure: a write the READ ONLY
// transaction refused, the read timeout, a lost or overloaded server as
// connErr does, and any other error of the server about the statement
// (syntax, an unknown table, a missing privilege, a cursor that cannot
// hold a data-modifying WITH) shown to the superuser.
func (s *Store) consoleErr(ctx context.Context, err error) error {
	e := pgError(err)
	if e == nil || ctx.Err() != nil {
		return s.connErr(ctx, err, "Failed to read from the database.")
	}
	switch {
	case e.Code == codeReadOnlyTransaction:
		ce := *store.ErrConsoleWrite
		ce.Err = err
		return &ce
	case e.Code == codeQueryCanceled:
		return store.ReadTimeoutError(err)
	case strings.HasPrefix(e.Code, "08"), strings.HasPrefix(e.Code, "53"), strings.HasPrefix(e.Code, "57"),
		strings.HasPrefix(e.Code, "58"), strings.HasPrefix(e.Code, "XX"), e.Code == "40001", e.Code == "40P01":
		return s.connErr(ctx, err, "Failed to read from the database.")
	}
	msg := e.Message
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return store.ConsoleError(err, fmt.Sprintf("%s (SQLSTATE %s)", msg, e.Code))
}
