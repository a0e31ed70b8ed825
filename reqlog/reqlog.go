// Package reqlog is the request log: every API request, with its status,
// duration, caller and error, kept for a number of days apart from the
// application's data (a second SQLite file, logs.db, when embedded; a table
// of its own on PostgreSQL). It answers PocketBase's log API (List, Get,
// Stats) and gives the admin's dashboard its figures (Summary).
//
// Logging must not slow the API down. A request costs one small allocation
// and a non-blocking send on a bounded queue (Record); a background flusher
// writes what is queued in batches, one transaction and a few multi-row
// INSERTs each, about once a second or as soon as a batch fills. When the
// queue is full, entries are dropped and counted rather than making a
// request wait: the log is a diagnostic, not a ledger.
//
// The flusher also keeps a per-minute, per-route rollup (counts, errors and
// a latency histogram) in a second table, so the dashboard's figures cost
// the same on a log of a thousand requests and of a hundred million; and it
// deletes entries older than the retention, a bounded chunk at a time.
package reqlog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/store"
)

// Levels of entries, slog's numbers as PocketBase uses them: a request
// answered below 400 is INFO, a 4xx WARN, a 5xx ERROR.
const (
	LevelInfo  = 0
	LevelWarn  = 4
	LevelError = 8
)

// Entry is one API request. The middleware fills it; the API's handler
// adapter adds what only it knows (Route, Auth, AuthID, UserIP, Error,
// Details) through FromContext while the request is served. Once the
// request is answered the entry belongs to the log and must not change.
type Entry struct {
	// ID is 15 characters that sort in the order of Created; entries
	// read from the log have it.
	ID      string
	Created time.Time // when the request arrived
	Method  string
	// URL is the path and query as the client sent them.
	URL string
	// Route is the pattern that served the request, with its method:
	// "GET /api/collections/{collection}/records/{id}"; empty when the
	// request was refused before routing (rate limits, body limits).
	Route    string
	Status   int
	Duration time.Duration
	// RemoteIP is the peer's address; UserIP the client's behind the
	// trusted proxies of the settings (RemoteIP when there are none).
	RemoteIP string
	UserIP   string
	// Auth is the caller's auth collection ("_superusers", "users",
	// "_apiKeys" for an API key), empty for a guest; AuthID its record.
	Auth   string
	AuthID string
	// UserAgent and Referer are the request's headers, cut to a bounded
	// length.
	UserAgent string
	Referer   string
	// Error is the message a 4xx or 5xx answered with; Details the
	// internal cause of a 5xx, which only superusers ever see, here.
	Error   string
	Details string
}

// Level is the entry's level (LevelInfo, LevelWarn, LevelError).
func (e *Entry) Level() int {
	switch {
	case e.Status >= 500:
		return LevelError
	case e.Status >= 400:
		return LevelWarn
	}
	return LevelInfo
}

// Message is PocketBase's message of a request entry: "GET /api/health".
func (e *Entry) Message() string { return e.Method + " " + e.URL }

// ExecTime is the duration in milliseconds, as PocketBase reports it.
func (e *Entry) ExecTime() float64 { return float64(e.Duration) / float64(time.Millisecond) }

// entryJSON is PocketBase's log model; data holds the request's details
// under the keys PocketBase uses (route, error and details are ours or
// only present when set).
type entryJSON struct {
	ID      string    `json:"id"`
	Created string    `json:"created"`
	Updated string    `json:"updated"`
	Level   int       `json:"level"`
	Message string    `json:"message"`
	Data    entryData `json:"data"`
}

type entryData struct {
	Type      string  `json:"type"`
	Status    int     `json:"status"`
	ExecTime  float64 `json:"execTime"`
	Method    string  `json:"method"`
	URL       string  `json:"url"`
	Route     string  `json:"route"`
	Auth      string  `json:"auth"`
	AuthID    string  `json:"authId"`
	UserIP    string  `json:"userIP"`
	RemoteIP  string  `json:"remoteIP"`
	Referer   string  `json:"referer"`
	UserAgent string  `json:"userAgent"`
	Error     string  `json:"error,omitempty"`
	Details   string  `json:"details,omitempty"`
}

