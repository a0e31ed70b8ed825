package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

func testUpdate(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	c := newCollection("jobs", number("i"))
	h.createCollection(c)

	t.Run("concurrent calls, some failing", func(t *testing.T) {
		// On SQLite these land in shared group commits; each call's failure
		// must undo only its own changes.
		const n = 64
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = h.s.Update(h.ctx, func(tx store.Tx) error {
					id := fmtID("g", i)
					if err := tx.Insert(h.ctx, record(c, id, "i", float64(i))); err != nil {
						return err
					}
					switch i % 4 {
					case 1:
						return fmt.Errorf("call %d: %w", i, errBoom)
					case 2:
						return tx.Insert(h.ctx, record(c, id)) // duplicate id
					}
					return nil
				})
			})
		}
		wg.Wait()
		var want []string
		for i, err := range errs {
			switch i % 4 {
			case 1:
				if !errors.Is(err, errBoom) {
					t.Errorf("call %d: err = %v, want errBoom as returned", i, err)
				}
			case 2:
				wantNotUnique(t, err, "id")
			default:
				if err != nil {
					t.Errorf("call %d: %v", i, err)
				}
				want = append(want, fmtID("g", i))
			}
		}
		res := h.find(store.Query{Collection: c, OrderBy: `"_r"."id"`, WithTotal: true})
		slices.Sort(want)
		if got := ids(res.Records); !slices.Equal(got, want) {
			t.Errorf("visible = %v\nwant %v", got, want)
		}
		if res.Total != len(want) {
			t.Errorf("total = %d, want %d", res.Total, len(want))
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(h.ctx)
		cancel()
		ran := false
		err := h.s.Update(ctx, func(tx store.Tx) error { ran = true; return nil })
		if !errors.Is(err, context.Canceled) || ran {
			t.Errorf("err = %v, ran = %v; want context.Canceled, not run", err, ran)
		}
	})

	t.Run("panic rolls back and reaches the caller", func(t *testing.T) {
		id := newID()
		func() {
			defer func() {
				if v := recover(); v != "kaboom" {
					t.Errorf("recovered %v, want kaboom", v)
				}
			}()
			h.s.Update(h.ctx, func(tx store.Tx) error {
				if err := tx.Insert(h.ctx, record(c, id)); err != nil {
					return err
				}
				panic("kaboom")
			})
		}()
		_, err := h.s.Get(h.ctx, c, id)
		wantKind(t, err, core.KindNotFound)
		h.insert(record(c, newID())) // the store still works
	})

	t.Run("closed store", func(t *testing.T) {
		h2 := setup(t, open)
		if err := h2.s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := h2.s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		err := h2.s.Update(h2.ctx, func(tx store.Tx) error { return nil })
		wantKind(t, err, core.KindUnavailable)
	})
}

func testFind(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	c := newCollection("items", number("n"), text("name"), sel("tags", 3), boolean("odd"))
	c.Indexes = []string{"CREATE INDEX idx_n ON items (n)"}
	h.createCollection(c)
	var recs []*core.Record
	for i := range 50 {
		recs = append(recs, record(c, fmtID("i", i), "n", float64(i), "name", fmt.Sprintf("item %02d", i),
			"tags", []string{"t"}, "odd", i%2 == 1))
	}
	h.insert(recs...)
	q := func(where string, args ...any) *store.SQL { return &store.SQL{Text: where, Args: args} }

	cases := []struct {
		name  string
		q     store.Query
		want  []string
		total int
	}{
		{"where and order", store.Query{Where: q(`"_r"."n" >= ? AND "_r"."n" < ?`, 10, 13), OrderBy: `"_r"."n" DESC`, WithTotal: true},
			[]string{fmtID("i", 12), fmtID("i", 11), fmtID("i", 10)}, 3},
		{"limit and offset", store.Query{OrderBy: `"_r"."n"`, Limit: 2, Offset: 5, WithTotal: true},
			[]string{fmtID("i", 5), fmtID("i", 6)}, 50},
		{"offset only", store.Query{OrderBy: `"_r"."n"`, Offset: 48},
			[]string{fmtID("i", 48), fmtID("i", 49)}, -1},
		{"filtered page", store.Query{Where: q(`"_r"."n" > ?`, 44), OrderBy: `"_r"."n"`, Limit: 2, Offset: 1, WithTotal: true},
			[]string{fmtID("i", 46), fmtID("i", 47)}, 5},
		{"question mark in a literal", store.Query{Where: q(`"_r"."name" <> '?' AND "_r"."n" = ?`, 7), WithTotal: true},
			[]string{fmtID("i", 7)}, 1},
		{"bool column", store.Query{Where: q(`"_r"."odd" = ? AND "_r"."n" < ?`, true, 4), OrderBy: `"_r"."n"`},
			[]string{fmtID("i", 1), fmtID("i", 3)}, -1},
		{"nothing matches", store.Query{Where: q(`"_r"."n" > ?`, 1000), WithTotal: true}, []string{}, 0},
		{"past the end", store.Query{OrderBy: `"_r"."n"`, Offset: 60, Limit: 10, WithTotal: true}, []string{}, 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Collection = c
			res := h.find(tc.q)
			if got := ids(res.Records); !slices.Equal(got, tc.want) {
				t.Errorf("ids = %v, want %v", got, tc.want)
			}
			if res.Total != tc.total {
				t.Errorf("total = %d, want %d", res.Total, tc.total)
			}
			if res.Records == nil {
				t.Errorf("Records is nil, want an empty list")
			}
		})
	}

	t.Run("bad fragment", func(t *testing.T) {
		for _, bad := range []store.Query{
			{Collection: c, Where: q(`"_r"."nope" = ?`, 1)},
			{Collection: c, Where: q(`"_r"."n" = ?`, 1), WithTotal: true, OrderBy: `"_r"."nope"`},
			{Collection: c, Where: q(`"_r"."n" = = ?`, 1), WithTotal: true},
		} {
			_, err := h.s.Find(h.ctx, bad)
			wantKind(t, err, core.KindInvalid)
			err = h.s.Update(h.ctx, func(tx store.Tx) error { _, err := tx.Find(h.ctx, bad); return err })
			wantKind(t, err, core.KindInvalid)
			// A column that is not there says so (the records layer then
			// looks whether the collection changed meanwhile).
			if missing := strings.Contains(bad.Where.Text+bad.OrderBy, "nope"); errors.Is(err, store.ErrMissingObject) != missing {
				t.Errorf("%+v: ErrMissingObject in the chain: %v, want %v (%v)", bad, !missing, missing, err)
			}
		}
		// A rejected query inside a transaction does not spoil it.
		id := newID()
		h.update(func(tx store.Tx) error {
			if _, err := tx.Find(h.ctx, store.Query{Collection: c, Where: q(`nope`)}); err == nil {
				t.Errorf("bad fragment accepted")
			}
			return tx.Insert(h.ctx, record(c, id, "n", 100.0))
		})
		h.get(c, id)
	})
}

