// Package hashcost lets this module's tests make password hashing cheap.
//
// bcrypt at its default cost takes about 50 ms of a core, by design, and
// the API's tests create and sign in thousands of accounts: without this,
// three quarters of their CPU went to bcrypt. LowerForTests switches the
// default to bcrypt's minimum cost (about 1 ms) for the whole process. It
// lives under internal/ so that only this module can call it: a program
// built on Tortoise cannot weaken its own hashes by accident. A password
// field's own cost, when it sets one, is always used as set.
package hashcost

import "sync/atomic"

var lowered atomic.Bool

// LowerForTests makes hashes without a cost of their own use bcrypt's
// minimum cost from now on. For tests only (testkit calls it).
func LowerForTests() { lowered.Store(true) }

// Lowered reports whether LowerForTests was called.
func Lowered() bool { return lowered.Load() }
