package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/sqlite"
	"github.com/tortoise-dev/tortoise/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		path := storetest.Memo(t, "path", func() string { return filepath.Join(t.TempDir(), "data.db") })
		s, err := sqlite.Open(context.Background(), path, sqlite.WithReadTimeout(storetest.ReadTimeout))
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		return s
	})
}
