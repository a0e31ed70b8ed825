package guard

import (
	"context"
	"time"
)

// RateLimiter decides whether a request for key is within a Rule. The
// in-process Limiter (through InProcess) and the Redis one
// (guard/redislimit, whose allowances every process shares) answer
// alike: a fresh key may make Rule.Limit requests at once, then one per
// Window/Limit; refused requests consume nothing; a rule that fails
// Rule.Validate allows everything.
type RateLimiter interface {
	// Allow reports whether a request for key at time now is within r,
	// recording it if so; when not, retryAfter is how long until the same
	// request would be allowed. It never fails: an implementation that
	// cannot reach its store decides by a fallback of its own.
	Allow(ctx context.Context, key string, r Rule, now time.Time) (ok bool, retryAfter time.Duration)
}

// InProcess returns l as a RateLimiter: limits held by this process alone.
func InProcess(l *Limiter) RateLimiter { return inProcess{l} }

type inProcess struct{ l *Limiter }

func (p inProcess) Allow(_ context.Context, key string, r Rule, now time.Time) (bool, time.Duration) {
	return p.l.Allow(key, r, now)
}
