// Package redis is the record cache shared by every process on one
// database: entries and generations in Redis (go-redis). A write's
// process bumps the generations it changed before its Update returns, so
// no process serves a response older than a write another process has
// acknowledged; a read fetches the generations and the entry in one round
// trip (a Lua script). Entries expire after a TTL, which also bounds how
// long a bump that failed (Redis unreachable just then) can leave old
// entries readable.
//
// The scripts build entry keys from the generations they read, so the
// cache needs one Redis (or a primary with replicas), not a Redis Cluster;
// and they write after reading Redis's clock, which takes Redis 5 or
// later (scripts replicated by their effects).
package redis

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tortoise-dev/tortoise/cache"
	"github.com/tortoise-dev/tortoise/core"
)

// DefaultTTL is how long an entry lives unless Options say otherwise:
// short enough that entries of abandoned generations do not pile up.
const DefaultTTL = 10 * time.Minute

// Options configure the cache.
type Options struct {
	// Prefix starts every key (default "tortoise:"): several databases
	// may share one Redis under different prefixes.
	Prefix string
	// TTL is the lifetime of an entry (default DefaultTTL).
	TTL time.Duration
	// RetryAfter is how long a failure keeps the cache away from Redis
	// (default one second).
	RetryAfter time.Duration
}

// Cache is the Redis cache.
//
// When Redis fails, the cache presumes it down for Options.RetryAfter: calls
// fail at once (callers read from the database) instead of each waiting
// for a connection that will not come, which on the write path would
// hold the store's writer. A bump that failed leaves entries of the
// changed collections behind, so the first call that reaches Redis again
// drops everything (DropAll) before it reads anything.
type Cache struct {
	rdb    *goredis.Client
	prefix string
	ttl    time.Duration
	owned  bool          // Close closes rdb
	retry  time.Duration // Options.RetryAfter

	downUntil atomic.Int64 // unix nanoseconds: Redis presumed down till then
	missed    atomic.Int64 // bumps failed since the last DropAll that went through
}

var errDown = errors.New("redis failed a moment ago")

// ready says whether Redis may be tried, dropping everything first when
// bumps were missed.
func (c *Cache) ready(ctx context.Context) error {
	if time.Now().UnixNano() < c.downUntil.Load() {
		return unavailable(errDown)
	}
	if n := c.missed.Load(); n > 0 {
		if err := bumpScript.Run(ctx, c.rdb, []string{c.epochKey()}).Err(); err != nil {
			return c.failed(err)
		}
		c.missed.CompareAndSwap(n, 0) // a bump missed meanwhile waits for the next call
	}
	return nil
}

// failed presumes Redis down for retryAfter and wraps err.
func (c *Cache) failed(err error) error {
	c.downUntil.Store(time.Now().Add(c.retry).UnixNano())
	return unavailable(err)
}

var _ cache.Cache = (*Cache)(nil)

// Open connects to the Redis at url (see Dial) and returns a cache over
// that connection, which Close closes. Open does not wait for Redis: the
// cache works (as misses) while Redis is away. Errors: KindInvalid (a
// malformed URL).
func Open(url string, opts Options) (*Cache, error) {
	rdb, err := Dial(url)
	if err != nil {
		return nil, err
	}
	c := New(rdb, opts)
	c.owned = true
	return c, nil
}

// Dial returns a client of the Redis at url (redis://[user:pass@]host:port/db,
// rediss:// for TLS, unix://), tuned for a cache and rate limits that
// must not make requests wait on a Redis that is down: unless the URL
// sets them, connecting gives up after a second and a command after half
// a second (or the context's deadline), and a failed command is not
// retried. It does not wait for Redis. Errors: KindInvalid (a malformed
// URL).
func Dial(url string) (*goredis.Client, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, core.Invalid("TORTOISE_REDIS_URL: %v", err)
	}
	if !strings.Contains(url, "dial_timeout=") {
		o.DialTimeout = time.Second
	}
	if !strings.Contains(url, "read_timeout=") {
		o.ReadTimeout = 500 * time.Millisecond
	}
	if !strings.Contains(url, "write_timeout=") {
		o.WriteTimeout = 500 * time.Millisecond
	}
	if !strings.Contains(url, "max_retries=") {
		o.MaxRetries = -1 // none: a failed call is a miss, not a wait
	}
	o.DialerRetries = 1
	o.ContextTimeoutEnabled = true
	return goredis.NewClient(o), nil
}