func testTotals(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	c := newCollection("counted", number("n"))
	other := newCollection("other", number("n"))
	h.createCollection(c)
	h.createCollection(other)
	h.wantTotal(c, 0)

	for i := range 10 {
		h.insert(record(c, fmtID("c", i), "n", float64(i)))
	}
	h.insert(record(other, newID()))
	h.wantTotal(c, 10)
	h.wantTotal(other, 1)

	h.update(func(tx store.Tx) error {
		for i := range 3 {
			if err := tx.Delete(h.ctx, c, fmtID("c", i)); err != nil {
				return err
			}
		}
		return nil
	})
	h.wantTotal(c, 7)

	// A rolled-back call must not leak its count changes.
	err := h.s.Update(h.ctx, func(tx store.Tx) error {
		for i := range 5 {
			if err := tx.Insert(h.ctx, record(c, fmtID("r", i))); err != nil {
				return err
			}
		}
		if err := tx.Delete(h.ctx, c, fmtID("c", 5)); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("err = %v", err)
	}
	h.wantTotal(c, 7)

	// Nor may a failed statement whose error the call ignores.
	h.update(func(tx store.Tx) error {
		tx.Insert(h.ctx, record(c, fmtID("c", 9))) // duplicate: fails
		tx.Delete(h.ctx, c, fmtID("c", 0))         // already gone: fails
		return tx.Insert(h.ctx, record(c, fmtID("c", 10)))
	})
	h.wantTotal(c, 8)

	// Inside a transaction, totals include its own changes.
	h.update(func(tx store.Tx) error {
		if err := tx.Insert(h.ctx, record(c, fmtID("c", 11))); err != nil {
			return err
		}
		res, err := tx.Find(h.ctx, store.Query{Collection: c, WithTotal: true, Limit: 1})
		if err != nil {
			return err
		}
		if res.Total != 9 {
			t.Errorf("total in tx = %d, want 9", res.Total)
		}
		return nil
	})
	h.wantTotal(c, 9)

	filtered := h.find(store.Query{Collection: c, Where: &store.SQL{Text: `"_r"."n" >= ?`, Args: []any{8}}, WithTotal: true, Limit: 1})
	if filtered.Total != 2 { // n = 8, 9 (c10 and c11 have n = 0)
		t.Errorf("filtered total = %d, want 2", filtered.Total)
	}

	h.update(func(tx store.Tx) error { return tx.Truncate(h.ctx, c) })
	h.wantTotal(c, 0)
	h.wantTotal(other, 1)
	h.insert(record(c, newID()), record(c, newID()))
	h.wantTotal(c, 2)

	t.Run("consistent with the rows under concurrent writes", func(t *testing.T) {
		// An unfiltered page without a limit must hold exactly Total rows,
		// even while commits land between the count and the list.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 100 {
				id := fmtID("w", i)
				h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Insert(h.ctx, record(c, id)) })
				if i%3 == 0 {
					h.s.Update(h.ctx, func(tx store.Tx) error { return tx.Delete(h.ctx, c, id) })
				}
			}
		}()
		for checking := true; checking; {
			select {
			case <-done:
				checking = false
			default:
			}
			res := h.find(store.Query{Collection: c, WithTotal: true})
			if res.Total != len(res.Records) {
				t.Fatalf("total %d but %d rows", res.Total, len(res.Records))
			}
		}
		h.wantTotal(c, 2+100-34)
	})
}
