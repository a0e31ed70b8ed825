// Package cachetest is the conformance suite every cache driver passes:
// Run is the whole test file of each driver.
package cachetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tortoise-dev/tortoise/cache"
)

// Run checks the driver newCache makes (a fresh, empty cache per call,
// closed by the suite).
func Run(t *testing.T, newCache func(t *testing.T) cache.Cache) {
	open := func(t *testing.T) cache.Cache {
		t.Helper()
		c := newCache(t)
		t.Cleanup(func() {
			if err := c.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return c
	}
	ctx := context.Background()

	t.Run("MissThenHit", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		bodies := map[string][]byte{
			"small":     []byte(`{"id":"a"}`),
			"empty":     {},
			"newlines":  []byte("line\none\n\nend\n"),
			"binary":    {0, 1, 2, 255, '\n', 0},
			"large":     bytes.Repeat([]byte("0123456789abcdef"), 1<<14), // 256 KiB
			"odd:key\n": []byte(`{"k":1}`),
		}
		for key, body := range bodies {
			_, slot, ok, err := c.Get(ctx, "col1", key)
			if err != nil || ok {
				t.Fatalf("%s: first Get = ok %v, err %v; want a miss", key, ok, err)
			}
			if slot == "" {
				t.Fatalf("%s: a miss gave no slot", key)
			}
			want := cache.Entry{ETag: `"etag-` + fmt.Sprint(len(body)) + `"`, Body: body}
			if err := c.Set(ctx, slot, want); err != nil {
				t.Fatalf("%s: Set: %v", key, err)
			}
			got, slot2, ok, err := c.Get(ctx, "col1", key)
			if err != nil || !ok {
				t.Fatalf("%s: Get after Set = ok %v, err %v; want a hit", key, ok, err)
			}
			if slot2 != slot {
				t.Errorf("%s: slot changed without a bump: %q, then %q", key, slot, slot2)
			}
			if got.ETag != want.ETag || !bytes.Equal(got.Body, want.Body) {
				t.Errorf("%s: Get = %q %.40q, want %q %.40q", key, got.ETag, got.Body, want.ETag, want.Body)
			}
		}
	})

	t.Run("KeysAndDependenciesApart", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		put(t, c, "col1", "k", "one")
		for _, tc := range []struct{ dep, key string }{
			{"col1", "k2"}, {"col2", "k"}, {cache.Global, "k"}, {"col1", "K"}, {"col1", "k "},
		} {
			if _, _, ok, err := c.Get(ctx, tc.dep, tc.key); ok || err != nil {
				t.Errorf("Get(%q, %q) = ok %v, err %v; want a miss (only col1/k was stored)", tc.dep, tc.key, ok, err)
			}
		}
	})

	t.Run("ChangedBumpsItsCollectionAndGlobal", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		put(t, c, "col1", "k", "one")
		put(t, c, "col2", "k", "two")
		put(t, c, cache.Global, "k", "all")
		if err := c.Changed(ctx, "col1"); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"col1": false, "col2": true, cache.Global: false}
		for dep, hit := range want {
			if _, _, ok, err := c.Get(ctx, dep, "k"); ok != hit || err != nil {
				t.Errorf("after Changed(col1): Get(%s) hit %v (err %v), want %v", dep, ok, err, hit)
			}
		}
		// Several collections at once, none at all (Global only).
		put(t, c, "col1", "k", "one")
		put(t, c, cache.Global, "k", "all")
		if err := c.Changed(ctx, "col2", "col3"); err != nil {
			t.Fatal(err)
		}
		want = map[string]bool{"col1": true, "col2": false, cache.Global: false}
		for dep, hit := range want {
			if _, _, ok, err := c.Get(ctx, dep, "k"); ok != hit || err != nil {
				t.Errorf("after Changed(col2, col3): Get(%s) hit %v (err %v), want %v", dep, ok, err, hit)
			}
		}
		put(t, c, cache.Global, "k", "all")
		if err := c.Changed(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, ok, _ := c.Get(ctx, cache.Global, "k"); ok {
			t.Error("Changed() left a Global entry readable")
		}
		if _, _, ok, _ := c.Get(ctx, "col1", "k"); !ok {
			t.Error("Changed() dropped a collection's entry")
		}
	})

	t.Run("DropAll", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		deps := []string{"col1", "col2", cache.Global}
		for _, d := range deps {
			put(t, c, d, "k", d)
		}
		if err := c.DropAll(ctx); err != nil {
			t.Fatal(err)
		}
		for _, d := range deps {
			if _, _, ok, err := c.Get(ctx, d, "k"); ok || err != nil {
				t.Errorf("after DropAll: Get(%s) = ok %v, err %v; want a miss", d, ok, err)
			}
		}
	})

	// A read that took its slot before a write's bump and stores after
	// it (the read raced the write) must not be served afterwards.
	t.Run("LateSetAfterBumpIsNeverRead", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		for _, tc := range []struct {
			bump func() error
			deps []string // what it invalidates
		}{
			{func() error { return c.Changed(ctx, "col1") }, []string{"col1", cache.Global}},
			{func() error { return c.Changed(ctx, "other") }, []string{cache.Global}}, // Global depends on every collection
			{func() error { return c.DropAll(ctx) }, []string{"col1", cache.Global}},
		} {
			bump := tc.bump
			for _, dep := range tc.deps {
				_, slot, _, err := c.Get(ctx, dep, "k")
				if err != nil {
					t.Fatal(err)
				}
				if err := bump(); err != nil {
					t.Fatal(err)
				}
				if err := c.Set(ctx, slot, cache.Entry{ETag: `"old"`, Body: []byte("old")}); err != nil {
					t.Fatal(err)
				}
				e, _, ok, err := c.Get(ctx, dep, "k")
				if err != nil {
					t.Fatal(err)
				}
				if ok && string(e.Body) == "old" {
					t.Errorf("dep %s: an entry stored under a slot taken before the bump was served after it", dep)
				}
			}
		}
	})

	// Many goroutines read, store and bump at once: a reader that saw
	// generation n of its counter acknowledged must never read an
	// entry holding less than n (the cache's part of "never stale").
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		const writers, rounds = 4, 40
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dep := fmt.Sprintf("col%d", w)
				for n := 1; n <= rounds; n++ {
					// The "write": bump, then it is acknowledged as n.
					if err := c.Changed(ctx, dep); err != nil {
						t.Error(err)
						return
					}
					for _, d := range []string{dep, cache.Global} {
						key := "k" + dep
						e, slot, ok, err := c.Get(ctx, d, key)
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							var got int
							fmt.Sscan(strings.TrimPrefix(string(e.Body), "v"), &got)
							if got < n {
								t.Errorf("%s/%s: read v%d after v%d was acknowledged", d, dep, got, n)
							}
							continue
						}
						if err := c.Set(ctx, slot, cache.Entry{ETag: `"x"`, Body: fmt.Appendf(nil, "v%d", n)}); err != nil {
							t.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
	})
}

// put stores body under dep/key at the current generation.
func put(t *testing.T, c cache.Cache, dep, key, body string) {
	t.Helper()
	_, slot, _, err := c.Get(context.Background(), dep, key)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", dep, key, err)
	}
	if err := c.Set(context.Background(), slot, cache.Entry{ETag: `"` + body + `"`, Body: []byte(body)}); err != nil {
		t.Fatalf("Set(%s, %s): %v", dep, key, err)
	}
}
