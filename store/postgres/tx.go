package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// tx is the store.Tx of one Update call.
type tx struct {
	s       *Store
	tx      pgx.Tx
	ctx     context.Context // Update's
	done    bool
	pending store.Pending // changes for the feed (feed.go)
	// atCommit are statements queued by AtCommit, sent with the feed's.
	atCommit []step
	// afterCommit are the functions AfterCommit was given.
	afterCommit []func()
}

// AtCommit queues a statement to run in the transaction after the Update
// function and the store's hooks, just before COMMIT, in the round trip
// that writes the change feed's row, so that it costs the write no round
// trip of its own (a job's insert sent on its own cost a webhook create
// through the API about a sixth more than sent here, docs/benchmarks.md).
// Rows it returns are ignored. If it fails, the
// whole write rolls back and Update returns the error. Code outside the
// store that needs nothing back from a statement (jobs' DeferTx) uses it.
func (t *tx) AtCommit(sql string, args ...any) error {
	if t.done {
		return errTxDone
	}
	t.atCommit = append(t.atCommit, step{sql: sql, args: args})
	return nil
}

// AfterCommit has fn called once the transaction has committed, before
// Update returns; it is never called for a write that rolls back or whose
// COMMIT fails. Code outside the store uses it to act on what the write
// made durable (jobs' outbox starts its move).
func (t *tx) AfterCommit(fn func()) error {
	if t.done {
		return errTxDone
	}
	t.afterCommit = append(t.afterCommit, fn)
	return nil
}

// PgxTx returns the call's transaction, for code outside the store that
// speaks pgx (River's driver inserts jobs with it), so that what it writes
// commits or rolls back with the call's other changes. It is valid until
// the Update function returns; do not commit or roll it back.
func (t *tx) PgxTx() pgx.Tx { return t.tx }

// before is the record as it is now, for the feed's "before" of an update
// or delete: the copy kept when the transaction read or wrote it, else
// read (and locked) now.
func (t *tx) before(ctx context.Context, c *core.Collection, id string) (*core.Record, error) {
	if old := t.pending.Before(c, id); old != nil {
		return old, nil
	}
	return t.Get(ctx, c, id)
}

// check refuses to start a statement once the call is over or its
// context (or Update's) has ended.
func (t *tx) check(ctx context.Context) error {
	if t.done {
		return errTxDone
	}
	if err := t.ctx.Err(); err != nil {
		return err
	}
	return ctx.Err()
}

// A step is one statement of a batch sent in a single round trip.
type step struct {
	sql  string
	args []any
	rows func(pgx.Rows) error // reads a query's rows (and closes them); nil for a statement
	tag  *pgconn.CommandTag   // where a statement's tag goes, if wanted
}

// runBatch sends steps in one round trip and reads their results in order,
// stopping at the first error.
func runBatch(br pgx.BatchResults, steps []step) error {
	for _, st := range steps {
		if st.rows != nil {
			rows, err := br.Query()
			if err == nil {
				err = st.rows(rows)
			}
			if err != nil {
				br.Close()
				return err
			}
			continue
		}
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return err
		}
		if st.tag != nil {
			*st.tag = tag
		}
	}
	return br.Close()
}

func batchOf(steps []step) *pgx.Batch {
	b := &pgx.Batch{}
	for _, st := range steps {
		b.Queue(st.sql, st.args...)
	}
	return b
}

// guarded runs steps inside a savepoint so that a failing statement is
// undone alone and the transaction stays usable, as a failed statement
// leaves an SQLite transaction.
//
// pgx prepares a statement new to the connection in a round trip of its
// own before the batch runs, and one that fails to prepare aborts the
// transaction then, before a SAVEPOINT in the batch had run. So the
// SAVEPOINT goes in a round trip of its own unless every step has run on
// this connection before (prepared): then SAVEPOINT, the steps and the
// RELEASE go in one. That is one round trip fewer for most writes (a
// create made five and now makes four), and each costs both processes
// system calls and wake-ups. Steps that read rows always take the two
// round trips: a failure while reading them leaves no way to tell whether
// the RELEASE ran. The one case that costs more than before: a statement known here
// that pgx had dropped from its cache (it keeps 512) and that no longer
// prepares (its table changed meanwhile) fails before the SAVEPOINT, and
// the transaction is lost instead of the one statement.
func (t *tx) guarded(ctx context.Context, steps ...step) error {
	known := preparedOn(t.tx.Conn().PgConn())
	for attempt := 0; ; attempt++ {
		one := attempt == 0 && known.hasAll(steps)
		all := make([]step, 0, len(steps)+2)
		if one {
			all = append(all, step{sql: "SAVEPOINT s"})
		} else if _, err := t.tx.Exec(ctx, "SAVEPOINT s"); err != nil {
			return err
		}
		all = append(all, steps...)
		all = append(all, step{sql: "RELEASE SAVEPOINT s"})
		err := runBatch(t.tx.SendBatch(ctx, batchOf(all)), all)
		if err == nil {
			if !one { // the one-trip steps are in the set already
				known.add(steps)
			}
			return nil
		}
		if one {
			// Next time the safe way: a statement that stopped being
			// valid (a collection changed) must not fail before its
			// SAVEPOINT.
			known.forget(steps)
		}
		if _, rerr := t.tx.Exec(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT s; RELEASE SAVEPOINT s"); rerr != nil {
			return err // the transaction is gone; Commit will say so too
		}
		if attempt == 0 && stalePlan(err) {
			continue
		}
		return err
	}
}

