package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/search"
	"github.com/tortoise-dev/tortoise/store"
)

// Full-text search on PostgreSQL: a collection with a search option gets
// a tsvector column, _search, that a BEFORE INSERT OR UPDATE trigger
// fills in the writing statement (so in its transaction): each
// searchable field's text folded as a query's words are (search.FoldSQL:
// PostgreSQL removes no diacritics) and weighted with its class's label
// (see core.Collection.SearchClasses: visible classes first, heaviest =
// A, then hidden ones), and a GIN index on it. Snippets (ts_headline)
// show the text as written, its own spellings of the matched words
// marked (headlineQuery). The column is never selected
// as a field: records are read with their columns listed.
//
// Filling the column over existing rows: a table of at most
// store.SearchInlineRows rows is filled, and its GIN index built, in the
// transaction that changes the option (adding and dropping a nullable
// column without a default changes no row). A larger one is filled
// online: the transaction records a fill in _params (key
// "search_fill:<id>"), and after it commits a goroutine sets the column
// to NULL (the trigger computes it) for store.SearchFillBatch rows at a time
// in short transactions, walking the primary key, then builds the index
// with CREATE INDEX CONCURRENTLY, which blocks no writes. Writes during
// the fill are indexed by the trigger as always. While a fill runs, a
// search finds the records written since the change and those the fill
// has reached (without the index: by a scan), not yet the others. A fill
// stopped by a restart goes on when the collection is next searched in
// any process (searchResume); two processes filling at once is harmless.
// The trigger's comment names what its column was filled for (searchKey,
// which includes searchLayout); at Open, a column filled for another key,
// such as one from before words were folded, is refilled the same way
// (searchUpgrade).
//
// A query names the labels the caller may search (a guest's leaves out
// the hidden classes), so hidden text neither matches nor ranks, and is
// ranked by ts_rank_cd with the classes' weights.

const searchColumn = "_search"

// tsvectorOID is PostgreSQL's type oid of tsvector: a view whose query
// selects * from a searchable collection yields the search column,
// which ViewColumns leaves out, so it never becomes a field.
const tsvectorOID = 3614

// searchFunc and searchIndex are named from the collection id, which
// never changes.
func searchFunc(c *core.Collection) string  { return "_search_" + c.ID }
func searchIndex(c *core.Collection) string { return "_search_" + c.ID + "_gin" }

// searchConfig is the text search configuration of c's language.
func searchConfig(c *core.Collection) string {
	if c.Search != nil && c.Search.Language == "english" {
		return "english"
	}
	return "simple"
}

// searchLayout names how searchDoc turns text into the column's vectors.
// Change it with searchDoc: every existing column is then refilled at the
// next Open (searchUpgrade). Columns built before it had a name hold the
// text's words unfolded.
const searchLayout = "fold1"

// searchKey says what the column's content depends on: the layout, the
// fields, their labels and the configuration. A change of it refills the
// column (searchApply compares the key of the definition before and after
// a change; searchUpgrade compares the key kept in the trigger's comment
// at Open); a change of weights within the same classes only re-ranks.
func searchKey(c *core.Collection) string {
	if c == nil || c.Search == nil || c.IsView() {
		return ""
	}
	var b strings.Builder
	b.WriteString(searchLayout + "|" + searchConfig(c))
	for _, cl := range c.SearchClasses() {
		for _, f := range cl.Fields {
			b.WriteString("|" + c.Field(f).ID + "=" + string(cl.Label))
		}
	}
	return b.String()
}

