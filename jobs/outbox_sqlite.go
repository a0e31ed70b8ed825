package jobs

import (
	"context"
	"database/sql"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// SQLite's outbox (outbox.go) is a plain rowid table with its JSON kept as
// text. A move waits for the store's writer like any write, so it runs
// after the writes it moves have committed.

const sqliteOutboxSchema = `CREATE TABLE IF NOT EXISTS _jobs_outbox (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	queue TEXT NOT NULL,
	priority INTEGER NOT NULL,
	max_attempts INTEGER NOT NULL,
	state TEXT NOT NULL,
	created_at TEXT NOT NULL,
	scheduled_at TEXT NOT NULL,
	args TEXT NOT NULL,
	tags TEXT NOT NULL
)`

const sqliteOutboxInsert = `INSERT INTO _jobs_outbox (kind, queue, priority, max_attempts, state, created_at, scheduled_at, args, tags)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// sqliteOutboxMove writes the rows up to an id as sqliteLeanInsert writes
// one job, in the order they were deferred.
const sqliteOutboxMove = `INSERT INTO river_job (args, created_at, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags)
SELECT jsonb(args), created_at, kind, max_attempts, jsonb('{}'), priority, queue, scheduled_at, state, jsonb(tags)
FROM _jobs_outbox WHERE id <= ? ORDER BY id`

// sqliteOutbox is the outbox in the SQLite store st.
type sqliteOutbox struct{ st store.Store }

func (o sqliteOutbox) create(ctx context.Context) error {
	return o.st.Update(ctx, func(stx store.Tx) error {
		tx, err := sqliteTx(ctx, stx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqliteOutboxSchema); err != nil {
			return core.Internal(err, "Failed to create the jobs' outbox.")
		}
		return nil
	})
}

func (o sqliteOutbox) add(ctx context.Context, stx store.Tx, ins []insert, poke func()) error {
	tx, err := sqliteTx(ctx, stx)
	if err != nil {
		return err
	}
	for _, in := range ins {
		row, err := sqliteRowOf(in)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, sqliteOutboxInsert, in.kind.Name, in.opts.Queue, in.opts.Priority, in.opts.MaxAttempts,
			in.state(), row.created.Format(sqliteTime), row.scheduled.Format(sqliteTime), string(in.args), string(row.rawTags))
		if err != nil {
			return core.Internal(err, "Failed to enqueue the job.")
		}
	}
	// The move waits for the writer, so it runs after this write commits
	// (or in the same group commit, after it): it never sees a row this
	// write could still take back.
	poke()
	return nil
}

func (o sqliteOutbox) take(ctx context.Context) (int64, error) {
	var n int64
	err := o.st.Update(ctx, func(stx store.Tx) error {
		n = 0
		tx, err := sqliteTx(ctx, stx)
		if err != nil {
			return err
		}
		var last sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT max(id) FROM (SELECT id FROM _jobs_outbox ORDER BY id LIMIT ?)`, outboxBatch).Scan(&last)
		if err != nil {
			return core.Internal(err, "Failed to read the jobs' outbox.")
		}
		if !last.Valid {
			return nil
		}
		res, err := tx.ExecContext(ctx, sqliteOutboxMove, last.Int64)
		if err != nil {
			return core.Internal(err, "Failed to move deferred jobs into the queue.")
		}
		if n, err = res.RowsAffected(); err != nil {
			return core.Internal(err, "Failed to move deferred jobs into the queue.")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM _jobs_outbox WHERE id <= ?`, last.Int64); err != nil {
			return core.Internal(err, "Failed to move deferred jobs into the queue.")
		}
		return nil
	})
	return n, err
}
