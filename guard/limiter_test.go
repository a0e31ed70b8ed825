package guard

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestLimiterBurstThenRefuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule Rule
	}{
		{"one per second", Rule{Limit: 1, Window: time.Second}},
		{"ten per minute", Rule{Limit: 10, Window: time.Minute}},
		{"three per hour", Rule{Limit: 3, Window: time.Hour}},
		{"thousand per second", Rule{Limit: 1000, Window: time.Second}},
		{"uneven step", Rule{Limit: 7, Window: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := NewLimiter(100)
			step := tt.rule.Window / time.Duration(tt.rule.Limit)
			for i := range tt.rule.Limit {
				if ok, wait := l.Allow("k", tt.rule, t0); !ok {
					t.Fatalf("request %d refused (retry %s), want allowed", i+1, wait)
				}
			}
			ok, wait := l.Allow("k", tt.rule, t0)
			if ok || wait != step {
				t.Fatalf("request %d = %v, %s; want refused, retry %s", tt.rule.Limit+1, ok, wait, step)
			}
			// Refused requests consume nothing: hammering changes no answer.
			for range 50 {
				l.Allow("k", tt.rule, t0.Add(step/2))
			}
			if ok, wait := l.Allow("k", tt.rule, t0.Add(step-1)); ok || wait != 1 {
				t.Fatalf("just before retry = %v, %s; want refused, 1ns", ok, wait)
			}
			if ok, _ := l.Allow("k", tt.rule, t0.Add(step)); !ok {
				t.Fatal("refused at the retry time")
			}
			if ok, _ := l.Allow("k", tt.rule, t0.Add(step)); ok {
				t.Fatal("second request at the retry time allowed; want one per step")
			}
			// A whole window after the last admitted request the full burst is back.
			later := t0.Add(step + tt.rule.Window)
			for i := range tt.rule.Limit {
				if ok, _ := l.Allow("k", tt.rule, later); !ok {
					t.Fatalf("after the window request %d refused", i+1)
				}
			}
			if ok, _ := l.Allow("k", tt.rule, later); ok {
				t.Fatal("after the window, burst+1 allowed")
			}
		})
	}
}

func TestLimiterSteadyRate(t *testing.T) {
	t.Parallel()
	// Requests arriving faster than the rule's rate: over a long run, the
	// number admitted is the burst plus one per step, no more.
	l := NewLimiter(10)
	rule := Rule{Limit: 10, Window: time.Minute} // step 6s
	allowed := 0
	for i := range 600 { // one a second for ten minutes
		if ok, _ := l.Allow("k", rule, t0.Add(time.Duration(i)*time.Second)); ok {
			allowed++
		}
	}
	if want := 10 + 599/6; allowed != want {
		t.Fatalf("allowed %d over ten minutes, want %d", allowed, want)
	}
}

func TestLimiterIndependentKeys(t *testing.T) {
	t.Parallel()
	l := NewLimiter(100)
	rule := Rule{Limit: 2, Window: time.Minute}
	for range 2 {
		l.Allow("auth:ip:203.0.113.7", rule, t0)
	}
	if ok, _ := l.Allow("auth:ip:203.0.113.7", rule, t0); ok {
		t.Fatal("exhausted key allowed")
	}
	for _, k := range []string{"auth:ip:203.0.113.8", "auth:acct:users:ada@example.com", ""} {
		if ok, _ := l.Allow(k, rule, t0); !ok {
			t.Fatalf("key %q refused because another key is exhausted", k)
		}
	}
}

func TestLimiterRuleThatDoesNotLimit(t *testing.T) {
	t.Parallel()
	l := NewLimiter(1)
	for _, r := range []Rule{{}, {Limit: 0, Window: time.Second}, {Limit: 5, Window: 0}, {Limit: -1, Window: time.Second}} {
		for range 10 {
			if ok, wait := l.Allow("k", r, t0); !ok || wait != 0 {
				t.Fatalf("rule %+v refused", r)
			}
		}
		if r.Validate() == nil {
			t.Fatalf("Validate(%+v) = nil, want an error", r)
		}
	}
	if l.Len() != 0 {
		t.Fatalf("non-limiting rules tracked %d keys", l.Len())
	}
}

