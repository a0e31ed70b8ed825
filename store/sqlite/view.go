package sqlite

import (
	"context"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// dropViews drops every view, ahead of a schema change (see store/view.go).
func (t *writeTx) dropViews() error {
	rows, err := t.s.wconn.QueryContext(bg, `SELECT name FROM sqlite_master WHERE type = 'view'`)
	if err != nil {
		return t.s.writeErr(err, "Failed to list the views.")
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return t.s.writeErr(err, "Failed to list the views.")
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if _, err := t.s.wexec("DROP VIEW IF EXISTS " + store.QuoteIdent(n)); err != nil {
			return t.s.writeErr(err, "Failed to drop a view.")
		}
	}
	return nil
}

// createViews creates the view of every view collection as the
// transaction now stores them, and reads each once, so a view whose
// query no longer works fails the change that broke it.
func (t *writeTx) createViews() error {
	rows, err := t.s.wconn.QueryContext(bg, `SELECT data FROM _collections ORDER BY rowid`)
	if err != nil {
		return t.s.writeErr(err, "Failed to read the collections.")
	}
	var cols []*core.Collection
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			rows.Close()
			return t.s.writeErr(err, "Failed to read the collections.")
		}
		c, err := core.LoadStoredJSON([]byte(data))
		if err != nil {
			rows.Close()
			return core.Internal(err, "Failed to load a collection definition.")
		}
		cols = append(cols, c)
	}
	rows.Close()
	for _, v := range store.ViewsOf(cols) {
		if _, err := t.s.wexec(store.CreateViewSQL(store.SQLite, v, v.Name)); err != nil {
			return viewErr(v, err)
		}
		if _, err := t.s.wexec("SELECT * FROM " + store.QuoteIdent(v.Name) + " LIMIT 0"); err != nil {
			return viewErr(v, err)
		}
	}
	return nil
}

// viewErr reports a view the database refuses after a schema change.
func viewErr(v *core.Collection, err error) error {
	return core.FieldInvalid("viewQuery", "validation_invalid_view_query",
		`The view query of "`+v.Name+`" does not work: `+sqliteMessage(err)+".")
}

// sqliteMessage is the database's own words, without the driver's prefix.
func sqliteMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "SQL logic error: "); i >= 0 {
		msg = msg[i+len("SQL logic error: "):]
	}
	return strings.TrimSuffix(msg, " (1)")
}

// ViewColumns returns the names of the columns query yields, running it
// (with no rows) on a read-only connection, so a query that would write
// is refused. Errors: KindInvalid naming what the database refused.
func (s *Store) ViewColumns(ctx context.Context, query string) ([]string, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		return nil, s.readErr(ctx, err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "SELECT * FROM ("+query+") LIMIT 0")
	if err != nil {
		return nil, queryErr(err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, queryErr(err)
	}
	return names, nil
}

func queryErr(err error) error {
	return core.FieldInvalid("viewQuery", "validation_invalid_view_query", "The view query does not work: "+sqliteMessage(err)+".")
}