// prepared is the set of statements guarded has run on one connection,
// kept in the connection's CustomData, which lives and dies with it.
// Only the goroutine holding the connection touches it.
type prepared map[string]struct{}

// preparedKey names the set in a connection's CustomData.
const preparedKey = "tortoise.prepared"

// maxPrepared bounds the set; past it the set starts again empty (a
// statement missing from it only costs a round trip).
const maxPrepared = 256

func preparedOn(c *pgconn.PgConn) prepared {
	d := c.CustomData()
	p, _ := d[preparedKey].(prepared)
	if p == nil {
		p = prepared{}
		d[preparedKey] = p
	}
	return p
}

// hasAll: every step has run before and none reads rows.
func (p prepared) hasAll(steps []step) bool {
	for _, st := range steps {
		if st.rows != nil {
			return false
		}
		if _, ok := p[st.sql]; !ok {
			return false
		}
	}
	return true
}

func (p prepared) add(steps []step) {
	if len(p)+len(steps) > maxPrepared {
		clear(p)
	}
	for _, st := range steps {
		p[st.sql] = struct{}{}
	}
}

func (p prepared) forget(steps []step) {
	for _, st := range steps {
		delete(p, st.sql)
	}
}

// run runs steps on the pool in one round trip, retrying once when a
// cached statement went stale because a collection changed.
func (s *Store) run(ctx context.Context, steps ...step) error {
	for attempt := 0; ; attempt++ {
		err := runBatch(s.pool.SendBatch(ctx, batchOf(steps)), steps)
		if err != nil && attempt == 0 && stalePlan(err) {
			continue
		}
		return err
	}
}

