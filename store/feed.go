package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/tortoise-dev/tortoise/core"
)

// Change actions.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Change is one committed change to one record, as the change feed
// carries it. Record is the record after the change (for a delete, the
// record as it was); Old is the record before an update, nil otherwise.
// Consumers share a Change: they must not modify it.
type Change struct {
	Action     string
	Collection *core.Collection
	Record     *core.Record
	Old        *core.Record
}

// ErrLagged ends a subscription whose consumer fell behind (or, on
// PostgreSQL, whose process lost its notification connection for a
// while): changes were dropped for it, so it must resynchronise from the
// database and subscribe again.
var ErrLagged = errors.New("store: change feed subscriber fell behind")

// Feed fans committed changes out to subscribers. Drivers publish to it
// after each commit, in commit order; publishing never blocks: a
// subscriber whose buffer is full is dropped with ErrLagged rather than
// slowing the writer.
type Feed struct {
	mu     sync.Mutex
	subs   map[*Sub]struct{}
	closed bool

	// Observers (OnPublish, OnLost), called synchronously by Publish.
	onPublish atomic.Pointer[[]func([]Change)]
	onLost    atomic.Pointer[[]func()]
}

// OnPublish adds fn to what Publish calls, synchronously, before the
// subscribers get the changes: in commit order, on the publishing
// driver's goroutine, so on SQLite (the writer after COMMIT) and on
// PostgreSQL (the listener, which the writer's Update waits for) before
// the writer's caller hears of the commit. fn must be quick and must not
// modify the changes; it is how the record cache is bumped in time.
func (f *Feed) OnPublish(fn func([]Change)) { addObserver(&f.onPublish, fn) }

// OnLost adds fn to what Lost and Lagged call: changes may have been
// committed without being published to this process in time.
func (f *Feed) OnLost(fn func()) { addObserver(&f.onLost, fn) }

func addObserver[F any](p *atomic.Pointer[[]F], fn F) {
	for {
		old := p.Load()
		var next []F
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, fn)
		if p.CompareAndSwap(old, &next) {
			return
		}
	}
}

// Lost tells the OnLost observers that changes may have been committed
// without being published in time (a PostgreSQL writer stopped waiting
// for its listener), without ending the subscriptions, which get the
// changes late.
func (f *Feed) Lost() {
	if fns := f.onLost.Load(); fns != nil {
		for _, fn := range *fns {
			fn()
		}
	}
}

// NewFeed returns a feed with no subscribers.
func NewFeed() *Feed { return &Feed{subs: map[*Sub]struct{}{}} }

// Sub is one subscription: read C until it is closed, then Err says why.
type Sub struct {
	// C delivers the changes in commit order.
	C    <-chan Change
	ch   chan Change
	feed *Feed
	err  error // set under feed.mu before ch is closed
}

// Err is nil while C is open; after C is closed it is ErrLagged, or
// ErrClosed when the subscription or the feed was closed.
func (s *Sub) Err() error {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	return s.err
}

// Close ends the subscription; C is closed.
func (s *Sub) Close() { s.feed.drop(s, ErrClosed) }

// ErrClosed is Sub.Err after Close, or after the feed closed.
var ErrClosed = errors.New("store: change feed closed")

// Subscribe starts a subscription that buffers up to buffer changes.
func (f *Feed) Subscribe(buffer int) *Sub {
	ch := make(chan Change, max(1, buffer))
	s := &Sub{C: ch, ch: ch, feed: f}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		s.err = ErrClosed
		close(ch)
		return s
	}
	f.subs[s] = struct{}{}
	return s
}

// Publish hands changes to the OnPublish observers, then to every
// subscriber, in order.
func (f *Feed) Publish(changes ...Change) {
	if len(changes) == 0 {
		return
	}
	if fns := f.onPublish.Load(); fns != nil {
		for _, fn := range *fns {
			fn(changes)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		for _, c := range changes {
			select {
			case s.ch <- c:
				continue
			default:
			}
			f.dropLocked(s, ErrLagged)
			break
		}
	}
}

// Lagged ends every subscription with ErrLagged: the publisher lost
// changes (PostgreSQL's notification connection dropped). The OnLost
// observers are told first.
func (f *Feed) Lagged() {
	f.Lost()
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		f.dropLocked(s, ErrLagged)
	}
}

// Close ends every subscription with ErrClosed; later ones start closed.
func (f *Feed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for s := range f.subs {
		f.dropLocked(s, ErrClosed)
	}
}

func (f *Feed) drop(s *Sub, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropLocked(s, err)
}

func (f *Feed) dropLocked(s *Sub, err error) {
	if _, ok := f.subs[s]; !ok {
		return
	}
	delete(f.subs, s)
	s.err = err
	close(s.ch)
}

// Pending is what a driver's transaction keeps for the change feed: the
// changes it made, published only if it commits, and a copy of each
// record it read, which is the "before" of a later update or delete in
// the same transaction without reading the row again.
type Pending struct {
	seen    map[pendingKey]*core.Record
	changes []Change
}

type pendingKey struct{ collection, id string }

// Seen keeps a copy of r, read in the transaction.
func (p *Pending) Seen(r *core.Record) {
	if r == nil || r.Collection == nil {
		return
	}
	if p.seen == nil {
		p.seen = map[pendingKey]*core.Record{}
	}
	p.seen[pendingKey{r.Collection.ID, r.ID()}] = r.Clone()
}

// Before returns the copy of the record read or written earlier in the
// transaction, or nil.
func (p *Pending) Before(c *core.Collection, id string) *core.Record {
	return p.seen[pendingKey{c.ID, id}]
}

// Inserted records the creation of r.
func (p *Pending) Inserted(r *core.Record) {
	p.Seen(r)
	p.changes = append(p.changes, Change{Action: ActionCreate, Collection: r.Collection, Record: p.Before(r.Collection, r.ID())})
}

// Updated records an update of old (nil when unknown) to r.
func (p *Pending) Updated(old, r *core.Record) {
	p.Seen(r)
	p.changes = append(p.changes, Change{Action: ActionUpdate, Collection: r.Collection, Record: p.Before(r.Collection, r.ID()), Old: old})
}

// Deleted records the deletion of old.
func (p *Pending) Deleted(old *core.Record) {
	delete(p.seen, pendingKey{old.Collection.ID, old.ID()})
	p.changes = append(p.changes, Change{Action: ActionDelete, Collection: old.Collection, Record: old})
}

// Changes returns the changes recorded so far (the caller must not
// change them).
func (p *Pending) Changes() []Change { return p.changes }

// Take returns the changes recorded so far and forgets them.
func (p *Pending) Take() []Change {
	ch := p.changes
	p.changes, p.seen = nil, nil
	return ch
}

// TxHooks is the list of a store's TxHook functions, safe to read while
// hooks are added.
type TxHooks struct{ list atomic.Pointer[[]TxHook] }

// Add appends h.
func (t *TxHooks) Add(h TxHook) {
	for {
		old := t.list.Load()
		var next []TxHook
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, h)
		if t.list.CompareAndSwap(old, &next) {
			return
		}
	}
}

// Run calls each hook with changes, unless there are none, and returns
// the first error.
func (t *TxHooks) Run(ctx context.Context, tx Tx, changes []Change) error {
	hooks := t.list.Load()
	if hooks == nil || len(changes) == 0 {
		return nil
	}
	for _, h := range *hooks {
		if err := h(ctx, tx, changes); err != nil {
			return err
		}
	}
	return nil
}