func TestLimiterCap(t *testing.T) {
	t.Parallel()
	tests := []struct{ maxKeys, wantMax int }{
		{0, DefaultMaxKeys}, {-5, DefaultMaxKeys}, {1, 1}, {15, 15}, {100, 100}, {1000, 1000}, {100_000, 100_000},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.maxKeys), func(t *testing.T) {
			t.Parallel()
			l := NewLimiter(tt.maxKeys)
			if c := l.Cap(); c > tt.wantMax || c < tt.wantMax*3/4 {
				t.Fatalf("Cap = %d, want at most %d and not much less", c, tt.wantMax)
			}
		})
	}
}

func TestLimiterMemoryBound(t *testing.T) {
	t.Parallel()
	const maxKeys = 1000
	rule := Rule{Limit: 1, Window: time.Millisecond}
	l := NewLimiter(maxKeys)
	// 100k distinct keys, each refilled a millisecond later: every old key
	// is free to evict, so every new one is admitted and the bound holds.
	for i := range 100_000 {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		if ok, _ := l.Allow("flood:"+strconv.Itoa(i), rule, now); !ok {
			t.Fatalf("key %d refused though every older key has refilled", i)
		}
		if i%1000 == 0 && l.Len() > maxKeys {
			t.Fatalf("after %d keys Len = %d > %d", i+1, l.Len(), maxKeys)
		}
	}
	if n := l.Len(); n > maxKeys || n < l.Cap()/2 {
		t.Fatalf("Len = %d, want at most %d", n, maxKeys)
	}
}

func TestLimiterFloodNeverUnlimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		flood Rule
		every time.Duration // time between flood keys
	}{
		{"flood at one instant", Rule{Limit: 10, Window: time.Minute}, 0},
		{"flood of refilling keys", Rule{Limit: 10, Window: time.Minute}, 10 * time.Millisecond},
		{"flood of instantly stale keys", Rule{Limit: 1, Window: time.Nanosecond}, time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := NewLimiter(1000)
			victim := Rule{Limit: 3, Window: time.Hour}
			partial := Rule{Limit: 10, Window: 100 * time.Hour} // nothing refills during the flood
			for range 3 {
				l.Allow("auth:acct:users:victim", victim, t0)
			}
			for range 9 {
				l.Allow("auth:acct:users:partial", partial, t0)
			}
			now := t0
			refused := 0
			for i := range 100_000 {
				now = t0.Add(time.Duration(i) * tt.every)
				if ok, _ := l.Allow(fmt.Sprintf("auth:ip:%d", i), tt.flood, now); !ok {
					refused++
				}
			}
			if l.Len() > 1000 {
				t.Fatalf("Len = %d > 1000", l.Len())
			}
			if tt.every == 0 && refused == 0 {
				t.Fatal("a flood at one instant was all admitted; want newcomers refused once full")
			}
			want := 20*time.Minute - now.Sub(t0)
			if ok, wait := l.Allow("auth:acct:users:victim", victim, now); ok || wait != want {
				t.Fatalf("victim after flood = %v, %s; want refused, %s", ok, wait, want)
			}
			if ok, _ := l.Allow("auth:acct:users:partial", partial, now); !ok {
				t.Fatal("partially spent key lost its last request")
			}
			if ok, _ := l.Allow("auth:acct:users:partial", partial, now); ok {
				t.Fatal("partially spent key was reset by the flood")
			}
		})
	}
}

