// Package tortoise is the framework entry point: an App wires the store,
// the service layer and the HTTP API together from a config.Config. The
// tortoise command is a thin wrapper around it; Go programs can embed it.
package tortoise

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/tortoise-dev/tortoise/admin"
	"github.com/tortoise-dev/tortoise/api"
	"github.com/tortoise-dev/tortoise/apikeys"
	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/auth/oauth2"
	"github.com/tortoise-dev/tortoise/auth/passwords"
	"github.com/tortoise-dev/tortoise/blob"
	"github.com/tortoise-dev/tortoise/blob/local"
	"github.com/tortoise-dev/tortoise/cache"
	memorycache "github.com/tortoise-dev/tortoise/cache/memory"
	rediscache "github.com/tortoise-dev/tortoise/cache/redis"
	"github.com/tortoise-dev/tortoise/collections"
	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/guard/redislimit"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/mail"
	"github.com/tortoise-dev/tortoise/outbound"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/reqlog"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/settings"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
	"github.com/tortoise-dev/tortoise/store/sqlite"
	"github.com/tortoise-dev/tortoise/webhooks"

	goredis "github.com/redis/go-redis/v9"
)

// Version is the release, set at build time with -ldflags "-X".
var Version = "0.1.0-dev"

// App is a running Tortoise: the service layer's parts over one store, and
// the HTTP API over them. Go code uses the parts as the API does; none of
// them lets it go around the access rules unless it says so with a
// superuser Request.
type App struct {
	Config config.Config
	Log    *slog.Logger
	// Service is the service layer's shared part: the live schema, change
	// events (Changes) and the caller model (Request).
	Service *service.Service
	// Records creates, reads, changes and deletes records; its hooks
	// (OnPrepare, OnInput, OnWrite, OnDelete) let Go code take part.
	Records *records.Service
	// Collections defines and changes collections.
	Collections *collections.Service
	// Auth signs people in and issues tokens.
	Auth *auth.Service
	// Keys makes, lists, revokes and checks API keys.
	Keys *apikeys.Service
	// Settings reads and changes the runtime settings and sends mail.
	Settings *settings.Service
	// Jobs is the background job queue: Register kinds before StartJobs
	// (serve calls it), Enqueue or EnqueueTx (in a record hook's Write.Tx)
	// them. Built in: "http" and "email".
	Jobs *jobs.Queue
	// Webhooks notifies other systems of record changes, signed.
	Webhooks *webhooks.Service
	// Logs is the request log: every API request, kept
	// Config.LogsDays days, and the dashboard's figures (nil when
	// TORTOISE_LOGS_DAYS=0, and in a worker).
	Logs *reqlog.Log
	API  *api.Server
	// Admin is the management app, served at /admin/ beside the API.
	Admin *admin.Admin

	store store.Store
	// cache is the record cache (nil when off): see openCache.
	cache cache.Cache
	// redis is the client of the record cache and the shared rate limits
	// (nil without cfg.RedisURL).
	redis *goredis.Client

	files blob.Store
	// outbound makes the clients of http jobs and webhooks, over one
	// connection pool (outboundClients).
	outbound func(time.Duration) *http.Client
	// stopBackground ends the app's background work (the file sweeper).
	stopBackground context.CancelFunc

	server         *http.Server
	ln             net.Listener
	lastRefusedLog atomic.Int64 // unix seconds of the last connRefused log
}

