// Package testkit holds test helpers shared across packages: connections to
// the real engines the tests run against.
package testkit

import (
	"testing"

	"github.com/tortoise-dev/tortoise/internal/hashcost"
	"github.com/tortoise-dev/tortoise/internal/testdb"
)

// Every test binary using testkit hashes passwords at bcrypt's minimum
// cost: the tests are about behaviour, not about bcrypt's slowness, which
// otherwise took most of their CPU.
func init() { hashcost.LowerForTests() }

// PostgresURL is testdb.PostgresURL: TORTOISE_TEST_POSTGRES, or a skip
// (a failure under CI).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return testdb.PostgresURL(t)
}

// PostgresDatabase is testdb.PostgresDatabase: a fresh database for one
// test, dropped when it ends.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	return testdb.PostgresDatabase(t)
}
