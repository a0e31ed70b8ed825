package tortoise_test

import (
	"testing"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// TestRateLimitsInRedis: with TORTOISE_REDIS_URL the settings' rate
// limits live in Redis, so a client's allowance spent on one process is
// spent on the next (here, the same database after a restart); without
// it each process starts afresh.
func TestRateLimitsInRedis(t *testing.T) {
	t.Parallel()
	redisURL := testkit.RedisURL(t)
	s := testkit.NewServer(t, "sqlite").Restart(func(c *config.Config) { c.RedisURL = redisURL })
	s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"enabled": true, "rules": []map[string]any{
		{"label": "GET /api/health", "duration": 3600, "maxRequests": 3}}}}, 200, nil)
	s.Do("GET", "/api/health", "", nil, 200, nil)
	s.Do("GET", "/api/health", "", nil, 200, nil)

	s = s.Restart(nil) // another process, same Redis
	s.Do("GET", "/api/health", "", nil, 200, nil)
	if resp := s.Do("GET", "/api/health", "", nil, 429, nil); resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}

	s = s.Restart(func(c *config.Config) { c.RedisURL = "" }) // limits in process: a fresh allowance
	s.Do("GET", "/api/health", "", nil, 200, nil)
}
