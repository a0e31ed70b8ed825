package testkit

import (
	"crypto/rand"
	"os"
	"strings"
	"testing"
)

// RedisURL returns the Redis URL tests should use, from TORTOISE_TEST_REDIS.
// Without it the test is skipped with a message — except under CI (CI set),
// where a missing Redis is a failure.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TORTOISE_TEST_REDIS")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TORTOISE_TEST_REDIS is not set under CI: Redis tests must run")
		}
		t.Skip("TORTOISE_TEST_REDIS is not set; skipping Redis test (e.g. TORTOISE_TEST_REDIS=redis://127.0.0.1:6379/0)")
	}
	return u
}

// RedisPrefix returns a key prefix no other test uses, so tests share one
// Redis database without seeing each other's keys.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	return "tortoise-test:" + strings.ToLower(rand.Text()[:12]) + ":"
}
