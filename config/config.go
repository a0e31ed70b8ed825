// Package config holds Tortoise's configuration: one explicit struct, its
// defaults, its validation, and the one table mapping TORTOISE_* environment
// variables onto it.
package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Config configures a Tortoise server. The zero value plus WithDefaults is a
// working embedded setup.
type Config struct {
	// HTTP is the address to listen on. Default "127.0.0.1:8090".
	HTTP string
	// Dir is the data folder: the SQLite database and, later, files and
	// backups. Default "./tortoise_data".
	Dir string
	// DatabaseURL selects PostgreSQL when it starts with postgres:// or
	// postgresql://; empty (the default) means SQLite in Dir.
	DatabaseURL string
	// MaxBodyBytes caps request bodies. Default 32 MiB.
	MaxBodyBytes int64
	// LogLevel is debug, info, warn or error. Default "info".
	LogLevel string
	// EncryptionKey encrypts secrets kept in the settings (the SMTP
	// password). Any string; a 32-byte key is derived from it. Default:
	// on SQLite, a random key kept in the file .encryption_key in Dir; on
	// PostgreSQL none, and such secrets cannot be saved until it is set
	// (every process must share it).
	EncryptionKey string

	// ReadHeaderTimeout is how long a client has to send a request's
	// headers. Default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long a client has to send a whole request, body
	// included, counted from its first byte: a body trickled in slower is
	// cut off. Default 10m, room for a MaxBodyBytes (32 MiB) body at about
	// 450 kbit/s; raise it with MaxBodyBytes. It bounds handling too:
	// net/http cancels the context of a request still running then.
	// Realtime streams are exempt.
	ReadTimeout time.Duration
	// WriteTimeout is how long a request may take to be answered, counted
	// from the end of its headers, so it includes reading the body: keep it
	// above ReadTimeout. Default 15m. Realtime streams are exempt (each of
	// their messages gets its own deadline).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no new request
	// for this long. Default 2m.
	IdleTimeout time.Duration
	// MaxConnsPerIP caps the open connections from one address (an IPv6
	// /64 counts as one); more are closed as soon as they are accepted. It
	// counts the direct peer: behind a reverse proxy every connection comes
	// from the proxy, so size it for the proxy's pool. Default 256; -1
	// turns the cap off.
	MaxConnsPerIP int

	// QueryTimeout is how long a database read outside a write (a list, a
	// record view) may run before the store stops it and the request
	// answers 503 "The query took too long and was stopped.": it bounds
	// what a client's filter can cost. On PostgreSQL it is the
	// statement_timeout of each statement of a list. Default 5s; a
	// negative value turns it off.
	QueryTimeout time.Duration
	// MaxFilteredReads caps the list requests carrying a filter or sort
	// that one client address may have in progress at once; one more
	// waits up to a second for one of them to finish, then answers 429.
	// The address is the client's behind trusted proxies (see the
	// settings): behind a proxy that is not trusted, all clients share one
	// allowance. Superusers are not limited. Default 2, half the read
	// connections SQLite has at least; -1 turns the cap off.
	MaxFilteredReads int
	// MaxBcrypt caps the bcrypt computations (password logins, changes,
	// one-time codes) running at once in the process: the others wait,
	// so a burst of logins slows itself, not every other request. It is
	// process-wide (the last App made sets it). Default GOMAXPROCS-1, at
	// least 1: one core stays free for everything else.
	MaxBcrypt int

	// Role is what this process does: "all" (the default) serves the API
	// and runs background jobs; "api" serves the API and only enqueues;
	// "worker" runs jobs and serves no API. Several processes on one
	// PostgreSQL database share the jobs; on SQLite one process serves a
	// data folder, so use "all".
	Role string
	// Exclusive makes the process hold the data folder's SQLite database
	// for itself: another exclusive process is refused. serve sets it;
	// short commands (superuser upsert) do not, so they work beside a
	// running server.
	Exclusive bool
	// JobsRescueAfter is how long a job may stay running before it counts
	// as abandoned by a process that died, and runs again. Default 1h
	// (keep it above the longest job); TORTOISE_JOBS_RESCUE_AFTER.
	JobsRescueAfter time.Duration
	// OutboundAllowHosts are hosts (names or IPs, optionally host:port)
	// that webhooks, http jobs and OAuth2 providers may reach although they are private,
	// loopback or link-local addresses; all others are refused. Default
	// none.
	OutboundAllowHosts []string
	// LogsDays is how many days the request log keeps each API request
	// (logs.db in Dir, or the table _request_logs on PostgreSQL).
	// Default 7; -1 turns request logging off, as TORTOISE_LOGS_DAYS=0
	// does (PocketBase's logs maxDays 0).
	LogsDays int

	// RedisURL (redis://[user:pass@]host:port/db or rediss:// for TLS)
	// moves the record cache and the rate limits onto Redis, so that
	// several processes share them; empty (the default) keeps both in
	// process.
	RedisURL string
	// CacheMB caps the in-process record cache, in MiB of encoded
	// responses. Default 64; -1 turns the record cache off (as
	// TORTOISE_CACHE_MB=0 does). With RedisURL, Redis holds the entries
	// and this is unused.
	CacheMB int

	// PprofAddr, when set (host:port), serves Go's profiler
	// (net/http/pprof, under /debug/pprof/) on its own listener, to
	// profile a running server. Empty by default; it exposes the
	// process's internals, so bind it to loopback or a private network.
	PprofAddr string
}

