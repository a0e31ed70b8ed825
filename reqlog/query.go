package reqlog

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	_ "github.com/tortoise-dev/tortoise/store/sqlite" // registers the SQL function the filter language's SQL calls on SQLite

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/filter"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// Paging of List, as PocketBase's log list.
const (
	DefaultPerPage = 30
	MaxPerPage     = 500
)

// How filters and sorts see the log. PocketBase's log filters name id,
// created, updated, level, message and data.<key>; the filter language
// reads data.<key> as a key path inside a json field, which a database
// can only answer by reading every row's document. So the log keeps each
// key in a column of its own, and a filter is checked against a pseudo
// collection whose fields are those columns: data.status is written
// data_status, a rename of the same length (mapFilter), so every position
// in an error message stays right. The view names the columns after the
// fields; SQLite and PostgreSQL both flatten it into the query, so the
// table's indexes serve the filter. Only the keys below exist: another
// data.<key> is an unknown field (400), as is data alone.

// dataKeys are the keys of an entry's data and their columns, in a fixed
// order so that a query's text is always the same (PostgreSQL's driver
// keeps statements prepared by their text).
var dataKeys = []struct{ key, col string }{
	{"type", "'request'"}, {"status", "status"}, {"execTime", "exec_time"}, {"method", "method"}, {"url", "url"},
	{"route", "route"}, {"auth", "auth"}, {"authId", "auth_id"}, {"userIP", "user_ip"}, {"remoteIP", "remote_ip"},
	{"referer", "referer"}, {"userAgent", "user_agent"}, {"error", "error"}, {"details", "details"},
}

// isDataKey reports whether k is one of dataKeys.
func isDataKey(k string) bool {
	return slices.ContainsFunc(dataKeys, func(d struct{ key, col string }) bool { return d.key == k })
}

// logView is the pseudo collection filters and sorts are checked against.
var logView = func() *core.Collection {
	c := &core.Collection{ID: logsTable, Name: logsTable, Fields: []core.Field{
		{Name: "id", Type: core.FieldText}, {Name: "created", Type: core.FieldDate}, {Name: "updated", Type: core.FieldDate},
		{Name: "level", Type: core.FieldNumber}, {Name: "message", Type: core.FieldText},
	}}
	for _, d := range dataKeys {
		t := core.FieldText
		if d.key == "status" || d.key == "execTime" {
			t = core.FieldNumber
		}
		c.Fields = append(c.Fields, core.Field{Name: "data_" + d.key, Type: t})
	}
	return c
}()

// levelSQL is an entry's level from its status.
const levelSQL = "CASE WHEN status >= 500 THEN 8 WHEN status >= 400 THEN 4 ELSE 0 END"

// viewSQL is the FROM clause of filtered queries: the table seen with the
// pseudo collection's columns, and _seq, the order of insertion (the id:
// on SQLite the time-ordered row key, on PostgreSQL the text id, which
// sorts the same way). On SQLite the packed fields come out through
// fnField, evaluated only where the query reads them.
func (l *Log) viewSQL() string {
	var b strings.Builder
	if l.d == query.SQLite {
		field := func(i int) string { return fnField + "(data, " + strconv.Itoa(i) + ")" }
		b.WriteString(`(SELECT ` + fnID + `(id) AS id, ` + fnTime + `(id) AS created, ` + fnTime + `(id) AS updated, ` +
			levelSQL + ` AS level, ` + field(pMethod) + ` || ' ' || ` + field(pURL) + ` AS message, id AS _seq, data AS _data`)
		for _, d := range dataKeys {
			col := d.col
			if i := slices.Index(packedNames[:], d.key); i >= 0 {
				col = field(i)
			}
			b.WriteString(", " + col + ` AS "data_` + d.key + `"`)
		}
	} else {
		b.WriteString(`(SELECT id, created, created AS updated, ` + levelSQL + ` AS level, method || ' ' || url AS message, id AS _seq`)
		for _, d := range dataKeys {
			b.WriteString(", " + d.col + ` AS "data_` + d.key + `"`)
		}
	}
	b.WriteString(" FROM " + logsTable + ") " + query.MainAlias)
	return b.String()
}

