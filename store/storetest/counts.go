package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// testCounts holds unfiltered totals exact through what drivers keep
// counts across (SQLite in memory, PostgreSQL in counter rows): renames,
// a collection deleted and made again, truncates that roll back, a reopen,
// view collections, and writers on several goroutines.
func testCounts(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)

	t.Run("rename keeps the count", func(t *testing.T) {
		c := newCollection("before_rename", number("n"))
		h.createCollection(c)
		h.insert(record(c, newID()), record(c, newID()), record(c, newID()))
		renamed := c.Clone()
		renamed.Name = "after_rename"
		h.update(func(tx store.Tx) error { return tx.UpdateCollection(h.ctx, c, renamed) })
		h.wantTotal(renamed, 3)
		h.insert(record(renamed, newID()))
		h.update(func(tx store.Tx) error { return tx.Delete(h.ctx, renamed, h.firstID(renamed)) })
		h.wantTotal(renamed, 3)
		// A new collection under the old name starts from nothing.
		again := newCollection("before_rename")
		h.createCollection(again)
		h.wantTotal(again, 0)
		h.wantTotal(renamed, 3)
	})

	t.Run("a deleted collection's count goes with it", func(t *testing.T) {
		c := newCollection("dropped")
		h.createCollection(c)
		h.insert(record(c, newID()), record(c, newID()))
		h.update(func(tx store.Tx) error { return tx.DeleteCollection(h.ctx, c) })
		// The same id and name again: a new, empty collection.
		c = c.Clone()
		h.createCollection(c)
		h.wantTotal(c, 0)
		h.insert(record(c, newID()))
		h.wantTotal(c, 1)
	})

	t.Run("a collection made and filled in one rolled-back call leaves nothing", func(t *testing.T) {
		c := newCollection("never")
		err := h.s.Update(h.ctx, func(tx store.Tx) error {
			if err := tx.CreateCollection(h.ctx, c); err != nil {
				return err
			}
			if err := tx.Insert(h.ctx, record(c, newID())); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("err = %v", err)
		}
		h.createCollection(c)
		h.wantTotal(c, 0)
	})

	t.Run("truncate", func(t *testing.T) {
		c := newCollection("truncated")
		h.createCollection(c)
		for range 5 {
			h.insert(record(c, newID()))
		}
		// Rolled back: the rows and their count stay.
		err := h.s.Update(h.ctx, func(tx store.Tx) error {
			if err := tx.Truncate(h.ctx, c); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("err = %v", err)
		}
		h.wantTotal(c, 5)
		// Inserts and deletes around a truncate in one call count from zero.
		keep := newID()
		h.update(func(tx store.Tx) error {
			if err := tx.Insert(h.ctx, record(c, newID())); err != nil {
				return err
			}
			if err := tx.Truncate(h.ctx, c); err != nil {
				return err
			}
			for _, id := range []string{newID(), keep, newID()} {
				if err := tx.Insert(h.ctx, record(c, id)); err != nil {
					return err
				}
			}
			return tx.Delete(h.ctx, c, keep)
		})
		h.wantTotal(c, 2)
	})

	t.Run("counts survive a reopen", func(t *testing.T) {
		h := setup(t, open)
		c := newCollection("reopened")
		h.createCollection(c)
		for range 4 {
			h.insert(record(c, newID()))
		}
		h.update(func(tx store.Tx) error { return tx.Delete(h.ctx, c, h.firstID(c)) })
		h.reopen()
		h.wantTotal(c, 3)
		h.insert(record(c, newID()))
		h.wantTotal(c, 4)
	})

	t.Run("view collections", func(t *testing.T) {
		base := newCollection("viewed", number("n"))
		h.createCollection(base)
		for i := range 6 {
			h.insert(record(base, newID(), "n", float64(i)))
		}
		view := newCollection("big_ones", number("n"))
		view.Type = core.TypeView
		view.ViewQuery = `SELECT id, n FROM viewed WHERE n >= 2`
		h.createCollection(view)
		h.wantTotal(view, 4)
		h.update(func(tx store.Tx) error { return tx.Truncate(h.ctx, base) })
		h.wantTotal(view, 0)
	})

	t.Run("concurrent writers", func(t *testing.T) {
		a := newCollection("busy_a")
		b := newCollection("busy_b")
		h.createCollection(a)
		h.createCollection(b)
		// Each call writes to both collections, half of them in the
		// opposite order, and one in five rolls back.
		const writers, calls = 6, 30
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range calls {
					first, second := a, b
					if (w+i)%2 == 1 {
						first, second = b, a
					}
					err := h.s.Update(h.ctx, func(tx store.Tx) error {
						id := newID()
						if err := tx.Insert(h.ctx, record(first, id)); err != nil {
							return err
						}
						if err := tx.Insert(h.ctx, record(second, newID())); err != nil {
							return err
						}
						if i%3 == 0 {
							if err := tx.Delete(h.ctx, first, id); err != nil {
								return err
							}
						}
						if i%5 == 4 {
							return errBoom
						}
						return nil
					})
					if err != nil && !errors.Is(err, errBoom) {
						t.Errorf("writer %d call %d: %v", w, i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, c := range []*core.Collection{a, b} {
			all := h.find(store.Query{Collection: c, WithTotal: true})
			if all.Total != len(all.Records) {
				t.Errorf("%s: total %d, %d rows", c.Name, all.Total, len(all.Records))
			}
		}
		// Per writer: 24 committed calls, 8 of them (i%3 == 0, i%5 != 4)
		// deleting the row they inserted first.
		if got, want := h.total(a)+h.total(b), writers*(2*24-8); got != want {
			t.Errorf("totals add up to %d, want %d", got, want)
		}
	})
}

// firstID returns the id of some record of c.
func (h *harness) firstID(c *core.Collection) string {
	h.t.Helper()
	res := h.find(store.Query{Collection: c, Limit: 1})
	if len(res.Records) == 0 {
		h.t.Fatalf("%s has no records", c.Name)
	}
	return res.Records[0].ID()
}
