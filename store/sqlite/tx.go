package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// writeTx is the store.Tx handed to one Update call: its statements run on
// the write connection inside the call's savepoint.
type writeTx struct {
	s      *Store
	ctx    context.Context // the caller's: checked between statements
	group  *group
	ops    countOps // count effects of this call, merged into the group on success
	schema bool
	// truncated: the call emptied a table, which publishes no change per
	// record; the feed's OnLost observers hear of it after the commit.
	truncated bool
	done      bool
	// pending holds this call's changes for the feed, published if the
	// group commits.
	pending store.Pending
	// sqlTx is the call's savepoint as a *sql.Tx, once SQLTx made it.
	sqlTx *sql.Tx
}

// SQLTx returns the call's transaction as a *sql.Tx, for code outside the
// store that speaks database/sql (River's SQLite driver inserts jobs with
// it): its statements run on the write connection inside the call's
// savepoint, so they commit or roll back with the call's other changes.
// Its Commit and Rollback do nothing (the group decides); it is valid
// until the Update function returns, and only on the writer goroutine.
// Errors: KindInternal after the call is over or the transaction lost.
func (t *writeTx) SQLTx(ctx context.Context) (*sql.Tx, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	// Its statements may write to a searchable collection's table.
	t.group.search = t.group.search || t.s.searchQueues > 0
	if t.sqlTx == nil {
		tx, err := t.s.wconn.BeginTx(bg, nil) // joins: see join.go
		if err != nil {
			return nil, core.Internal(err, "Failed to join the write transaction.")
		}
		t.sqlTx = tx
	}
	return t.sqlTx, nil
}

// end closes the call: its methods refuse from now on, and database/sql
// lets go of the write connection the joined *sql.Tx held.
func (t *writeTx) end() {
	t.done = true
	if t.sqlTx != nil {
		_ = t.sqlTx.Commit() // does nothing to the transaction
		t.sqlTx = nil
	}
}

var errTxDone = core.Internal(errors.New("tx used after its Update function returned"), "Internal transaction error.")

// check refuses to start a statement once the call is over, once SQLite
// has rolled the group's transaction back by itself (a statement run now
// would run, and commit, on its own: see commitGroup), or once its
// context has ended. Every method calls it first; within a method, wstmt
// and wexec repeat the transaction check.
func (t *writeTx) check(ctx context.Context) error {
	if t.done {
		return errTxDone
	}
	if t.s.w.rolledBack {
		return errTxLost
	}
	if err := t.ctx.Err(); err != nil {
		return err
	}
	return ctx.Err()
}

func (t *writeTx) Get(ctx context.Context, c *core.Collection, id string) (*core.Record, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errNoCollection
	}
	st, err := t.s.wstmt(getSQL(c))
	if err != nil {
		return nil, t.s.readErr(ctx, err)
	}
	r, err := getRecord(ctx, c, st.QueryRowContext(bg, id), t.s)
	if err == nil {
		t.pending.Seen(r)
	}
	return r, err
}

// before is the record as it is now, for the feed's "before" of an update
// or delete: the copy kept when the call read or wrote it, else read now.
func (t *writeTx) before(ctx context.Context, c *core.Collection, id string) (*core.Record, error) {
	if old := t.pending.Before(c, id); old != nil {
		return old, nil
	}
	return t.Get(ctx, c, id)
}

func (t *writeTx) Find(ctx context.Context, q store.Query) (*store.Result, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	if q.Collection == nil {
		return nil, errNoCollection
	}
	if q.Search != nil {
		return t.searchFind(ctx, q) // search.go
	}
	list, count, args := findSQL(q)
	res := &store.Result{Total: -1}
	if q.WithTotal {
		n, err := t.total(q, count, args[:len(args)-2])
		if err != nil {
			return nil, t.s.findErr(ctx, err)
		}
		res.Total = int(n)
	}
	st, err := t.s.wstmt(list)
	if err != nil {
		return nil, t.s.findErr(ctx, err)
	}
	rows, err := st.QueryContext(bg, args...)
	if err != nil {
		return nil, t.s.findErr(ctx, err)
	}
	if res.Records, err = scanRecords(q.Collection, rows); err != nil {
		return nil, t.s.findErr(ctx, err)
	}
	return res, nil
}

// total counts the rows a query matches as this transaction sees them. An
// unfiltered count is the committed count plus the uncommitted effects of
// the group so far and of this call, when those are known.
func (t *writeTx) total(q store.Query, count string, args []any) (int64, error) {
	if count == "" {
		id := q.Collection.ID
		op := countOp{}
		if g, ok := t.group.ops[id]; ok {
			op = op.then(g)
		}
		if o, ok := t.ops[id]; ok {
			op = op.then(o)
		}
		if op.set {
			return op.n, nil
		}
		if n, ok := t.s.counts.latest(id); ok {
			return n + op.n, nil
		}
		count = countSQL(q.Collection)
	}
	var n int64
	err := t.s.wconn.QueryRowContext(bg, count, args...).Scan(&n)
	return n, err
}