// MarshalJSON renders e as PocketBase's log model.
func (e *Entry) MarshalJSON() ([]byte, error) {
	created := core.FormatTime(e.Created)
	return json.Marshal(entryJSON{
		ID: e.ID, Created: created, Updated: created, Level: e.Level(), Message: e.Message(),
		Data: entryData{Type: "request", Status: e.Status, ExecTime: e.ExecTime(), Method: e.Method, URL: e.URL,
			Route: e.Route, Auth: e.Auth, AuthID: e.AuthID, UserIP: e.UserIP, RemoteIP: e.RemoteIP,
			Referer: e.Referer, UserAgent: e.UserAgent, Error: e.Error, Details: e.Details},
	})
}

// Defaults of Options.
const (
	DefaultDays       = 7
	DefaultQueueSize  = 32768
	DefaultBatchSize  = 4096
	DefaultFlushEvery = time.Second
)

// Options configure a Log. Zero values take the defaults.
type Options struct {
	// Days is how long entries are kept. Default DefaultDays.
	Days int
	// Logger receives the log's own warnings (drops, failed writes).
	Logger *slog.Logger
	// QueueSize bounds the entries waiting to be written; more are
	// dropped. Default DefaultQueueSize: at 32k pointers the queue is
	// 256 KiB, and with entries of about 400 bytes a full one holds
	// about 13 MB; it absorbs two seconds of traffic at 16k requests/s
	// while a batch is written.
	QueueSize int
	// BatchSize is how many queued entries make the flusher write before
	// FlushEvery has passed. Default DefaultBatchSize: large batches
	// mean fewer commits, each of which rewrites the tables' last pages.
	BatchSize int
	// FlushEvery is how often what is queued is written. Default
	// DefaultFlushEvery.
	FlushEvery time.Duration
	// ReadTimeout stops a query of the log (List, Stats, Summary) that
	// runs longer: filters come from people, and a log can be large.
	// Default store.DefaultReadTimeout; negative: none.
	ReadTimeout time.Duration
	// now, retainEvery and retainChunk replace time.Now, retainEvery and
	// retainChunk in tests.
	now         func() time.Time
	retainEvery time.Duration
	retainChunk int
	// idStart, when set, is where the ids' counter starts instead of a
	// random value: tests make two logs' ids meet with it.
	idStart *uint64
}

func (o Options) withDefaults() Options {
	if o.Days <= 0 {
		o.Days = DefaultDays
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = DefaultFlushEvery
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = store.DefaultReadTimeout
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.retainEvery <= 0 {
		o.retainEvery = retainEvery
	}
	if o.retainChunk <= 0 {
		o.retainChunk = retainChunk
	}
	return o
}

// Log is an open request log: the recorder, the flusher and the queries.
// Its methods are safe for concurrent use.
type Log struct {
	wdb  *sql.DB       // writes: on SQLite its one connection
	rdb  *sql.DB       // reads: on SQLite a read-only pool; on PostgreSQL wdb
	pool *pgxpool.Pool // PostgreSQL: the pool under wdb, for COPY
	d    query.Dialect
	opts Options
	log  *slog.Logger

	queue    chan *Entry
	flushReq chan chan error
	stop     chan struct{}
	done     chan struct{}
	stopCtx  context.Context // the context Close gave, read by the flusher after stop
	closed   atomic.Bool
	once     sync.Once
	closeErr error

	dropped    atomic.Int64 // entries dropped on a full queue
	failed     atomic.Int64 // entries lost to failed writes
	lastWarned atomic.Int64 // unix seconds of the last drop warning
}

// OpenSQLite opens (creating if needed) the log in the SQLite file at
// path, beside the data but not in it: the log's writes never queue behind
// the data's writer, nor its fsyncs behind the log's. Errors:
// KindInvalid for a path the driver would misread, KindInternal.
func OpenSQLite(ctx context.Context, path string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, core.Invalid("Invalid request log path %q.", path) // the driver reads parameters after '?'
	}
	// synchronous=NORMAL: in WAL mode a commit is not fsynced, only
	// checkpoints are; a power cut may lose the last second of entries
	// but never corrupts the file. For a diagnostic log that is the right
	// trade: an fsync a second would compete with the data's own.
	dsn := func(readOnly bool) string {
		p := path + "?_pragma=busy_timeout(10000)"
		if readOnly {
			return p + "&_pragma=query_only(1)"
		}
		return p + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	wdb, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, core.Internal(err, "Failed to open the request log.")
	}
	wdb.SetMaxOpenConns(1) // SQLite has one writer; the flusher is it
	reset, err := createSQLite(ctx, wdb)
	if err != nil {
		wdb.Close()
		return nil, core.Internal(err, "Failed to create the request log's tables in %s.", path)
	}
	if reset {
		opts.Logger.Warn("request log: the file had another layout and was emptied", "path", path)
	}
	rdb, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		wdb.Close()
		return nil, core.Internal(err, "Failed to open the request log.")
	}
	rdb.SetMaxOpenConns(2) // the log's readers are superusers and the dashboard
	return start(wdb, rdb, nil, query.SQLite, opts), nil
}

