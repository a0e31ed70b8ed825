package passwords

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Security case 4: checking a password for an account that does not exist
// costs a full bcrypt comparison, like a wrong password does, so response
// times do not tell which emails have accounts. The bound is loose (a
// quarter) because both sides run bcrypt at the same cost.
func TestMissingAccountCostsAHashCheck(t *testing.T) {
	hash, err := Hash("right-password", DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	Check("", "warm-up") // builds the dummy hash once
	timeIt := func(hash string) time.Duration {
		best := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			Check(hash, "wrong-password")
			best = min(best, time.Since(start))
		}
		return best
	}
	wrong, missing := timeIt(hash), timeIt("")
	if missing < wrong/4 {
		t.Fatalf("missing account took %v, wrong password %v: no dummy hash check", missing, wrong)
	}
	if Check("", "anything") {
		t.Fatal("a missing account accepted a password")
	}
	if !Check(hash, "right-password") || Check(hash, "wrong-password") {
		t.Fatal("CheckPassword")
	}
}

// No more than the limit of bcrypt computations run at once, and a new
// limit applies to computations that start after it.
func TestLimit(t *testing.T) {
	defer SetLimit(max(1, runtime.GOMAXPROCS(0)-1))
	for _, n := range []int{1, 3} {
		SetLimit(n)
		var running, most atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				limited(func() {
					now := running.Add(1)
					for {
						m := most.Load()
						if now <= m || most.CompareAndSwap(m, now) {
							break
						}
					}
					time.Sleep(5 * time.Millisecond)
					running.Add(-1)
				})
			}()
		}
		wg.Wait()
		if got := most.Load(); got > int32(n) || got < 1 {
			t.Errorf("limit %d: %d ran at once", n, got)
		}
	}
}

// With extra procs on, GOMAXPROCS is one higher while a computation runs
// and back where it was once none does.
func TestExtraProcs(t *testing.T) {
	defer SetExtraProcs(false)
	SetExtraProcs(true)
	base := runtime.GOMAXPROCS(0)
	var during int
	limited(func() { during = runtime.GOMAXPROCS(0) })
	if during != base+1 || runtime.GOMAXPROCS(0) != base {
		t.Fatalf("GOMAXPROCS %d before, %d during, %d after", base, during, runtime.GOMAXPROCS(0))
	}
}