// searchDoc returns the trigger's declarations and the tsvector of the
// row rec ("NEW" in the trigger): each field's text, folded as
// search.Parse folds the words of a query (PostgreSQL removes no
// diacritics), weighted with its class's label. A multiple select is
// folded as its JSON array's text. FoldSQL repeats its argument, so each
// field's text is read (and cast) once into a variable of its own.
func searchDoc(c *core.Collection, rec string) (decls, doc string) {
	cfg := "'" + searchConfig(c) + "'::regconfig"
	var parts []string
	for _, cl := range c.SearchClasses() {
		for _, name := range cl.Fields {
			col := rec + "." + store.QuoteIdent(name)
			if store.KindOf(c.Field(name)) != store.ColumnText {
				col += "::text" // a multiple select's JSON array
			}
			v := "_tortoise_" + strconv.Itoa(len(parts)+1)
			decls += v + " text := coalesce(" + col + ", ''); "
			parts = append(parts, "setweight(to_tsvector("+cfg+", "+search.FoldSQL(v)+"), '"+string(cl.Label)+"')")
		}
	}
	if len(parts) == 0 {
		return "", "''::tsvector"
	}
	return decls, strings.Join(parts, " || ")
}

// searchApply brings c's search column, trigger and index to next's
// option, after its table was created or migrated from prev (nil when
// new). The trigger function is replaced every time, since it names the
// columns, which may have been renamed; the column is emptied and filled
// again when what it holds changes (searchKey).
func (t *tx) searchApply(ctx context.Context, prev, next *core.Collection) error {
	pk, nk := searchKey(prev), searchKey(next)
	table := store.QuoteIdent(next.Name)
	fn := store.QuoteIdent(searchFunc(next))
	var stmts []string
	if nk == "" {
		if pk == "" {
			return nil
		}
		stmts = append(stmts,
			"DROP FUNCTION IF EXISTS "+fn+"() CASCADE",                  // with its trigger
			"ALTER TABLE "+table+" DROP COLUMN IF EXISTS "+searchColumn, // with its index
			"DELETE FROM _params WHERE key = '"+store.SearchFillKey(next)+"'")
		return t.execAll(ctx, stmts, "Failed to drop the search index.")
	}
	var changed []string
	for _, cl := range next.SearchClasses() {
		for _, name := range cl.Fields {
			col := store.QuoteIdent(name)
			changed = append(changed, "NEW."+col+" IS DISTINCT FROM OLD."+col)
		}
	}
	// An update that leaves the searchable text alone keeps the vector;
	// setting it to NULL asks for it to be computed again (a refill).
	decls, doc := searchDoc(next, "NEW")
	body := "DECLARE " + decls + "BEGIN IF TG_OP = 'UPDATE' AND NEW." + searchColumn + " IS NOT NULL AND NOT (" +
		strings.Join(changed, " OR ") + ") THEN RETURN NEW; END IF; NEW." + searchColumn + " := " +
		doc + "; RETURN NEW; END"
	stmts = append(stmts,
		"CREATE OR REPLACE FUNCTION "+fn+"() RETURNS trigger LANGUAGE plpgsql AS $tortoise$"+body+"$tortoise$",
		"DROP TRIGGER IF EXISTS "+fn+" ON "+table,
	)
	if pk != nk {
		stmts = append(stmts,
			"ALTER TABLE "+table+" DROP COLUMN IF EXISTS "+searchColumn,
			"ALTER TABLE "+table+" ADD COLUMN "+searchColumn+" tsvector",
		)
	}
	// The trigger's comment is the key the column is filled for (see
	// searchUpgrade). On the trigger rather than the function: a binary
	// from before the layout replaces the function and keeps its comment,
	// but creates the trigger anew.
	stmts = append(stmts, "CREATE TRIGGER "+fn+" BEFORE INSERT OR UPDATE ON "+table+" FOR EACH ROW EXECUTE FUNCTION "+fn+"()",
		"COMMENT ON TRIGGER "+fn+" ON "+table+" IS "+store.QuoteString(nk))
	stmts = append(stmts, "DELETE FROM _params WHERE key = '"+store.SearchFillKey(next)+"'")
	if err := t.execAll(ctx, stmts, "Failed to build the search index."); err != nil || pk == nk {
		return err
	}
	var rows int64
	if err := t.tx.QueryRow(ctx, "SELECT COUNT(*) FROM (SELECT 1 FROM "+table+" LIMIT "+
		strconv.Itoa(store.SearchInlineRows+1)+") AS _n").Scan(&rows); err != nil {
		return t.s.connErr(ctx, err, "Failed to build the search index.")
	}
	if rows <= store.SearchInlineRows {
		return t.execAll(ctx, []string{
			"UPDATE " + table + " SET " + searchColumn + " = NULL",
			"CREATE INDEX " + store.QuoteIdent(searchIndex(next)) + " ON " + table + " USING gin (" + searchColumn + ")",
		}, "Failed to build the search index.")
	}
	gen := core.RandomString(12, "abcdefghijklmnopqrstuvwxyz0123456789")
	b, _ := json.Marshal(searchFillState{Gen: gen})
	if _, err := t.tx.Exec(ctx, paramSetSQL, store.SearchFillKey(next), string(b)); err != nil {
		return t.s.connErr(ctx, err, "Failed to build the search index.")
	}
	go t.s.searchFill(next.Clone(), gen)
	return nil
}

