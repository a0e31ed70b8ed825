package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// Get returns one record. Errors: KindNotFound, KindInternal.
func (s *Store) Get(ctx context.Context, c *core.Collection, id string) (*core.Record, error) {
	if c == nil {
		return nil, errNoCollection
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	cs, err := s.reads.acquire(ctx, getSQL(c))
	if err != nil {
		return nil, s.readErr(ctx, err)
	}
	defer s.reads.release(cs)
	return getRecord(ctx, c, cs.st.QueryRowContext(ctx, id), s)
}

// Find runs a query on a read connection. With WithTotal, the rows and the
// total come from one read transaction, so they agree. An unfiltered total
// comes from the in-memory counts (no scan); a filtered one from COUNT(*).
// Errors: KindInvalid (a fragment SQLite rejects), KindUnavailable (the
// read timeout), KindInternal.
func (s *Store) Find(ctx context.Context, q store.Query) (*store.Result, error) {
	if q.Collection == nil {
		return nil, errNoCollection
	}
	if q.Search != nil {
		return s.searchFind(ctx, q) // search.go
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	list, count, args := findSQL(q)
	if count != "" {
		list = pageSQL(list)
	}
	// Statements are prepared before the read transaction takes a
	// connection: preparing one needs a connection too, and readers that
	// each held one while waiting for another could deadlock the pool.
	listSt, err := s.reads.acquire(ctx, list)
	if err != nil {
		return nil, s.findErr(ctx, err)
	}
	defer s.reads.release(listSt)
	res := &store.Result{Total: -1}
	if !q.WithTotal {
		rows, err := listSt.st.QueryContext(ctx, args...)
		if err == nil {
			res.Records, err = scanRecords(q.Collection, rows)
		}
		if err != nil {
			return nil, s.findErr(ctx, err)
		}
		return res, nil
	}

	unfiltered := count == ""
	if unfiltered {
		// Fast path: with no count-changing commit in flight before or
		// after the list query, its snapshot holds exactly the latest
		// applied count, so no read transaction is needed to pin one.
		if seq := s.commitSeq.Load(); seq%2 == 0 {
			if n, ok := s.counts.latest(q.Collection.ID); ok {
				rows, err := listSt.st.QueryContext(ctx, args...)
				if err == nil {
					res.Records, err = scanRecords(q.Collection, rows)
				}
				if err != nil {
					return nil, s.findErr(ctx, err)
				}
				if s.commitSeq.Load() == seq {
					res.Total = int(n)
					return res, nil
				}
				res.Records = nil // a commit raced the query: pin a snapshot below
			}
		}
	}
	if unfiltered {
		count = countSQL(q.Collection)
	}
	countSt, err := s.reads.acquire(ctx, count)
	if err != nil {
		return nil, s.findErr(ctx, err)
	}
	defer s.reads.release(countSt)
	genSt, err := s.reads.acquire(ctx, genSQL)
	if err != nil {
		return nil, s.readErr(ctx, err)
	}
	defer s.reads.release(genSt)

	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, s.readErr(ctx, err)
	}
	defer tx.Rollback() // a no-op after Commit
	var total int64
	if unfiltered {
		// Reading the generation first pins the snapshot the list also sees.
		var gen int64
		if err := tx.StmtContext(ctx, genSt.st).QueryRowContext(ctx).Scan(&gen); err != nil {
			return nil, s.readErr(ctx, err)
		}
		n, ok := s.counts.at(q.Collection.ID, gen)
		if !ok {
			if err := tx.StmtContext(ctx, countSt.st).QueryRowContext(ctx).Scan(&n); err != nil {
				return nil, s.findErr(ctx, err)
			}
			s.counts.learn(q.Collection.ID, gen, n)
		}
		total = n
	} else if err := tx.StmtContext(ctx, countSt.st).QueryRowContext(ctx, args[:len(args)-2]...).Scan(&total); err != nil {
		return nil, s.findErr(ctx, err)
	}
	rows, err := tx.StmtContext(ctx, listSt.st).QueryContext(ctx, args...)
	if err == nil {
		res.Records, err = scanRecords(q.Collection, rows)
	}
	if err != nil {
		return nil, s.findErr(ctx, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.readErr(ctx, err)
	}
	res.Total = int(total)
	return res, nil
}

func getSQL(c *core.Collection) string {
	return store.SelectFrom(c) + ` WHERE "_r"."id" = ?`
}

// findSQL builds a query's list statement and, when it is filtered, its
// count statement ("" for an unfiltered query). args are the list's: the
// WHERE arguments then LIMIT and OFFSET, which are bound rather than
// spliced so every page of a query shares one prepared statement.
func findSQL(q store.Query) (list, count string, args []any) {
	c := q.Collection
	from := store.FromClause(c)
	var where string
	if q.Where != nil && strings.TrimSpace(q.Where.Text) != "" {
		where = " WHERE (" + q.Where.Text + ")"
		args = append(args, q.Where.Args...)
	}
	list = store.SelectColumns(c) + from + where
	if strings.TrimSpace(q.OrderBy) != "" {
		list += " ORDER BY " + q.OrderBy
	}
	list += " LIMIT ? OFFSET ?"
	limit := int64(-1) // SQLite: no limit
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	args = append(args, limit, int64(max(q.Offset, 0)))
	if where != "" || c.IsView() {
		// A view's rows change with the tables it reads: its count is
		// never kept (see counts.go), always counted.
		count = "SELECT COUNT(*)" + from + where
	}
	return list, count, args
}

// pageSQL makes a filtered list statement do all its work in its first
// step. The driver interrupts a statement when its context ends only
// within QueryContext, which returns after the first row; the later
// steps, each of which may evaluate the filter on any number of rows, run
// to their end (a filter matching the first row at once and no other ran
// for minutes past its deadline). A materialized CTE is computed whole, into a
// temporary table of at most one page, when the first row is asked for,
// so the read timeout covers the filter. SQLite reads such a table back
// in the order its rows were put in, the page's order (the conformance
// suite's ordered, filtered pages check it). Unfiltered lists step
// through an index or the table, one row per step, and are left alone.
func pageSQL(list string) string {
	return `WITH "_page" AS MATERIALIZED (` + list + `) SELECT * FROM "_page"`
}

// countSQL counts every row of c's table.
func countSQL(c *core.Collection) string {
	return "SELECT COUNT(*) FROM " + store.QuoteIdent(c.Name)
}

func insertSQL(c *core.Collection) string { return store.InsertSQL(c) }

// updateSQL builds the UPDATE of every column but id, and its arguments
// from args (all values in field order): the values, then the id.
func updateSQL(c *core.Collection, args []any) (string, []any) {
	var b strings.Builder
	b.WriteString("UPDATE ")
	b.WriteString(store.QuoteIdent(c.Name))
	b.WriteString(" SET ")
	uargs := make([]any, 0, len(args))
	var id any
	n := 0
	for i := range c.Fields {
		if c.Fields[i].Name == "id" {
			id = args[i]
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		b.WriteString(store.QuoteIdent(c.Fields[i].Name))
		b.WriteString(" = ?")
		uargs = append(uargs, args[i])
	}
	if n == 0 { // only an id: a no-op update that still reports whether the row exists
		b.WriteString(`"id" = "id"`)
	}
	b.WriteString(` WHERE "id" = ?`)
	return b.String(), append(uargs, id)
}

// getRecord scans a single-row result.
func getRecord(ctx context.Context, c *core.Collection, row *sql.Row, s *Store) (*core.Record, error) {
	dest, fill := store.ScanDest(c)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errRecordNotFound
		}
		return nil, s.readErr(ctx, err)
	}
	return fill(), nil
}

// scanRecords reads all rows of a list query into records of c.
func scanRecords(c *core.Collection, rows *sql.Rows) ([]*core.Record, error) {
	defer rows.Close()
	out := []*core.Record{}
	dest, fill := store.ScanDest(c) // reusable: every Scan stores fresh strings and bytes
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, fill())
	}
	return out, rows.Err()
}

