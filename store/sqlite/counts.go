package sqlite

import "sync"

// counts keeps each collection's exact row count in memory so an unfiltered
// list total costs no table scan.
//
// A reader's list query sees one WAL snapshot; the count it reports must be
// the count in that same snapshot, not the latest one. So counts are tied to
// a generation: every commit that changes a row count also bumps the
// generation stored in _meta, in the same transaction. A reader reads the
// generation inside its read transaction (fixing the snapshot) and asks for
// the count as of that generation; a short history per collection answers
// readers that are a few commits behind.
//
// A count is learnt lazily: the first reader that needs it runs one
// COUNT(*) in its snapshot and records it, provided no commit has changed
// the collection since that snapshot (after that, committed changes keep
// it exact). Counts are keyed by collection id, so a renamed collection
// keeps its count.
type counts struct {
	mu   sync.Mutex
	gen  int64 // generation of the last commit applied
	byID map[string]*counter
}

// historyLen is how many past counts a collection keeps for readers whose
// snapshot is older than the latest commit.
const historyLen = 16

type counter struct {
	changed int64     // generation of the last commit that changed the count
	hist    []countAt // known counts, oldest first; empty while unknown
}

type countAt struct{ gen, n int64 }

// countOp is a transaction's effect on one collection's row count.
type countOp struct {
	set bool // the count becomes n (new collection, truncate); otherwise it moves by n
	n   int64
}

// then returns the effect of o followed by next.
func (o countOp) then(next countOp) countOp {
	if next.set {
		return next
	}
	o.n += next.n
	return o
}

// countOps are the count effects of a transaction, by collection id.
type countOps map[string]countOp

func (ops countOps) add(id string, op countOp) {
	if old, ok := ops[id]; ok {
		op = old.then(op)
	}
	ops[id] = op
}

func (ops countOps) merge(other countOps) {
	for id, op := range other {
		ops.add(id, op)
	}
}

func (c *counts) init(gen int64) {
	c.gen = gen
	c.byID = make(map[string]*counter)
}

func (c *counts) counter(id string) *counter {
	k := c.byID[id]
	if k == nil {
		k = &counter{}
		c.byID[id] = k
	}
	return k
}

// apply records the effects of the commit that produced generation gen.
// Only the writer calls it, right after COMMIT succeeds.
func (c *counts) apply(gen int64, ops countOps) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen = gen
	for id, op := range ops {
		k := c.counter(id)
		k.changed = gen
		switch {
		case op.set:
			k.push(countAt{gen, op.n})
		case len(k.hist) > 0:
			k.push(countAt{gen, k.hist[len(k.hist)-1].n + op.n})
		}
	}
}

func (k *counter) push(e countAt) {
	if len(k.hist) == historyLen {
		copy(k.hist, k.hist[1:])
		k.hist = k.hist[:historyLen-1]
	}
	k.hist = append(k.hist, e)
}

// at returns id's count as of generation gen, if known.
func (c *counts) at(id string, gen int64) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen < gen {
		// The commit is on disk but not applied here yet: don't guess.
		return 0, false
	}
	k := c.byID[id]
	if k == nil {
		return 0, false
	}
	for i := len(k.hist) - 1; i >= 0; i-- {
		if k.hist[i].gen <= gen {
			return k.hist[i].n, true
		}
	}
	return 0, false
}

// learn records n, counted in a snapshot at generation gen, as id's count,
// unless the count is known already or a commit applied since gen changed
// it (then n is stale). A commit that is on disk but not yet applied is
// fine: when applied, it adds its change to n.
func (c *counts) learn(id string, gen, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen < gen {
		return
	}
	k := c.counter(id)
	if len(k.hist) > 0 || k.changed > gen {
		return
	}
	k.hist = append(k.hist, countAt{gen, n})
}

// latest returns id's count after the last applied commit, if known. The
// writer uses it: no commit can be pending while it runs a group.
func (c *counts) latest(id string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := c.byID[id]; k != nil && len(k.hist) > 0 {
		return k.hist[len(k.hist)-1].n, true
	}
	return 0, false
}

// forgetBehind forgets every count when gen, the generation on disk, is
// ahead of the last commit applied here and no commit of this process
// can account for it (see others.go); it reports whether it did.
func (c *counts) forgetBehind(gen int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen <= c.gen {
		return false
	}
	c.gen = gen
	c.byID = make(map[string]*counter)
	return true
}