// entryColumns are what scanEntry reads of the view (in its order).
func (l *Log) entryColumns() []string {
	if l.d == query.SQLite {
		return []string{"_seq", `"data_status"`, `"data_execTime"`, "_data"}
	}
	out := []string{"id", "created"}
	for _, k := range []string{"method", "url", "route", "status", "execTime", "remoteIP", "userIP", "auth", "authId", "userAgent", "referer", "error", "details"} {
		out = append(out, `"data_`+k+`"`)
	}
	return out
}

// selectEntries is the SELECT list of entries from the view.
func (l *Log) selectEntries() string {
	cols := l.entryColumns()
	for i, c := range cols {
		cols[i] = query.MainAlias + "." + c
	}
	return "SELECT " + strings.Join(cols, ", ")
}

// noSchema answers the filter language's questions about other
// collections: there are none here.
type noSchema struct{}

func (noSchema) CollectionByNameOrID(string) *core.Collection { return nil }

func (l *Log) env() *filter.Env {
	return &filter.Env{Schema: noSchema{}, Collection: logView, Request: &filter.Request{}, AllowHidden: true}
}

// mapFilter renames data.<key> to data_<key> in a filter, outside its
// strings, comments and placeholders, following the filter language's
// lexer, and refuses names of data the log does not have. Errors are
// KindInvalid with the position, as the filter's own.
func mapFilter(src string) (string, error) {
	var out []byte // a copy, made on the first rename
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '\'' || c == '"':
			i++
			for i < len(src) {
				if src[i] == '\\' && i+1 < len(src) && src[i+1] == c {
					i += 2
					continue
				}
				i++
				if src[i-1] == c {
					break
				}
			}
		case c == '{' && i+1 < len(src) && src[i+1] == ':':
			for i < len(src) && src[i] != '}' {
				i++
			}
		case isDigit(c):
			// A number, or a number glued to letters, which the parser
			// refuses: never a name.
			for i < len(src) && (isIdentChar(src[i]) || src[i] == '+' || src[i] == '-') {
				i++
			}
		case isIdentStart(c):
			j := i + 1 // '@' starts a name but does not continue one
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			name, _, _ := strings.Cut(src[i:j], ":")
			switch {
			case name == "data":
				return "", badFilter(i, "%q has no value of its own: name one of its keys, such as data.status", name)
			case strings.HasPrefix(name, "data."):
				if !isDataKey(name[5:]) {
					return "", badFilter(i, "unknown field %q (the log's data keys are %s)", name, dataKeyList)
				}
				if out == nil {
					out = []byte(src)
				}
				out[i+4] = '_'
			case strings.HasPrefix(name, "data_"):
				return "", badFilter(i, "unknown field %q", name)
			}
			i = j
		default:
			i++
		}
	}
	if out == nil {
		return src, nil
	}
	return string(out), nil
}

// dataKeyList names the data keys for error messages.
var dataKeyList = "type, status, execTime, method, url, route, auth, authId, userIP, remoteIP, referer, userAgent, error and details"

func badFilter(pos int, format string, args ...any) error {
	e := core.Invalid("invalid filter: "+format, args...)
	e.Message += " at position " + strconv.Itoa(pos)
	return e
}

