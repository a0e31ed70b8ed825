// Package passwords hashes and checks passwords with bcrypt, taking the same
// time whether or not there is a hash to check against.
//
// bcrypt is meant to be slow — about 50 ms of one core at cost 10 — so at
// most GOMAXPROCS-1 computations run at once by default (one on a 2-core
// machine; see SetLimit) and the others wait their turn: a burst of logins
// or password changes then slows down itself, not every other request.
// Logins are also rate limited per client, which bounds the queue a guest
// can build.
package passwords

import (
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"github.com/tortoise-dev/tortoise/internal/hashcost"
)

// DefaultCost is the bcrypt cost used when a password field sets none.
const DefaultCost = 10

// defaultCost is DefaultCost, or bcrypt's minimum in this module's tests
// (internal/hashcost).
func defaultCost() int {
	if hashcost.Lowered() {
		return bcrypt.MinCost
	}
	return DefaultCost
}

// slots bounds the bcrypt computations running at once; SetLimit swaps
// it, and a computation gives its slot back to the channel it took it from.
var slots atomic.Pointer[chan struct{}]

func init() { SetLimit(max(1, runtime.GOMAXPROCS(0)-1)) }

// SetLimit sets how many bcrypt computations may run at once in the
// process (at least 1). Computations under way finish under the old limit.
func SetLimit(n int) {
	ch := make(chan struct{}, max(1, n))
	slots.Store(&ch)
}

// extraProcs turns on raising GOMAXPROCS while bcrypt runs (SetExtraProcs).
var extraProcs atomic.Bool

// procsMu makes each change of GOMAXPROCS a read-modify-write of its own.
var procsMu sync.Mutex

// SetExtraProcs makes each bcrypt computation add one to GOMAXPROCS while
// it runs (tortoise serve turns it on unless GOMAXPROCS is set). A bcrypt
// run computes for about 50 ms and keeps its P, the Go scheduler's slot
// for running Go code, the whole time; with one P per core, requests then
// have one P fewer although the kernel would share that core with them.
// With the extra P the kernel, not Go's scheduler, shares the cores
// between bcrypt and requests: on 2 cores, creates under 20 clients
// changing passwords went from 3.1x their p99 alone to about 1.5x
// (docs/benchmarks.md, create-pwload). GOMAXPROCS is back to what it was
// whenever no bcrypt runs, so other work pays nothing. Changing GOMAXPROCS
// stops the world for a moment, which is small against 50 ms of bcrypt.
func SetExtraProcs(on bool) { extraProcs.Store(on) }

// limited runs fn while holding one of the slots.
func limited(fn func()) {
	ch := *slots.Load()
	ch <- struct{}{}
	defer func() { <-ch }()
	if extraProcs.Load() {
		adjustProcs(+1)
		defer adjustProcs(-1)
	}
	fn()
}

// adjustProcs adds delta to GOMAXPROCS, so concurrent computations compose.
func adjustProcs(delta int) {
	procsMu.Lock()
	defer procsMu.Unlock()
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + delta)
}

// Hash hashes a password with bcrypt.
func Hash(password string, cost int) (string, error) {
	if cost <= 0 {
		cost = defaultCost()
	}
	var h []byte
	var err error
	limited(func() { h, err = bcrypt.GenerateFromPassword([]byte(password), cost) })
	return string(h), err
}

var (
	dummyOnce sync.Once
	dummyHash []byte
)

// Check reports whether password matches hash. With an empty hash
// (no such account) it still runs a full bcrypt comparison against a dummy
// hash, so a missing account and a wrong password take the same time.
func Check(hash, password string) bool {
	var err error
	limited(func() {
		if hash == "" {
			dummyOnce.Do(func() {
				dummyHash, _ = bcrypt.GenerateFromPassword([]byte("tortoise-dummy-password"), defaultCost())
			})
			_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
			err = bcrypt.ErrMismatchedHashAndPassword
			return
		}
		err = bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	})
	return err == nil
}