// stmtCache shares prepared read statements among goroutines, keyed by
// their text. Reference counts let a statement be evicted while in use: it
// is closed when its last user releases it.
type stmtCache struct {
	db  *sql.DB
	max int
	mu  sync.Mutex
	m   map[string]*cachedStmt
}

type cachedStmt struct {
	st   *sql.Stmt
	refs int
	dead bool
}

func newStmtCache(db *sql.DB, max int) *stmtCache {
	return &stmtCache{db: db, max: max, m: make(map[string]*cachedStmt)}
}

func (c *stmtCache) acquire(ctx context.Context, query string) (*cachedStmt, error) {
	c.mu.Lock()
	if cs := c.m[query]; cs != nil {
		cs.refs++
		c.mu.Unlock()
		return cs, nil
	}
	c.mu.Unlock()
	st, err := c.db.PrepareContext(ctx, query) // outside the lock: it may wait for a connection
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs := c.m[query]; cs != nil { // another goroutine prepared it meanwhile
		st.Close()
		cs.refs++
		return cs, nil
	}
	if len(c.m) >= c.max {
		c.evictLocked()
	}
	cs := &cachedStmt{st: st, refs: 1}
	c.m[query] = cs
	return cs, nil
}

func (c *stmtCache) release(cs *cachedStmt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs.refs--
	if cs.dead && cs.refs == 0 {
		cs.st.Close()
	}
}

