package guard

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The limits an InFlight applies until SetLimit says otherwise.
const (
	// DefaultMaxInFlight is how many requests per key may be in progress:
	// two, well under the four read connections an SQLite store has at
	// least, so one client cannot hold them all.
	DefaultMaxInFlight = 2
	// DefaultInFlightWait is how long a request over the cap waits for one
	// of its key's requests to finish before it is refused.
	DefaultInFlightWait = time.Second
)

// InFlight caps how many requests per key are in progress at once, for
// work whose cost a rate limit does not bound: a client that sends a few
// requests a second, each holding a database connection for seconds,
// stays within any sane rate and still takes every connection.
//
// A request over the cap waits, up to the configured wait, for one of its
// key's requests to finish, so that a burst of cheap requests (a page
// loading several filtered lists at once) queues for milliseconds instead
// of failing; one that is still over the cap then is refused. Waiting
// costs a goroutine, not a database connection.
//
// Memory is bounded by the requests in progress or waiting: a key is
// tracked only while it has one, in about 150 bytes plus the key. The
// zero value is ready to use, with DefaultMaxInFlight and
// DefaultInFlightWait.
type InFlight struct {
	max  atomic.Int64 // 0: DefaultMaxInFlight, < 0: no cap
	wait atomic.Int64 // nanoseconds; 0: DefaultInFlightWait, < 0: none

	mu   sync.Mutex
	keys map[string]*slots
}

// slots are one key's tokens: one per request in progress.
type slots struct {
	sem  chan struct{}
	refs int // requests holding or waiting for a token
}

// SetLimit sets the cap per key (0: DefaultMaxInFlight, below 0: no cap)
// and how long a request over it waits for a slot (wait <= 0: not at
// all). A key keeps the cap it had while it has requests in progress.
func (f *InFlight) SetLimit(max int, wait time.Duration) {
	f.max.Store(int64(max))
	w := int64(-1) // no wait
	if wait > 0 {
		w = int64(wait)
	}
	f.wait.Store(w)
}

// Limit returns the cap per key (-1: no cap) and the wait for a slot.
func (f *InFlight) Limit() (max int, wait time.Duration) {
	switch max = int(f.max.Load()); {
	case max == 0:
		max = DefaultMaxInFlight
	case max < 0:
		max = -1
	}
	switch w := f.wait.Load(); {
	case w == 0:
		wait = DefaultInFlightWait
	case w > 0:
		wait = time.Duration(w)
	}
	return max, wait
}

// Enter admits a request for key when fewer than the cap are in progress,
// waiting for one to finish up to the configured wait or until ctx ends.
// When it admits the request it returns a release function, to be called
// once the work is done (calling it again does nothing), and true;
// otherwise nil and false.
func (f *InFlight) Enter(ctx context.Context, key string) (release func(), ok bool) {
	max, wait := f.Limit()
	if max < 0 {
		return func() {}, true
	}
	f.mu.Lock()
	if f.keys == nil {
		f.keys = make(map[string]*slots)
	}
	s := f.keys[key]
	if s == nil {
		s = &slots{sem: make(chan struct{}, max)}
		f.keys[key] = s
	}
	s.refs++
	f.mu.Unlock()

	select {
	case s.sem <- struct{}{}:
		return f.releaser(key, s), true
	default:
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case s.sem <- struct{}{}:
			return f.releaser(key, s), true
		case <-t.C:
		case <-ctx.Done():
		}
	}
	f.leave(key, s)
	return nil, false
}

func (f *InFlight) releaser(key string, s *slots) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			<-s.sem
			f.leave(key, s)
		})
	}
}

// leave forgets key once no request holds or waits for one of its slots.
func (f *InFlight) leave(key string, s *slots) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.refs--; s.refs == 0 {
		delete(f.keys, key)
	}
}

// Len returns the number of keys with requests in progress or waiting.
func (f *InFlight) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}
