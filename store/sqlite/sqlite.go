// Package sqlite is Tortoise's embedded store: collections and records in
// one SQLite file (modernc.org/sqlite, pure Go), laid out as package store
// describes.
//
// The file runs in WAL mode with synchronous=FULL, so a write acknowledged
// by Update survives a power cut. One writer goroutine owns the only write
// connection and commits queued Update calls in groups: one BEGIN IMMEDIATE,
// a SAVEPOINT per call (a failing call rolls back only its own changes), and
// one COMMIT, hence one fsync, for the whole group. Reads go to a small pool
// of read-only connections and never wait for the writer.
//
// Unfiltered list totals come from exact row counts kept in memory (see
// counts.go) instead of a COUNT(*) scan; filtered totals use COUNT(*), which
// indexes can serve.
//
// Reads outside Update are stopped after a read timeout (see
// WithReadTimeout, read.go); the writer's statements never are, so a
// timeout cannot undo a write.
//
// The database must only be written through one Store at a time: another
// process writing the same file would leave the in-memory counts stale.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store on one SQLite database file.
type Store struct {
	path string
	cfg  config   // as opened, for OpenSQL
	lock *os.File // with WithExclusive, held open: the lock on path+".lock"

	wdb   *sql.DB   // holds the single write connection
	wconn *sql.Conn // used only by the writer goroutine (and Open/Close)
	rdb   *sql.DB   // the read-only pool

	queue      chan *request
	mu         sync.RWMutex // guards closed against sends on a closed queue
	closed     bool
	writerDone chan struct{}
	// turn is the write turn the writer and OpenSQL's connection take
	// (turn.go).
	turn      chan struct{}
	closeOnce sync.Once
	closeErr  error

	maxGroup    int
	readTimeout time.Duration // 0: reads are not limited
	groups      atomic.Int64  // committed groups
	// searchQueues counts the search indexes with a queue (search.go);
	// kept by the writer goroutine, read by it only.
	searchQueues int
	calls        atomic.Int64 // Update calls answered by committed groups

	counts counts
	// commitSeq is odd while a commit that changes row counts is between
	// its COMMIT and applying the new counts, even otherwise. Readers use
	// it as a sequence lock to report an unfiltered total without a read
	// transaction (see Find).
	commitSeq atomic.Int64
	reads     *stmtCache           // prepared read statements, shared by readers
	wstmts    map[string]*sql.Stmt // prepared write-connection statements; writer goroutine only
	w         writer               // the writer goroutine's own state (writer.go)
	log       *slog.Logger         // never nil (WithLogger)
	feed      *store.Feed          // committed changes, published by the writer
	hooks     store.TxHooks        // run in each write call with changes (AddTxHook)
}

// Changes returns the feed of committed record changes. The writer
// publishes each group's changes right after its COMMIT, in commit order.
func (s *Store) Changes() *store.Feed { return s.feed }

// AddTxHook adds h to every later write call with changes (see
// store.TxHook): it runs in the call's savepoint, after the call's
// function.
func (s *Store) AddTxHook(h store.TxHook) { s.hooks.Add(h) }

type config struct {
	readers     int
	maxGroup    int
	busyTimeout time.Duration
	readTimeout time.Duration
	log         *slog.Logger
	exclusive   bool
}

// WithExclusive makes Open refuse (KindUnavailable) a database another
// store holds open with WithExclusive, and hold it so until Close: for
// a server, whose group commit, row counts and change feed assume they
// see every write. Short-lived tools open without it, beside a server.
// The lock is the file path+".lock" (flock on Unix; none elsewhere); the
// kernel releases it when the process dies.
func WithExclusive() Option { return func(c *config) { c.exclusive = true } }

// Option adjusts how Open sets up a Store.
type Option func(*config)

// WithReaders sets the number of read connections (default max(4, GOMAXPROCS)).
func WithReaders(n int) Option { return func(c *config) { c.readers = n } }

// WithMaxGroup caps how many queued Update calls share one commit (default 128).
func WithMaxGroup(n int) Option { return func(c *config) { c.maxGroup = n } }