// New opens the database named by cfg (creating the data folder and the
// system collections as needed). Call Close when done.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	passwords.SetLimit(cfg.MaxBcrypt)
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	key, err := encryptionKey(ctx, cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	// The dev mailbox lives in the data folder whichever database is used.
	mailbox, err := mail.NewMailbox(filepath.Join(cfg.Dir, "mailbox"), mail.DefaultMailboxSize, log)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("open the dev mailbox: %w", err)
	}
	sets, err := settings.New(st, settings.Options{Logger: log, EncryptionKey: key, Mailbox: mailbox})
	if err != nil {
		st.Close()
		return nil, err
	}
	svc, err := service.New(ctx, st, service.Options{Logger: log})
	if err != nil {
		st.Close()
		return nil, err
	}
	a := &App{Config: cfg, Log: log, store: st, Service: svc, Settings: sets, outbound: outboundClients(cfg)}
	a.Records = records.New(svc)
	files, err := openFiles(ctx, cfg, sets, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	a.files = files
	a.Records.SetFiles(files)
	a.Records.StartFileJanitor()
	bg, stop := context.WithCancel(context.Background())
	a.stopBackground = stop
	a.Records.StartSweeper(bg)
	a.Collections = collections.New(svc)
	a.Collections.OnDeleted(a.Records.DeleteCollectionFiles)
	a.Auth = auth.New(svc, a.Records, sets)
	a.Auth.SetHTTPClient(a.outbound(oauth2.DefaultTimeout))
	a.Keys = apikeys.New(svc)
	// Every feature has registered its system collections by now.
	if err := svc.Bootstrap(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if a.Jobs, err = openJobs(ctx, cfg, st, sets, a.outbound, log); err != nil {
		st.Close()
		return nil, err
	}
	a.Webhooks, err = webhooks.New(ctx, webhooks.Options{Store: st, Service: svc, Records: a.Records, Jobs: a.Jobs, Settings: sets,
		Client: a.outbound, Logger: log})
	if err != nil {
		a.Jobs.Stop(ctx)
		st.Close()
		return nil, err
	}
	if a.Logs, err = openLogs(ctx, cfg, st, log); err != nil {
		a.Webhooks.Close()
		a.Jobs.Stop(ctx)
		st.Close()
		return nil, err
	}
	var rates guard.RateLimiter
	if cfg.RedisURL != "" {
		if a.redis, err = rediscache.Dial(cfg.RedisURL); err != nil {
			a.Webhooks.Close()
			a.Jobs.Stop(ctx)
			st.Close()
			return nil, err
		}
		rates = redislimit.New(a.redis, redislimit.Options{Prefix: redisPrefix(svc) + "limits:", Logger: log})
	}
	if a.cache, err = openCache(cfg, svc, a.redis, log); err != nil {
		if a.redis != nil {
			a.redis.Close()
		}
		a.Webhooks.Close()
		a.Jobs.Stop(ctx)
		st.Close()
		return nil, err
	}
	a.API = api.New(api.Services{Core: svc, Settings: sets, Keys: a.Keys, Collections: a.Collections, Records: a.Records, Auth: a.Auth, Jobs: a.Jobs, Webhooks: a.Webhooks, Logs: a.Logs},
		api.Options{Logger: log, MaxBody: cfg.MaxBodyBytes, Version: Version, Cache: a.cache, RateLimiter: rates,
			ReadBudget: readBudget(cfg.QueryTimeout), ReadConns: readConns(st)})
	a.API.SetMaxFilteredReads(cfg.MaxFilteredReads)
	a.mountAdmin(st)
	return a, nil
}

// readBudget is what the reads behind one record answer may take
// together: the query timeout (0, not configured: the store's default).
func readBudget(queryTimeout time.Duration) time.Duration {
	if queryTimeout == 0 {
		return store.DefaultReadTimeout
	}
	return queryTimeout
}

// readConns is how many reads st can run at once (0: unknown).
func readConns(st store.Store) int {
	if rc, ok := st.(interface{ ReadConns() int }); ok {
		return rc.ReadConns()
	}
	return 0
}

// mountAdmin serves the admin app at /admin/ through the API server, so
// the settings' rate limits and superuser addresses hold there too; /_/
// (PocketBase's admin address) leads to it.
func (a *App) mountAdmin(st store.Store) {
	engine := "sqlite"
	if a.Config.IsPostgres() {
		engine = "postgres"
	}
	a.Admin = admin.New(admin.Options{Service: a.Service, Store: st, Settings: a.Settings, Keys: a.Keys,
		Collections: a.Collections, Records: a.Records, Auth: a.Auth, Gate: a.API, Jobs: a.Jobs, Webhooks: a.Webhooks,
		Logs: a.Logs, Logger: a.Log, Version: Version, Engine: engine, Started: time.Now()})
	a.API.Mount("/admin/", a.Admin)
	a.API.Mount("/admin", a.Admin)
	a.API.Mount("/_/", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
}

// openCache opens the record cache and has the change feed bump it: in
// Redis when there is a Redis client (in every role, since a worker's
// writes must bump the generations the API processes read), else in
// process (only where the API is served) bounded by cfg.CacheMB; none
// when CacheMB is -1.
func openCache(cfg config.Config, svc *service.Service, rdb *goredis.Client, log *slog.Logger) (cache.Cache, error) {
	var c cache.Cache
	switch {
	case cfg.CacheMB < 0:
		return nil, nil
	case rdb != nil:
		c = rediscache.New(rdb, rediscache.Options{Prefix: redisPrefix(svc)})
	case cfg.ServesAPI():
		mc, err := memorycache.New(cfg.CacheMB)
		if err != nil {
			return nil, fmt.Errorf("open the record cache: %w", err)
		}
		c = mc
	default:
		return nil, nil
	}
	cache.Follow(svc.Changes(), c, log)
	return c, nil
}

// redisPrefix starts the app's Redis keys: "tortoise:" and a name of the
// database (a hash of when its superusers collection was made, which
// every process on it reads alike), so databases sharing one Redis never
// share cache entries or rate allowances, even for collections with the
// same ids. (Two databases bootstrapped in the same millisecond with the
// same ids would share it.)
func redisPrefix(svc *service.Service) string {
	su, err := svc.Collection(core.SuperusersName)
	if err != nil {
		return "tortoise:"
	}
	sum := sha256.Sum256([]byte(su.ID + "\x00" + su.Created))
	return "tortoise:" + hex.EncodeToString(sum[:6]) + ":"
}

// openJobs opens the job queue in the app's database, with the built-in
// kinds registered.
func openJobs(ctx context.Context, cfg config.Config, st store.Store, sets *settings.Service, outbound func(time.Duration) *http.Client, log *slog.Logger) (*jobs.Queue, error) {
	q, err := jobs.New(ctx, st, jobs.Config{Logger: log, RescueAfter: cfg.JobsRescueAfter})
	if err != nil {
		return nil, err
	}
	kinds := []jobs.Kind{jobs.HTTPKind(outbound), jobs.EmailKind(sets.SendMessage)}
	for _, k := range kinds {
		if err := q.Register(k); err != nil {
			q.Stop(ctx)
			return nil, err
		}
	}
	return q, nil
}

// outboundClients makes the clients for user-given URLs (http jobs,
// webhooks): private addresses refused but for the configured hosts. They
// share one connection pool, made here once: a pool per request (as
// before) kept each delivery's connection open for 90 s, and a few
// thousand webhooks a minute ran the process out of file descriptors,
// refusing the API's connections too.
func outboundClients(cfg config.Config) func(time.Duration) *http.Client {
	base := outbound.NewClient(outbound.Options{AllowHosts: cfg.OutboundAllowHosts, UserAgent: "Tortoise/" + Version})
	return func(timeout time.Duration) *http.Client {
		c := *base
		c.Timeout = timeout
		return &c
	}
}

// StartJobs starts this process's job workers, unless its role is "api".
// Register job kinds before. Close stops them.
func (a *App) StartJobs(ctx context.Context) error {
	if !a.Config.RunsJobs() {
		return nil
	}
	return a.Jobs.Start(ctx)
}

// openLogs opens the request log, unless it is turned off or the process
// serves no API: in its own SQLite file, logs.db in the data folder, so
// that its writes never queue behind (or slow) the data's; on PostgreSQL
// in tables of its own in the app's database, through the store's pool.
func openLogs(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger) (*reqlog.Log, error) {
	if !cfg.LogsRequests() || !cfg.ServesAPI() {
		return nil, nil
	}
	opts := reqlog.Options{Days: cfg.LogsDays, Logger: log, ReadTimeout: cfg.QueryTimeout}
	if pg, ok := st.(*postgres.Store); ok {
		return reqlog.OpenPostgres(ctx, pg.Pool(), opts)
	}
	return reqlog.OpenSQLite(ctx, filepath.Join(cfg.Dir, "logs.db"), opts)
}

// openFiles opens where file fields' files are kept: the folder
// "storage" in the data folder, or the S3 bucket the settings name (see
// fileStorage).
func openFiles(_ context.Context, cfg config.Config, sets *settings.Service, log *slog.Logger) (blob.Store, error) {
	files, err := local.Open(filepath.Join(cfg.Dir, "storage"))
	if err != nil {
		return nil, fmt.Errorf("open file storage: %w", err)
	}
	return &fileStorage{sets: sets, local: files, log: log}, nil
}

// openStore opens the configured database: PostgreSQL for a postgres URL,
// else SQLite in the data folder, whose writer logs through log.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Store, error) {
	if cfg.IsPostgres() {
		var opts []postgres.Option
		if cfg.QueryTimeout != 0 { // 0: not configured, the store's default
			opts = append(opts, postgres.WithReadTimeout(cfg.QueryTimeout))
		}
		st, err := postgres.Open(ctx, cfg.DatabaseURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		return st, nil
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	opts := []sqlite.Option{sqlite.WithLogger(log)}
	if cfg.Exclusive {
		opts = append(opts, sqlite.WithExclusive())
	}
	if cfg.QueryTimeout != 0 {
		opts = append(opts, sqlite.WithReadTimeout(cfg.QueryTimeout))
	}
	st, err := sqlite.Open(ctx, cfg.SQLitePath(), opts...)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", cfg.SQLitePath(), err)
	}
	return st, nil
}

// Listen binds the configured HTTP address (":0" style addresses pick a
// free port; see Addr). The server times out slow and idle clients and caps
// the connections per peer address as the config says; realtime streams
// lift the read and write timeouts for themselves.
func (a *App) Listen() error {
	ln, err := net.Listen("tcp", a.Config.HTTP)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Config.HTTP, err)
	}
	if a.Config.MaxConnsPerIP > 0 {
		ln = guard.LimitConnsPerIP(ln, a.Config.MaxConnsPerIP, a.connRefused)
	}
	a.ln = ln
	a.server = &http.Server{
		Handler:           a.API,
		ReadHeaderTimeout: a.Config.ReadHeaderTimeout,
		ReadTimeout:       a.Config.ReadTimeout,
		WriteTimeout:      a.Config.WriteTimeout,
		IdleTimeout:       a.Config.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	a.server.RegisterOnShutdown(a.API.Shutdown)
	return nil
}

// connRefused logs a connection refused over the per-address cap, at most
// once a minute so a flood does not flood the log too.
func (a *App) connRefused(peer netip.Addr) {
	now := time.Now().Unix()
	last := a.lastRefusedLog.Load()
	if now-last < 60 || !a.lastRefusedLog.CompareAndSwap(last, now) {
		return
	}
	a.Log.Warn("connection refused: too many open from one address (TORTOISE_MAX_CONNS_PER_IP; behind a proxy, all come from the proxy)",
		"peer", peer.String(), "max", a.Config.MaxConnsPerIP)
}

// Addr is the address Listen bound.
func (a *App) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// Serve answers HTTP requests until Shutdown; it returns nil after a clean
// shutdown.
func (a *App) Serve() error {
	if a.server == nil {
		return errors.New("serve before listen")
	}
	if err := a.server.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops accepting requests, lets in-flight ones finish (up to the
// context's deadline) and closes the store, which waits for queued writes.
func (a *App) Close(ctx context.Context) error {
	a.stopBackground()
	var errs []error
	if a.server != nil {
		if err := a.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown http: %w", err))
		}
	}
	// No request comes in any more: what the request log holds is written.
	if a.Logs != nil {
		if err := a.Logs.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	a.Webhooks.Close()
	// Running jobs finish (or, once ctx ends, are cancelled to run again
	// later) before the store closes under them.
	if err := a.Jobs.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop jobs: %w", err))
	}
	if err := a.Auth.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := a.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	// After the store: its last commits still bump the cache.
	if a.cache != nil {
		if err := a.cache.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close record cache: %w", err))
		}
	}
	if err := a.files.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close file storage: %w", err))
	}
	if a.redis != nil {
		a.redis.Close()
	}
	return errors.Join(errs...)
}
