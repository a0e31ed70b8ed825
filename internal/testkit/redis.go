package testkit

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testdb"
)

// RedisURL returns the Redis URL tests should use, from TORTOISE_TEST_REDIS
// (see testdb.EnvURL: a skip without it, a failure under CI).
func RedisURL(t testing.TB) string {
	t.Helper()
	return testdb.EnvURL(t, "TORTOISE_TEST_REDIS", "Redis", "redis://127.0.0.1:6379/0")
}

// RedisPrefix returns a key prefix no other test uses, so tests share one
// Redis database without seeing each other's keys.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	return "tortoise-test:" + strings.ToLower(rand.Text()[:12]) + ":"
}