// snapshot runs read steps in one REPEATABLE READ transaction, all in one
// round trip, so a list and its count see the same data. Each statement
// is bounded by the read timeout.
func (s *Store) snapshot(ctx context.Context, steps ...step) error {
	all := make([]step, 0, len(steps)+3)
	all = append(all, step{sql: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"})
	if s.setTimeout != "" {
		all = append(all, step{sql: s.setTimeout})
	}
	all = append(all, steps...)
	all = append(all, step{sql: "COMMIT"})
	for attempt := 0; ; attempt++ {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		err = runBatch(conn.SendBatch(ctx, batchOf(all)), all)
		if err != nil && !conn.Conn().IsClosed() {
			// Leave no failed transaction on the connection.
			conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		conn.Release()
		if err != nil && attempt == 0 && stalePlan(err) {
			continue
		}
		return err
	}
}

// Get returns one record. Errors: KindNotFound, KindInternal.
func (s *Store) Get(ctx context.Context, c *core.Collection, id string) (*core.Record, error) {
	if c == nil {
		return nil, errNoCollection
	}
	if s.closed.Load() {
		return nil, errClosed
	}
	var recs []*core.Record
	if err := s.run(ctx, step{sql: getSQL(c), args: []any{id}, rows: recordsInto(c, &recs)}); err != nil {
		return nil, s.findErr(ctx, err)
	}
	if len(recs) == 0 {
		return nil, errRecordNotFound
	}
	return recs[0], nil
}

// Find runs a query in a read transaction whose statements are bounded by
// the read timeout; with WithTotal, the rows and the total come from its
// one snapshot (an unfiltered total is a sum of counters, see counts.go).
// Errors: KindInvalid (a fragment PostgreSQL rejects), KindUnavailable
// (the read timeout), KindInternal.
func (s *Store) Find(ctx context.Context, q store.Query) (*store.Result, error) {
	if q.Collection == nil {
		return nil, errNoCollection
	}
	if s.closed.Load() {
		return nil, errClosed
	}
	if q.Search != nil {
		return s.searchFind(ctx, q) // search.go
	}
	f := findSQL(q)
	res := &store.Result{Total: -1}
	list := step{sql: f.list, args: f.args, rows: recordsInto(q.Collection, &res.Records)}
	var err error
	if q.WithTotal {
		var n int64
		err = s.snapshot(ctx, step{sql: f.count, args: f.countArgs, rows: scanInto(&n)}, list)
		res.Total = int(n)
	} else {
		err = s.snapshot(ctx, list)
	}
	if err != nil {
		return nil, s.findErr(ctx, err)
	}
	return res, nil
}

func (t *tx) Get(ctx context.Context, c *core.Collection, id string) (*core.Record, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errNoCollection
	}
	var recs []*core.Record
	// FOR UPDATE: what a write transaction reads, it reads to change, and a
	// concurrent one must wait rather than change the same row from the
	// same old version (lost updates, double-spent single-use tokens).
	if err := t.guarded(ctx, step{sql: getSQL(c) + " FOR UPDATE", args: []any{id}, rows: recordsInto(c, &recs)}); err != nil {
		return nil, t.s.findErr(ctx, err)
	}
	if len(recs) == 0 {
		return nil, errRecordNotFound
	}
	t.pending.Seen(recs[0])
	return recs[0], nil
}

func (t *tx) Find(ctx context.Context, q store.Query) (*store.Result, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	if q.Collection == nil {
		return nil, errNoCollection
	}
	if q.Search != nil {
		return t.searchFind(ctx, q) // search.go
	}
	f := findSQL(q)
	res := &store.Result{Total: -1}
	// Rows read in a write transaction are locked, as in Get.
	steps := []step{{sql: f.list + " FOR UPDATE OF " + store.QuoteIdent(store.MainAlias), args: f.args, rows: recordsInto(q.Collection, &res.Records)}}
	var n int64
	if q.WithTotal {
		steps = append(steps, step{sql: f.count, args: f.countArgs, rows: scanInto(&n)})
	}
	if err := t.guarded(ctx, steps...); err != nil {
		return nil, t.s.findErr(ctx, err)
	}
	if q.WithTotal {
		res.Total = int(n)
	}
	return res, nil
}

func (t *tx) Insert(ctx context.Context, r *core.Record) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	c := r.Collection
	if c == nil {
		return errNoCollection
	}
	args, err := recordArgs(c, r.Data)
	if err != nil {
		return err
	}
	if err := t.guarded(ctx, step{sql: insertSQL(c), args: args}); err != nil {
		return t.s.recordErr(ctx, c, err, "Failed to create the record.")
	}
	t.pending.Inserted(r)
	return nil
}

func (t *tx) Update(ctx context.Context, r *core.Record) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	c := r.Collection
	if c == nil {
		return errNoCollection
	}
	args, err := recordArgs(c, r.Data)
	if err != nil {
		return err
	}
	old, err := t.before(ctx, c, r.ID())
	if err != nil {
		return err
	}
	q, uargs := updateSQL(c, args)
	var tag pgconn.CommandTag
	if err := t.guarded(ctx, step{sql: q, args: uargs, tag: &tag}); err != nil {
		return t.s.recordErr(ctx, c, err, "Failed to update the record.")
	}
	if tag.RowsAffected() == 0 {
		return errRecordNotFound
	}
	t.pending.Updated(old, r)
	return nil
}

func (t *tx) Delete(ctx context.Context, c *core.Collection, id string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if c == nil {
		return errNoCollection
	}
	old, err := t.before(ctx, c, id)
	if err != nil {
		return err
	}
	var tag pgconn.CommandTag
	if err := t.guarded(ctx, step{sql: "DELETE FROM " + store.QuoteIdent(c.Name) + ` WHERE "id" = $1`, args: []any{id}, tag: &tag}); err != nil {
		return t.s.connErr(ctx, err, "Failed to delete the record.")
	}
	if tag.RowsAffected() == 0 {
		return errRecordNotFound
	}
	t.pending.Deleted(old)
	return nil
}