// reset drops every statement (after a schema change, or on Close).
func (c *stmtCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictLocked()
}

func (c *stmtCache) evictLocked() {
	for q, cs := range c.m {
		delete(c.m, q)
		cs.dead = true
		if cs.refs == 0 {
			cs.st.Close()
		}
	}
}

// SQLite result codes the store interprets.
const (
	codeUnique     = sqlite3.SQLITE_CONSTRAINT_UNIQUE
	codePrimaryKey = sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
)

// sqliteCode returns the extended result code of an SQLite error.
func sqliteCode(err error) (int, bool) {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code(), true
	}
	return 0, false
}

// busy reports a lock another connection or process held too long.
func busy(err error) bool {
	code, ok := sqliteCode(err)
	return ok && (code&0xff == sqlite3.SQLITE_BUSY || code&0xff == sqlite3.SQLITE_LOCKED)
}

var errBusy = &core.Error{Kind: core.KindUnavailable, Message: "The database is busy, please try again."}

// readCtx bounds a read outside Update by the read timeout. SQLite stops
// the statement running when the context ends (the driver calls
// sqlite3_interrupt), and the connection is then free for the next read.
func (s *Store) readCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.readTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, s.readTimeout, store.ErrReadTimeout)
}

// readErr maps a failed read: a read stopped at the read timeout is
// KindUnavailable, the caller's context ending and a closed store keep
// their meaning; anything else is internal.
func (s *Store) readErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(context.Cause(ctx), store.ErrReadTimeout) {
			return store.ReadTimeoutError(err)
		}
		return ctxErr
	}
	if s.isClosed() {
		return errClosed
	}
	if e := core.AsError(err); e != nil {
		return err
	}
	if busy(err) {
		return &core.Error{Kind: core.KindUnavailable, Message: errBusy.Message, Err: err}
	}
	if missingObject(err) {
		return store.CollectionChangedError(err)
	}
	return core.Internal(err, "Failed to read from the database.")
}

// missingObject reports SQLite's error for a table or column that is not
// there (see store.ErrMissingObject).
func missingObject(err error) bool {
	code, ok := sqliteCode(err)
	if !ok || code&0xff != sqlite3.SQLITE_ERROR {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "no such table: ") || strings.Contains(msg, "no such column: ") ||
		strings.Contains(msg, " has no column named ") // an INSERT's
}

// missingIn maps a missing table or column in a query carrying a
// caller's fragment: a table is a collection's (store.ErrMissingObject);
// a column may be the fragment's own mistake.
func missingIn(err error) error {
	if strings.Contains(err.Error(), "no such table: ") {
		return store.CollectionChangedError(err)
	}
	return store.MissingObjectInFragment(err)
}

// findErr is readErr for queries carrying caller fragments: SQLite's
// generic error (a syntax error, an unknown column), a wrong number of
// arguments or a type mismatch is the caller's bad input.
func (s *Store) findErr(ctx context.Context, err error) error {
	if code, ok := sqliteCode(err); ok && ctx.Err() == nil {
		if missingObject(err) {
			return missingIn(err)
		}
		switch code & 0xff {
		case sqlite3.SQLITE_ERROR, sqlite3.SQLITE_RANGE, sqlite3.SQLITE_MISMATCH:
			return &core.Error{Kind: core.KindInvalid, Message: "Invalid filter or sort.", Err: err}
		}
	}
	return s.readErr(ctx, err)
}

// writeErr maps a failed write statement.
func (s *Store) writeErr(err error, msg string) error {
	if e := core.AsError(err); e != nil {
		return err
	}
	if busy(err) {
		return &core.Error{Kind: core.KindUnavailable, Message: errBusy.Message, Err: err}
	}
	if missingObject(err) {
		return store.CollectionChangedError(err)
	}
	return core.Internal(err, "%s", msg)
}
