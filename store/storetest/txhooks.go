package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// testTxHooks: a TxHook runs in the write transaction after the Update
// function, with its changes; what it writes commits with them, and its
// error undoes the whole call.
func testTxHooks(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	c := newCollection("hooked", text("title"))
	h.createCollection(c)
	errRefused := errors.New("refused by the hook")
	var mu sync.Mutex
	var calls [][]store.Change
	h.s.AddTxHook(func(ctx context.Context, tx store.Tx, changes []store.Change) error {
		mu.Lock()
		calls = append(calls, append([]store.Change(nil), changes...))
		mu.Unlock()
		for _, ch := range changes {
			if ch.Action == store.ActionCreate && ch.Record.String("title") == "refuse" {
				return errRefused
			}
			// The hook's own write, in the same transaction.
			if err := tx.SetParam(ctx, "hooked:"+ch.Action+":"+ch.Record.ID(), []byte("1")); err != nil {
				return err
			}
		}
		return nil
	})
	took := func() [][]store.Change {
		mu.Lock()
		defer mu.Unlock()
		out := calls
		calls = nil
		return out
	}
	hooked := func(action, id string) bool {
		_, err := h.s.Param(h.ctx, "hooked:"+action+":"+id)
		if err != nil && core.KindOf(err) != core.KindNotFound {
			t.Fatal(err)
		}
		return err == nil
	}

	t.Run("sees the call's changes, and its writes commit with them", func(t *testing.T) {
		a, b := newID(), newID()
		h.update(func(tx store.Tx) error {
			if err := tx.Insert(h.ctx, record(c, a, "title", "a")); err != nil {
				return err
			}
			if err := tx.Insert(h.ctx, record(c, b, "title", "b")); err != nil {
				return err
			}
			return tx.Delete(h.ctx, c, a)
		})
		got := took()
		if len(got) != 1 || len(got[0]) != 3 || got[0][0].Action != store.ActionCreate || got[0][2].Action != store.ActionDelete || got[0][2].Record.ID() != a {
			t.Fatalf("hook calls %+v, want one with create, create, delete", got)
		}
		if !hooked(store.ActionCreate, b) || !hooked(store.ActionDelete, a) {
			t.Error("the hook's writes did not commit")
		}
	})

	t.Run("its error undoes the call", func(t *testing.T) {
		id := newID()
		err := h.s.Update(h.ctx, func(tx store.Tx) error {
			return tx.Insert(h.ctx, record(c, id, "title", "refuse"))
		})
		if !errors.Is(err, errRefused) {
			t.Fatalf("Update: %v, want the hook's error", err)
		}
		if _, err := h.s.Get(h.ctx, c, id); core.KindOf(err) != core.KindNotFound {
			t.Errorf("the refused record is there: %v", err)
		}
		took()
	})

	t.Run("not run for a failed call or one without changes", func(t *testing.T) {
		boom := errors.New("boom")
		id := newID()
		err := h.s.Update(h.ctx, func(tx store.Tx) error {
			if err := tx.Insert(h.ctx, record(c, id, "title", "x")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		h.update(func(tx store.Tx) error { return tx.SetParam(h.ctx, "plain", []byte("1")) })
		if got := took(); len(got) != 0 {
			t.Errorf("hook ran %d times, want 0", len(got))
		}
		if hooked(store.ActionCreate, id) {
			t.Error("a failed call's hook write is there")
		}
	})
}