func (t *tx) Truncate(ctx context.Context, c *core.Collection) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if c == nil {
		return errNoCollection
	}
	// TRUNCATE frees the table at once instead of leaving dead rows to vacuum.
	// It carries no change per record, so the feed's OnLost observers of
	// every process (record caches) hear of it instead, at commit.
	// PostgreSQL refuses TRUNCATE while the table has a queued trigger
	// event, which the count's commit-time trigger may have (counts.go):
	// _tortoise_count_settle runs it first.
	if err := t.guarded(ctx, step{sql: "SELECT _tortoise_count_settle($1)", args: []any{c.Name}},
		step{sql: "TRUNCATE " + store.QuoteIdent(c.Name)},
		step{sql: "SELECT pg_notify($1, $2)", args: []any{changesChannel, t.s.feed.token + ":" + lostPayload}}); err != nil {
		return t.s.connErr(ctx, err, "Failed to delete the records.")
	}
	// This process hears of it before Update returns, not only when its
	// own notification comes back.
	t.afterCommit = append(t.afterCommit, t.s.feed.Lost)
	return nil
}

var (
	errNoCollection   = core.Invalid("Missing collection.")
	errRecordNotFound = core.NotFound("The requested resource wasn't found.")
)

// recordArgs returns the record's values in field order for pgx, JSON as
// raw bytes bound to JSONB columns.
func recordArgs(c *core.Collection, data map[string]any) ([]any, error) {
	return store.Args(c, data, false)
}

// recordsInto returns a step reader that scans rows into records of c.
func recordsInto(c *core.Collection, out *[]*core.Record) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		defer rows.Close()
		list := []*core.Record{}
		dest, fill := store.ScanDest(c) // reusable: pgx copies strings and bytes out of its buffer
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			list = append(list, fill())
		}
		if err := rows.Err(); err != nil {
			return err
		}
		*out = list
		return nil
	}
}

// scanInto reads a query's row into dest (the last row, if several).
func scanInto(dest ...any) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
		}
		return rows.Err()
	}
}

func getSQL(c *core.Collection) string {
	return store.SelectFrom(c) + ` WHERE "_r"."id" = $1`
}

type findStmts struct {
	list, count     string
	args, countArgs []any
}

// findSQL builds a query's list and count statements, with the caller's
// `?` placeholders numbered; LIMIT and OFFSET are bound (NULL: no limit)
// so every page shares one prepared statement.
func findSQL(q store.Query) findStmts {
	c := q.Collection
	from := store.FromClause(c)
	var f findStmts
	var where string
	var whereArgs []any
	next := 1
	if q.Where != nil && strings.TrimSpace(q.Where.Text) != "" {
		var text string
		text, next = store.NumberPlaceholders(q.Where.Text, 1)
		where = " WHERE (" + text + ")"
		whereArgs = q.Where.Args
	}
	if counted(q) {
		f.count, f.countArgs = countSQL(c), []any{c.ID} // see counts.go
	} else {
		f.count, f.countArgs = "SELECT COUNT(*)"+from+where, whereArgs
	}
	f.list = store.SelectColumns(c) + from + where
	if strings.TrimSpace(q.OrderBy) != "" {
		f.list += " ORDER BY " + q.OrderBy
	}
	f.list += " LIMIT $" + strconv.Itoa(next) + " OFFSET $" + strconv.Itoa(next+1)
	var limit any // NULL: no limit
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	f.args = append(append(make([]any, 0, len(whereArgs)+2), whereArgs...), limit, int64(max(q.Offset, 0)))
	return f
}

func insertSQL(c *core.Collection) string {
	q, _ := store.NumberPlaceholders(store.InsertSQL(c), 1)
	return q
}

// updateSQL builds the UPDATE of every column but id, and its arguments.
func updateSQL(c *core.Collection, args []any) (string, []any) {
	var b strings.Builder
	b.WriteString("UPDATE ")
	b.WriteString(store.QuoteIdent(c.Name))
	b.WriteString(" SET ")
	uargs := make([]any, 0, len(args))
	var id any
	for i := range c.Fields {
		if c.Fields[i].Name == "id" {
			id = args[i]
			continue
		}
		if len(uargs) > 0 {
			b.WriteString(", ")
		}
		uargs = append(uargs, args[i])
		b.WriteString(store.QuoteIdent(c.Fields[i].Name) + " = $" + strconv.Itoa(len(uargs)))
	}
	if len(uargs) == 0 {
		b.WriteString(`"id" = "id"`)
	}
	uargs = append(uargs, id)
	b.WriteString(` WHERE "id" = $` + strconv.Itoa(len(uargs)))
	return b.String(), uargs
}

// pgError returns the PostgreSQL error in err's chain, or nil.
func pgError(err error) *pgconn.PgError {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// stalePlan reports the error PostgreSQL gives when a statement pgx cached
// on a connection returns other column types since a collection changed
// (feature_not_supported: "cached plan must not change result type"). pgx
// has dropped the statement by then, so one retry prepares it afresh.
func stalePlan(err error) bool {
	e := pgError(err)
	return e != nil && e.Code == "0A000"
}
