// Package redislimit is the rate limiter of scaled-out Tortoise: the
// allowances live in Redis, so a limit holds across every process that
// shares it instead of being multiplied by their number.
//
// It keeps guard.Limiter's semantics (GCRA: a burst of Rule.Limit, then
// one request per Window/Limit, refused requests consume nothing) through
// github.com/go-redis/redis_rate, which runs the same algorithm as one Lua
// call per request: Rate and Burst are Rule.Limit, Period is Rule.Window.
// The clock is the Redis server's (TIME inside the script), not the
// caller's now, so processes whose clocks differ still share one
// allowance exactly. Each key expires from Redis once its allowance has
// refilled, when it carries no information any more, so Redis holds only
// keys that are limiting someone.
//
// Failure mode: when Redis cannot answer (down, unreachable, slower than
// Options.Timeout), the call is decided by an in-process guard.Limiter
// instead, and so are the calls of the next Options.Cooldown, so a dead
// Redis costs one timeout per cooldown, not one per request. Limits thus
// fail open to per-process limits, never to no limits: while Redis is
// away a client may get up to one allowance per process. The fall-back is
// logged at most once per Options.LogEvery.
package redislimit

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/tortoise-dev/tortoise/guard"
)

var _ guard.RateLimiter = (*Limiter)(nil)

// Options adjust a Limiter; the zero value is usable.
type Options struct {
	// Prefix starts every key the Limiter writes (default "tortoise:"), so
	// that Tortoise shares a Redis database with others, or tests with
	// each other. redis_rate adds "rate:" before it.
	Prefix string
	// Fallback decides while Redis cannot (default: a guard.Limiter of
	// guard.DefaultMaxKeys keys).
	Fallback guard.RateLimiter
	// Timeout bounds each call to Redis (default 200ms).
	Timeout time.Duration
	// Cooldown is how long the Fallback decides after Redis failed,
	// before Redis is tried again (default 1s).
	Cooldown time.Duration
	// Logger receives the fall-back warnings (default slog.Default()),
	// at most one per LogEvery (default one minute).
	Logger   *slog.Logger
	LogEvery time.Duration
}

// Limiter is a guard.RateLimiter on Redis, safe for concurrent use.
type Limiter struct {
	rl   *redis_rate.Limiter
	opts Options
	// downUntil is when Redis is tried again after a failure (unix nanos;
	// 0: Redis is up). lastLog is when the fall-back was last logged.
	downUntil atomic.Int64
	lastLog   atomic.Int64
	fallbacks atomic.Int64
}

// New returns a Limiter on rdb, which the caller keeps and closes (one
// client may serve the cache too).
func New(rdb redis.UniversalClient, opts Options) *Limiter {
	if opts.Prefix == "" {
		opts.Prefix = "tortoise:"
	}
	if opts.Fallback == nil {
		opts.Fallback = guard.InProcess(guard.NewLimiter(0))
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 200 * time.Millisecond
	}
	if opts.Cooldown <= 0 {
		opts.Cooldown = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LogEvery <= 0 {
		opts.LogEvery = time.Minute
	}
	return &Limiter{rl: redis_rate.NewLimiter(rdb), opts: opts}
}

// Allow reports whether a request for key is within r, as guard.RateLimiter
// says, by Redis's clock (now is used only by the fall-back).
func (l *Limiter) Allow(ctx context.Context, key string, r guard.Rule, now time.Time) (bool, time.Duration) {
	if r.Validate() != nil {
		return true, 0
	}
	if until := l.downUntil.Load(); until != 0 {
		if time.Now().UnixNano() < until {
			return l.fallback(ctx, key, r, now)
		}
		l.downUntil.CompareAndSwap(until, 0)
	}
	// A client hanging up must not cut a command short (go-redis would
	// drop the connection), only the timeout may.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.Timeout)
	defer cancel()
	res, err := l.rl.Allow(rctx, l.opts.Prefix+key, redis_rate.Limit{Rate: r.Limit, Burst: r.Limit, Period: r.Window})
	if err != nil {
		l.failed(err)
		return l.fallback(ctx, key, r, now)
	}
	if res.Allowed > 0 {
		return true, 0
	}
	return false, max(res.RetryAfter, 0)
}

func (l *Limiter) fallback(ctx context.Context, key string, r guard.Rule, now time.Time) (bool, time.Duration) {
	l.fallbacks.Add(1)
	return l.opts.Fallback.Allow(ctx, key, r, now)
}

// failed starts a cooldown and logs, unless it logged less than LogEvery ago.
func (l *Limiter) failed(err error) {
	now := time.Now()
	l.downUntil.Store(now.Add(l.opts.Cooldown).UnixNano())
	last := l.lastLog.Load()
	if last != 0 && now.UnixNano()-last < int64(l.opts.LogEvery) {
		return
	}
	if l.lastLog.CompareAndSwap(last, now.UnixNano()) {
		l.opts.Logger.Warn("rate limits: Redis unreachable, limiting in process until it answers",
			"error", err, "retry_in", l.opts.Cooldown, "fallbacks_so_far", l.fallbacks.Load())
	}
}

// Fallbacks returns how many calls the fall-back has decided so far.
func (l *Limiter) Fallbacks() int64 { return l.fallbacks.Load() }
