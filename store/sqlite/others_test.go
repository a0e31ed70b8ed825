package sqlite

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// TestWritesOfAnotherProcess: a second store on the file stands for the
// command line writing beside the server. Its inserts reached neither the
// server's counts nor its feed: totals stayed short until a restart, even
// after the server's own writes, and cached answers were never dropped.
func TestWritesOfAnotherProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data.db")
	server, c := setup(t, path)
	var lost atomic.Int32
	server.Changes().OnLost(func() { lost.Add(1) })
	insert := func(s *Store, id string) {
		t.Helper()
		err := s.Update(ctx, func(tx store.Tx) error {
			return tx.Insert(ctx, &core.Record{Collection: c, Data: map[string]any{"id": id, "n": 1.0}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	total := func() int {
		t.Helper()
		res, err := server.Find(ctx, store.Query{Collection: c, WithTotal: true, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return res.Total
	}
	insert(server, "a00000000000001")
	insert(server, "a00000000000002")
	if n := total(); n != 2 {
		t.Fatalf("total %d, want 2", n)
	}

	cli, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	insert(cli, "b00000000000001")
	// The watcher looks every second; it is called here.
	server.checkOthers()
	if n := total(); n != 3 || lost.Load() == 0 {
		t.Errorf("after another process's insert: total %d (want 3), OnLost told %d times", n, lost.Load())
	}
	// Another write of the other process, then one of the server's before
	// the watcher looks: the server's commit sees the generation jump.
	lost.Store(0)
	insert(cli, "b00000000000002")
	insert(server, "a00000000000003")
	if n := total(); n != 5 || lost.Load() == 0 {
		t.Errorf("after both: total %d (want 5), OnLost told %d times", n, lost.Load())
	}
}