// OpenPostgres opens the log in the table _request_logs (and its rollup
// _request_stats) of the database pool connects to, creating them if
// needed. The pool stays the caller's: Close does not close it. Errors:
// KindUnavailable when the database cannot be reached, KindInternal.
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	db := stdlib.OpenDBFromPool(pool)
	if err := createPostgres(ctx, db); err != nil {
		db.Close()
		return nil, core.Wrap(core.KindUnavailable, err, "Failed to create the request log's table.")
	}
	return start(db, db, pool, query.Postgres, opts), nil
}

func start(wdb, rdb *sql.DB, pool *pgxpool.Pool, d query.Dialect, opts Options) *Log {
	l := &Log{wdb: wdb, rdb: rdb, pool: pool, d: d, opts: opts, log: opts.Logger,
		queue: make(chan *Entry, opts.QueueSize), flushReq: make(chan chan error),
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.flusher()
	return l
}

// Record queues e to be written, or drops it when the queue is full; it
// never blocks. e must not change afterwards.
func (l *Log) Record(e *Entry) {
	select {
	case l.queue <- e:
	default:
		l.dropped.Add(1)
		l.warnDropped()
	}
}

// warnDropped logs the entries lost so far, at most once a minute, so a
// flood of requests does not become a flood of warnings.
func (l *Log) warnDropped() {
	now := time.Now().Unix()
	last := l.lastWarned.Load()
	if now-last < 60 || !l.lastWarned.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn("request log: entries dropped (the queue was full or a write failed); the API was not slowed down",
		"dropped", l.dropped.Load(), "failedWrites", l.failed.Load(), "queue", cap(l.queue))
}

// Dropped reports how many entries were lost: dropped on a full queue,
// and lost to writes that failed.
func (l *Log) Dropped() (full, failed int64) { return l.dropped.Load(), l.failed.Load() }

var errClosed = &core.Error{Kind: core.KindUnavailable, Message: "The request log is closed."}

// Flush writes what is queued, and the rollup of the current minute, and
// returns once it is committed. Errors: KindUnavailable after Close, the
// write's error.
func (l *Log) Flush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case l.flushReq <- reply:
	case <-l.done:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued (giving up when ctx ends) and closes the
// log. Record may still be called: what comes after is dropped. It is
// safe to call more than once.
func (l *Log) Close(ctx context.Context) error {
	l.once.Do(func() {
		l.stopCtx = ctx
		l.closed.Store(true)
		close(l.stop)
		<-l.done
		var errs []error
		if l.rdb != l.wdb {
			errs = append(errs, l.rdb.Close())
		}
		errs = append(errs, l.wdb.Close())
		if err := errors.Join(errs...); err != nil {
			l.closeErr = fmt.Errorf("close the request log: %w", err)
		}
	})
	return l.closeErr
}

// Handler records the API requests that pass through next (paths under
// /api/), filling an Entry that next's handlers can complete through
// FromContext. Left out: the realtime stream (GET /api/realtime), which
// lasts as long as the client stays and would make every latency figure
// meaningless (its subscriptions, POST /api/realtime, are recorded), and
// health checks answered below 400, which load balancers send every few
// seconds and would crowd out the requests people look for.
func (l *Log) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if len(path) < 5 || path[:5] != "/api/" || path == "/api/realtime" && r.Method == http.MethodGet || l.closed.Load() {
			next.ServeHTTP(w, r)
			return
		}
		c := &carrier{entry: Entry{Created: time.Now()}}
		c.w.ResponseWriter = w
		c.Context = r.Context()
		next.ServeHTTP(&c.w, r.WithContext(c))
		e := &c.entry
		e.Duration = time.Since(e.Created)
		e.Status = c.w.status
		if e.Status == 0 {
			e.Status = http.StatusOK
		}
		if path == "/api/health" && e.Status < 400 {
			return
		}
		e.Method, e.URL = clip(r.Method, maxMethod), clip(maskSecrets(r.RequestURI), maxURL)
		if e.Route != "" && !hasMethod(e.Route) {
			e.Route = e.Method + " " + e.Route
		}
		e.RemoteIP = hostOf(r.RemoteAddr)
		if e.UserIP == "" {
			e.UserIP = e.RemoteIP
		}
		e.UserAgent = clip(r.Header.Get("User-Agent"), maxHeader)
		e.Referer = clip(maskSecrets(r.Header.Get("Referer")), maxHeader) // a page's URL may carry a file token or a code too
		l.Record(e)
	})
}