// WithBusyTimeout sets how long a connection waits for a lock held by
// another connection or process before failing (default 10s).
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithReadTimeout sets how long a read outside Update (Get, Find, Param,
// Collections) may run, waiting for a read connection included, before it
// is interrupted and fails with KindUnavailable wrapping
// store.ErrReadTimeout (default store.DefaultReadTimeout; 0 or less: no
// limit). Reads inside Update run on the writer and are never interrupted.
func WithReadTimeout(d time.Duration) Option { return func(c *config) { c.readTimeout = d } }

// queueSize bounds how many Update calls may wait for the writer; callers
// beyond it block (with their context) rather than pile up unbounded.
const queueSize = 1024

// Open opens (creating if needed) the database file at path, applies the
// migrations of the internal tables it has not had yet, and starts the
// writer. Errors: KindInvalid for an unusable path, KindUnavailable
// wrapping store.ErrNewerSchema for a database migrated by a newer
// Tortoise, KindInternal.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := config{readers: max(4, runtime.GOMAXPROCS(0)), maxGroup: 128, busyTimeout: 10 * time.Second, readTimeout: store.DefaultReadTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.readers, cfg.maxGroup = max(1, cfg.readers), max(1, cfg.maxGroup)
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || path == ":memory:" {
		// The driver reads parameters after '?', and an in-memory database
		// cannot be shared between the writer and the readers.
		return nil, core.Invalid("Invalid database path %q.", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, core.Internal(err, "Failed to create the data directory.")
		}
	}
	var lock *os.File
	if cfg.exclusive {
		var err error
		lock, err = lockFile(path + ".lock")
		if errors.Is(err, errLocked) {
			return nil, &core.Error{Kind: core.KindUnavailable, Err: err,
				Message: fmt.Sprintf("The database %s is in use by another Tortoise server. On SQLite one server process serves a data folder; to run several, use PostgreSQL.", path)}
		}
		if err != nil {
			return nil, core.Internal(err, "Failed to lock the database.")
		}
	}

	s := &Store{
		path:        path,
		cfg:         cfg,
		queue:       make(chan *request, queueSize),
		writerDone:  make(chan struct{}),
		turn:        make(chan struct{}, 1),
		feed:        store.NewFeed(),
		maxGroup:    cfg.maxGroup,
		readTimeout: max(cfg.readTimeout, 0),
		wstmts:      make(map[string]*sql.Stmt),
		log:         cmp.Or(cfg.log, slog.Default()),
	}
	s.lock = lock
	release := func() {
		if lock != nil {
			defer lock.Close()
		}
		if s.wconn != nil {
			s.wconn.Close()
		}
		if s.wdb != nil {
			s.wdb.Close()
		}
		if s.rdb != nil {
			s.rdb.Close()
		}
	}
	fail := func(err error, what string) (*Store, error) {
		release()
		return nil, core.Internal(err, "Failed to open the database: %s.", what)
	}

	var err error
	if s.wdb, err = openWriteDB(dsn(path, cfg, false)); err != nil {
		return fail(err, "writer")
	}
	// The write connection lives as long as the Store: statements prepared
	// on it stay valid, and nobody else can take it.
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.wconn, err = connectWriter(ctx, s.wdb, cfg.busyTimeout); err != nil {
		return fail(err, "writer connection")
	}
	if err := s.bootstrap(ctx); err != nil {
		if e := core.AsError(err); e != nil {
			release()
			return nil, e // such as a database migrated by a newer Tortoise
		}
		return fail(err, "internal tables")
	}
	if err := s.countSearchQueues(); err != nil {
		return fail(err, "search indexes")
	}

	if s.rdb, err = sql.Open("sqlite", dsn(path, cfg, true)); err != nil {
		return fail(err, "readers")
	}
	s.rdb.SetMaxOpenConns(cfg.readers)
	s.rdb.SetMaxIdleConns(cfg.readers)
	s.rdb.SetConnMaxLifetime(0)
	s.rdb.SetConnMaxIdleTime(0)
	if err := s.rdb.PingContext(ctx); err != nil {
		return fail(err, "reader connection")
	}
	s.reads = newStmtCache(s.rdb, 256)

	go s.writeLoop()
	go s.watchOthers()
	s.searchUpgrade(ctx)
	return s, nil
}