// Roles a process can have (Config.Role).
const (
	RoleAll    = "all"
	RoleAPI    = "api"
	RoleWorker = "worker"
)

// RunsJobs reports whether the role runs background jobs.
func (c Config) RunsJobs() bool { return c.Role != RoleAPI }

// ServesAPI reports whether the role serves HTTP.
func (c Config) ServesAPI() bool { return c.Role != RoleWorker }

// LogsRequests reports whether API requests are recorded in the request
// log.
func (c Config) LogsRequests() bool { return c.LogsDays > 0 }

// Env maps each TORTOISE_* environment variable onto its Config field. It is
// the one place environment variables are read.
var Env = []struct {
	Name  string
	Usage string
	set   func(*Config, string) error
}{
	{"TORTOISE_HTTP", "address to listen on", func(c *Config, v string) error { c.HTTP = v; return nil }},
	{"TORTOISE_DIR", "data folder", func(c *Config, v string) error { c.Dir = v; return nil }},
	{"TORTOISE_DATABASE_URL", "PostgreSQL URL (empty: SQLite in the data folder)", func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
	{"TORTOISE_MAX_BODY_BYTES", "largest request body accepted", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("TORTOISE_MAX_BODY_BYTES: %q is not a number", v)
		}
		c.MaxBodyBytes = n
		return nil
	}},
	{"TORTOISE_JOBS_RESCUE_AFTER", "a job running this long counts as abandoned by a dead process and runs again (default 1h)", duration("TORTOISE_JOBS_RESCUE_AFTER", func(c *Config) *time.Duration { return &c.JobsRescueAfter })},
	{"TORTOISE_ROLE", "all (API and jobs), api or worker", func(c *Config, v string) error { c.Role = v; return nil }},
	{"TORTOISE_OUTBOUND_ALLOW_HOSTS", "comma-separated private hosts webhooks and http jobs may reach", func(c *Config, v string) error {
		c.OutboundAllowHosts = nil
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				c.OutboundAllowHosts = append(c.OutboundAllowHosts, h)
			}
		}
		return nil
	}},
	{"TORTOISE_LOG_LEVEL", "debug, info, warn or error", func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"TORTOISE_ENCRYPTION_KEY", "key for secrets in the settings (default on SQLite: a key file in the data folder)", func(c *Config, v string) error { c.EncryptionKey = v; return nil }},
	{"TORTOISE_READ_HEADER_TIMEOUT", "time to send request headers (default 10s)", duration("TORTOISE_READ_HEADER_TIMEOUT", func(c *Config) *time.Duration { return &c.ReadHeaderTimeout })},
	{"TORTOISE_READ_TIMEOUT", "time to send a whole request, body included (default 10m)", duration("TORTOISE_READ_TIMEOUT", func(c *Config) *time.Duration { return &c.ReadTimeout })},
	{"TORTOISE_WRITE_TIMEOUT", "time to answer a request, reading its body included (default 15m)", duration("TORTOISE_WRITE_TIMEOUT", func(c *Config) *time.Duration { return &c.WriteTimeout })},
	{"TORTOISE_IDLE_TIMEOUT", "keep-alive connections idle this long are closed (default 2m)", duration("TORTOISE_IDLE_TIMEOUT", func(c *Config) *time.Duration { return &c.IdleTimeout })},
	{"TORTOISE_MAX_CONNS_PER_IP", "open connections allowed per peer address (default 256, -1: no cap)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("TORTOISE_MAX_CONNS_PER_IP: %q is not a number", v)
		}
		c.MaxConnsPerIP = n
		return nil
	}},
	{"TORTOISE_QUERY_TIMEOUT", "time a database read may run before it is stopped (default 5s, negative: none)", duration("TORTOISE_QUERY_TIMEOUT", func(c *Config) *time.Duration { return &c.QueryTimeout })},
	{"TORTOISE_MAX_FILTERED_READS", "list requests with a filter or sort in progress per client address (default 2, -1: no cap)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("TORTOISE_MAX_FILTERED_READS: %q is not a number", v)
		}
		c.MaxFilteredReads = n
		return nil
	}},
	{"TORTOISE_LOGS_DAYS", "days the request log keeps API requests (default 7, 0: no request log)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("TORTOISE_LOGS_DAYS: %q is not a number of days (0 turns the request log off)", v)
		}
		if n == 0 {
			n = -1
		}
		c.LogsDays = n
		return nil
	}},
	{"TORTOISE_PPROF_ADDR", "address of Go's profiler, /debug/pprof/ (default: none; bind it to loopback)", func(c *Config, v string) error { c.PprofAddr = v; return nil }},
	{"TORTOISE_REDIS_URL", "Redis for the record cache and rate limits shared by several processes (default: none, both in process)", func(c *Config, v string) error { c.RedisURL = v; return nil }},
	{"TORTOISE_CACHE_MB", "MiB of encoded record responses cached in process (default 64, 0: no record cache)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("TORTOISE_CACHE_MB: %q is not a number of MiB (0 turns the record cache off)", v)
		}
		if n == 0 {
			n = -1
		}
		c.CacheMB = n
		return nil
	}},
	{"TORTOISE_MAX_BCRYPT", "bcrypt computations at once (default: CPUs - 1, at least 1)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("TORTOISE_MAX_BCRYPT: %q is not a number", v)
		}
		c.MaxBcrypt = n
		return nil
	}},
}

