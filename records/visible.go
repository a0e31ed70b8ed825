package records

import (
	"context"
	"errors"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/filter"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// maxLoaded bounds the records the in-memory evaluator may load from one
// collection to follow a relation in a rule about a deleted record.
const maxLoaded = 1000

// errNeedsData stops the in-memory evaluator when an expression follows
// a relation: the record's own fields are not enough.
var errNeedsData = errors.New("records: the expression needs related records")

// Visible reports whether req may see rec, a record of c as a change left
// it, under c's list rule (all true: a "collection/*" subscription) or
// view rule, and the client's own filter (may be empty). It is the check
// realtime makes for each change and subscriber. An expression over rec's
// own fields and @request is evaluated in memory; one that follows
// relations is answered by the database, and, for a deleted record (no
// longer in the database), in memory over at most maxLoaded related
// records per collection, refusing beyond that.
func (s *Service) Visible(ctx context.Context, req *service.Request, c *core.Collection, rec *core.Record, deleted, all bool, clientFilter string) (bool, error) {
	if req == nil {
		req = &service.Request{}
	}
	rule := c.ViewRule
	if all {
		rule = c.ListRule
	}
	type check struct {
		src  string
		rule bool // an access rule (written by superusers) rather than the client's filter
	}
	var checks []check
	if !req.Bypasses(c, false) {
		if rule == nil {
			return false, nil
		}
		if r := strings.TrimSpace(*rule); r != "" {
			checks = append(checks, check{r, true})
		}
	}
	if f := strings.TrimSpace(clientFilter); f != "" {
		checks = append(checks, check{f, false})
	}
	for _, ch := range checks {
		ok, err := s.visible(ctx, req, c, rec, deleted, ch.src, ch.rule)
		if err != nil {
			if ch.rule {
				// A stored rule that no longer works denies.
				s.svc.Log().Warn("realtime: access rule fails", "collection", c.Name, "err", err)
				return false, nil
			}
			return false, service.FilterError("filter", err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// visible evaluates one expression for rec: in memory when rec's own
// fields and @request are enough, else with data (visibleByData).
func (s *Service) visible(ctx context.Context, req *service.Request, c *core.Collection, rec *core.Record, deleted bool, src string, isRule bool) (bool, error) {
	e, err := s.svc.Parse(src)
	if err != nil {
		return false, err
	}
	env := s.svc.Env(c, req, isRule)
	env.Request.Context = "realtime"
	ok, err := filter.Eval(e, env, rec, needsData{})
	if errors.Is(err, errNeedsData) {
		return s.visibleByData(ctx, env, e, src, c, rec, deleted)
	}
	return ok, err
}

// visibleByData answers an expression that follows relations: through
// the database for a record that is there, else in memory over a bounded
// load of the related collections.
func (s *Service) visibleByData(ctx context.Context, env *filter.Env, e *filter.Expr, src string, c *core.Collection, rec *core.Record, deleted bool) (bool, error) {
	if !deleted {
		sql, err := s.svc.Compile(src, env)
		if err != nil {
			return false, err
		}
		_, err = s.svc.GetWhere(ctx, s.store, c, rec.ID(), &sql)
		if errors.Is(err, service.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	return filter.Eval(e, env, rec, &boundedLoader{ctx: ctx, st: s.store})
}

// needsData is the Loader of the first, in-memory attempt.
type needsData struct{}

func (needsData) Records(*core.Collection) ([]*core.Record, error) { return nil, errNeedsData }

// boundedLoader loads whole collections for the evaluator, up to maxLoaded
// records each.
type boundedLoader struct {
	ctx context.Context
	st  store.Reader
}

func (l *boundedLoader) Records(c *core.Collection) ([]*core.Record, error) {
	res, err := l.st.Find(l.ctx, store.Query{Collection: c, Limit: maxLoaded + 1})
	if err != nil {
		return nil, err
	}
	if len(res.Records) > maxLoaded {
		return nil, core.Invalid("Too many related records to check a rule for a deleted record.")
	}
	return res.Records, nil
}
