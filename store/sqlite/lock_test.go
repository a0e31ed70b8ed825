package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
)

// A store opened WithExclusive keeps other exclusive opens out until it
// closes; plain opens (short-lived tools) still work beside it.
func TestExclusive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data.db")
	first, err := Open(ctx, path, WithExclusive())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path, WithExclusive()); core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("second exclusive open: %v, want unavailable", err)
	}
	tool, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("a plain open beside it: %v", err)
	}
	tool.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(ctx, path, WithExclusive())
	if err != nil {
		t.Fatalf("after close: %v", err)
	}
	again.Close()
}