// searchKeysSQL reads, for collections $1 (ids) with tables $2 (names),
// the key their search column is filled for: the comment of the trigger
// that fills it, "" when there is none.
const searchKeysSQL = "SELECT c.id, coalesce(obj_description(tg.oid, 'pg_trigger'), '') " +
	"FROM unnest($1::text[], $2::text[]) AS c(id, name) LEFT JOIN pg_trigger tg " +
	"ON tg.tgrelid = to_regclass(quote_ident(c.name)) AND tg.tgname = '_search_' || c.id"

// searchUpgrade runs at Open: every searchable collection whose column is
// filled for another key than its searchKey (an older searchLayout, or a
// binary from before the key was kept) gets its trigger replaced and its
// column refilled as when its search option changes (searchApply: in the
// transaction up to store.SearchInlineRows rows, online past that), in a
// transaction of its own. That transaction locks the collection's row and
// reads the key again, so processes starting together refill a column
// once. A collection that fails is logged and left as it was, to be tried
// again at the next Open: its search still works, with the old layout.
func (s *Store) searchUpgrade(ctx context.Context) {
	cols, err := s.Collections(ctx)
	if err != nil {
		slog.Warn("search: reading the collections to check their indexes failed", "err", err)
		return
	}
	var ids, names []string
	byID := map[string]*core.Collection{}
	for _, c := range cols {
		if searchKey(c) != "" {
			ids, names = append(ids, c.ID), append(names, c.Name)
			byID[c.ID] = c
		}
	}
	if len(ids) == 0 {
		return
	}
	rows, err := s.pool.Query(ctx, searchKeysSQL, ids, names)
	if err != nil {
		slog.Warn("search: checking the indexes failed", "err", err)
		return
	}
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ ID, Key string }])
	if err != nil {
		slog.Warn("search: checking the indexes failed", "err", err)
		return
	}
	for _, k := range keys {
		c := byID[k.ID]
		if k.Key == searchKey(c) {
			continue
		}
		if err := s.Update(ctx, func(stx store.Tx) error { return stx.(*tx).searchRefill(ctx, c.ID) }); err != nil {
			slog.Warn("search: rebuilding the index failed; searches use the old one", "collection", c.Name, "err", err)
		}
	}
}

