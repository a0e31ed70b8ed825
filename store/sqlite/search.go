package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/search"
	"github.com/tortoise-dev/tortoise/store"
)

// Full-text search on SQLite: a collection with a search option gets an
// FTS5 table, "_search_<collection id>" (ids, unlike names, never change),
// whose content is the collection's own table (external content: the
// text is not stored twice, snippets read it back by rowid), one column
// per searchable field, named as the field so the query's column filter
// names fields. AFTER INSERT, UPDATE and DELETE triggers on the
// collection's table keep it in step within the same statement, hence the
// same savepoint and commit as the write: a search never sees a record
// that is not committed, nor misses one that is.
//
// The index is keyed by the table's rowid. Tortoise never VACUUMs, and
// every change that could renumber rowids (a table rebuilt or renamed)
// drops the index and builds it again (see searchUpdate). A VACUUM run
// by hand on a file would need the index rebuilt ('rebuild' command).
//
// Weights are applied when querying (bm25's per-column weights), so
// changing only weights rebuilds nothing.
//
// Building the index over existing rows: a table of at most
// store.SearchInlineRows rows is indexed in the transaction that creates the
// index. A larger one is filled online, so the single writer is never
// held for long: the transaction creates the empty index and its
// triggers and records a fill in _params (key "search_fill:<id>": the
// rowids (cursor, top] not yet indexed); then a goroutine indexes
// store.SearchFillBatch rows per store.Update, each a short write call that
// queues with everyone else's, and removes the record when done. The
// triggers leave alone the rows the fill has not reached (it indexes
// them as they are when it gets there), so a write during the fill is
// indexed exactly once. While a fill runs, a search finds the records
// written since the index was created and those the fill has reached,
// not yet the others. A fill stopped by a restart goes on when the
// collection is next searched (searchResume).

// searchTable is the FTS5 table of c.
func searchTable(c *core.Collection) string { return "_search_" + c.ID }

// searchQueue is the table of c's rows written in the current group and
// not yet indexed (see flushSearch).
func searchQueue(c *core.Collection) string { return searchTable(c) + "_q" }

// searchColumns are the FTS5 table's columns: c's searchable fields in the
// option's order.
func searchColumns(c *core.Collection) []string {
	if c.Search == nil {
		return nil
	}
	cols := make([]string, 0, len(c.Search.Fields))
	for _, sf := range c.Search.Fields {
		if c.Field(sf.Name) != nil {
			cols = append(cols, sf.Name)
		}
	}
	return cols
}

// searchKey says what the index's layout depends on (besides the table,
// see searchUpdate): the columns and the tokenizer.
func searchKey(c *core.Collection) string {
	if !searchable(c) {
		return ""
	}
	return c.Search.Language + "|" + strings.Join(searchColumns(c), ",")
}

