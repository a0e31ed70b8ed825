package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

var _ store.SQLConsole = (*Store)(nil)

// ConsoleQuery runs one read-only statement of the SQL console.
//
// It opens a connection of its own for each statement, so nothing the
// statement does to its connection reaches the store's readers, and
// closes it afterwards. The connection opens the file read-only
// (mode=ro), with query_only set, and an authorizer that lets SQLite
// compile reads only (SELECT, reading tables, functions, recursive CTEs
// and the read-only PRAGMAs): anything that would write, attach another
// file or change a setting fails to compile, so it never starts.
//
// A query's rows are computed in one materialized step with a LIMIT of
// maxRows+1, because the driver interrupts a statement at its deadline
// only while it produces its first row (see pageSQL). EXPLAIN and PRAGMA
// run as they are; they produce little. Errors: see store.SQLConsole.
func (s *Store) ConsoleQuery(ctx context.Context, statement string, maxRows int) (*store.ConsoleResult, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	st, err := store.ParseConsoleStatement(store.SQLite, statement)
	if err != nil {
		return nil, err
	}
	maxRows = max(maxRows, 1)
	text := st.Text
	if st.Kind == store.ConsoleSelect {
		// The newline keeps a trailing -- comment from swallowing the ")".
		text = fmt.Sprintf(`WITH "_console" AS MATERIALIZED (SELECT * FROM (%s
) LIMIT %d) SELECT * FROM "_console"`, text, maxRows+1)
	}

	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	dsn, err := consoleDSN(s.path)
	if err != nil {
		return nil, core.Internal(err, "Failed to open the database for the SQL console.")
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, core.Internal(err, "Failed to open the database for the SQL console.")
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, s.readErr(ctx, err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		a, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return fmt.Errorf("the sqlite driver has no authorizer")
		}
		return a.RegisterAuthorizer(consoleAuthorizer)
	})
	if err == nil {
		// No value may outgrow what the answer can carry: SQLite would
		// build it whole first (zeroblob(300000000) took 1.8 GB).
		_, err = sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_LENGTH, store.ConsoleMaxBytes)
	}
	if err != nil {
		return nil, core.Internal(err, "Failed to prepare the SQL console's connection.")
	}
	rows, err := conn.QueryContext(ctx, text)
	if err != nil {
		return nil, s.consoleErr(ctx, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, s.consoleErr(ctx, err)
	}
	res := &store.ConsoleResult{Columns: make([]store.ConsoleColumn, len(types)), Rows: [][]any{}}
	for i, ct := range types {
		nullable, known := ct.Nullable()
		res.Columns[i] = store.ConsoleColumn{Name: ct.Name(), Type: ct.DatabaseTypeName(), Nullable: nullable || !known}
	}
	cols := res.Columns
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	size := 0
	for rows.Next() {
		if len(res.Rows) == maxRows {
			res.Truncated = true
			break
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, s.consoleErr(ctx, err)
		}
		row := make([]any, len(cols))
		for i, v := range vals {
			row[i] = store.ConsoleText(v)
			size += store.ConsoleSize(row[i])
		}
		if size > store.ConsoleMaxBytes {
			res.Truncated = true
			break
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, s.consoleErr(ctx, err)
	}
	return res, nil
}

// consoleDSN opens the database file at path read-only through a URI
// (the driver honours mode=ro only in that form).
func consoleDSN(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String(), nil
}

// consoleAuthorizer lets SQLite compile reads only.
func consoleAuthorizer(action sqlite.AuthorizerActionCode, arg1, arg2, _, _ string) sqlite.AuthorizerReturnCode {
	switch action {
	case sqlite.AuthSelect, sqlite.AuthRead, sqlite.AuthRecursive:
		return sqlite.AuthorizerOK
	case sqlite.AuthFunction:
		if strings.EqualFold(arg2, "load_extension") {
			return sqlite.AuthorizerDeny
		}
		return sqlite.AuthorizerOK
	case sqlite.AuthPragma:
		name := strings.ToLower(arg1)
		if listPragmas[name] || readPragmas[name] && arg2 == "" {
			return sqlite.AuthorizerOK
		}
	}
	return sqlite.AuthorizerDeny
}

// listPragmas are PRAGMAs whose argument names what to list, never a new
// value; readPragmas read a setting when given no argument and would
// change it when given one.
var (
	listPragmas = map[string]bool{
		"table_info": true, "table_xinfo": true, "table_list": true, "index_list": true,
		"index_info": true, "index_xinfo": true, "foreign_key_list": true, "database_list": true,
		"collation_list": true, "function_list": true, "module_list": true, "pragma_list": true,
		"compile_options": true,
	}
	readPragmas = map[string]bool{
		"page_count": true, "page_size": true, "freelist_count": true, "user_version": true,
		"application_id": true, "encoding": true, "journal_mode": true, "foreign_keys": true,
		"data_version": true, "schema_version": true, "auto_vacuum": true,
	}
)

// consoleErr maps a console statement's failure: one the authorizer or
// the read-only connection refused is a write refused; SQLite's error
// about the statement itself (syntax, an unknown table or column, a
// wrong argument) is shown to the superuser; the rest as reads are.
func (s *Store) consoleErr(ctx context.Context, err error) error {
	if code, ok := sqliteCode(err); ok && ctx.Err() == nil {
		switch code & 0xff {
		case sqlite3.SQLITE_AUTH, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			e := *store.ErrConsoleWrite
			e.Err = err
			return &e
		case sqlite3.SQLITE_ERROR, sqlite3.SQLITE_RANGE, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_CONSTRAINT:
			return store.ConsoleError(err, consoleMessage(err))
		}
	}
	return s.readErr(ctx, err)
}

// consoleMessage is SQLite's message, such as "SQL logic error: no such
// table: x (1)".
func consoleMessage(err error) string {
	return strings.TrimSpace(err.Error())
}