func TestLimiterFullShardRetryAfter(t *testing.T) {
	t.Parallel()
	l := NewLimiter(1) // one shard, one key
	rule := Rule{Limit: 2, Window: time.Minute}
	if ok, _ := l.Allow("a", rule, t0); !ok {
		t.Fatal("first key refused")
	}
	// "a" refills 30s after t0; until then there is no room for "b".
	if ok, wait := l.Allow("b", rule, t0.Add(10*time.Second)); ok || wait != 20*time.Second {
		t.Fatalf("newcomer in a full limiter = %v, %s; want refused, 20s", ok, wait)
	}
	if ok, _ := l.Allow("b", rule, t0.Add(30*time.Second)); !ok {
		t.Fatal("newcomer refused after the tracked key refilled")
	}
	if l.Len() != 1 {
		t.Fatalf("Len = %d, want 1", l.Len())
	}
}

func TestLimiterConcurrent(t *testing.T) {
	t.Parallel()
	l := NewLimiter(500)
	rule := Rule{Limit: 100, Window: time.Hour}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 200 {
				if ok, _ := l.Allow("shared", rule, t0); ok {
					allowed.Add(1)
				}
				// Churn other keys and shards meanwhile.
				l.Allow("g"+strconv.Itoa(g)+":"+strconv.Itoa(i), Rule{Limit: 1, Window: time.Millisecond}, t0.Add(time.Duration(i)*time.Millisecond))
				if i%50 == 0 {
					_ = l.Len()
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != int64(rule.Limit) {
		t.Fatalf("allowed %d concurrent requests for one key, want exactly %d", n, rule.Limit)
	}
	if l.Len() > 500 {
		t.Fatalf("Len = %d > 500", l.Len())
	}
}

func TestAccountKey(t *testing.T) {
	t.Parallel()
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'A'
	}
	tests := []struct {
		name, identity, want string
	}{
		{"email", "ada@example.com", "auth:acct:users:ada@example.com"},
		{"case folded", "Ada@Example.COM", "auth:acct:users:ada@example.com"},
		{"trimmed", "  ada@example.com\t", "auth:acct:users:ada@example.com"},
		{"long hashed", string(long), "auth:acct:users:sha256:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := AccountKey("auth", "users", tt.identity)
			if tt.name == "long hashed" {
				if len(got) != len(tt.want)+64 || got[:len(tt.want)] != tt.want {
					t.Fatalf("AccountKey = %q, want %q + 64 hex digits", got, tt.want)
				}
				if got != AccountKey("auth", "users", string(long)+" ") {
					t.Fatal("long identity not normalized before hashing")
				}
				return
			}
			if got != tt.want {
				t.Fatalf("AccountKey = %q, want %q", got, tt.want)
			}
		})
	}
}

func BenchmarkAllow(b *testing.B) {
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "auth:ip:198.51." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	rule := Rule{Limit: 10, Window: time.Minute}
	b.Run("serial", func(b *testing.B) {
		l := NewLimiter(len(keys))
		now := time.Now()
		i := 0
		for b.Loop() {
			l.Allow(keys[i%len(keys)], rule, now)
			i++
		}
	})
	b.Run("admitted", func(b *testing.B) {
		// Every call admitted: the state update and heap fix are paid.
		l := NewLimiter(len(keys))
		now := time.Now()
		i := 0
		for b.Loop() {
			l.Allow(keys[i%len(keys)], Rule{Limit: 1 << 30, Window: time.Hour}, now)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		l := NewLimiter(len(keys))
		now := time.Now()
		var seq atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919
			for pb.Next() {
				l.Allow(keys[i%len(keys)], rule, now)
				i++
			}
		})
	})
	b.Run("churn", func(b *testing.B) {
		// More distinct keys than the limiter holds, all refilled: every
		// call evicts.
		l := NewLimiter(1000)
		now := time.Now()
		i := 0
		for b.Loop() {
			l.Allow(keys[i%len(keys)], Rule{Limit: 1, Window: time.Nanosecond}, now.Add(time.Duration(i)))
			i++
		}
	})
}