// searchCreate creates c's FTS5 table and triggers and indexes the rows
// already in c's table, in the current transaction.
func (t *writeTx) searchCreate(c *core.Collection) error {
	if searchKey(c) == "" {
		return nil
	}
	fts := store.QuoteIdent(searchTable(c))
	table := store.QuoteIdent(c.Name)
	quoted := quotedColumns(c)
	tokenize := "unicode61 remove_diacritics 2"
	if c.Search.Language == "english" {
		tokenize = "porter " + tokenize
	}
	list := strings.Join(quoted, ", ")
	var rows int64
	if err := t.s.wconn.QueryRowContext(bg, "SELECT COUNT(*) FROM (SELECT 1 FROM "+table+" LIMIT "+
		strconv.Itoa(store.SearchInlineRows+1)+")").Scan(&rows); err != nil {
		return t.s.writeErr(err, "Failed to build the search index.")
	}
	online := rows > store.SearchInlineRows
	fill := "INSERT INTO " + fts + "(" + fts + ") VALUES ('rebuild')" // index the rows already there
	var gen string
	if online {
		gen = core.RandomString(12, "abcdefghijklmnopqrstuvwxyz0123456789")
		fill = "INSERT INTO _params (key, value) SELECT " + store.QuoteString(store.SearchFillKey(c)) +
			", json_object('gen', " + store.QuoteString(gen) + ", 'cursor', 0, 'top', COALESCE(MAX(rowid), 0)) FROM " + table +
			" WHERE 1 ON CONFLICT (key) DO UPDATE SET value = excluded.value"
	}
	// A prefix index for two-letter prefixes only: those match the most
	// terms, and a search box sends one after two keystrokes; longer
	// prefixes span few enough terms for FTS5 to merge them at query time.
	// Each prefix length indexed is one more entry per word written: with
	// three-letter prefixes too, the index cost a create about 40% more
	// (docs/benchmarks.md).
	stmts := append([]string{
		"CREATE VIRTUAL TABLE " + fts + " USING fts5(" + list + ", content=" + store.QuoteString(c.Name) +
			", content_rowid='rowid', tokenize=" + store.QuoteString(tokenize) + ", prefix='2')",
	}, searchTriggerSQL(c)...)
	stmts = append(stmts, fill)
	for _, q := range stmts {
		if _, err := t.s.wexec(q); err != nil {
			return t.s.writeErr(err, "Failed to build the search index.")
		}
	}
	if online {
		go t.s.searchFill(c.Clone(), gen)
	}
	return nil
}

// quotedColumns are searchColumns quoted as SQL identifiers.
func quotedColumns(c *core.Collection) []string {
	cols := searchColumns(c)
	quoted := make([]string, len(cols))
	for i, col := range cols {
		quoted[i] = store.QuoteIdent(col)
	}
	return quoted
}

// searchTriggerSQL creates the queue of c's index and the triggers that
// keep it (see flushSearch). Rows an online fill has yet to reach are left
// to the fill (pending).
func searchTriggerSQL(c *core.Collection) []string {
	fts := store.QuoteIdent(searchTable(c))
	table := store.QuoteIdent(c.Name)
	quoted := quotedColumns(c)
	oldVals := make([]string, len(quoted))
	changed := make([]string, len(quoted))
	qualified := make([]string, len(quoted))
	for i, q := range quoted {
		oldVals[i] = "old." + q
		changed[i] = "old." + q + " IS NOT new." + q
		qualified[i] = table + "." + q
	}
	list := strings.Join(quoted, ", ")
	trig := func(suffix string) string { return store.QuoteIdent(searchTable(c) + suffix) }
	pending := func(rec string) string {
		return "NOT EXISTS (SELECT 1 FROM _params WHERE key = " + store.QuoteString(store.SearchFillKey(c)) + " AND " +
			rec + ".rowid > json_extract(value, '$.cursor') AND " + rec + ".rowid <= json_extract(value, '$.top'))"
	}
	queue := store.QuoteIdent(searchQueue(c))
	notQueued := "NOT EXISTS (SELECT 1 FROM " + queue + " WHERE rid = old.rowid)"
	unindex := "INSERT INTO " + fts + "(" + fts + ", rowid, " + list + ") SELECT 'delete', old.rowid, " +
		strings.Join(oldVals, ", ") + " WHERE " + notQueued + "; "
	return []string{
		"CREATE TABLE " + queue + " (rid INTEGER PRIMARY KEY)",
		"CREATE TRIGGER " + trig("_ai") + " AFTER INSERT ON " + table + " WHEN " + pending("new") +
			" BEGIN INSERT OR IGNORE INTO " + queue + " (rid) VALUES (new.rowid); END",
		"CREATE TRIGGER " + trig("_ad") + " AFTER DELETE ON " + table + " WHEN " + pending("old") + " BEGIN " +
			unindex + "DELETE FROM " + queue + " WHERE rid = old.rowid; END",
		// Records are updated whole (every column is SET): WHEN skips the
		// index when no searchable text changed.
		"CREATE TRIGGER " + trig("_au") + " AFTER UPDATE ON " + table + " WHEN (" + strings.Join(changed, " OR ") + ") AND " +
			pending("old") + " BEGIN " + unindex + "INSERT OR IGNORE INTO " + queue + " (rid) VALUES (new.rowid); END",
		"CREATE TRIGGER " + trig("_flush") + " AFTER UPDATE ON _search_flush WHEN EXISTS (SELECT 1 FROM " + queue +
			") BEGIN INSERT INTO " + fts + "(rowid, " + list + ") SELECT " + table + ".rowid, " + strings.Join(qualified, ", ") +
			" FROM " + queue + " CROSS JOIN " + table + " ON " + table + ".rowid = " + queue + ".rid ORDER BY " + queue +
			".rid; DELETE FROM " + queue + "; END",
	}
}

