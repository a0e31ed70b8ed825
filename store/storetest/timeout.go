package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// ReadTimeout is the read timeout open must give the stores it returns:
// short, so that the test of it is quick, and far above what any other
// read of the suite takes on a loaded machine.
const ReadTimeout = 2 * time.Second

// runaway is a WHERE fragment that holds at once for the record whose id
// is its argument and then takes a minute or more to decide the others:
// it counts to 10^8, in SQL both engines run. Listed in insertion order,
// the first record comes back at once and the time goes into finding the
// next ones.
const runaway = `"_r"."id" = ? OR (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000000) SELECT count(*) FROM n) < 0`

// slack is how much longer than ReadTimeout a stopped read may take to
// answer: a generous bound, as the suite runs in parallel on shared
// machines; a read that is not stopped takes a minute or more.
const slack = 8 * time.Second

func testReadTimeout(t *testing.T, open func(t *testing.T) store.Store) {
	h := setup(t, open)
	c := newCollection("slow", text("title"))
	h.createCollection(c)
	first := fmtID("a", 1)
	h.insert(record(c, first, "title", "first"), record(c, fmtID("b", 2), "title", "second"))
	slow := func(withTotal bool) store.Query {
		return store.Query{Collection: c, Where: &store.SQL{Text: runaway, Args: []any{first}}, WithTotal: withTotal}
	}
	// stopped runs q and reports how it fails to be stopped by the read
	// timeout, if it does (no t.Fatal: it runs in goroutines too).
	stopped := func(q store.Query) error {
		start := time.Now()
		_, err := h.s.Find(h.ctx, q)
		took := time.Since(start)
		e := core.AsError(err)
		switch {
		case e == nil || e.Kind != core.KindUnavailable:
			return fmt.Errorf("got %v (%T), want kind unavailable", err, err)
		case !errors.Is(err, store.ErrReadTimeout):
			return fmt.Errorf("error %v does not wrap store.ErrReadTimeout", err)
		case e.Message != "The query took too long and was stopped.":
			return fmt.Errorf("message = %q", e.Message)
		case took > 2*ReadTimeout+slack:
			return fmt.Errorf("stopped after %v, want about %v", took, ReadTimeout)
		}
		return nil
	}

	for _, withTotal := range []bool{false, true} {
		if err := stopped(slow(withTotal)); err != nil {
			t.Errorf("WithTotal %v: %v", withTotal, err)
		}
	}

	// More runaway reads than any pool has connections: each is stopped,
	// writes meanwhile are not, and the connections are free afterwards.
	t.Run("connections are freed", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				if err := stopped(slow(i%2 == 0)); err != nil {
					t.Error(err)
				}
			})
		}
		time.Sleep(ReadTimeout / 4)
		id := newID()
		h.insert(record(c, id, "title", "written meanwhile"))
		wg.Wait()
		ctx, cancel := context.WithTimeout(h.ctx, ReadTimeout)
		defer cancel()
		res, err := h.s.Find(ctx, store.Query{Collection: c, Where: &store.SQL{Text: `"_r"."title" <> ?`, Args: []any{""}}, WithTotal: true})
		if err != nil {
			t.Fatalf("Find after the runaway reads: %v", err)
		}
		if res.Total != 3 {
			t.Errorf("total = %d, want 3", res.Total)
		}
		if _, err := h.s.Get(ctx, c, id); err != nil {
			t.Errorf("Get after the runaway reads: %v", err)
		}
	})

	// A caller's own deadline keeps its meaning: it is not the store's
	// timeout.
	t.Run("caller deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(h.ctx, ReadTimeout/10)
		defer cancel()
		start := time.Now()
		_, err := h.s.Find(ctx, slow(false))
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrReadTimeout) {
			t.Errorf("err = %v, want the caller's context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took > ReadTimeout+slack {
			t.Errorf("stopped after %v", took)
		}
	})
}