// The filter language's character classes (filter's lexer).
func isIdentStart(c byte) bool {
	return c == '_' || c == '@' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '.' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// unmapped turns the pseudo names in a filter or sort error back into
// the names the caller wrote.
func unmapped(err error) error {
	e := core.AsError(err)
	if e == nil || e.Kind != core.KindInvalid {
		return err
	}
	c := *e
	c.Message = strings.ReplaceAll(c.Message, "data_", "data.")
	return &c
}

// where compiles a filter to a WHERE fragment over the view; nil for an
// empty filter. Errors: KindInvalid naming the problem (PocketBase's
// "Invalid filter parameter." with the detail under data.filter).
func (l *Log) where(src string) (*query.SQL, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	mapped, err := mapFilter(src)
	if err != nil {
		return nil, service.FilterError("filter", err)
	}
	q, err := filter.Compile(mapped, l.env(), l.d)
	if err != nil {
		return nil, service.FilterError("filter", unmapped(err))
	}
	return &q, nil
}

// orderBy compiles PocketBase's sort parameter over the view: id,
// created, updated, level, message, data.<key>, @random, and rowid (the
// order of insertion). Ties are broken by insertion order, in the
// direction of the last key, so pages are stable and the key's order
// serves the common -created on both engines.
// The default is newest first.
func (l *Log) orderBy(src string) (string, error) {
	seq := query.MainAlias + "._seq"
	if strings.TrimSpace(src) == "" {
		src = "-created"
	}
	items := strings.Split(src, ",")
	if len(items) > filter.MaxSortFields {
		return "", service.FilterError("sort", core.Invalid("invalid sort: more than %d fields", filter.MaxSortFields))
	}
	var out []string
	dir := " ASC"
	bySeq := false
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return "", service.FilterError("sort", core.Invalid("invalid sort: an empty item"))
		}
		sign, key := "", item
		if strings.HasPrefix(key, "-") || strings.HasPrefix(key, "+") {
			sign, key = key[:1], key[1:]
		}
		dir = " ASC"
		if sign == "-" {
			dir = " DESC"
		}
		bySeq = false
		switch {
		case key == "rowid" || key == "@rowid",
			// The key starts with the time: its order is created's.
			key == "created" || key == "updated":
			out = append(out, seq+dir)
			bySeq = true
			continue
		case key == "data" || strings.HasPrefix(key, "data_"):
			return "", service.FilterError("sort", core.Invalid("invalid sort: unknown field %q", key))
		case strings.HasPrefix(key, "data."):
			if !isDataKey(key[5:]) {
				return "", service.FilterError("sort", core.Invalid("invalid sort: unknown field %q", key))
			}
			key = "data_" + key[5:]
		}
		o, err := filter.CompileSort(sign+key, l.env(), l.d)
		if err != nil {
			return "", service.FilterError("sort", unmapped(err))
		}
		out = append(out, o)
	}
	if !bySeq {
		out = append(out, seq+dir)
	}
	return strings.Join(out, ", "), nil
}

// ListParams are GET /api/logs' parameters.
type ListParams struct {
	Page, PerPage int // from 1; PerPage default DefaultPerPage, capped at MaxPerPage
	Filter, Sort  string
	// SkipTotal leaves the count out (TotalItems and TotalPages -1): on a
	// large log the count is most of a filtered list's cost.
	SkipTotal bool
}

// ListResult is one page of entries, in PocketBase's list shape.
type ListResult struct {
	Page       int      `json:"page"`
	PerPage    int      `json:"perPage"`
	TotalItems int      `json:"totalItems"`
	TotalPages int      `json:"totalPages"`
	Items      []*Entry `json:"items"`
}

// List returns a page of the entries a filter selects, sorted. Errors:
// KindInvalid for a bad filter or sort, KindUnavailable when the read
// timeout stops the query, KindInternal.
func (l *Log) List(ctx context.Context, p ListParams) (*ListResult, error) {
	where, err := l.where(p.Filter)
	if err != nil {
		return nil, err
	}
	order, err := l.orderBy(p.Sort)
	if err != nil {
		return nil, err
	}
	p.Page = max(p.Page, 1)
	if p.PerPage <= 0 {
		p.PerPage = DefaultPerPage
	}
	p.PerPage = min(p.PerPage, MaxPerPage)
	const maxOffset = 1 << 40
	offset := (p.Page - 1) * p.PerPage
	if p.Page > maxOffset/p.PerPage {
		offset = maxOffset
	}
	q, count := l.listSQL(where, order)
	var args []any
	if where != nil {
		args = where.Args
	}
	ctx, cancel := l.readCtx(ctx)
	defer cancel()
	res := &ListResult{Page: p.Page, PerPage: p.PerPage, TotalItems: -1, TotalPages: -1}
	if res.Items, err = l.queryEntries(ctx, l.numbered(q), append(append([]any(nil), args...), p.PerPage, offset)...); err != nil {
		return nil, err
	}
	if !p.SkipTotal {
		var n int64
		if where == nil {
			n, err = l.total(ctx)
		} else if err = l.rdb.QueryRowContext(ctx, l.numbered(count), args...).Scan(&n); err != nil {
			err = l.readErr(ctx, err)
		}
		if err != nil {
			return nil, err
		}
		res.TotalItems = int(n)
		res.TotalPages = (res.TotalItems + p.PerPage - 1) / p.PerPage
	}
	return res, nil
}

