// Package cache keeps encoded API responses (records, list pages) so
// that reads repeated between writes cost no database query, without
// ever answering with data older than a write the caller has seen
// acknowledged.
//
// It does so with generations instead of deleting entries: every entry
// is stored under the generation of the data it depends on (one
// collection, or "everything" for responses that reach several), and a
// write bumps that generation after its commit and before the writer's
// caller hears of it (Follow hooks the bump onto the store's change
// feed). A read takes the generation before it queries the database and
// stores what it read under that generation; a read racing a write may
// thus store data of either side of the write, but under the old
// generation, which nobody looks up once the bump is done. Old
// generations' entries are never looked up again and age out (weight
// eviction in memory, a TTL in Redis).
//
// Drivers: memory (in process, otter) and redis (shared by every process
// on one database), both passing cachetest's conformance suite.
package cache

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tortoise-dev/tortoise/store"
)

// Global is the dependency of responses that read more than their own
// collection (expand, relation paths in rules and filters, view
// collections): every record change bumps it.
const Global = "*"

// Entry is one cached response: its encoded body and its ETag.
type Entry struct {
	ETag string
	Body []byte
}

// Size is what an entry weighs in the memory driver's budget, key
// included, with a fixed allowance for the bookkeeping around it.
func (e Entry) Size(key string) int { return len(key) + len(e.ETag) + len(e.Body) + 96 }

// Cache holds encoded responses under generations. Keys are opaque to
// the cache (callers hash long ones); dependencies are collection ids
// or Global.
type Cache interface {
	// Get reads the current generations of dep (and of the cache as a
	// whole, see DropAll) and the entry stored under key at those
	// generations, in one step (one round trip to Redis). slot names
	// where a response read from the database now belongs: pass it to
	// Set on a miss. Errors: KindUnavailable (the cache's server cannot
	// be reached; callers treat it as a miss and store nothing).
	Get(ctx context.Context, dep, key string) (e Entry, slot string, ok bool, err error)
	// Set stores e in slot (from Get). A slot whose generation has been
	// bumped since is never read again, so storing late is harmless.
	// Errors: KindUnavailable.
	Set(ctx context.Context, slot string, e Entry) error
	// Changed bumps the generations of the collections named (by id) and
	// Global. Errors: KindUnavailable (nothing was bumped: the Redis
	// driver's entries then live out their TTL).
	Changed(ctx context.Context, collections ...string) error
	// DropAll bumps every generation at once: nothing cached before is
	// read again. Errors: KindUnavailable.
	DropAll(ctx context.Context) error
	// Close releases the cache's resources (the Redis connections).
	Close() error
}

// Follow bumps c's generations from the store's change feed: a
// collection's and Global for each published change, synchronously
// where the driver publishes (on SQLite the writer goroutine after the
// commit, before any caller's Update returns; on PostgreSQL the
// listener, which Update waits for), and everything when the feed says
// changes may have been lost (the listener reconnected, or a writer
// stopped waiting for it). Every process bumps for every change it
// sees, its own and other processes': in Redis mode the writer's bump is
// the one that counts, and the others' cover a writer that failed to
// bump (Redis unreachable for a moment, or the process died between its
// commit and its bump). A failed bump is logged (at most once a minute)
// and otherwise ignored: the write has committed and must be
// acknowledged; with Redis the stale entries then last at most their
// TTL.
func Follow(feed *store.Feed, c Cache, log *slog.Logger) {
	lg := NewLogLimit(log, time.Minute)
	feed.OnPublish(func(changes []store.Change) {
		ids := make([]string, 0, 1)
		for _, ch := range changes {
			if ch.Collection == nil {
				continue
			}
			seen := false
			for _, id := range ids {
				seen = seen || id == ch.Collection.ID
			}
			if !seen {
				ids = append(ids, ch.Collection.ID)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), bumpTimeout)
		defer cancel()
		if err := c.Changed(ctx, ids...); err != nil {
			lg.Warn("record cache: bump after a write failed; entries of the changed collections may be served until they expire", "err", err)
		}
	})
	feed.OnLost(func() {
		ctx, cancel := context.WithTimeout(context.Background(), bumpTimeout)
		defer cancel()
		if err := c.DropAll(ctx); err != nil {
			lg.Warn("record cache: dropping every entry after lost changes failed; entries may be served until they expire", "err", err)
		}
	})
}

// bumpTimeout bounds how long a write waits for its bump: the bump runs
// on the store's writer (SQLite) or listener (PostgreSQL), so a cache
// server that hangs must not hold every write for long.
const bumpTimeout = time.Second

// LogLimit logs at most once per interval, so that a cache server that
// is down does not flood the log with one line per request.
type LogLimit struct {
	log   *slog.Logger
	every time.Duration
	last  atomic.Int64 // unix nanoseconds of the last line
}

// NewLogLimit logs through log at most once per every.
func NewLogLimit(log *slog.Logger, every time.Duration) *LogLimit {
	if log == nil {
		log = slog.Default()
	}
	return &LogLimit{log: log, every: every}
}

// Warn logs msg unless a line was logged less than the interval ago.
func (l *LogLimit) Warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if last != 0 && now-last < int64(l.every) || !l.last.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn(msg, args...)
}
