package guard

import (
	"context"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestInFlightCap(t *testing.T) {
	t.Parallel()
	var f InFlight
	f.SetLimit(2, 0)
	r1, ok1 := f.Enter(context.Background(), "a")
	r2, ok2 := f.Enter(context.Background(), "a")
	if !ok1 || !ok2 {
		t.Fatalf("first two refused: %v %v", ok1, ok2)
	}
	if r, ok := f.Enter(context.Background(), "a"); ok || r != nil {
		t.Fatal("third request in progress admitted; want refused")
	}
	// Keys are independent.
	rb, ok := f.Enter(context.Background(), "b")
	if !ok {
		t.Fatal("another key refused")
	}
	if n := f.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
	// A finished request makes room; releasing twice frees one slot only.
	r1()
	r1()
	r3, ok := f.Enter(context.Background(), "a")
	if !ok {
		t.Fatal("refused after a release")
	}
	if _, ok := f.Enter(context.Background(), "a"); ok {
		t.Fatal("a double release freed two slots")
	}
	r2()
	r3()
	rb()
	// Keys are forgotten once nothing is in progress.
	if n := f.Len(); n != 0 {
		t.Errorf("Len = %d after every release, want 0", n)
	}
}

func TestInFlightDefaults(t *testing.T) {
	t.Parallel()
	var f InFlight
	if max, wait := f.Limit(); max != DefaultMaxInFlight || wait != DefaultInFlightWait {
		t.Fatalf("zero value limit = %d, %v", max, wait)
	}
	f.SetLimit(0, -time.Second)
	if max, wait := f.Limit(); max != DefaultMaxInFlight || wait != 0 {
		t.Fatalf("SetLimit(0, -1s) = %d, %v; want the default cap and no wait", max, wait)
	}
	f.SetLimit(7, time.Minute)
	if max, wait := f.Limit(); max != 7 || wait != time.Minute {
		t.Fatalf("SetLimit(7, 1m) = %d, %v", max, wait)
	}
	// Below 0: no cap, and nothing tracked.
	f.SetLimit(-1, 0)
	for range 100 {
		if _, ok := f.Enter(context.Background(), "k"); !ok {
			t.Fatal("refused without a cap")
		}
	}
	if max, _ := f.Limit(); max != -1 || f.Len() != 0 {
		t.Fatalf("no cap: Limit %d, Len %d", max, f.Len())
	}
}

// A request over the cap waits for one to finish and then goes ahead.
func TestInFlightWaitsForASlot(t *testing.T) {
	t.Parallel()
	var f InFlight
	f.SetLimit(1, time.Minute) // far longer than the test: it must not time out
	release, ok := f.Enter(context.Background(), "k")
	if !ok {
		t.Fatal("first refused")
	}
	entered := make(chan bool)
	go func() {
		r, ok := f.Enter(context.Background(), "k")
		if ok {
			r()
		}
		entered <- ok
	}()
	select {
	case <-entered:
		t.Fatal("second admitted while the first is in progress")
	case <-time.After(20 * time.Millisecond):
	}
	release()
	if !<-entered {
		t.Fatal("the waiting request was refused after a slot freed")
	}
	if n := f.Len(); n != 0 {
		t.Errorf("Len = %d, want 0", n)
	}
}

// A request still over the cap after the wait, or whose context ends, is
// refused and leaves nothing behind.
func TestInFlightRefusesAfterTheWait(t *testing.T) {
	t.Parallel()
	var f InFlight
	f.SetLimit(1, 10*time.Millisecond)
	release, _ := f.Enter(context.Background(), "k")
	defer release()
	if _, ok := f.Enter(context.Background(), "k"); ok {
		t.Fatal("admitted over the cap after the wait")
	}
	f.SetLimit(1, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := f.Enter(ctx, "k"); ok {
		t.Fatal("admitted over the cap with an ended context")
	}
	if n := f.Len(); n != 1 {
		t.Errorf("Len = %d, want 1 (the request in progress)", n)
	}
}

// Under contention the cap holds for every key and nothing leaks. Run
// with -race.
func TestInFlightConcurrent(t *testing.T) {
	t.Parallel()
	var f InFlight
	const max = 3
	f.SetLimit(max, time.Millisecond)
	var inProgress [4]atomic.Int32
	var admitted, refused atomic.Int32
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			k := g % len(inProgress)
			for range 200 {
				release, ok := f.Enter(context.Background(), "key"+strconv.Itoa(k))
				if !ok {
					refused.Add(1)
					continue
				}
				admitted.Add(1)
				if n := inProgress[k].Add(1); n > max {
					t.Errorf("key %d: %d in progress, cap %d", k, n, max)
				}
				time.Sleep(time.Duration(g%3) * 50 * time.Microsecond)
				inProgress[k].Add(-1)
				release()
			}
		})
	}
	wg.Wait()
	if admitted.Load() == 0 {
		t.Fatal("nothing admitted")
	}
	if n := f.Len(); n != 0 {
		t.Errorf("Len = %d after all finished, want 0", n)
	}
	t.Logf("admitted %d, refused %d", admitted.Load(), refused.Load())
}

func TestLimiterCarriesInFlight(t *testing.T) {
	t.Parallel()
	l := NewLimiter(0)
	l.InFlight().SetLimit(1, 0)
	release, ok := l.InFlight().Enter(context.Background(), IPKey("read", netip.MustParseAddr("203.0.113.7")))
	if !ok {
		t.Fatal("refused")
	}
	defer release()
	if _, ok := l.InFlight().Enter(context.Background(), IPKey("read", netip.MustParseAddr("203.0.113.7"))); ok {
		t.Fatal("the Limiter's InFlight is not one value")
	}
}