// dropRowTriggersSQL drops the triggers c's table fires for each row
// written (_ai, _ad, _au of searchTriggerSQL, and of the layout before the
// queue), if there are any.
func dropRowTriggersSQL(c *core.Collection) []string {
	name := searchTable(c)
	return []string{
		"DROP TRIGGER IF EXISTS " + store.QuoteIdent(name+"_ai"),
		"DROP TRIGGER IF EXISTS " + store.QuoteIdent(name+"_ad"),
		"DROP TRIGGER IF EXISTS " + store.QuoteIdent(name+"_au"),
	}
}

// searchUpgrade moves the indexes built before the queue (their triggers
// wrote to the index directly, one FTS5 segment per write call) onto it:
// their content is already exact, so only the triggers change, each
// collection in one write call. A failure is logged and leaves that
// index as it was, correct and slower; the next Open tries again.
func (s *Store) searchUpgrade(ctx context.Context) {
	var tables int
	err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE '\_search\_%' ESCAPE '\' AND sql LIKE 'CREATE VIRTUAL TABLE%'`).Scan(&tables)
	if err != nil || tables <= s.searchQueues {
		return
	}
	cs, err := s.Collections(ctx)
	if err != nil {
		s.log.Warn("search: could not list the collections to upgrade their indexes", "err", err)
		return
	}
	for _, c := range cs {
		if searchKey(c) == "" {
			continue
		}
		err := s.Update(ctx, func(tx store.Tx) error {
			t := tx.(*writeTx)
			var old int
			if err := t.s.wconn.QueryRowContext(bg, `SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?) -
				(SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?)`, searchTable(c), searchTable(c)+"_flush").Scan(&old); err != nil {
				return err
			}
			if old != 1 {
				return nil // no index, or one with a queue already
			}
			for _, q := range append(dropRowTriggersSQL(c), searchTriggerSQL(c)...) {
				if _, err := t.s.wexec(q); err != nil {
					return err
				}
			}
			t.schema = true // counts the queues again after the commit
			return nil
		})
		if err != nil {
			s.log.Warn("search: could not move an index onto its queue", "collection", c.Name, "err", err)
		}
	}
}

// searchFills holds the online fills running in this process, by store
// and fill generation, so a search does not start a second one.
var searchFills sync.Map

type searchFillState struct {
	Gen    string `json:"gen"`
	Cursor int64  `json:"cursor"`
	Top    int64  `json:"top"`
}

