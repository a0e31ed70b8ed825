// Package memory is the in-process record cache: entries in an otter
// cache bounded by their encoded size, generations in atomic counters of
// this process. Processes sharing one PostgreSQL database each keep their
// own; one bumps its generations when another's write reaches it through
// LISTEN/NOTIFY, so it may serve an entry older than that write for the
// notification's delay (BenchmarkCacheStaleWindow in api: p50 0.4 ms,
// p99 40 ms, max 0.2 s on a busy two-core machine). Use the redis driver
// where that matters.
package memory

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/maypok86/otter/v2"

	"github.com/tortoise-dev/tortoise/cache"
)

// DefaultMB is the budget when New is given none.
const DefaultMB = 64

// Cache is the in-process cache. Its methods never fail.
type Cache struct {
	entries *otter.Cache[string, cache.Entry]
	epoch   atomic.Uint64 // bumped by DropAll; part of every slot
	mu      sync.RWMutex
	gens    map[string]*atomic.Uint64 // by dependency (collection id or cache.Global)
}

var _ cache.Cache = (*Cache)(nil)

// New returns a cache holding at most mb MiB of entries, keys and
// bookkeeping included (cache.Entry.Size); mb <= 0 means DefaultMB.
// Beyond it the entries least likely to be read again are evicted
// (otter's W-TinyLFU), stale generations' first since nobody reads them.
func New(mb int) (*Cache, error) {
	if mb <= 0 {
		mb = DefaultMB
	}
	entries, err := otter.New(&otter.Options[string, cache.Entry]{
		MaximumWeight: uint64(mb) << 20,
		Weigher: func(key string, e cache.Entry) uint32 {
			return uint32(min(e.Size(key), 1<<31))
		},
	})
	if err != nil {
		return nil, err
	}
	return &Cache{entries: entries, gens: map[string]*atomic.Uint64{}}, nil
}

// gen returns dep's counter, creating it.
func (c *Cache) gen(dep string) *atomic.Uint64 {
	c.mu.RLock()
	g := c.gens[dep]
	c.mu.RUnlock()
	if g != nil {
		return g
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g = c.gens[dep]; g == nil {
		g = new(atomic.Uint64)
		c.gens[dep] = g
	}
	return g
}

// Get looks key up at the current generations of the cache and of dep.
func (c *Cache) Get(_ context.Context, dep, key string) (cache.Entry, string, bool, error) {
	// The epoch first: a DropAll between the two loads then yields a
	// slot at the old epoch, which nobody reads again.
	epoch := c.epoch.Load()
	g := c.gen(dep).Load()
	b := make([]byte, 0, len(dep)+len(key)+44)
	b = strconv.AppendUint(b, epoch, 36)
	b = append(b, ':')
	b = append(b, dep...)
	b = append(b, ':')
	b = strconv.AppendUint(b, g, 36)
	b = append(b, ':')
	b = append(b, key...)
	slot := string(b)
	e, ok := c.entries.GetIfPresent(slot)
	return e, slot, ok, nil
}

// Set stores e in slot.
func (c *Cache) Set(_ context.Context, slot string, e cache.Entry) error {
	if slot == "" {
		return nil
	}
	c.entries.Set(slot, e)
	return nil
}

// Changed bumps the collections' generations and Global's.
func (c *Cache) Changed(_ context.Context, collections ...string) error {
	for _, id := range collections {
		c.gen(id).Add(1)
	}
	c.gen(cache.Global).Add(1)
	return nil
}

// DropAll bumps the epoch every slot carries, and forgets the entries.
func (c *Cache) DropAll(context.Context) error {
	c.epoch.Add(1)
	c.entries.InvalidateAll()
	return nil
}

// Close stops the cache's maintenance goroutines.
func (c *Cache) Close() error {
	c.entries.InvalidateAll()
	c.entries.StopAllGoroutines()
	return nil
}

// Len is the number of entries held once pending evictions are done
// (for tests and metrics).
func (c *Cache) Len() int {
	c.entries.CleanUp()
	return c.entries.EstimatedSize()
}
