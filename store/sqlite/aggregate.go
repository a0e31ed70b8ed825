package sqlite

import (
	"context"
	"database/sql"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

var _ store.Aggregator = (*Store)(nil)

// Aggregate runs an aggregate query on a read connection, the count of
// groups and the page in one read transaction.
//
// Its statements are not kept in the shared statement cache: their text
// varies with every grouping a client asks for, and filling the cache
// would evict the list statements it is there for. They are prepared on
// the transaction's own connection, so no second connection is waited
// for. The page is computed whole in its first step (a materialized CTE,
// see pageSQL), where the driver can still interrupt it at the read
// timeout; a grouping read through an index would otherwise produce its
// rows one step at a time, past the deadline.
// Errors: see store.Aggregator.
func (s *Store) Aggregate(ctx context.Context, q store.AggregateQuery) (*store.AggregateResult, error) {
	if q.Collection == nil {
		return nil, errNoCollection
	}
	if s.isClosed() {
		return nil, errClosed
	}
	st, err := store.AggregateSQL(store.SQLite, q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, s.readErr(ctx, err)
	}
	defer tx.Rollback() // a no-op after Commit
	res := &store.AggregateResult{Total: -1, Rows: [][]any{}}
	if q.WithTotal {
		res.Total = 1
		if st.Count != "" {
			var n int64
			if err := tx.QueryRowContext(ctx, st.Count, st.CountArgs...).Scan(&n); err != nil {
				return nil, s.findErr(ctx, err)
			}
			res.Total = int(n)
		}
	}
	rows, err := tx.QueryContext(ctx, `WITH "_agg" AS MATERIALIZED (`+st.Rows+`) SELECT * FROM "_agg"`, st.RowsArgs...)
	if err != nil {
		return nil, s.findErr(ctx, err)
	}
	if res.Rows, err = scanAggregate(rows, len(q.Groups)+len(q.Values)); err != nil {
		return nil, s.findErr(ctx, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.readErr(ctx, err)
	}
	return res, nil
}

// scanAggregate reads the rows of an aggregate query of n columns.
func scanAggregate(rows *sql.Rows, n int) ([][]any, error) {
	defer rows.Close()
	out := [][]any{}
	for rows.Next() {
		row := make([]any, n)
		ptrs := make([]any, n)
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range row {
			x, err := store.AggregateScanValue(v)
			if err != nil {
				return nil, core.Internal(err, "Failed to read the aggregate.")
			}
			row[i] = x
		}
		out = append(out, row)
	}
	return out, rows.Err()
}