// duration parses a Go duration ("30s", "10m") into the field of c that
// field returns.
func duration(name string, field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: %q is not a duration such as 30s or 10m", name, v)
		}
		*field(c) = d
		return nil
	}
}

// FromEnv applies the TORTOISE_* variables that are set, using lookup
// (os.LookupEnv when nil).
func (c Config) FromEnv(lookup func(string) (string, bool)) (Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	for _, e := range Env {
		if v, ok := lookup(e.Name); ok && v != "" {
			if err := e.set(&c, v); err != nil {
				return c, err
			}
		}
	}
	return c, nil
}

// WithDefaults fills every unset field with its default.
func (c Config) WithDefaults() Config {
	if c.HTTP == "" {
		c.HTTP = "127.0.0.1:8090"
	}
	if c.Dir == "" {
		c.Dir = "tortoise_data"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Role == "" {
		c.Role = RoleAll
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 10 * time.Minute
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 15 * time.Minute
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = 256
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = 5 * time.Second // store.DefaultReadTimeout
	}
	if c.MaxFilteredReads == 0 {
		c.MaxFilteredReads = 2 // guard.DefaultMaxInFlight
	}
	if c.MaxBcrypt == 0 {
		c.MaxBcrypt = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if c.LogsDays == 0 {
		c.LogsDays = 7
	}
	if c.CacheMB == 0 {
		c.CacheMB = 64
	}
	return c
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
		return fmt.Errorf("http address %q: want host:port", c.HTTP)
	}
	if c.Dir == "" {
		return fmt.Errorf("data folder must be set")
	}
	if c.DatabaseURL != "" && !c.IsPostgres() {
		return fmt.Errorf("database URL must start with postgres:// or postgresql://")
	}
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("max body bytes must be at least 1024")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log level %q: want debug, info, warn or error", c.LogLevel)
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"read header", c.ReadHeaderTimeout}, {"read", c.ReadTimeout}, {"write", c.WriteTimeout}, {"idle", c.IdleTimeout}} {
		if t.d < 0 {
			return fmt.Errorf("%s timeout %s: must be positive", t.name, t.d)
		}
	}
	switch c.Role {
	case RoleAll, RoleAPI, RoleWorker:
	default:
		return fmt.Errorf("role %q: want all, api or worker", c.Role)
	}
	if c.MaxConnsPerIP < -1 {
		return fmt.Errorf("max connections per IP %d: want a positive number, or -1 for no cap", c.MaxConnsPerIP)
	}
	if c.MaxFilteredReads < -1 {
		return fmt.Errorf("max filtered reads %d: want a positive number, or -1 for no cap", c.MaxFilteredReads)
	}
	if c.MaxBcrypt < 1 {
		return fmt.Errorf("max bcrypt %d: want a positive number", c.MaxBcrypt)
	}
	if c.LogsDays < -1 {
		return fmt.Errorf("logs days %d: want a positive number of days, or -1 for no request log", c.LogsDays)
	}
	if c.CacheMB < -1 {
		return fmt.Errorf("cache MB %d: want a positive number of MiB, or -1 for no record cache", c.CacheMB)
	}
	if c.RedisURL != "" {
		u := strings.ToLower(c.RedisURL)
		if !strings.HasPrefix(u, "redis://") && !strings.HasPrefix(u, "rediss://") && !strings.HasPrefix(u, "unix://") {
			return fmt.Errorf("redis URL must start with redis://, rediss:// or unix://")
		}
	}
	return nil
}

// IsPostgres reports whether the database is PostgreSQL.
func (c Config) IsPostgres() bool {
	u := strings.ToLower(c.DatabaseURL)
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// SQLitePath is where the embedded database lives.
func (c Config) SQLitePath() string { return filepath.Join(c.Dir, "data.db") }
