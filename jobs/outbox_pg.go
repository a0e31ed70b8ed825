package jobs

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
)

// PostgreSQL's outbox (outbox.go) has only its key for an index, where
// River's table has five, two of them GIN over every key and value of the
// args. Its row is written in the round trip the store makes anyway just
// before COMMIT (store/postgres's AtCommit), with River's column types and
// checks, so a job that River's table would refuse fails its write, as
// River's insert would, rather than the move. The move runs once the write
// has committed; it takes rows with SKIP LOCKED, so the processes on one
// database move disjoint batches, and it tells River's workers on every
// process of the queues it filled. Every process also sweeps the outbox
// now and then for rows a process that died left behind.

const pgOutboxSchema = `CREATE TABLE IF NOT EXISTS _jobs_outbox (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind text NOT NULL CHECK (char_length(kind) > 0 AND char_length(kind) < 128),
	queue text NOT NULL CHECK (char_length(queue) > 0 AND char_length(queue) < 128),
	priority smallint NOT NULL CHECK (priority >= 1 AND priority <= 4),
	max_attempts smallint NOT NULL CHECK (max_attempts > 0),
	state text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	scheduled_at timestamptz NOT NULL,
	args jsonb NOT NULL,
	tags varchar(255)[] NOT NULL
)`

// pgOutboxInsert writes a job as pgLeanInsert would, times from the
// database's now() unless it runs later.
const pgOutboxInsert = `INSERT INTO _jobs_outbox (kind, queue, priority, max_attempts, state, scheduled_at, args, tags)
VALUES ($1, $2, $3, $4, $5::river_job_state, coalesce($6::timestamptz, now()), $7::jsonb, $8::varchar(255)[])`

// pgOutboxMove moves the oldest rows no other process is moving into
// River's table, in the order they were deferred, and sends River's insert
// notification once per queue it filled.
const pgOutboxMove = `WITH taken AS (
	DELETE FROM _jobs_outbox
	WHERE id IN (SELECT id FROM _jobs_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
	RETURNING *
), job AS (
	INSERT INTO river_job (args, created_at, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags)
	SELECT args, created_at, kind, max_attempts, '{}'::jsonb, priority, queue, scheduled_at, state::river_job_state, tags
	FROM taken ORDER BY id
	RETURNING queue
)
SELECT coalesce(sum(n), 0)::bigint, count(pg_notify(current_schema() || '.river_insert', json_build_object('queue', q)::text)::text)
FROM (SELECT queue AS q, count(*) AS n FROM job GROUP BY queue) g`

// pgOutbox is the outbox in the PostgreSQL store st.
type pgOutbox struct{ st *postgres.Store }

func (o pgOutbox) create(ctx context.Context) error {
	// Processes starting together on one database would otherwise race
	// to create the table.
	err := pgx.BeginFunc(ctx, o.st.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('tortoise._jobs_outbox'))`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, pgOutboxSchema)
		return err
	})
	if err != nil {
		return core.Internal(err, "Failed to create the jobs' outbox.")
	}
	return nil
}

func (o pgOutbox) add(_ context.Context, stx store.Tx, ins []insert, poke func()) error {
	t, ok := stx.(interface {
		AtCommit(sql string, args ...any) error
		AfterCommit(fn func()) error
	})
	if !ok {
		return core.Invalid("DeferTx needs a transaction of the app's store.")
	}
	for _, in := range ins {
		if err := t.AtCommit(pgOutboxInsert, in.kind.Name, in.opts.Queue, in.opts.Priority, in.opts.MaxAttempts,
			in.state(), pgRunAt(in), string(in.args), in.tags()); err != nil {
			return err
		}
	}
	// Moving before the commit would find nothing to move.
	return t.AfterCommit(poke)
}

func (o pgOutbox) take(ctx context.Context) (int64, error) {
	var n, queues int64
	if err := o.st.Pool().QueryRow(ctx, pgOutboxMove, outboxBatch).Scan(&n, &queues); err != nil {
		return 0, core.Internal(err, "Failed to move deferred jobs into the queue.")
	}
	return n, nil
}
