package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/store"
)

// RuleSQL compiles an access rule for req. It returns nil SQL when the rule
// lets everyone through, and ErrSuperusersOnly for a locked (nil) rule.
func (s *Service) RuleSQL(c *core.Collection, rule *string, req *Request, write bool) (*store.SQL, error) {
	if req.Bypasses(c, write) {
		return nil, nil
	}
	if rule == nil {
		return nil, ErrSuperusersOnly
	}
	if strings.TrimSpace(*rule) == "" {
		return nil, nil
	}
	sql, err := s.Compile(*rule, s.Env(c, req, true))
	if err != nil {
		// A stored rule that no longer compiles (say, after a field was
		// removed) denies rather than errors out.
		s.log.Warn("access rule does not compile", "collection", c.Name, "rule", *rule, "err", err)
		return query.Never(), nil
	}
	return &sql, nil
}

// FilterError reports a bad filter or sort parameter as a 400 naming it.
func FilterError(param string, err error) error {
	msg := err.Error()
	if e := core.AsError(err); e != nil {
		if e.Kind != core.KindInvalid {
			return err
		}
		msg = e.Message
	}
	return &core.Error{Kind: core.KindInvalid, Message: fmt.Sprintf("Invalid %s parameter.", param),
		Fields: map[string]core.FieldError{param: {Code: "validation_invalid_" + param, Message: msg}}}
}

// GetWhere reads the record id of c through r if rule (nil: any) admits
// it. Errors: ErrNotFound when there is no such record or the rule
// refuses it, so a caller cannot tell which.
func (s *Service) GetWhere(ctx context.Context, r store.Reader, c *core.Collection, id string, rule *store.SQL) (*core.Record, error) {
	if rule == nil {
		rec, err := r.Get(ctx, c, id)
		if core.KindOf(err) == core.KindNotFound {
			return nil, ErrNotFound
		}
		return rec, err
	}
	res, err := r.Find(ctx, store.Query{Collection: c, Where: query.And(query.Eq("id", id), rule), Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(res.Records) == 0 {
		return nil, ErrNotFound
	}
	return res.Records[0], nil
}
