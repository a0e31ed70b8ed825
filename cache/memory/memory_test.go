package memory_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tortoise-dev/tortoise/cache"
	"github.com/tortoise-dev/tortoise/cache/cachetest"
	"github.com/tortoise-dev/tortoise/cache/memory"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	cachetest.Run(t, func(t *testing.T) cache.Cache {
		c, err := memory.New(8)
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// The budget holds: storing far more than it leaves the weighed size
// under the cap.
func TestBoundedByBytes(t *testing.T) {
	t.Parallel()
	c, err := memory.New(1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	body := bytes.Repeat([]byte("x"), 10<<10)
	for i := range 1000 { // 10 MiB into 1 MiB
		_, slot, _, _ := c.Get(ctx, "col", string(rune('a'+i%26))+string(rune(i)))
		if err := c.Set(ctx, slot, cache.Entry{ETag: `"e"`, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Len(); n == 0 || n > 1<<20/len(body) {
		t.Errorf("%d entries of 10 KiB held under a 1 MiB budget", n)
	}
}