// listSQL is a page of entries (LIMIT and OFFSET bound last) and their
// count, with ? placeholders.
func (l *Log) listSQL(where *query.SQL, order string) (list, count string) {
	from := " FROM " + l.viewSQL()
	if where != nil {
		from += " WHERE " + where.Text
	}
	return l.selectEntries() + from + " ORDER BY " + order + " LIMIT ? OFFSET ?", "SELECT count(*)" + from
}

// total counts every entry as Stats does without a filter: the rollup
// for the minutes before the previous one, the entries for the rest, so
// that the count costs a row per minute and route instead of a row per
// request. It agrees with the entries: each is written with its rollup in
// one transaction, and retention cuts both at the same minute.
func (l *Log) total(ctx context.Context) (int64, error) {
	cut := l.opts.now().Truncate(time.Minute).Add(-time.Minute)
	var n, recent int64
	q := "SELECT CAST(COALESCE(sum(requests), 0) AS bigint) FROM " + statsTable + " WHERE minute < ?"
	if err := l.rdb.QueryRowContext(ctx, l.numbered(q), cut.Unix()/60).Scan(&n); err != nil {
		return 0, l.readErr(ctx, err)
	}
	q = "SELECT count(*) FROM " + logsTable + " WHERE id >= ?"
	if err := l.rdb.QueryRowContext(ctx, l.numbered(q), l.seqFrom(cut)).Scan(&recent); err != nil {
		return 0, l.readErr(ctx, err)
	}
	return n + recent, nil
}

// Get returns one entry. Errors: KindNotFound, KindInternal.
func (l *Log) Get(ctx context.Context, id string) (*Entry, error) {
	ctx, cancel := l.readCtx(ctx)
	defer cancel()
	if !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0 {
		return nil, errNoEntry // no entry has such an id, and PostgreSQL refuses to compare it
	}
	var key any = id
	if l.d == query.SQLite {
		k, ok := keyOfID(id)
		if !ok {
			return nil, errNoEntry
		}
		key = k
	}
	list, err := l.queryEntries(ctx, l.numbered(l.selectEntries()+" FROM "+l.viewSQL()+" WHERE "+query.MainAlias+"._seq = ?"), key)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 || list[0].ID != id {
		return nil, errNoEntry
	}
	return list[0], nil
}

var errNoEntry = core.NotFound("The requested resource wasn't found.")

// StatPoint is the number of entries of one hour (Date, its start in
// core.DateLayout), PocketBase's log stats item.
type StatPoint struct {
	Total int64  `json:"total"`
	Date  string `json:"date"`
}