// Bounds on what one entry keeps of a request, so a hostile client cannot
// make the log large by sending long URLs or headers.
const (
	maxURL    = 2048
	maxHeader = 512
	maxError  = 2048
	// maxMethod: Go's server takes any token as a method, a million
	// letters long too.
	maxMethod = 32
)

// secretParams are the query parameters whose values are credentials:
// file tokens (GET /api/files/...?token=), which let whoever holds one
// read its owner's protected files, and OAuth2 authorization codes (GET
// /api/oauth2-redirect?code=). Whoever reads the log, a superuser API key
// included (which cannot have file tokens of its own), must not be able
// to replay them.
var secretParams = []string{"token", "code"}

// maskedValue replaces the value of a secret parameter in a logged URL.
const maskedValue = "***"

// maskSecrets returns uri with the values of secretParams replaced by
// maskedValue; the rest stays as the client sent it. Names are compared
// unescaped, as the server reads them ("to%6Ben" is "token").
func maskSecrets(uri string) string {
	path, query, ok := strings.Cut(uri, "?")
	if !ok || !strings.Contains(query, "token") && !strings.Contains(query, "code") && !strings.Contains(query, "%") {
		return uri // no name can be one of them: the common case, without allocating
	}
	var b strings.Builder
	masked := false
	for i, pair := range strings.Split(query, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		key, _, hasValue := strings.Cut(pair, "=")
		if name, err := url.QueryUnescape(key); err == nil && hasValue && slices.Contains(secretParams, name) {
			b.WriteString(key + "=" + maskedValue)
			masked = true
			continue
		}
		b.WriteString(pair)
	}
	if !masked {
		return uri
	}
	return path + "?" + b.String()
}

// clip returns at most n bytes of s as text PostgreSQL stores: valid
// UTF-8 without NUL, cut between characters. One entry that was not (a
// byte 0xff in a path or a header, or a cut through a character) failed
// its whole batch's COPY, losing everyone's entries of that second.
func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// hasMethod reports whether a ServeMux pattern starts with a method.
func hasMethod(pattern string) bool {
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == ' ':
			return true
		case c < 'A' || c > 'Z':
			return false
		}
	}
	return false
}

// hostOf is the address part of a RemoteAddr ("[::1]:5000" → "::1").
func hostOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			addr = addr[:i]
			break
		}
	}
	if len(addr) > 1 && addr[0] == '[' && addr[len(addr)-1] == ']' {
		addr = addr[1 : len(addr)-1]
	}
	return addr
}

