package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// setup opens a store with one collection in a fresh directory.
func setup(t *testing.T, path string) (*Store, *core.Collection) {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "data.db")
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &core.Collection{ID: "c1", Name: "items", Fields: []core.Field{
		{ID: "f0", Name: "id", Type: core.FieldText, PrimaryKey: true},
		{ID: "f1", Name: "n", Type: core.FieldNumber},
	}}
	err = s.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.CreateCollection(context.Background(), c); err != nil && core.KindOf(err) != core.KindInvalid {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func insertFn(c *core.Collection, id string) func(store.Tx) error {
	return func(tx store.Tx) error {
		r := core.NewRecord(c)
		r.Data["id"] = id
		return tx.Insert(context.Background(), r)
	}
}

// blockWriter makes the writer run a call that waits for release, and
// returns once it is running, so later calls pile up in the queue.
func blockWriter(t *testing.T, s *Store) (release func(), done <-chan error) {
	t.Helper()
	started, unblock := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.Update(context.Background(), func(store.Tx) error { close(started); <-unblock; return nil })
	}()
	<-started
	return func() { close(unblock) }, errc
}

func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(s.queue) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want %d", len(s.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCallsQueuedTogetherCommitTogether(t *testing.T) {
	s, c := setup(t, "")
	release, blocked := blockWriter(t, s)
	before := s.Stats()

	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			fn := insertFn(c, fmt.Sprintf("id%013d", i))
			if i%5 == 0 {
				fn = func(tx store.Tx) error { insertFn(c, fmt.Sprintf("id%013d", i))(tx); return errBoom }
			}
			errs[i] = s.Update(context.Background(), fn)
		})
	}
	waitQueued(t, s, n)
	release()
	wg.Wait()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if (i%5 == 0) != errors.Is(err, errBoom) {
			t.Errorf("call %d: %v", i, err)
		}
	}
	// The blocked call's group, then one group for all twenty.
	if got := s.Stats(); got.Groups-before.Groups != 2 || got.Calls-before.Calls != n+1 {
		t.Errorf("groups %d, calls %d; want 2, %d", got.Groups-before.Groups, got.Calls-before.Calls, n+1)
	}
	res, err := s.Find(context.Background(), store.Query{Collection: c, WithTotal: true})
	if err != nil || res.Total != n-n/5 || len(res.Records) != n-n/5 {
		t.Errorf("total %v, %d records, err %v; want %d", res.Total, len(res.Records), err, n-n/5)
	}
}

var errBoom = errors.New("boom")

func TestCancelWhileQueued(t *testing.T) {
	s, c := setup(t, "")
	release, blocked := blockWriter(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan bool, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- s.Update(ctx, func(tx store.Tx) error { ran <- true; return insertFn(c, "cancelled000000")(tx) })
	}()
	waitQueued(t, s, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	release()
	<-blocked
	if err := s.Update(context.Background(), insertFn(c, "after0000000000")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Fatal("the withdrawn call ran")
	default:
	}
}

func TestCloseDrainsTheQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s, c := setup(t, path)
	release, _ := blockWriter(t, s)
	const n = 5
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- s.Update(context.Background(), insertFn(c, fmt.Sprintf("q%014d", i))) }()
	}
	waitQueued(t, s, n)
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("queued call: %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), insertFn(c, "late00000000000")); core.KindOf(err) != core.KindUnavailable {
		t.Errorf("Update after Close: %v", err)
	}
	if _, err := s.Get(context.Background(), c, "q00000000000000"); core.KindOf(err) != core.KindUnavailable {
		t.Errorf("Get after Close: %v", err)
	}

	s2, _ := setup(t, path)
	res, err := s2.Find(context.Background(), store.Query{Collection: c, WithTotal: true, Limit: 1})
	if err != nil || res.Total != n {
		t.Fatalf("after reopen: total %v, err %v; want %d", res, err, n)
	}
}

func TestCountsHistory(t *testing.T) {
	var c counts
	c.init(10)
	if _, ok := c.at("a", 10); ok {
		t.Fatal("unknown count reported")
	}
	c.learn("a", 10, 5)
	c.apply(11, countOps{"a": {n: 2}, "b": {n: 1}}) // b stays unknown
	c.apply(12, countOps{"a": {n: -1}})
	for gen, want := range map[int64]int64{10: 5, 11: 7, 12: 6} {
		if n, ok := c.at("a", gen); !ok || n != want {
			t.Errorf("a at %d = %d, %v; want %d", gen, n, ok, want)
		}
	}
	if _, ok := c.at("a", 9); ok {
		t.Error("count before it was learnt reported")
	}
	if _, ok := c.at("a", 13); ok {
		t.Error("count of an unapplied commit reported")
	}
	if _, ok := c.at("b", 12); ok {
		t.Error("b became known without a count")
	}
	// A count taken before b's last change is stale and must be refused.
	c.learn("b", 10, 3)
	if _, ok := c.at("b", 12); ok {
		t.Error("stale count learnt")
	}
	c.learn("b", 12, 4)
	if n, ok := c.at("b", 12); !ok || n != 4 {
		t.Errorf("b = %d, %v", n, ok)
	}
	c.apply(13, countOps{"b": {set: true}, "a": countOp{set: true, n: 1}.then(countOp{n: 2})})
	if n, _ := c.latest("b"); n != 0 {
		t.Errorf("b after truncate = %d", n)
	}
	if n, _ := c.latest("a"); n != 3 {
		t.Errorf("a after set+add = %d", n)
	}
	for i := range 2 * historyLen {
		c.apply(14+int64(i), countOps{"a": {n: 1}})
	}
	if _, ok := c.at("a", 12); ok {
		t.Error("history kept beyond its length")
	}
}

// TestReadersDoNotStarve checks that queries needing new prepared
// statements cannot deadlock a small reader pool.
func TestReadersDoNotStarve(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "data.db"), WithReaders(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &core.Collection{ID: "c1", Name: "items", Fields: []core.Field{
		{ID: "f0", Name: "id", Type: core.FieldText}, {ID: "f1", Name: "n", Type: core.FieldNumber}}}
	if err := s.Update(context.Background(), func(tx store.Tx) error { return tx.CreateCollection(context.Background(), c) }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				where := fmt.Sprintf(`"_r"."n" > ? AND %d = %d`, i*100+j, i*100+j)
				q := store.Query{Collection: c, Where: &store.SQL{Text: where, Args: []any{0}}, WithTotal: j%2 == 0}
				if j%4 == 0 {
					q.Where = nil
				}
				if _, err := s.Find(ctx, q); err != nil {
					t.Errorf("Find: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}