// Stats counts the entries a filter selects per hour, oldest first.
//
// Without a filter the counts come from the rollup for the minutes before
// the previous one, whose rows every flusher has written by then, and
// from the entries themselves for the last two minutes: a week's chart
// reads about 10,000 rollup rows per route instead of every entry.
// Errors: KindInvalid for a bad filter, KindUnavailable when the read
// timeout stops the query, KindInternal.
func (l *Log) Stats(ctx context.Context, filterSrc string) ([]StatPoint, error) {
	where, err := l.where(filterSrc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := l.readCtx(ctx)
	defer cancel()
	hours := map[string]int64{}
	count := func(q string, args ...any) error {
		rows, err := l.rdb.QueryContext(ctx, l.numbered(q), args...)
		if err != nil {
			return l.readErr(ctx, err)
		}
		defer rows.Close()
		for rows.Next() {
			var hour any
			var n int64
			if err := rows.Scan(&hour, &n); err != nil {
				return l.readErr(ctx, err)
			}
			switch h := hour.(type) {
			case int64: // SQLite: Unix hours
				hours[hourKey(h)] += n
			case string:
				hours[h] += n
			}
		}
		if err := rows.Err(); err != nil {
			return l.readErr(ctx, err)
		}
		return nil
	}
	// The hour of an entry: on SQLite from its key, as Unix hours; on
	// PostgreSQL the start of its created text.
	hour := "substr(" + query.MainAlias + ".created, 1, 13)"
	recent := query.MainAlias + "._seq >= ?"
	cut := l.opts.now().Truncate(time.Minute).Add(-time.Minute)
	cutArg := l.seqFrom(cut)
	if l.d == query.SQLite {
		hour = "((" + query.MainAlias + "._seq >> " + strconv.Itoa(counterBits) + ") + " + strconv.Itoa(keyEpochMS) + ") / 3600000"
	}
	byHour := "SELECT " + hour + ", count(*) FROM " + l.viewSQL()
	if where != nil {
		err = count(byHour+" WHERE "+where.Text+" GROUP BY 1", where.Args...)
	} else {
		err = count(byHour+" WHERE "+recent+" GROUP BY 1", cutArg)
		if err == nil {
			err = l.rollupHours(ctx, cut.Unix()/60, hours)
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]StatPoint, 0, len(hours))
	for h, n := range hours {
		out = append(out, StatPoint{Total: n, Date: h + ":00:00.000Z"})
	}
	slices.SortFunc(out, func(a, b StatPoint) int { return strings.Compare(a.Date, b.Date) })
	return out, nil
}

// rollupHours adds the rollup's requests per hour of the minutes before
// cut to hours (keyed as substr(created, 1, 13)).
// hourKey is a Unix hour as substr(created, 1, 13) reads it.
func hourKey(h int64) string { return core.FormatTime(time.Unix(h*3600, 0))[:13] }

func (l *Log) rollupHours(ctx context.Context, cut int64, hours map[string]int64) error {
	rows, err := l.rdb.QueryContext(ctx, l.numbered("SELECT minute / 60, CAST(sum(requests) AS bigint) FROM "+statsTable+" WHERE minute < ? GROUP BY 1"), cut)
	if err != nil {
		return l.readErr(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		var h, n int64
		if err := rows.Scan(&h, &n); err != nil {
			return l.readErr(ctx, err)
		}
		hours[hourKey(h)] += n
	}
	if err := rows.Err(); err != nil {
		return l.readErr(ctx, err)
	}
	return nil
}

// queryEntries runs a query of entryColumns.
func (l *Log) queryEntries(ctx context.Context, q string, args ...any) ([]*Entry, error) {
	rows, err := l.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, l.readErr(ctx, err)
	}
	defer rows.Close()
	out := []*Entry{}
	for rows.Next() {
		e, err := l.scanEntry(rows)
		if err != nil {
			return nil, l.readErr(ctx, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, l.readErr(ctx, err)
	}
	return out, nil
}

func (l *Log) scanEntry(rows *sql.Rows) (*Entry, error) {
	var e Entry
	var status, ms float64
	if l.d == query.SQLite {
		var key int64
		var data []byte
		if err := rows.Scan(&key, &status, &ms, &data); err != nil {
			return nil, err
		}
		if err := unpack(data, &e); err != nil {
			return nil, err
		}
		created := keyMS(key)
		e.ID, e.Created = formatID(created, uint64(key&(sqliteCounterSpan-1))), time.UnixMilli(created).UTC()
	} else {
		var created string
		if err := rows.Scan(&e.ID, &created, &e.Method, &e.URL, &e.Route, &status, &ms, &e.RemoteIP, &e.UserIP,
			&e.Auth, &e.AuthID, &e.UserAgent, &e.Referer, &e.Error, &e.Details); err != nil {
			return nil, err
		}
		t, err := time.Parse(core.DateLayout, created)
		if err != nil {
			return nil, err
		}
		e.Created = t
	}
	e.Status, e.Duration = int(status), time.Duration(ms*float64(time.Millisecond))
	return &e, nil
}

// numbered gives a query PostgreSQL's $n placeholders.
func (l *Log) numbered(q string) string {
	if l.d != query.Postgres {
		return q
	}
	q, _ = store.NumberPlaceholders(q, 1)
	return q
}

// readCtx bounds a read by the read timeout.
func (l *Log) readCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if l.opts.ReadTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, l.opts.ReadTimeout, store.ErrReadTimeout)
}

// readErr maps a failed read: stopped at the read timeout is
// KindUnavailable, the caller's context ending keeps its meaning, a
// closed log is KindUnavailable, anything else is internal.
func (l *Log) readErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(context.Cause(ctx), store.ErrReadTimeout) {
			return store.ReadTimeoutError(err)
		}
		return ctxErr
	}
	if l.closed.Load() {
		return errClosed
	}
	return core.Internal(err, "Failed to read the request log.")
}
