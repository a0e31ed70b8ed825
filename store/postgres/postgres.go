// Package postgres is Tortoise's scaled-out store: collections and records
// in PostgreSQL (github.com/jackc/pgx/v5, pgxpool), laid out as package
// store describes, so any number of stateless Tortoise processes can share
// one database.
//
// Update runs one READ COMMITTED transaction per call. Each statement inside
// it runs in a savepoint, so a statement that fails (a unique violation, a
// bad filter) leaves the transaction usable, as it does on SQLite. pgx
// caches prepared statements per connection; a statement gone stale after
// a collection change is retried once.
//
// Filtered list totals are COUNT(*), which on PostgreSQL scans the
// matching rows (an index-only scan at best); unfiltered totals are exact
// counters kept by triggers in the writing transaction (counts.go).
//
// Find runs under a server-side statement_timeout (see WithReadTimeout);
// nothing else does, so writes, schema changes and the other users of the
// pool are not limited.
package postgres

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store on a PostgreSQL database (the tables live in the
// connection's search_path, normally the public schema).
type Store struct {
	pool      *pgxpool.Pool
	closed    atomic.Bool
	closeOnce sync.Once

	// setTimeout is the statement that bounds the statements of a read
	// transaction by the read timeout, "" for no limit.
	setTimeout string

	watchMu   sync.Mutex
	stopWatch context.CancelFunc
	watchDone chan struct{}

	feed  *feed         // the change feed (feed.go)
	hooks store.TxHooks // run in each write transaction with changes
}

// AddTxHook adds h to every later write transaction with changes (see
// store.TxHook): it runs after the Update function, before the commit.
func (s *Store) AddTxHook(h store.TxHook) { s.hooks.Add(h) }

type options struct {
	readTimeout time.Duration
}

// Option adjusts how Open sets up a Store.
type Option func(*options)

// WithReadTimeout sets how long each statement of a Find outside Update
// may run on the server before PostgreSQL cancels it (statement_timeout)
// and Find fails with KindUnavailable wrapping store.ErrReadTimeout
// (default store.DefaultReadTimeout; 0 or less: no limit). The server
// stops the query and the connection stays usable; a deadline on the
// caller's context would instead make pgx drop the connection while the
// server went on with the query.
func WithReadTimeout(d time.Duration) Option { return func(o *options) { o.readTimeout = d } }

// Open connects to the database at url, a PostgreSQL URL or keyword/value
// string as pgx accepts (parameters PostgreSQL does not know, such as
// search_path, become session settings), and applies the migrations of
// the internal tables it has not had yet. Errors: KindInvalid for a bad
// URL, KindUnavailable when the database cannot be reached or wrapping
// store.ErrNewerSchema when a newer Tortoise has migrated it, KindInternal.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, &core.Error{Kind: core.KindInvalid, Message: "Invalid PostgreSQL URL.", Err: err}
	}
	return OpenConfig(ctx, cfg, opts...)
}

// OpenConfig is Open with a parsed pool configuration, for callers that
// set pool sizes or RuntimeParams (search_path, application_name) in code.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, opts ...Option) (*Store, error) {
	o := options{readTimeout: store.DefaultReadTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, &core.Error{Kind: core.KindInvalid, Message: "Invalid PostgreSQL configuration.", Err: err}
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, &core.Error{Kind: core.KindUnavailable, Message: "Cannot reach the database.", Err: err}
	}
	s := &Store{pool: pool}
	if o.readTimeout > 0 {
		// Set per read transaction rather than on the pool's connections
		// (RuntimeParams), which would also cut short writes, schema
		// changes on large tables and the jobs sharing the pool. It costs
		// no round trip: it goes in the read's batch.
		s.setTimeout = "SET LOCAL statement_timeout = " + strconv.FormatInt(max(o.readTimeout.Milliseconds(), 1), 10)
	}
	if err := s.bootstrap(ctx); err != nil {
		pool.Close()
		if e := core.AsError(err); e != nil {
			return nil, e // such as a database migrated by a newer Tortoise
		}
		return nil, core.Internal(err, "Failed to prepare the database.")
	}
	if err := s.startFeed(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	s.searchUpgrade(ctx) // search.go
	return s, nil
}

// bootstrap brings the internal tables up to date (migrations/, applied
// by store.Migrate): _collections holds the collection definitions,
// _params the system values.
func (s *Store) bootstrap(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return store.Migrate(ctx, migrator{s.pool}, ms)
}

// Pool returns the connection pool, for parts of Tortoise that keep their
// own tables in the same database (jobs, search).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// ReadConns is how many reads can run at once: the pool's connections
// (pool_max_conns), which writes share.
func (s *Store) ReadConns() int { return int(s.pool.Config().MaxConns) }

// Dialect reports PostgreSQL.
func (s *Store) Dialect() store.Dialect { return store.Postgres }

var errClosed = &core.Error{Kind: core.KindUnavailable, Message: "The store is closed."}

// Close waits for connections in use to be released and closes the pool.
// It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.watchMu.Lock()
		if s.stopWatch != nil {
			s.stopWatch()
			<-s.watchDone
		}
		s.watchMu.Unlock()
		s.feed.stop()
		<-s.feed.done
		s.pool.Close()
	})
	return nil
}

// Update runs fn in one transaction. Once fn has returned nil the commit
// goes ahead even if ctx ends meanwhile, so that a nil error always means
// the changes are durable and an error means they are not. A panic in fn
// rolls back and is re-raised.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (err error) {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ptx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return s.connErr(ctx, err, "Failed to start a write transaction.")
	}
	t := &tx{s: s, tx: ptx, ctx: ctx}
	detached := context.WithoutCancel(ctx)
	defer func() {
		t.done = true
		if v := recover(); v != nil {
			ptx.Rollback(detached)
			panic(v)
		}
	}()
	err = fn(t)
	if err == nil {
		err = s.hooks.Run(ctx, t, t.pending.Changes())
	}
	if err != nil {
		t.done = true
		ptx.Rollback(detached)
		return err
	}
	t.done = true
	xid, err := t.beforeCommit(detached)
	if err != nil {
		ptx.Rollback(detached)
		return err
	}
	if err := ptx.Commit(detached); err != nil {
		s.feed.forget(xid)
		return s.connErr(ctx, err, "Failed to commit.")
	}
	s.feed.awaitPublished(xid)
	for _, fn := range t.afterCommit {
		fn()
	}
	return nil
}

// Collections returns every stored collection definition, in creation order.
func (s *Store) Collections(ctx context.Context) ([]*core.Collection, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT data FROM _collections ORDER BY seq`)
	if err != nil {
		return nil, s.connErr(ctx, err, "Failed to read the collections.")
	}
	datas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, s.connErr(ctx, err, "Failed to read the collections.")
	}
	out := make([]*core.Collection, 0, len(datas))
	for _, d := range datas {
		c, err := core.LoadStoredJSON([]byte(d))
		if err != nil {
			return nil, core.Internal(err, "Failed to load a collection definition.")
		}
		out = append(out, c)
	}
	return out, nil
}

var errTxDone = core.Internal(errors.New("tx used after its Update function returned"), "Internal transaction error.")