// connectWriter opens db's connection for writing. Connecting applies
// journal_mode(WAL), which SQLite can refuse with SQLITE_BUSY at once,
// without waiting out busy_timeout, while another process opens the same
// new database: that is waited out here instead, up to timeout.
func connectWriter(ctx context.Context, db *sql.DB, timeout time.Duration) (conn *sql.Conn, err error) {
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		if conn, err = db.Conn(ctx); err == nil || !busy(err) || time.Now().After(deadline) {
			return conn, err
		}
	}
}

// dsn builds the data source name: pragmas go in _pragma parameters so the
// driver applies them to every connection it opens, including replacements.
func dsn(path string, cfg config, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
	}
	return path + "?" + q.Encode()
}

// bootstrap brings the internal tables up to date (migrations/, applied
// by store.Migrate): _collections holds the collection definitions, _meta
// the commit generation the row counts are tied to, _params the system
// values.
func (s *Store) bootstrap(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if err := store.Migrate(ctx, migrator{s.wconn}, ms); err != nil {
		return err
	}
	var mode string
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	var gen int64
	if err := s.wconn.QueryRowContext(ctx, genSQL).Scan(&gen); err != nil {
		return err
	}
	s.counts.init(gen)
	return nil
}

const genSQL = `SELECT value FROM _meta WHERE key = 'gen'`

// Stats counts the writer's work since Open.
type Stats struct {
	Groups int64 // transactions committed
	Calls  int64 // Update calls they carried (successful or rolled back to their savepoint)
}

// Stats reports the writer's work; Calls/Groups is the mean group size.
func (s *Store) Stats() Stats { return Stats{Groups: s.groups.Load(), Calls: s.calls.Load()} }

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Dialect reports SQLite.
func (s *Store) Dialect() store.Dialect { return store.SQLite }

var errClosed = &core.Error{Kind: core.KindUnavailable, Message: "The store is closed."}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// Close stops accepting writes, lets the writer commit what is queued, and
// closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.queue)
		s.mu.Unlock()
		<-s.writerDone
		s.feed.Close()

		s.reads.reset()
		for _, st := range s.wstmts {
			st.Close()
		}
		errs := []error{s.rdb.Close(), s.wconn.Close(), s.wdb.Close()}
		if s.lock != nil {
			errs = append(errs, s.lock.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = core.Internal(err, "Failed to close the database.")
		}
	})
	return s.closeErr
}

// Collections returns every stored collection definition, in creation order.
func (s *Store) Collections(ctx context.Context) ([]*core.Collection, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.rdb.QueryContext(ctx, `SELECT data FROM _collections ORDER BY rowid`)
	if err != nil {
		return nil, s.readErr(ctx, err)
	}
	defer rows.Close()
	var out []*core.Collection
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, s.readErr(ctx, err)
		}
		c, err := core.LoadStoredJSON(data)
		if err != nil {
			return nil, core.Internal(err, "Failed to load a collection definition.")
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.readErr(ctx, err)
	}
	return out, nil
}

// errLocked: another process has the database open.
var errLocked = errors.New("locked by another process")

// OpenSQL opens another pool on the same database file, for a co-tenant
// that keeps tables of its own there and speaks database/sql (River, the
// job queue): one connection, the store's pragmas, and transactions that
// take the write lock when they begin, so that they wait (busy_timeout)
// for the writer's group rather than fail when it commits first. Close it
// before the store. Its connection keeps the statements it is given as
// text prepared (keptConn).
func (s *Store) OpenSQL() (*sql.DB, error) {
	db, err := openKeptDB(dsn(s.path, s.cfg, false)+"&_txlock=immediate", func(kc *keptConn) driver.Conn {
		return &turnConn{keptConn: kc, s: s}
	})
	if err != nil {
		return nil, core.Internal(err, "Failed to open the database.")
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// ReadConns is how many reads can run at once: the read-only pool's
// connections (WithReaders).
func (s *Store) ReadConns() int { return s.cfg.readers }
