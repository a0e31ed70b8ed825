package jobs

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// River's SQLite insert takes every batch as one JSON array, unpacks it
// with json_each and json_extract, guards uniqueness with ON CONFLICT and
// returns whole rows: about 130 µs on the single writer for one job,
// twice what the record write that enqueued it costs. A job without
// uniqueness needs none of that, so on SQLite those are inserted with one
// prepared statement of ours, into River's own table and columns, written
// the way River's driver writes them (times as "2006-01-02
// 15:04:05.000", JSON as jsonb). Unique jobs keep River's insert, which
// owns the unique key's format. TestLeanInsertMatchesRiver holds the two
// to the same rows.

const sqliteLeanInsert = `INSERT INTO river_job (args, created_at, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags)
VALUES (jsonb(?), ?, ?, ?, jsonb('{}'), ?, ?, ?, ?, jsonb(?))`

// sqliteTime is how River's SQLite driver writes and compares times.
const sqliteTime = "2006-01-02 15:04:05.000"

// leanInsertable: no insert in ins needs River's unique handling.
func leanInsertable(ins []insert) bool {
	for _, in := range ins {
		if in.opts.Unique != nil {
			return false
		}
	}
	return true
}

// sqliteInsertLean inserts ins in tx, which must be a write call of the
// SQLite store.
func sqliteInsertLean(ctx context.Context, stx store.Tx, ins []insert) ([]*Enqueued, error) {
	tx, err := sqliteTx(ctx, stx)
	if err != nil {
		return nil, err
	}
	out := make([]*Enqueued, len(ins))
	for i, in := range ins {
		row, err := sqliteRowOf(in)
		if err != nil {
			return nil, err
		}
		res, err := tx.ExecContext(ctx, sqliteLeanInsert, []byte(in.args), row.created.Format(sqliteTime), in.kind.Name,
			in.opts.MaxAttempts, in.opts.Priority, in.opts.Queue, row.scheduled.Format(sqliteTime), in.state(), row.rawTags)
		if err != nil {
			return nil, core.Internal(err, "Failed to enqueue the job.")
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, core.Internal(err, "Failed to enqueue the job.")
		}
		j := &Job{ID: id, Kind: in.kind.Name, Args: in.args, State: in.state(), Queue: in.opts.Queue,
			Priority: in.opts.Priority, MaxAttempts: in.opts.MaxAttempts, Tags: in.tags(), Errors: []AttemptError{},
			CreatedAt: row.created, ScheduledAt: row.scheduled}
		out[i] = &Enqueued{Job: j}
	}
	return out, nil
}

// sqliteRow is what a job's row holds besides its options, state and
// tags (insert's methods), as River's SQLite driver writes it.
type sqliteRow struct {
	created, scheduled time.Time // to the millisecond River keeps
	rawTags            []byte    // the tags as JSON
}

func sqliteRowOf(in insert) (sqliteRow, error) {
	var row sqliteRow
	var err error
	if row.rawTags, err = json.Marshal(in.tags()); err != nil {
		return row, core.Internal(err, "Failed to enqueue the job.")
	}
	row.created = time.Now().UTC().Round(time.Millisecond)
	row.scheduled = row.created
	if !in.opts.RunAt.IsZero() {
		row.scheduled = in.opts.RunAt.UTC().Round(time.Millisecond)
	}
	return row, nil
}