// carrier is a request's entry, the writer that sees its status and the
// context that hands the entry to the handlers, in one allocation: this
// runs on every request.
type carrier struct {
	context.Context
	entry Entry
	w     statusWriter
}

type entryKey struct{}

// Value answers FromContext without a context.WithValue layer.
func (c *carrier) Value(key any) any {
	if key == (entryKey{}) {
		return &c.entry
	}
	return c.Context.Value(key)
}

// FromContext returns the entry of the request ctx belongs to, for the
// handlers to add what they know (Route, Auth, AuthID, UserIP, Error,
// Details); nil when the request is not being logged.
func FromContext(ctx context.Context) *Entry {
	e, _ := ctx.Value(entryKey{}).(*Entry)
	return e
}

// NewContext returns ctx carrying e, for requests recorded without
// Handler (tests, a server of one's own calling Record).
func NewContext(ctx context.Context, e *Entry) context.Context {
	return context.WithValue(ctx, entryKey{}, e)
}

// SetError notes the message of the error a request was answered with,
// and the cause of a 5xx (nil otherwise), both cut to a bounded length.
func (e *Entry) SetError(message string, cause error) {
	e.Error = clip(message, maxError)
	if cause != nil {
		e.Details = clip(cause.Error(), maxError)
	}
}

// statusWriter remembers the status a handler answered with. Unwrap lets
// http.ResponseController reach the connection (deadlines, flushes,
// hijacking) through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

// ReadFrom keeps the connection's own ReadFrom (sendfile) for files.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.Copy(w.ResponseWriter, r)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// idAlphabet are the characters of ids, in byte order.
const idAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// ids makes entry ids: 9 characters of the creation time in milliseconds
// (base 36, good until the year 5138), then 6 of a counter that starts at
// a random value and wraps at span, so ids sort by creation time, never
// repeat within a process and practically never across processes (which
// also insert with ON CONFLICT DO NOTHING). On SQLite the span is
// sqliteCounterSpan, so that an id is also an integer row key (rowKey).
type ids struct{ n, span uint64 }

// pgCounterSpan is 36^6, all six characters.
const pgCounterSpan = 36 * 36 * 36 * 36 * 36 * 36

func newIDs(span uint64, start *uint64) *ids {
	if start != nil {
		return &ids{n: *start % span, span: span}
	}
	return &ids{n: rand.Uint64N(span), span: span}
}

// next returns the time in milliseconds and the counter of the id of an
// entry created at t (formatID makes its text).
func (g *ids) next(t time.Time) (ms int64, n uint64) {
	g.n = (g.n + 1) % g.span
	return max(t.UnixMilli(), 0), g.n
}

func formatID(ms int64, n uint64) string {
	var b [15]byte
	m := uint64(ms)
	for i := 8; i >= 0; i-- {
		b[i] = idAlphabet[m%36]
		m /= 36
	}
	for i := 14; i >= 9; i-- {
		b[i] = idAlphabet[n%36]
		n /= 36
	}
	return string(b[:])
}

// seqFrom is the smallest _seq (the id, in the table's own form) of the
// entries created at or after t: ids sort by creation time on both
// engines, so a time bound is a bound on the key, which the table's key
// index serves.
func (l *Log) seqFrom(t time.Time) any {
	if l.d == query.SQLite {
		return rowKey(t.UnixMilli(), 0)
	}
	return formatID(max(t.UnixMilli(), 0), 0)
}

// parseID reverses formatID.
func parseID(id string) (ms int64, n uint64, ok bool) {
	if len(id) != 15 {
		return 0, 0, false
	}
	var v [2]uint64
	for i := range 15 {
		d := strings.IndexByte(idAlphabet, id[i])
		if d < 0 {
			return 0, 0, false
		}
		k := 0
		if i >= 9 {
			k = 1
		}
		v[k] = v[k]*36 + uint64(d)
	}
	return int64(v[0]), v[1], true
}
