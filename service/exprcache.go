package service

import (
	"sync"

	"github.com/tortoise-dev/tortoise/filter"
	"github.com/tortoise-dev/tortoise/store"
)

// maxCachedExprs bounds the parsed-expression cache. Rules are few; the
// rest of the room is for client filters, which a guest can vary at will,
// so the cache forgets everything when full rather than growing.
const maxCachedExprs = 2048

// exprCache keeps parsed filter expressions by their text. A rule is
// parsed once per text, so a collection change (which changes the text)
// is a new entry and the old one ages out with the rest. Only parsing is
// cached: checking resolves @request values and the current schema, and
// runs for every request. A parse error is not cached.
type exprCache struct {
	mu sync.RWMutex
	m  map[string]*filter.Expr
}

func (c *exprCache) parse(src string) (*filter.Expr, error) {
	c.mu.RLock()
	e := c.m[src]
	c.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	e, err := filter.Parse(src)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedExprs {
		c.m = make(map[string]*filter.Expr)
	}
	c.m[src] = e
	c.mu.Unlock()
	return e, nil
}

// Compile is filter.Compile over the cache.
func (s *Service) Compile(src string, env *filter.Env) (store.SQL, error) {
	e, err := s.exprs.parse(src)
	if err != nil {
		return store.SQL{}, err
	}
	return filter.CompileExpr(e, env, s.store.Dialect())
}

// Parse is filter.Parse over the cache.
func (s *Service) Parse(src string) (*filter.Expr, error) { return s.exprs.parse(src) }
