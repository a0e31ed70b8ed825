package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// dropViews drops every view of the schema, ahead of a schema change (see
// store/view.go).
func (t *tx) dropViews(ctx context.Context) error {
	rows, err := t.tx.Query(ctx, `SELECT table_name FROM information_schema.views WHERE table_schema = current_schema()`)
	if err != nil {
		return t.s.connErr(ctx, err, "Failed to list the views.")
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return t.s.connErr(ctx, err, "Failed to list the views.")
	}
	for _, n := range names {
		if _, err := t.tx.Exec(ctx, "DROP VIEW IF EXISTS "+store.QuoteIdent(n)+" CASCADE"); err != nil {
			return t.s.connErr(ctx, err, "Failed to drop a view.")
		}
	}
	return nil
}

// createViews creates the view of every view collection as the
// transaction now stores them, so a view whose query no longer works
// fails the change that broke it.
func (t *tx) createViews(ctx context.Context) error {
	rows, err := t.tx.Query(ctx, `SELECT data FROM _collections ORDER BY seq`)
	if err != nil {
		return t.s.connErr(ctx, err, "Failed to read the collections.")
	}
	datas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return t.s.connErr(ctx, err, "Failed to read the collections.")
	}
	for _, d := range datas {
		c, err := core.LoadStoredJSON([]byte(d))
		if err != nil {
			return core.Internal(err, "Failed to load a collection definition.")
		}
		if !c.IsView() {
			continue
		}
		if _, err := t.tx.Exec(ctx, "SAVEPOINT view"); err != nil {
			return t.s.connErr(ctx, err, "Failed to create a view.")
		}
		if _, err := t.tx.Exec(ctx, store.CreateViewSQL(store.Postgres, c, c.Name)); err != nil {
			t.tx.Exec(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT view")
			return viewQueryErr(`The view query of "`+c.Name+`" does not work: `, err)
		}
		// Checked here too, as the view stands in the transaction: a view
		// imported with the collections it reads could not be tried
		// before they existed (ViewColumns, refuseVolatile).
		if err := t.s.volatileCalls(ctx, t.tx.Query, store.QuoteIdent(c.Name), `The view query of "`+c.Name+`"`); err != nil {
			return err
		}
		if _, err := t.tx.Exec(ctx, "RELEASE SAVEPOINT view"); err != nil {
			return t.s.connErr(ctx, err, "Failed to create a view.")
		}
	}
	return nil
}

// viewQueryErr reports what PostgreSQL refused in a view query.
func viewQueryErr(prefix string, err error) error {
	msg := err.Error()
	if e := pgError(err); e != nil {
		msg = e.Message
	}
	return core.FieldInvalid("viewQuery", "validation_invalid_view_query", prefix+msg+".")
}

// ViewColumns returns the names of the columns query yields, running it
// with no rows in a READ ONLY transaction under the read timeout, so a
// query that would write is refused.
func (s *Store) ViewColumns(ctx context.Context, query string) ([]string, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, s.connErr(ctx, err, "Failed to check the view query.")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if s.setTimeout != "" {
		if _, err := tx.Exec(ctx, s.setTimeout); err != nil {
			return nil, s.connErr(ctx, err, "Failed to check the view query.")
		}
	}
	rows, err := tx.Query(ctx, "SELECT * FROM ("+query+") AS _view LIMIT 0")
	if err != nil {
		return nil, viewQueryErr("The view query does not work: ", err)
	}
	defer rows.Close()
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		return nil, viewQueryErr("The view query does not work: ", err)
	}
	var names []string
	for _, f := range rows.FieldDescriptions() {
		if f.Name == searchColumn && f.DataTypeOID == tsvectorOID {
			continue // a searchable collection's index, never a field (search.go)
		}
		names = append(names, f.Name)
	}
	rows.Close()
	if err := s.refuseVolatile(ctx, query); err != nil {
		return nil, err
	}
	return names, nil
}

// refuseVolatile refuses a view query that calls a volatile function
// (set_config, nextval, pg_advisory_lock, pg_terminate_backend,
// pg_read_file, lo_import, …). A view runs its query at every read, on
// the pool's connections, where no read-only transaction rolled back
// undoes what it does: set_config('search_path', …, false) in one would
// break every later statement of each connection that read it. PostgreSQL
// stores a view's query tree, so the query is made a temporary view in a
// transaction that is rolled back, and the functions it calls are looked
// up there. Errors: KindInvalid naming "viewQuery".
func (s *Store) refuseVolatile(ctx context.Context, query string) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.connErr(ctx, err, "Failed to check the view query.")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if s.setTimeout != "" {
		if _, err := tx.Exec(ctx, s.setTimeout); err != nil {
			return s.connErr(ctx, err, "Failed to check the view query.")
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY VIEW "_view_check" AS SELECT * FROM (`+query+`) AS _view`); err != nil {
		return viewQueryErr("The view query does not work: ", err)
	}
	return s.volatileCalls(ctx, tx.Query, `pg_temp."_view_check"`, "The view query")
}

// volatileCallsSQL names the volatile functions the view $1 (a regclass
// text) calls. pg_depend leaves out the built-in functions (pinned
// objects), so they are read from the view's query tree, where each call
// names its function's oid.
const volatileCallsSQL = `SELECT DISTINCT p.proname::text FROM pg_rewrite r,
	regexp_matches(r.ev_action::text, ':(?:funcid|opfuncid|aggfnoid|winfnoid) (\d+)', 'g') AS m
	JOIN pg_proc p ON p.oid = m[1]::oid
	WHERE r.ev_class = $1::regclass AND p.provolatile = 'v' ORDER BY 1`

// volatileCalls refuses the view view (a regclass text) when its query
// calls a volatile function (see refuseVolatile); what names the query in
// the error.
func (s *Store) volatileCalls(ctx context.Context, query func(context.Context, string, ...any) (pgx.Rows, error), view, what string) error {
	rows, err := query(ctx, volatileCallsSQL, view)
	if err != nil {
		return s.connErr(ctx, err, "Failed to check the view query.")
	}
	volatile, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return s.connErr(ctx, err, "Failed to check the view query.")
	}
	if len(volatile) > 0 {
		return core.FieldInvalid("viewQuery", "validation_invalid_view_query",
			what+" calls "+strings.Join(volatile, ", ")+", which may change something or answer differently at each call: a view query only reads.")
	}
	return nil
}
