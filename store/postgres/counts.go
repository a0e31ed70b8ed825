package postgres

import (
	"context"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// Exact unfiltered totals without a scan.
//
// COUNT(*) on PostgreSQL visits every row (MVCC keeps no row count), so a
// list page with its total costs a scan of the collection. Instead each
// base and auth collection's count lives in _counts (migration
// 0003_counts), kept by triggers on its table in the same transaction as
// every insert, delete and truncate, whoever runs them: this process,
// another Tortoise process, or psql. A count is therefore exactly as
// transactional as the rows: a rolled-back transaction or savepoint takes
// its count change with it, and a snapshot sees the count of its rows.
//
// Long transactions (migration 0004_counts_at_commit): a transaction's
// first counting statement per collection writes its shard; later ones
// sum their changes in a transaction-local setting, written once at
// commit by a deferred trigger. Updating one row once per statement would
// make a transaction of n statements cost n² (each update walks the row's
// versions the transaction made). Reads inside the transaction add the
// pending sum (_tortoise_count_pending).
//
// Concurrency: a count is split over 16 shard rows summed on read. A
// transaction adds its changes to one shard, preferring the one its
// backend's pid picks and skipping (SKIP LOCKED) shards other
// transactions hold until they commit, so concurrent writers to one
// collection do not queue behind one row lock, and two transactions that
// write to the same two collections in opposite orders do not deadlock
// on counters unless more than 16 of them are writing to a collection at
// once (then a writer waits for its own shard, as a plain counter would).
//
// What a reader sees: Find outside a transaction reads the page and
// SUM(n) in one REPEATABLE READ snapshot, so the total is that of the
// page's rows. Inside Update (READ COMMITTED) each statement takes its own
// snapshot, so the total may differ from the page by the writes other
// transactions committed between the two statements, as COUNT(*) in two
// statements did; the transaction's own changes are always included.
//
// Shards are keyed by collection id, so a renamed collection keeps its
// count and its triggers (which name the id) go on working; dropping the
// table drops its triggers, and DeleteCollection drops the count. View
// collections have no table and keep COUNT(*) over their view.

// countSQL is the unfiltered total of a collection with a table. Should its
// counter rows be missing (a table created around the store), COALESCE
// falls back to COUNT(*), which it evaluates only then.
func countSQL(c *core.Collection) string {
	return `SELECT COALESCE((SELECT SUM("n") FROM _counts WHERE "collection" = $1)::bigint + _tortoise_count_pending($1), (SELECT COUNT(*)` +
		store.FromClause(c) + `))`
}

// counted reports whether c's unfiltered total comes from _counts.
func counted(q store.Query) bool {
	return !q.Collection.IsView() && (q.Where == nil || strings.TrimSpace(q.Where.Text) == "")
}

// attachCount creates the counting triggers of c's table, just created,
// and its counter rows.
func (t *tx) attachCount(ctx context.Context, c *core.Collection) error {
	if _, err := t.tx.Exec(ctx, `SELECT _tortoise_count_attach($1, $2)`, c.ID, c.Name); err != nil {
		return t.s.connErr(ctx, err, "Failed to create the collection's table.")
	}
	return nil
}

// detachCount drops the count of c, whose table is dropped.
func (t *tx) detachCount(ctx context.Context, c *core.Collection) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM _counts WHERE "collection" = $1`, c.ID); err != nil {
		return t.s.connErr(ctx, err, "Failed to drop the collection's table.")
	}
	return nil
}