// New returns a cache over an existing client, which Close leaves open.
func New(rdb *goredis.Client, opts Options) *Cache {
	if opts.Prefix == "" {
		opts.Prefix = "tortoise:"
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	return &Cache{rdb: rdb, prefix: opts.Prefix, ttl: opts.TTL, retry: opts.RetryAfter}
}

// A generation missing from Redis (never bumped, or evicted under memory
// pressure) starts at Redis's clock in microseconds rather than at 0, so
// it never comes back to a value that old entries, still within their
// TTL, were stored under (that would take more than one bump per
// microsecond since the generation began).
const genLua = `
local function gen(k)
  local v = redis.call('GET', k)
  if not v then
    local t = redis.call('TIME')
    v = t[1] .. string.format('%06d', tonumber(t[2]))
    redis.call('SET', k, v)
  end
  return v
end
`

// getScript: KEYS[1] the epoch, KEYS[2] the dependency's generation;
// ARGV[1] the entries' prefix, ARGV[2] the caller's key. It returns the
// slot and the entry stored there (false when none).
var getScript = goredis.NewScript(genLua + `
local slot = ARGV[1] .. gen(KEYS[1]) .. ':' .. gen(KEYS[2]) .. ':' .. ARGV[2]
return {slot, redis.call('GET', slot)}
`)

// bumpScript increments each generation in KEYS.
var bumpScript = goredis.NewScript(genLua + `
for _, k in ipairs(KEYS) do
  gen(k)
  redis.call('INCR', k)
end
return 0
`)

func (c *Cache) genKey(dep string) string { return c.prefix + "g:" + dep }

func (c *Cache) epochKey() string { return c.prefix + "epoch" }

// unavailable wraps a Redis failure.
func unavailable(err error) error {
	return core.Wrap(core.KindUnavailable, err, "The record cache is unavailable.")
}

// Get reads the epoch, dep's generation and the entry at them in one
// round trip. Errors: KindUnavailable.
func (c *Cache) Get(ctx context.Context, dep, key string) (cache.Entry, string, bool, error) {
	if err := c.ready(ctx); err != nil {
		return cache.Entry{}, "", false, err
	}
	res, err := getScript.Run(ctx, c.rdb, []string{c.epochKey(), c.genKey(dep)}, c.prefix+"e:"+dep+":", key).Slice()
	if err != nil {
		return cache.Entry{}, "", false, c.failed(err)
	}
	if len(res) != 2 {
		return cache.Entry{}, "", false, unavailable(errors.New("unexpected answer from the cache script"))
	}
	slot, _ := res[0].(string)
	if slot == "" {
		return cache.Entry{}, "", false, unavailable(errors.New("unexpected answer from the cache script"))
	}
	v, ok := res[1].(string)
	if !ok {
		return cache.Entry{}, slot, false, nil
	}
	etag, body, ok := strings.Cut(v, "\n")
	if !ok {
		return cache.Entry{}, slot, false, nil
	}
	return cache.Entry{ETag: etag, Body: []byte(body)}, slot, true, nil
}

// Set stores e in slot for the TTL. Errors: KindUnavailable.
func (c *Cache) Set(ctx context.Context, slot string, e cache.Entry) error {
	if slot == "" || strings.ContainsRune(e.ETag, '\n') {
		return nil
	}
	v := make([]byte, 0, len(e.ETag)+1+len(e.Body))
	v = append(v, e.ETag...)
	v = append(v, '\n')
	v = append(v, e.Body...)
	if err := c.rdb.Set(ctx, slot, v, c.ttl).Err(); err != nil {
		return c.failed(err)
	}
	return nil
}

// Changed increments the collections' generations and Global's in one
// round trip. Errors: KindUnavailable (nothing may have been bumped: the
// next call that reaches Redis drops everything first).
func (c *Cache) Changed(ctx context.Context, collections ...string) error {
	keys := make([]string, 0, len(collections)+1)
	for _, id := range collections {
		keys = append(keys, c.genKey(id))
	}
	keys = append(keys, c.genKey(cache.Global))
	if err := c.ready(ctx); err != nil {
		c.missed.Add(1)
		return err
	}
	if err := bumpScript.Run(ctx, c.rdb, keys).Err(); err != nil {
		c.missed.Add(1)
		return c.failed(err)
	}
	return nil
}

// DropAll increments the epoch every slot carries. Errors:
// KindUnavailable (the next call that reaches Redis does it first).
func (c *Cache) DropAll(ctx context.Context) error {
	c.missed.Add(1) // done by ready, or left for the next call
	return c.ready(ctx)
}

// Close closes the client if Open made it.
func (c *Cache) Close() error {
	if c.owned {
		return c.rdb.Close()
	}
	return nil
}
