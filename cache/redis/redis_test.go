package redis_test

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/cache"
	"github.com/tortoise-dev/tortoise/cache/cachetest"
	"github.com/tortoise-dev/tortoise/cache/redis"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	url := testkit.RedisURL(t)
	cachetest.Run(t, func(t *testing.T) cache.Cache {
		// A prefix per test: parallel tests share the Redis.
		c, err := redis.Open(url, redis.Options{Prefix: "tortoise-test:" + rand.Text()[:10] + ":", TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// A Redis that is down fails fast with KindUnavailable, which callers
// treat as a miss.
func TestDown(t *testing.T) {
	t.Parallel()
	c, err := redis.Open("redis://127.0.0.1:1/0", redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	start := time.Now()
	_, _, ok, err := c.Get(ctx, "col", "k")
	if ok || core.KindOf(err) != core.KindUnavailable {
		t.Errorf("Get on a Redis that is down = ok %v, err %v; want a KindUnavailable miss", ok, err)
	}
	if err := c.Changed(ctx, "col"); core.KindOf(err) != core.KindUnavailable {
		t.Errorf("Changed on a Redis that is down: err %v, want KindUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a Redis that is down took %v to answer two calls", d)
	}
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	if _, err := redis.Open("redis://host:port:x/zz", redis.Options{}); core.KindOf(err) != core.KindInvalid {
		t.Errorf("Open(bad URL): err %v, want KindInvalid", err)
	}
}

// A bump that fails while Redis is unreachable is not lost: the first
// call that reaches Redis again drops every entry before reading, for
// every process sharing the Redis.
func TestMissedBumpDropsAllOnReturn(t *testing.T) {
	t.Parallel()
	base := testkit.RedisURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	prefix := "tortoise-test:" + rand.Text()[:10] + ":"
	c, err := redis.Open(u.String(), redis.Options{Prefix: prefix, RetryAfter: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other, err := redis.Open(base, redis.Options{Prefix: prefix}) // another process, always connected
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	_, slot, _, err := c.Get(ctx, "col", "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, slot, cache.Entry{ETag: `"old"`, Body: []byte("old")}); err != nil {
		t.Fatal(err)
	}
	p.setDown(true)
	if err := c.Changed(ctx, "col"); core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("Changed with Redis away: err %v, want KindUnavailable", err)
	}
	if _, _, ok, err := c.Get(ctx, "col", "k"); ok || err == nil {
		t.Fatalf("Get with Redis away: ok %v, err %v; want an error", ok, err)
	}
	p.setDown(false)
	time.Sleep(50 * time.Millisecond) // past RetryAfter
	if _, _, ok, err := c.Get(ctx, "col", "k"); ok || err != nil {
		t.Errorf("first Get back: ok %v, err %v; want a miss (the missed bump drops all)", ok, err)
	}
	if _, _, ok, err := other.Get(ctx, "col", "k"); ok || err != nil {
		t.Errorf("another process's Get after that: ok %v, err %v; want a miss", ok, err)
	}
}

// proxy forwards TCP connections to target, or refuses them while down.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

// setDown refuses (and cuts) connections, or lets them through again.
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}
