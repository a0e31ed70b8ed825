package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// next returns the next change of sub, failing after a while without one.
func next(t *testing.T, sub *store.Sub) store.Change {
	t.Helper()
	select {
	case ch, ok := <-sub.C:
		if !ok {
			t.Fatalf("feed closed: %v", sub.Err())
		}
		return ch
	case <-time.After(10 * time.Second):
		t.Fatal("no change arrived within 10s")
	}
	panic("unreachable")
}

// quiet fails if sub delivers anything within a short wait.
func quiet(t *testing.T, sub *store.Sub) {
	t.Helper()
	select {
	case ch := <-sub.C:
		t.Fatalf("unexpected change %s %s/%s", ch.Action, ch.Collection.Name, ch.Record.ID())
	case <-time.After(200 * time.Millisecond):
	}
}

func wantChange(t *testing.T, got store.Change, action string, c *core.Collection, rec, old map[string]any) {
	t.Helper()
	if got.Action != action || got.Collection == nil || got.Collection.ID != c.ID {
		t.Fatalf("change %s on %v, want %s on %s", got.Action, got.Collection, action, c.Name)
	}
	for k, v := range rec {
		if !reflect.DeepEqual(got.Record.Data[k], v) {
			t.Errorf("%s: record %s = %#v, want %#v", action, k, got.Record.Data[k], v)
		}
	}
	if old == nil {
		if got.Old != nil {
			t.Errorf("%s: Old = %v, want none", action, got.Old.Data)
		}
		return
	}
	if got.Old == nil {
		t.Fatalf("%s: no Old", action)
	}
	for k, v := range old {
		if !reflect.DeepEqual(got.Old.Data[k], v) {
			t.Errorf("%s: old %s = %#v, want %#v", action, k, got.Old.Data[k], v)
		}
	}
}

func testFeed(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	c := newCollection("feed", text("title"), number("n"))
	h.createCollection(c)
	gone := record(c, newID(), "title", "gone", "n", 1.0)
	h.insert(gone)

	t.Run("committed changes in order, with before and after", func(t *testing.T) {
		sub := h.s.Changes().Subscribe(64)
		defer sub.Close()
		id := newID()
		h.update(func(tx store.Tx) error {
			if err := tx.Insert(h.ctx, record(c, id, "title", "one", "n", 1.0)); err != nil {
				return err
			}
			if err := tx.Update(h.ctx, record(c, id, "title", "two", "n", 2.0)); err != nil {
				return err
			}
			return tx.Delete(h.ctx, c, gone.ID())
		})
		// Read, then changed, in a transaction of its own.
		h.update(func(tx store.Tx) error {
			r, err := tx.Get(h.ctx, c, id)
			if err != nil {
				return err
			}
			r.Data["n"] = 3.0
			return tx.Update(h.ctx, r)
		})
		wantChange(t, next(t, sub), store.ActionCreate, c, map[string]any{"id": id, "title": "one", "n": 1.0}, nil)
		wantChange(t, next(t, sub), store.ActionUpdate, c, map[string]any{"title": "two", "n": 2.0}, map[string]any{"title": "one", "n": 1.0})
		wantChange(t, next(t, sub), store.ActionDelete, c, map[string]any{"id": gone.ID(), "title": "gone", "n": 1.0}, nil)
		wantChange(t, next(t, sub), store.ActionUpdate, c, map[string]any{"title": "two", "n": 3.0}, map[string]any{"title": "two", "n": 2.0})
		quiet(t, sub)
	})

	t.Run("nothing for rolled back or failed writes", func(t *testing.T) {
		sub := h.s.Changes().Subscribe(64)
		defer sub.Close()
		err := h.s.Update(h.ctx, func(tx store.Tx) error {
			if err := tx.Insert(h.ctx, record(c, newID(), "title", "rolled back")); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Update = %v", err)
		}
		// A failed statement inside a transaction that goes on.
		id := newID()
		h.update(func(tx store.Tx) error {
			_ = tx.Update(h.ctx, record(c, newID(), "title", "missing"))
			_ = tx.Delete(h.ctx, c, newID())
			return tx.Insert(h.ctx, record(c, id, "title", "kept"))
		})
		wantChange(t, next(t, sub), store.ActionCreate, c, map[string]any{"id": id, "title": "kept"}, nil)
		// A truncate publishes no change per record; the OnLost observers
		// (record caches) hear of it before Update returns.
		var lost atomic.Int32
		h.s.Changes().OnLost(func() { lost.Add(1) })
		h.update(func(tx store.Tx) error { return tx.Truncate(h.ctx, c) })
		if lost.Load() == 0 {
			t.Fatal("a truncate did not tell the OnLost observers before Update returned")
		}
		quiet(t, sub)
	})

	t.Run("every field type survives the feed", func(t *testing.T) {
		all := everyType("feedtypes")
		h.createCollection(all)
		sub := h.s.Changes().Subscribe(64)
		defer sub.Close()
		id := newID()
		want := record(all, id, "title", "t", "n", 2.5, "ok", true, "many", []string{"a", "c"},
			"doc", json.RawMessage(`{"a":1}`), "tags", []string{"x", "y"})
		h.insert(want)
		checkRecord(t, next(t, sub).Record, h.get(all, id).Data)
	})

	t.Run("per record commit order under concurrent writers", func(t *testing.T) {
		id := newID()
		h.insert(record(c, id, "title", "counter", "n", 0.0))
		sub := h.s.Changes().Subscribe(1024)
		defer sub.Close()
		const writers, each = 6, 15
		var wg sync.WaitGroup
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					if err := h.s.Update(h.ctx, func(tx store.Tx) error {
						r, err := tx.Get(h.ctx, c, id)
						if err != nil {
							return err
						}
						r.Data["n"] = r.Data["n"].(float64) + 1
						return tx.Update(h.ctx, r)
					}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		for i := 1; i <= writers*each; i++ {
			ch := next(t, sub)
			if n := ch.Record.Data["n"]; n != float64(i) || ch.Old.Data["n"] != float64(i-1) {
				t.Fatalf("change %d: n %v (before %v), want %d after %d", i, n, ch.Old.Data["n"], i, i-1)
			}
		}
	})

	t.Run("a subscriber that falls behind is told", func(t *testing.T) {
		sub := h.s.Changes().Subscribe(1)
		other := h.s.Changes().Subscribe(16)
		defer other.Close()
		h.insert(record(c, newID()), record(c, newID()), record(c, newID()))
		for range 3 {
			next(t, other) // the writer did not wait for the slow one
		}
		n := 0
		for range sub.C {
			n++
		}
		if n != 1 || !errors.Is(sub.Err(), store.ErrLagged) {
			t.Fatalf("lagging subscriber got %d changes then %v, want 1 then ErrLagged", n, sub.Err())
		}
	})
}