func (t *writeTx) Insert(ctx context.Context, r *core.Record) error {
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
	st, err := t.s.wstmt(insertSQL(c))
	if err != nil {
		return t.s.writeErr(err, "Failed to create the record.")
	}
	if _, err := st.ExecContext(bg, args...); err != nil {
		return t.recordErr(c, args, err, "Failed to create the record.")
	}
	t.ops.add(c.ID, countOp{n: 1})
	t.pending.Inserted(r)
	t.group.search = t.group.search || searchable(c)
	return nil
}

func (t *writeTx) Update(ctx context.Context, r *core.Record) error {
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
	st, err := t.s.wstmt(q)
	if err != nil {
		return t.s.writeErr(err, "Failed to update the record.")
	}
	res, err := st.ExecContext(bg, uargs...)
	if err != nil {
		return t.recordErr(c, args, err, "Failed to update the record.")
	}
	if n, err := res.RowsAffected(); err != nil {
		return t.s.writeErr(err, "Failed to update the record.")
	} else if n == 0 {
		return errRecordNotFound
	}
	t.pending.Updated(old, r)
	t.group.search = t.group.search || searchable(c)
	return nil
}

func (t *writeTx) Delete(ctx context.Context, c *core.Collection, id string) error {
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
	st, err := t.s.wstmt("DELETE FROM " + store.QuoteIdent(c.Name) + ` WHERE "id" = ?`)
	if err != nil {
		return t.s.writeErr(err, "Failed to delete the record.")
	}
	res, err := st.ExecContext(bg, id)
	if err != nil {
		return t.s.writeErr(err, "Failed to delete the record.")
	}
	if n, err := res.RowsAffected(); err != nil {
		return t.s.writeErr(err, "Failed to delete the record.")
	} else if n == 0 {
		return errRecordNotFound
	}
	t.ops.add(c.ID, countOp{n: -1})
	t.pending.Deleted(old)
	t.group.search = t.group.search || searchable(c)
	return nil
}

func (t *writeTx) Truncate(ctx context.Context, c *core.Collection) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if c == nil {
		return errNoCollection
	}
	// No WHERE: SQLite's truncate optimisation drops the pages wholesale.
	if _, err := t.s.wexec("DELETE FROM " + store.QuoteIdent(c.Name)); err != nil {
		return t.s.writeErr(err, "Failed to delete the records.")
	}
	t.ops.add(c.ID, countOp{set: true})
	t.group.search = t.group.search || searchable(c)
	t.truncated = true
	return nil
}

// recordErr maps a failed insert or update. A unique violation becomes a
// validation error on the columns of the index it broke: the primary key
// is reported by its own code; for other unique indexes, SQLite's error
// names no index in a structured way, so the index is found by looking
// for the row the record collides with.
func (t *writeTx) recordErr(c *core.Collection, args []any, err error, msg string) error {
	switch code, _ := sqliteCode(err); code {
	case codePrimaryKey:
		return store.NotUnique(err, "id")
	case codeUnique:
		if cols := t.collidingIndex(c, args); cols != nil {
			return store.NotUnique(err, cols...)
		}
		return store.NotUnique(err)
	}
	return t.s.writeErr(err, msg)
}

// collidingIndex returns the columns of the first unique index of c for
// which another row holds the same values as args (the record's values in
// field order).
func (t *writeTx) collidingIndex(c *core.Collection, args []any) []string {
	pos := make(map[string]int, len(c.Fields))
	for i := range c.Fields {
		pos[c.Fields[i].Name] = i
	}
	for _, ix := range store.StoredIndexes(c) {
		if !ix.Unique || t.s.w.rolledBack {
			continue
		}
		var b strings.Builder
		b.WriteString("SELECT 1 FROM " + store.QuoteIdent(c.Name) + " WHERE ")
		qargs := make([]any, 0, len(ix.Columns)+1)
		cols := make([]string, 0, len(ix.Columns))
		for _, col := range ix.Columns {
			b.WriteString(store.QuoteIdent(col.Name) + " = ?")
			if col.NoCase {
				b.WriteString(" COLLATE NOCASE")
			}
			b.WriteString(" AND ")
			qargs = append(qargs, args[pos[col.Name]])
			cols = append(cols, col.Name)
		}
		if w := ix.Where(); w != "" {
			b.WriteString("(" + w + ") AND ")
		}
		b.WriteString(`"id" <> ? LIMIT 1`)
		qargs = append(qargs, args[pos["id"]])
		var one int
		if err := t.s.wconn.QueryRowContext(bg, b.String(), qargs...).Scan(&one); err == nil {
			return cols
		}
	}
	return nil
}

var (
	errNoCollection   = core.Invalid("Missing collection.")
	errRecordNotFound = core.NotFound("The requested resource wasn't found.")
)

// recordArgs returns the record's values in field order for binding, JSON
// as text (bound as []byte it would be stored as a BLOB).
func recordArgs(c *core.Collection, data map[string]any) ([]any, error) {
	return store.Args(c, data, true)
}
