// Package passwords hashes and checks passwords with bcrypt, taking the same
// time whether or not there is a hash to check against.
package passwords

import (
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// DefaultCost is the bcrypt cost used when a password field sets none.
const DefaultCost = 10

// Hash hashes a password with bcrypt.
func Hash(password string, cost int) (string, error) {
	if cost <= 0 {
		cost = DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
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
	if hash == "" {
		dummyOnce.Do(func() {
			dummyHash, _ = bcrypt.GenerateFromPassword([]byte("tortoise-dummy-password"), DefaultCost)
		})
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
