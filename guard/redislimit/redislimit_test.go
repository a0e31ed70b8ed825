package redislimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/guard/redislimit"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// redisClient returns a client of TORTOISE_TEST_REDIS, closed when t ends.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(testkit.RedisURL(t))
	if err != nil {
		t.Fatalf("TORTOISE_TEST_REDIS: %v", err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestConformance holds both implementations to guard.RateLimiter's
// contract, on the real clock (the Redis one reads Redis's).
func TestConformance(t *testing.T) {
	t.Parallel()
	impls := map[string]func(t *testing.T) guard.RateLimiter{
		"in process": func(*testing.T) guard.RateLimiter { return guard.InProcess(guard.NewLimiter(0)) },
		"redis": func(t *testing.T) guard.RateLimiter {
			return redislimit.New(redisClient(t), redislimit.Options{Prefix: testkit.RedisPrefix(t)})
		},
	}
	for name, open := range impls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testRateLimiter(t, open)
		})
	}
}

func testRateLimiter(t *testing.T, open func(t *testing.T) guard.RateLimiter) {
	ctx := context.Background()
	allow := func(l guard.RateLimiter, key string, r guard.Rule) (bool, time.Duration) {
		return l.Allow(ctx, key, r, time.Now())
	}
	cases := []struct {
		name string
		run  func(t *testing.T, l guard.RateLimiter)
	}{
		{"burst then steady rate", func(t *testing.T, l guard.RateLimiter) {
			r := guard.Rule{Limit: 3, Window: 3 * time.Second} // one per second after the burst
			for i := range 3 {
				if ok, _ := allow(l, "k", r); !ok {
					t.Fatalf("request %d of the burst refused", i+1)
				}
			}
			ok, wait := allow(l, "k", r)
			if ok || wait <= 0 || wait > time.Second {
				t.Fatalf("after the burst: ok=%v wait=%v, want refused within 1s", ok, wait)
			}
			time.Sleep(wait + 30*time.Millisecond)
			if ok, wait := allow(l, "k", r); !ok {
				t.Fatalf("after waiting: refused, wait %v", wait)
			}
			if ok, wait := allow(l, "k", r); ok || wait < 900*time.Millisecond {
				t.Fatalf("the refill was spent: ok=%v wait=%v, want refused for about 1s", ok, wait)
			}
		}},
		{"refused requests consume nothing", func(t *testing.T, l guard.RateLimiter) {
			r := guard.Rule{Limit: 2, Window: time.Second}
			allow(l, "k", r)
			allow(l, "k", r)
			_, first := allow(l, "k", r)
			for range 50 {
				if ok, wait := allow(l, "k", r); ok || wait > first {
					t.Fatalf("refused request: ok=%v wait=%v, first wait %v", ok, wait, first)
				}
			}
			time.Sleep(first + 30*time.Millisecond)
			if ok, wait := allow(l, "k", r); !ok {
				t.Fatalf("refusals were counted: still refused, wait %v", wait)
			}
		}},
		{"keys are independent", func(t *testing.T, l guard.RateLimiter) {
			r := guard.Rule{Limit: 2, Window: time.Minute}
			allow(l, "a", r)
			allow(l, "a", r)
			if ok, _ := allow(l, "a", r); ok {
				t.Fatal("a: third request allowed")
			}
			for i := range 2 {
				if ok, _ := allow(l, "b", r); !ok {
					t.Fatalf("b: request %d refused because of a", i+1)
				}
			}
		}},
		{"rules that do not limit", func(t *testing.T, l guard.RateLimiter) {
			for _, r := range []guard.Rule{{}, {Limit: 0, Window: time.Second}, {Limit: 5, Window: 0}, {Limit: -1, Window: -time.Second}} {
				for range 20 {
					if ok, _ := allow(l, "free", r); !ok {
						t.Fatalf("rule %+v refused", r)
					}
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, open(t))
		})
	}
}

// TestSharedAllowance is two processes' limiters on one Redis: a client
// alternating between them gets one allowance, not two.
func TestSharedAllowance(t *testing.T) {
	t.Parallel()
	p := testkit.RedisPrefix(t)
	procs := []*redislimit.Limiter{
		redislimit.New(redisClient(t), redislimit.Options{Prefix: p}),
		redislimit.New(redisClient(t), redislimit.Options{Prefix: p}),
	}
	r := guard.Rule{Limit: 6, Window: time.Minute}
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _ := procs[i%2].Allow(context.Background(), "client", r, time.Now()); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 6 {
		t.Errorf("%d of 20 requests allowed across two processes, want 6", allowed)
	}
	for _, l := range procs {
		if n := l.Fallbacks(); n != 0 {
			t.Errorf("%d calls fell back", n)
		}
	}
}

// TestRedisDown: with Redis unreachable, limits fall back to the process's
// own, which still limit, and the fall-back is logged once.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	var logs syncBuffer
	l := redislimit.New(rdb, redislimit.Options{Prefix: testkit.RedisPrefix(t), Cooldown: time.Millisecond, Timeout: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r := guard.Rule{Limit: 3, Window: time.Minute}
	got := 0
	for range 10 {
		if ok, _ := l.Allow(context.Background(), "k", r, time.Now()); ok {
			got++
		}
		time.Sleep(2 * time.Millisecond) // past the cooldown: Redis is tried again
	}
	if got != 3 {
		t.Errorf("%d of 10 allowed while Redis is down, want the local limit of 3", got)
	}
	if l.Fallbacks() != 10 {
		t.Errorf("fallbacks = %d, want 10", l.Fallbacks())
	}
	if n := strings.Count(logs.String(), "Redis unreachable"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