// searchFill indexes the rows of c's table that the fill gen has yet to
// reach, store.SearchFillBatch rows per write call, until it is done or its
// record is gone or replaced (the index was dropped or rebuilt: its
// transaction rolled back, the collection changed or was deleted).
func (s *Store) searchFill(c *core.Collection, gen string) {
	key := fmt.Sprintf("%p/%s/%s", s, c.ID, gen)
	if _, running := searchFills.LoadOrStore(key, true); running {
		return
	}
	defer searchFills.Delete(key)
	fts := store.QuoteIdent(searchTable(c))
	cols := searchColumns(c)
	quoted := make([]string, len(cols))
	for i, col := range cols {
		quoted[i] = store.QuoteIdent(col)
	}
	list := strings.Join(quoted, ", ")
	insert := "INSERT INTO " + fts + "(rowid, " + list + ") SELECT rowid, " + list + " FROM " +
		store.QuoteIdent(c.Name) + " WHERE rowid > ? AND rowid <= ?"
	for missing := 0; ; {
		done, found := false, false
		err := s.Update(context.Background(), func(tx store.Tx) error {
			t := tx.(*writeTx)
			var st searchFillState
			b, err := t.Param(bg, store.SearchFillKey(c))
			if err != nil {
				if core.KindOf(err) == core.KindNotFound {
					return nil
				}
				return err
			}
			if json.Unmarshal(b, &st) != nil || st.Gen != gen {
				done = true // another fill's, or garbage: not ours to go on with
				return nil
			}
			found = true
			end := min(st.Cursor+store.SearchFillBatch, st.Top)
			if _, err := t.s.wexec(insert, st.Cursor, end); err != nil {
				return t.s.writeErr(err, "Failed to fill the search index.")
			}
			if end >= st.Top {
				done = true
				_, err := t.s.wexec(`DELETE FROM _params WHERE key = ?`, store.SearchFillKey(c))
				return err
			}
			st.Cursor = end
			b, _ = json.Marshal(st)
			return t.SetParam(bg, store.SearchFillKey(c), b)
		})
		switch {
		case err != nil && (errors.Is(err, errClosed) || s.isClosed()):
			return
		case err != nil:
			s.log.Warn("search: filling the index failed; retrying", "collection", c.Name, "err", err)
			time.Sleep(time.Second)
		case done:
			return
		case !found:
			// Not committed yet (or rolled back): give the creating call
			// a moment, then give up.
			if missing++; missing > 50 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// searchResume goes on with a fill of c's index that a restart stopped.
// It reads the fill's record once per store, collection and index layout.
func (s *Store) searchResume(ctx context.Context, c *core.Collection) {
	key := fmt.Sprintf("%p/%s/resume/%s", s, c.ID, searchKey(c))
	if _, seen := searchFills.LoadOrStore(key, true); seen {
		return
	}
	b, err := s.Param(ctx, store.SearchFillKey(c))
	if err != nil {
		return
	}
	var st searchFillState
	if json.Unmarshal(b, &st) == nil && st.Gen != "" {
		go s.searchFill(c.Clone(), st.Gen)
	}
}

// searchDrop removes c's FTS5 table and triggers, if any.
func (t *writeTx) searchDrop(c *core.Collection) error {
	if c == nil {
		return nil
	}
	name := searchTable(c)
	if _, err := t.s.wexec(`DELETE FROM _params WHERE key = ?`, store.SearchFillKey(c)); err != nil {
		return t.s.writeErr(err, "Failed to drop the search index.")
	}
	for _, q := range append(dropRowTriggersSQL(c),
		"DROP TRIGGER IF EXISTS "+store.QuoteIdent(name+"_flush"),
		"DROP TABLE IF EXISTS "+store.QuoteIdent(searchQueue(c)),
		"DROP TABLE IF EXISTS "+store.QuoteIdent(name),
	) {
		if _, err := t.s.wexec(q); err != nil {
			return t.s.writeErr(err, "Failed to drop the search index.")
		}
	}
	return nil
}

// searchRedo reports whether an update of prev to next needs the index
// built again: its columns or tokenizer changed, or the table was renamed
// (the index names its content table) or rebuilt (rowids renumbered).
func searchRedo(prev, next *core.Collection, tableChanged bool) bool {
	pk, nk := searchKey(prev), searchKey(next)
	return pk != nk || (nk != "" && tableChanged)
}

// searchSQL builds a search's list statement, its count statement and
// the list's arguments (the count's are all but the last two, LIMIT and
// OFFSET), as findSQL does for a plain query. The MATCH goes first so the
// two statements share their leading arguments.
func searchSQL(q store.Query, match string) (list, count string, args []any) {
	c := q.Collection
	sq := q.Search
	fts := store.QuoteIdent(searchTable(c))
	if len(sq.Columns) > 0 && (q.Where == nil || strings.TrimSpace(q.Where.Text) == "") && strings.TrimSpace(q.OrderBy) == "" {
		// Nothing to filter by and relevance order (a public collection
		// searched without a filter, the common case): count and rank in
		// the index alone and read only the page's rows from the table,
		// rather than joining every match to its row first.
		r := store.QuoteIdent(store.MainAlias)
		m := store.QuoteIdent("_m")
		count = "SELECT COUNT(*) FROM " + fts + " WHERE " + fts + " MATCH ?"
		list = store.SelectColumns(c) + " FROM (SELECT rowid AS _rid, " + bm25(c, fts) + " AS _rank FROM " + fts +
			" WHERE " + fts + " MATCH ? ORDER BY _rank, rowid LIMIT ? OFFSET ?) AS " + m + " JOIN " +
			store.QuoteIdent(c.Name) + " AS " + r + " ON " + r + ".rowid = " + m + "._rid ORDER BY " + m + "._rank, " + m + "._rid"
		limit := int64(-1)
		if q.Limit > 0 {
			limit = int64(q.Limit)
		}
		return list, count, []any{match, limit, int64(max(q.Offset, 0))}
	}
	alias := store.QuoteIdent("_s")
	from := store.FromClause(c) + " JOIN " + fts + " AS " + alias + " ON " + alias + ".rowid = " +
		store.QuoteIdent(store.MainAlias) + ".rowid"
	where := " WHERE 0"
	if len(sq.Columns) > 0 {
		where = " WHERE " + alias + "." + fts + " MATCH ?"
		args = append(args, match)
	}
	if q.Where != nil && strings.TrimSpace(q.Where.Text) != "" {
		where += " AND (" + q.Where.Text + ")"
		args = append(args, q.Where.Args...)
	}
	count = "SELECT COUNT(*)" + from + where
	list = store.SelectColumns(c) + from + where
	if strings.TrimSpace(q.OrderBy) != "" {
		list += " ORDER BY " + q.OrderBy
	} else if len(sq.Columns) > 0 {
		list += " ORDER BY " + bm25(c, alias+"."+fts) + ", " + store.QuoteIdent(store.MainAlias) + `."id"`
	}
	list += " LIMIT ? OFFSET ?"
	limit := int64(-1)
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	args = append(args, limit, int64(max(q.Offset, 0)))
	return list, count, args
}

// bm25 is the rank of a match (lower is better) with the fields' weights.
func bm25(c *core.Collection, hidden string) string {
	var b strings.Builder
	b.WriteString("bm25(" + hidden)
	for _, col := range searchColumns(c) {
		b.WriteString(", " + strconv.FormatFloat(c.SearchWeight(col), 'g', -1, 64))
	}
	b.WriteString(")")
	return b.String()
}

// searchHighlightSQL selects, for the records whose ids are given as a
// JSON array, each allowed column's snippet. It starts from the ids, so
// the work is one index seek per record of the page, however many
// records match.
func searchHighlightSQL(c *core.Collection, columns []string) string {
	fts := store.QuoteIdent(searchTable(c))
	s := store.QuoteIdent("_s")
	r := store.QuoteIdent(store.MainAlias)
	var b strings.Builder
	b.WriteString("SELECT " + r + `."id"`)
	for i, col := range searchColumns(c) {
		if containsString(columns, col) {
			b.WriteString(", snippet(" + s + "." + fts + ", " + strconv.Itoa(i) + ", ?1, ?2, '…', 24)")
		}
	}
	b.WriteString(" FROM json_each(?3) AS " + store.QuoteIdent("_ids") + " CROSS JOIN " + store.QuoteIdent(c.Name) +
		" AS " + r + " CROSS JOIN " + fts + " AS " + s + " WHERE " + r + `."id" = ` + store.QuoteIdent("_ids") +
		".value AND " + s + ".rowid = " + r + ".rowid AND " + s + "." + fts + " MATCH ?4")
	return b.String()
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// querier is what a search runs on: a read transaction or the write
// connection.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// runSearch runs a search query on qr: the total, the page and its
// highlights.
func runSearch(ctx context.Context, qr querier, q store.Query) (*store.Result, error) {
	sq := q.Search
	var typos map[string]bool
	if sq.Fuzzy && len(sq.Columns) > 0 {
		var err error
		if typos, err = searchTypos(ctx, qr, q.Collection, sq); err != nil {
			return nil, err
		}
	}
	match := sq.Query.FTS5(sq.Columns, typos)
	list, count, args := searchSQL(q, match)
	res := &store.Result{Total: -1}
	if q.WithTotal {
		var n int64
		if err := qr.QueryRowContext(ctx, count, args[:len(args)-2]...).Scan(&n); err != nil {
			return nil, err
		}
		res.Total = int(n)
	}
	rows, err := qr.QueryContext(ctx, pageSQL(list), args...)
	if err != nil {
		return nil, err
	}
	if res.Records, err = scanRecords(q.Collection, rows); err != nil {
		return nil, err
	}
	if !sq.Highlights || len(res.Records) == 0 || len(sq.Columns) == 0 {
		return res, nil
	}
	ids := make([]string, len(res.Records))
	for i, r := range res.Records {
		ids[i] = r.ID()
	}
	idJSON, _ := json.Marshal(ids)
	var cols []string
	for _, col := range searchColumns(q.Collection) {
		if containsString(sq.Columns, col) {
			cols = append(cols, col)
		}
	}
	hrows, err := qr.QueryContext(ctx, searchHighlightSQL(q.Collection, sq.Columns),
		sq.Marks[0], sq.Marks[1], string(idJSON), match)
	if err != nil {
		return nil, err
	}
	defer hrows.Close()
	res.Highlights = map[string]map[string]string{}
	vals := make([]sql.NullString, len(cols)+1)
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for hrows.Next() {
		if err := hrows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, col := range cols {
			if s := vals[i+1].String; strings.Contains(s, sq.Marks[0]) {
				if res.Highlights[vals[0].String] == nil {
					res.Highlights[vals[0].String] = map[string]string{}
				}
				res.Highlights[vals[0].String][col] = s
			}
		}
	}
	return res, hrows.Err()
}

// searchTypos returns the words among sq's Typos that the index holds in
// the caller's columns: one lookup each (a b-tree seek, a few µs), so the
// search itself weighs only those. With every variant in the MATCH, FTS5
// weighed up to 2,000 alternatives for each matching row, in the
// ranking too: 0.6 s for a common word over 100k records, against 15 ms
// as typed.
func searchTypos(ctx context.Context, qr querier, c *core.Collection, sq *store.SearchQuery) (map[string]bool, error) {
	words := sq.Query.Typos()
	if len(words) == 0 {
		return nil, nil
	}
	exprs := make([]string, len(words))
	for i, w := range words {
		exprs[i] = search.Query{Terms: []search.Term{{Words: []string{w}}}}.FTS5(sq.Columns, nil)
	}
	list, err := json.Marshal(exprs)
	if err != nil {
		return nil, err
	}
	fts := store.QuoteIdent(searchTable(c))
	rows, err := qr.QueryContext(ctx, "SELECT _w.key FROM json_each(?) AS _w WHERE EXISTS (SELECT 1 FROM "+fts+
		" WHERE "+fts+" MATCH _w.value)", string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	typos := map[string]bool{}
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		if i >= 0 && i < len(words) {
			typos[words[i]] = true
		}
	}
	return typos, rows.Err()
}

// searchFind is Find for a query with Search: one read transaction for
// the total, the page and its highlights.
func (s *Store) searchFind(ctx context.Context, q store.Query) (*store.Result, error) {
	if err := searchCheck(q); err != nil {
		return nil, err
	}
	s.searchResume(ctx, q.Collection)
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, s.readErr(ctx, err)
	}
	defer tx.Rollback()
	res, err := runSearch(ctx, tx, q)
	if err != nil {
		return nil, s.findErr(ctx, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.readErr(ctx, err)
	}
	return res, nil
}

// searchFind is Find with Search inside a write call.
func (t *writeTx) searchFind(ctx context.Context, q store.Query) (*store.Result, error) {
	if err := searchCheck(q); err != nil {
		return nil, err
	}
	if t.s.w.rolledBack {
		return nil, errTxLost
	}
	// This call's own writes (and the group's) are still queued: index
	// them first, inside the call's savepoint.
	if err := t.s.flushSearch(); err != nil {
		return nil, t.s.writeErr(err, "Failed to update the search index.")
	}
	res, err := runSearch(bg, t.s.wconn, q)
	if err != nil {
		return nil, t.s.findErr(ctx, err)
	}
	return res, nil
}

// flushSearch indexes the rows the search triggers queued: each index's
// trigger on _search_flush inserts its queued rows, as they are now, in
// one statement, and empties its queue.
//
// Why the queue: FTS5 writes the terms it holds in memory to the database
// as a new segment whenever a savepoint opens or is released, and the
// writer gives every call of a group its own savepoint. Indexed by the
// triggers directly, every create became a segment of one row, and FTS5
// spent most of its time merging them (over 40% of the writer's time at
// 16 writers). Queued, a group's rows make one segment, in the same
// transaction as the writes: a search still never sees a record that is
// not committed, nor misses one that is.
//
// The triggers keep the queue exact: a row is queued by its insert and by
// an update of its searchable text (whose old text is removed from the
// index at once, unless the row was queued already and so not indexed
// yet); a delete removes the old text from the index unless the row was
// queued, and unqueues it.
func (s *Store) flushSearch() error {
	_, err := s.wexec("UPDATE _search_flush SET n = n + 1")
	return err
}

// countSearchQueues counts the search indexes that queue their rows.
// Indexes built by a Tortoise before the queue index in their triggers
// and have none.
func (s *Store) countSearchQueues() error {
	return s.wconn.QueryRowContext(bg, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\_search\_%\_flush' ESCAPE '\'`).Scan(&s.searchQueues)
}

// searchable reports whether writes to c's table go through a search
// index's triggers.
func searchable(c *core.Collection) bool { return c != nil && c.Search != nil && !c.IsView() }

func searchCheck(q store.Query) error {
	if searchKey(q.Collection) == "" {
		return core.FieldInvalid("search", "validation_not_searchable", "The collection has no searchable fields.")
	}
	if q.Search.Query == nil {
		return core.FieldInvalid("search", "validation_required", "Missing search query.")
	}
	return nil
}

// CheckSearch runs FTS5's integrity check on c's search index: it fails
// unless the index holds exactly the terms of the rows of c's table
// (apart from rows an online fill has yet to reach). Errors: KindInvalid
// when c is not searchable, KindInternal naming the damage otherwise.
func (s *Store) CheckSearch(ctx context.Context, c *core.Collection) error {
	if searchKey(c) == "" {
		return core.Invalid("The collection has no search index.")
	}
	fts := store.QuoteIdent(searchTable(c))
	return s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.(*writeTx).s.wexec("INSERT INTO " + fts + "(" + fts + ", rank) VALUES ('integrity-check', 1)"); err != nil {
			return core.Internal(err, "The search index of %s does not match its records.", c.Name)
		}
		return nil
	})
}
