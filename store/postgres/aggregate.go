package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

var _ store.Aggregator = (*Store)(nil)

// Aggregate runs an aggregate query in a read transaction whose
// statements are bounded by the read timeout (statement_timeout); the
// count of groups and the page come from its one snapshot.
// Errors: see store.Aggregator.
func (s *Store) Aggregate(ctx context.Context, q store.AggregateQuery) (*store.AggregateResult, error) {
	if q.Collection == nil {
		return nil, errNoCollection
	}
	if s.closed.Load() {
		return nil, errClosed
	}
	res, err := s.aggregate(ctx, q)
	if isOverflow(err) && !q.ExactSums {
		// A double precision sum went past the largest number: add in
		// numeric this time (slower, so not the first time).
		q.ExactSums = true
		res, err = s.aggregate(ctx, q)
	}
	if err != nil {
		return nil, s.findErr(ctx, err)
	}
	return res, nil
}

// isOverflow reports whether err is PostgreSQL's numeric_value_out_of_range.
func isOverflow(err error) bool {
	e := pgError(err)
	return e != nil && e.Code == codeOutOfRange
}

func (s *Store) aggregate(ctx context.Context, q store.AggregateQuery) (*store.AggregateResult, error) {
	st, err := store.AggregateSQL(store.Postgres, q)
	if err != nil {
		return nil, err
	}
	text, next := store.NumberPlaceholders(st.Rows, 1)
	if next-1 != len(st.RowsArgs) {
		return nil, core.Internal(nil, "aggregate: %d placeholders for %d arguments", next-1, len(st.RowsArgs))
	}
	res := &store.AggregateResult{Total: -1}
	page := step{sql: text, args: st.RowsArgs, rows: aggregateInto(&res.Rows, len(q.Groups)+len(q.Values))}
	switch {
	case q.WithTotal && st.Count != "":
		count, _ := store.NumberPlaceholders(st.Count, 1)
		var n int64
		err = s.snapshot(ctx, step{sql: count, args: st.CountArgs, rows: scanInto(&n)}, page)
		res.Total = int(n)
	case q.WithTotal:
		res.Total = 1 // no groups: one row over all records
		err = s.snapshot(ctx, page)
	default:
		err = s.snapshot(ctx, page)
	}
	if err != nil {
		return nil, err
	}
	if res.Rows == nil {
		res.Rows = [][]any{}
	}
	return res, nil
}

// aggregateInto reads the rows of an aggregate query of n columns.
func aggregateInto(out *[][]any, n int) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		defer rows.Close()
		*out = [][]any{}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			if len(vals) != n {
				return core.Internal(nil, "aggregate: %d columns, want %d", len(vals), n)
			}
			for i, v := range vals {
				if vals[i], err = store.AggregateScanValue(v); err != nil {
					return core.Internal(err, "Failed to read the aggregate.")
				}
			}
			*out = append(*out, vals)
		}
		return rows.Err()
	}
}
