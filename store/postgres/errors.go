package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

var errUnavailable = "The database is unavailable, please try again."

// codeQueryCanceled is the code of a statement the server canceled, which
// statement_timeout does.
const codeQueryCanceled = "57014"

// connErr maps an engine failure: the caller's context ending and a closed
// store keep their meaning, lost connections and an overloaded or
// restarting server are KindUnavailable, the rest is internal.
func (s *Store) connErr(ctx context.Context, err error, msg string) error {
	if core.AsError(err) != nil {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(context.Cause(ctx), store.ErrReadTimeout) {
			// A caller's read budget (api: the reads behind one answer)
			// ran out: the read timeout's 503, as for a statement stopped
			// by statement_timeout.
			return store.ReadTimeoutError(err)
		}
		return ctxErr
	}
	if s.closed.Load() {
		return errClosed
	}
	if e := pgError(err); e != nil {
		switch {
		case missingObject(e):
			return store.CollectionChangedError(err)
		case strings.HasPrefix(e.Code, "08"), // connection exception
			strings.HasPrefix(e.Code, "53"),      // insufficient resources
			strings.HasPrefix(e.Code, "57"),      // operator intervention (shutdown)
			e.Code == "40001", e.Code == "40P01": // serialization failure, deadlock
			return &core.Error{Kind: core.KindUnavailable, Message: errUnavailable, Err: err}
		}
		return core.Internal(err, "%s", msg)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) {
		return &core.Error{Kind: core.KindUnavailable, Message: errUnavailable, Err: err}
	}
	return core.Internal(err, "%s", msg)
}

// missingObject reports PostgreSQL's error for a table or column that is
// not there (undefined_table, undefined_column; see
// store.ErrMissingObject).
func missingObject(e *pgconn.PgError) bool {
	return e.Code == codeUndefinedTable || e.Code == codeUndefinedColumn
}

const (
	codeUndefinedTable  = "42P01"
	codeUndefinedColumn = "42703"
	codeOutOfRange      = "22003" // numeric_value_out_of_range: a sum past double's range
)

// findErr is connErr for queries carrying caller fragments: a statement
// the server canceled (query_canceled: the read timeout) is
// KindUnavailable; a syntax error or access rule violation (class 42:
// unknown column, wrong operator) or a data exception (class 22: a value
// that does not fit) is bad input.
func (s *Store) findErr(ctx context.Context, err error) error {
	if e := pgError(err); e != nil && ctx.Err() == nil {
		if e.Code == codeQueryCanceled {
			return store.ReadTimeoutError(err)
		}
		switch {
		case e.Code == codeUndefinedTable: // a table is a collection's (store.ErrMissingObject)
			return store.CollectionChangedError(err)
		case e.Code == codeUndefinedColumn: // a column may be the fragment's own mistake
			return store.MissingObjectInFragment(err)
		}
		if strings.HasPrefix(e.Code, "42") || strings.HasPrefix(e.Code, "22") {
			return &core.Error{Kind: core.KindInvalid, Message: "Invalid filter or sort.", Err: err}
		}
	}
	return s.connErr(ctx, err, "Failed to read from the database.")
}

// recordErr maps a failed insert or update. A unique violation names its
// constraint: one of the collection's unique indexes, or else the primary
// key (the only other unique constraint of a collection's table).
func (s *Store) recordErr(ctx context.Context, c *core.Collection, err error, msg string) error {
	if e := pgError(err); e != nil && ctx.Err() == nil {
		switch {
		case e.Code == codeUniqueViolation:
			if cols := store.UniqueColumns(store.StoredIndexes(c), e.ConstraintName); cols != nil {
				return store.NotUnique(err, cols...)
			}
			return store.NotUnique(err, "id")
		case strings.HasPrefix(e.Code, "22"): // e.g. a NUL byte in text
			return &core.Error{Kind: core.KindInvalid, Message: "Failed to validate the submitted data.", Err: err}
		}
	}
	return s.connErr(ctx, err, msg)
}