// searchRefill refills the search column of the collection id unless it
// is filled for its key already (see searchUpgrade).
func (t *tx) searchRefill(ctx context.Context, id string) error {
	var data string
	err := t.tx.QueryRow(ctx, "SELECT data FROM _collections WHERE id = $1 FOR UPDATE", id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	c, err := core.LoadStoredJSON([]byte(data))
	if err != nil {
		return err
	}
	key := searchKey(c)
	if key == "" {
		return nil
	}
	var of, have string
	if err := t.tx.QueryRow(ctx, searchKeysSQL, []string{c.ID}, []string{c.Name}).Scan(&of, &have); err != nil {
		return err
	}
	if have == key {
		return nil
	}
	slog.Info("search: rebuilding the index for a new layout", "collection", c.Name)
	return t.ddl(ctx, func() error { return t.searchApply(ctx, nil, c) })
}

type searchFillState struct {
	Gen    string `json:"gen"`
	Cursor string `json:"cursor"` // the last id filled
}

// A fill's batch locks its rows in the order of their ids, and a writer
// may lock rows of the same batch in another order (a descending one, a
// transaction holding a row the batch reaches last): each then waits for
// the other, and PostgreSQL ends one of them after deadlock_timeout,
// which may be the writer's. So a batch waits for a row lock at most a
// quarter of deadlock_timeout (never more than 50 ms), well before
// anyone's deadlock check, then rolls back, letting the writer go on,
// and is tried again after fillYield.
const (
	fillLockTimeoutSQL = "SELECT set_config('lock_timeout', GREATEST(1, LEAST(50, EXTRACT(EPOCH FROM " +
		"current_setting('deadlock_timeout')::interval) * 250))::int || 'ms', true)"
	fillYield = 100 * time.Millisecond
)

// searchFills holds the online fills running in this process.
var searchFills sync.Map

// searchFill fills c's column for the fill gen (see the package's search
// notes) until it is done or its record is gone or replaced.
func (s *Store) searchFill(c *core.Collection, gen string) {
	key := fmt.Sprintf("%p/%s/%s", s, c.ID, gen)
	if _, running := searchFills.LoadOrStore(key, true); running {
		return
	}
	defer searchFills.Delete(key)
	ctx := context.Background()
	table := store.QuoteIdent(c.Name)
	batch := "WITH _b AS (SELECT id FROM " + table + " WHERE id > $1 ORDER BY id LIMIT " + strconv.Itoa(store.SearchFillBatch) +
		") UPDATE " + table + " AS _t SET " + searchColumn + " = NULL FROM _b WHERE _t.id = _b.id AND _t." + searchColumn + " IS NULL"
	last := "SELECT COALESCE(MAX(id), '') FROM (SELECT id FROM " + table + " WHERE id > $1 ORDER BY id LIMIT " +
		strconv.Itoa(store.SearchFillBatch) + ") AS _b"
	for missing := 0; ; {
		var found, filled bool
		err := s.Update(ctx, func(stx store.Tx) error {
			t := stx.(*tx)
			var st searchFillState
			b, err := t.Param(ctx, store.SearchFillKey(c))
			if err != nil {
				if core.KindOf(err) == core.KindNotFound {
					return nil
				}
				return err
			}
			if json.Unmarshal(b, &st) != nil || st.Gen != gen {
				filled = true // another fill's: not ours to go on with
				return nil
			}
			found = true
			var end string
			if err := t.tx.QueryRow(ctx, last, st.Cursor).Scan(&end); err != nil {
				return err
			}
			if end == "" {
				filled = true
				return nil
			}
			if _, err := t.tx.Exec(ctx, fillLockTimeoutSQL); err != nil {
				return err
			}
			if _, err := t.tx.Exec(ctx, batch, st.Cursor); err != nil {
				return err
			}
			st.Cursor = end
			b, _ = json.Marshal(st)
			return t.SetParam(ctx, store.SearchFillKey(c), b)
		})
		var pgErr *pgconn.PgError
		switch {
		case err != nil && s.closed.Load():
			return
		case errors.As(err, &pgErr) && pgErr.Code == "55P03": // lock_not_available: a writer holds a row
			time.Sleep(fillYield)
			continue
		case err != nil:
			slog.Warn("search: filling the index failed; retrying", "collection", c.Name, "err", err)
			time.Sleep(time.Second)
			continue
		case !found && !filled:
			// Not committed yet (or rolled back): wait a little, then give up.
			if missing++; missing > 250 {
				return
			}
			time.Sleep(20 * time.Millisecond)
			continue
		case !filled:
			continue
		}
		if !found {
			return
		}
		// Every row is filled: the index, without blocking writes, then
		// the record goes (if it is still this fill's).
		if _, err := s.pool.Exec(ctx, "CREATE INDEX CONCURRENTLY IF NOT EXISTS "+store.QuoteIdent(searchIndex(c))+
			" ON "+table+" USING gin ("+searchColumn+")"); err != nil && !s.closed.Load() {
			slog.Warn("search: building the index failed", "collection", c.Name, "err", err)
		}
		_, _ = s.pool.Exec(ctx, "DELETE FROM _params WHERE key = $1 AND value::jsonb ->> 'gen' = $2", store.SearchFillKey(c), gen)
		return
	}
}

// searchResume goes on with a fill of c's column that a restart stopped,
// reading the fill's record once per store, collection and layout.
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

// searchDrop drops c's trigger function (and with it the trigger) and
// any fill record, before its table goes.
func (t *tx) searchDrop(ctx context.Context, c *core.Collection) error {
	return t.execAll(ctx, []string{
		"DROP FUNCTION IF EXISTS " + store.QuoteIdent(searchFunc(c)) + "() CASCADE",
		"DELETE FROM _params WHERE key = '" + store.SearchFillKey(c) + "'",
	}, "Failed to drop the search index.")
}

// searchRank is ts_rank_cd with the classes' weights, as {D, C, B, A}
// relative to the heaviest.
func searchRank(c *core.Collection, vector, query string) string {
	w := [4]float64{}
	heaviest := 0.0
	for _, cl := range c.SearchClasses() {
		heaviest = max(heaviest, cl.Weight)
	}
	for _, cl := range c.SearchClasses() {
		w[3-int(cl.Label-'A')] = cl.Weight / heaviest
	}
	parts := make([]string, 4)
	for i, x := range w {
		parts[i] = strconv.FormatFloat(x, 'g', 6, 64)
	}
	return "ts_rank_cd('{" + strings.Join(parts, ",") + "}'::float4[], " + vector + ", " + query + ")"
}

type searchStmts struct {
	list, count     string
	args, countArgs []any
	cols            []string // the highlighted columns, after the fields in each row
}

// searchSQL builds a search's statements: the match ($1, the tsquery
// text) ANDed with Where, the page ordered by rank unless OrderBy is
// given, and, for highlights, each allowed column's ts_headline computed
// over the page only (the outer query of a CTE that pages first).
func searchSQL(q store.Query, typos map[string]bool) searchStmts {
	c := q.Collection
	sq := q.Search
	r := store.QuoteIdent(store.MainAlias)
	from := store.FromClause(c)
	var f searchStmts
	cfg := "'" + searchConfig(c) + "'::regconfig"
	tsq := "to_tsquery(" + cfg + ", $1)"
	labels := c.SearchLabels(sq.Columns)
	where := " WHERE FALSE"
	next := 1
	if labels != "" {
		where = " WHERE " + r + "." + searchColumn + " @@ " + tsq
		f.countArgs = []any{sq.Query.TSQuery(labels, typos)}
		next = 2
	}
	if q.Where != nil && strings.TrimSpace(q.Where.Text) != "" {
		var text string
		text, next = store.NumberPlaceholders(q.Where.Text, next)
		where += " AND (" + text + ")"
		f.countArgs = append(f.countArgs, q.Where.Args...)
	}
	f.count = "SELECT COUNT(*)" + from + where
	list := store.SelectColumns(c) + from + where
	switch {
	case strings.TrimSpace(q.OrderBy) != "":
		list += " ORDER BY " + q.OrderBy
	case labels != "":
		list += " ORDER BY " + searchRank(c, r+"."+searchColumn, tsq) + " DESC, " + r + `."id"`
	}
	list += " LIMIT $" + strconv.Itoa(next) + " OFFSET $" + strconv.Itoa(next+1)
	var limit any
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	f.args = append(append(make([]any, 0, len(f.countArgs)+4), f.countArgs...), limit, int64(max(q.Offset, 0)))
	if sq.Highlights && labels != "" {
		// The page's rows keep their order through the CTE: ORDER BY
		// _tortoise_n, its row number.
		p := store.QuoteIdent("_page")
		outer := "SELECT " + p + ".*"
		for _, col := range searchColumnsOf(c) {
			if !containsString(sq.Columns, col) {
				continue
			}
			text := p + "." + store.QuoteIdent(col)
			if store.KindOf(c.Field(col)) != store.ColumnText {
				text += "::text"
			}
			outer += ", ts_headline(" + cfg + ", " + text + ", " + headlineQuery(cfg, text, tsq) + ", $" + strconv.Itoa(next+2) + ")"
			f.cols = append(f.cols, col)
		}
		list = "WITH " + p + " AS MATERIALIZED (SELECT *, row_number() OVER () AS _tortoise_n FROM (" + list + ") AS _l) " +
			outer + " FROM " + p + " ORDER BY _tortoise_n"
		f.args = append(f.args, "StartSel="+sq.Marks[0]+", StopSel="+sq.Marks[1]+
			", MaxWords=30, MinWords=12, ShortWord=2, HighlightAll=false, MaxFragments=2, FragmentDelimiter=\" … \"")
	}
	f.list = list
	return f
}

// headlineQuery is the query ts_headline marks the text (a cheap
// expression: a column) with. The index holds the text's words folded
// (searchDoc) and tsq matches them so, but a snippet shows the text as
// written, whose "Café" the folded "cafe" does not match: so tsq is or'ed
// with the text's own spellings of the words that match tsq once folded.
// Only words with a character outside ASCII can fold to something else;
// those, one per line, are folded and marked by one ts_headline over all
// of them (HighlightAll, which keeps the lines), and the lines marked are
// the spellings taken. The words are to_tsvector's lexemes of the text,
// which ts_headline finds in it again.
func headlineQuery(cfg, text, tsq string) string {
	// A lexeme as to_tsquery text: quoted, its quotes doubled and its
	// backslashes escaped.
	lexeme := `'''' || replace(replace(_m.l, E'\\', E'\\\\'), '''', '''''') || ''''`
	return "coalesce((SELECT " + tsq + " || string_agg(" + lexeme + ", ' | ')::tsquery" +
		" FROM (SELECT array_agg(_l) AS ls, string_agg(_l, E'\\n') AS f FROM unnest(tsvector_to_array(to_tsvector(" + cfg + ", " + text + "))) AS _l" +
		" WHERE octet_length(_l) <> char_length(_l)) AS _w, unnest(_w.ls, string_to_array(ts_headline(" + cfg + ", " +
		search.FoldSQL("_w.f") + ", " + tsq + ", 'HighlightAll=true, StartSel=" + search.MarkStart + ", StopSel=" + search.MarkEnd +
		"'), E'\\n')) AS _m(l, h) WHERE strpos(_m.h, '" + search.MarkStart + "') > 0), " + tsq + ")"
}

// searchColumnsOf are c's searchable fields in the option's order.
func searchColumnsOf(c *core.Collection) []string {
	var cols []string
	for _, sf := range c.Search.Fields {
		if c.Field(sf.Name) != nil {
			cols = append(cols, sf.Name)
		}
	}
	return cols
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// searchRowsInto scans a search page: the record's fields, then (with
// highlights) the _tortoise_n column and one headline per highlighted column;
// headlines without a match are left out.
func searchRowsInto(c *core.Collection, f searchStmts, marks [2]string, res *store.Result) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		defer rows.Close()
		list := []*core.Record{}
		dest, fill := store.ScanDest(c)
		var n int64
		heads := make([]*string, len(f.cols))
		if len(f.cols) > 0 {
			dest = append(dest, &n)
			for i := range heads {
				heads[i] = new(string)
				dest = append(dest, heads[i])
			}
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			rec := fill()
			list = append(list, rec)
			for i, col := range f.cols {
				if strings.Contains(*heads[i], marks[0]) {
					if res.Highlights == nil {
						res.Highlights = map[string]map[string]string{}
					}
					if res.Highlights[rec.ID()] == nil {
						res.Highlights[rec.ID()] = map[string]string{}
					}
					res.Highlights[rec.ID()][col] = *heads[i]
				}
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		res.Records = list
		return nil
	}
}

func searchCheck(q store.Query) error {
	if searchKey(q.Collection) == "" {
		return core.FieldInvalid("search", "validation_not_searchable", "The collection has no searchable fields.")
	}
	if q.Search.Query == nil {
		return core.FieldInvalid("search", "validation_required", "Missing search query.")
	}
	return nil
}

// searchFind is Find for a query with Search: the total and the page
// (with its highlights) from one snapshot.
func (s *Store) searchFind(ctx context.Context, q store.Query) (*store.Result, error) {
	if err := searchCheck(q); err != nil {
		return nil, err
	}
	s.searchResume(ctx, q.Collection)
	var typos map[string]bool
	if st, ok := searchTyposSteps(q, &typos); ok {
		if err := s.snapshot(ctx, st...); err != nil {
			return nil, s.findErr(ctx, err)
		}
	}
	f := searchSQL(q, typos)
	res := &store.Result{Total: -1}
	steps := []step{{sql: f.list, args: f.args, rows: searchRowsInto(q.Collection, f, q.Search.Marks, res)}}
	var n int64
	if q.WithTotal {
		steps = append(steps, step{sql: f.count, args: f.countArgs, rows: scanInto(&n)})
	}
	if err := s.snapshot(ctx, steps...); err != nil {
		return nil, s.findErr(ctx, err)
	}
	if q.WithTotal {
		res.Total = int(n)
	}
	return res, nil
}

// searchTyposSteps are, for a fuzzy search, the steps that read into
// *typos the words among its Typos the index holds under the caller's
// labels: one GIN lookup each, so the search itself weighs only those.
// With every variant in the tsquery, PostgreSQL weighed up to 2,000
// alternatives for each matching row, in the rank and the headlines too:
// seconds over 10k records. ok is false when there is nothing to look up.
//
// Each lookup must be the index's: the planner, guessing that a word
// matches thousands of rows, would otherwise read the table until a
// first match (LIMIT 1), the whole table for a word that is not there.
// So the steps turn sequential scans off around the lookup, for this
// transaction only (SET LOCAL).
func searchTyposSteps(q store.Query, typos *map[string]bool) (steps []step, ok bool) {
	sq := q.Search
	labels := q.Collection.SearchLabels(sq.Columns)
	if !sq.Fuzzy || labels == "" {
		return nil, false
	}
	words := sq.Query.Typos()
	if len(words) == 0 {
		return nil, false
	}
	texts := make([]string, len(words))
	for i, w := range words {
		texts[i] = search.Query{Terms: []search.Term{{Words: []string{w}}}}.TSQuery(labels, nil)
	}
	r := store.QuoteIdent(store.MainAlias)
	sql := "SELECT _w.i FROM unnest($1::text[]) WITH ORDINALITY AS _w(q, i) CROSS JOIN LATERAL (SELECT 1" +
		store.FromClause(q.Collection) + " WHERE " + r + "." + searchColumn + " @@ to_tsquery('" + searchConfig(q.Collection) +
		"'::regconfig, _w.q) LIMIT 1) AS _x"
	probe := step{sql: sql, args: []any{texts}, rows: func(rows pgx.Rows) error {
		defer rows.Close()
		found := map[string]bool{}
		for rows.Next() {
			var i int64
			if err := rows.Scan(&i); err != nil {
				return err
			}
			if i >= 1 && i <= int64(len(words)) {
				found[words[i-1]] = true
			}
		}
		*typos = found
		return rows.Err()
	}}
	return []step{{sql: "SET LOCAL enable_seqscan = off"}, probe, {sql: "SET LOCAL enable_seqscan TO DEFAULT"}}, true
}

// searchFind is Find with Search inside a write transaction. The rows
// are not locked (FOR UPDATE does not go with the highlights' CTE): a
// search is for reading.
func (t *tx) searchFind(ctx context.Context, q store.Query) (*store.Result, error) {
	if err := searchCheck(q); err != nil {
		return nil, err
	}
	var typos map[string]bool
	if st, ok := searchTyposSteps(q, &typos); ok {
		if err := t.guarded(ctx, st...); err != nil {
			return nil, t.s.findErr(ctx, err)
		}
	}
	f := searchSQL(q, typos)
	res := &store.Result{Total: -1}
	steps := []step{{sql: f.list, args: f.args, rows: searchRowsInto(q.Collection, f, q.Search.Marks, res)}}
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
