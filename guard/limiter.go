package guard

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// Rule is a rate: at most Limit requests at once, refilling at Limit per
// Window. A Rule with Limit or Window not positive does not limit; see
// Validate.
type Rule struct {
	Limit  int           // requests allowed in a burst, and per Window on average
	Window time.Duration // time for a spent allowance to refill completely
}

// Validate reports whether r limits anything: Limit at least 1 and Window
// positive.
func (r Rule) Validate() error {
	if r.Limit < 1 {
		return fmt.Errorf("limit must be at least 1, got %d", r.Limit)
	}
	if r.Window <= 0 {
		return fmt.Errorf("window must be positive, got %s", r.Window)
	}
	return nil
}

// DefaultMaxKeys is the key bound NewLimiter uses when given maxKeys <= 0.
// Each tracked key costs about 100 bytes plus the key itself.
const DefaultMaxKeys = 100_000

const maxShards = 64

// Limiter is an in-process rate limiter keyed by string, safe for concurrent
// use. It implements GCRA (the generic cell rate algorithm, a token bucket
// kept as one timestamp per key): a fresh key may make Rule.Limit requests at
// once; after that requests are admitted at the steady rate of one per
// Window/Limit, and a key left alone for Window has its whole allowance back.
// Refused requests consume nothing.
//
// Memory is bounded: at most maxKeys keys are tracked, spread over shards by
// a hash seeded at random per Limiter (so clients cannot aim their keys at
// one shard). A key whose allowance has fully refilled carries no
// information, since forgetting it changes no future answer, and only such
// keys are evicted, the most long-refilled first. When a shard is full of keys
// that are still refilling, a request for a new key is refused (fails
// closed) until one refills, rather than forgetting a spent allowance: an
// attacker flooding distinct keys can then delay new clients, but can never
// reset a bucket, their own or anyone else's. Keeping a shard full that way
// costs about maxKeys requests per Window/Limit, so size maxKeys well above
// the number of clients expected in such a period.
//
// A Limiter also carries an InFlight, its cap on requests in progress per
// key, so that one value holds all of a server's per-client limits.
type Limiter struct {
	seed     maphash.Seed
	epoch    time.Time
	mask     uint64
	shards   []shard
	inflight InFlight
}

// InFlight returns l's cap on requests in progress per key.
func (l *Limiter) InFlight() *InFlight { return &l.inflight }

type shard struct {
	mu   sync.Mutex
	cap  int
	keys map[string]*entry
	heap entryHeap // min-heap by tat: the root is the next key to refill
	_    [64]byte  // keep neighbouring shards' locks off one cache line
}

// entry is one key's state: tat ("theoretical arrival time") is when its
// allowance is completely refilled, in nanoseconds since Limiter.epoch.
type entry struct {
	key string
	tat int64
	idx int
}

// NewLimiter returns a Limiter tracking at most maxKeys keys, or
// DefaultMaxKeys if maxKeys <= 0.
func NewLimiter(maxKeys int) *Limiter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	// At least 16 keys per shard, so one hot shard is not starved of room.
	n := 1
	for n*2 <= maxShards && n*2*16 <= maxKeys {
		n *= 2
	}
	l := &Limiter{
		seed:   maphash.MakeSeed(),
		epoch:  time.Now(),
		mask:   uint64(n - 1),
		shards: make([]shard, n),
	}
	per := maxKeys / n // floor, so the total never exceeds maxKeys
	for i := range l.shards {
		l.shards[i].cap = per
		l.shards[i].keys = make(map[string]*entry)
	}
	return l
}

// Allow reports whether a request for key at time now is within rule,
// recording it if so. When it is not, retryAfter is how long until the same
// request would be allowed. A rule that fails Rule.Validate allows
// everything. now should come from time.Now (its monotonic reading is used);
// calls for one key are expected in roughly increasing time order.
func (l *Limiter) Allow(key string, rule Rule, now time.Time) (ok bool, retryAfter time.Duration) {
	if rule.Limit < 1 || rule.Window <= 0 {
		return true, 0
	}
	// step is the emission interval, one request's worth of refill; span is
	// the whole allowance. span is computed from step rather than taken as
	// Window so that the burst is exactly Limit and the retry after it is
	// exactly step even when Window does not divide evenly.
	step := int64(rule.Window) / int64(rule.Limit)
	if step < 1 {
		step = 1
	}
	span := step * int64(rule.Limit)
	t := int64(now.Sub(l.epoch))

	s := &l.shards[maphash.String(l.seed, key)&l.mask]
	s.mu.Lock()
	defer s.mu.Unlock()

	e := s.keys[key]
	tat := t
	if e != nil && e.tat > t {
		tat = e.tat
	}
	next := tat + step
	if allowAt := next - span; t < allowAt {
		return false, time.Duration(allowAt - t)
	}
	if e != nil {
		e.tat = next
		heap.Fix(&s.heap, e.idx)
		return true, 0
	}
	if len(s.keys) < s.cap {
		e = &entry{key: key, tat: next}
		s.keys[key] = e
		heap.Push(&s.heap, e)
		return true, 0
	}
	root := s.heap[0]
	if root.tat > t {
		// Every tracked key is still refilling: forgetting one would hand
		// it allowance it has spent. Refuse the newcomer until one refills.
		return false, time.Duration(root.tat - t)
	}
	delete(s.keys, root.key)
	root.key, root.tat = key, next
	s.keys[key] = root
	heap.Fix(&s.heap, 0)
	return true, 0
}

// Len returns the number of keys currently tracked.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.keys)
		s.mu.Unlock()
	}
	return n
}

// Cap returns the most keys l will track, at most the maxKeys it was built
// with.
func (l *Limiter) Cap() int {
	return len(l.shards) * l.shards[0].cap
}

type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].tat < h[j].tat }
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.idx = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// maxIdentity is the longest identity AccountKey keeps verbatim; longer ones
// are hashed so a huge identity cannot make a huge key.
const maxIdentity = 256

// AccountKey is the rate-limit key for an account under label, e.g.
// "auth:acct:users:ada@example.com". The identity (email or username) is
// trimmed and lowercased, so varying its case or padding does not buy a
// fresh allowance; one longer than 256 bytes is replaced by its SHA-256.
// collection should be the collection's id or its canonical name, not the
// spelling in the request path.
func AccountKey(label, collection, identity string) string {
	id := strings.ToLower(strings.TrimSpace(identity))
	if len(id) > maxIdentity {
		sum := sha256.Sum256([]byte(id))
		id = "sha256:" + hex.EncodeToString(sum[:])
	}
	return label + ":acct:" + collection + ":" + id
}
