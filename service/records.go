package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/filter"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/store"
)

// Paging limits of record lists.
const (
	DefaultPerPage = 30
	MaxPerPage     = 1000
)

var (
	errSuperusersOnly = ErrSuperusersOnly
	errNotFound       = ErrNotFound
)

// ListParams are the query parameters of a record list.
type ListParams struct {
	Page, PerPage int
	Sort, Filter  string
	SkipTotal     bool
}

// ListResult is one page of records.
type ListResult struct {
	Page       int            `json:"page"`
	PerPage    int            `json:"perPage"`
	TotalItems int            `json:"totalItems"`
	TotalPages int            `json:"totalPages"`
	Items      []*core.Record `json:"items"`
}

// ruleSQL compiles an access rule for req. It returns nil SQL when the rule
// lets everyone through, and errSuperusersOnly for a locked (nil) rule.
func (s *Service) ruleSQL(c *core.Collection, rule *string, req *Request, write bool) (*store.SQL, error) {
	if req.bypasses(c, write) {
		return nil, nil
	}
	if rule == nil {
		return nil, errSuperusersOnly
	}
	if strings.TrimSpace(*rule) == "" {
		return nil, nil
	}
	sql, err := s.compile(*rule, s.env(c, req, true))
	if err != nil {
		// A stored rule that no longer compiles (say, after a field was
		// removed) denies rather than errors out.
		s.log.Warn("access rule does not compile", "collection", c.Name, "rule", *rule, "err", err)
		return query.Never(), nil
	}
	return &sql, nil
}

// ListRecords returns one page of a collection's records that the list rule
// and the filter admit.
func (s *Service) ListRecords(ctx context.Context, req *Request, c *core.Collection, p ListParams) (*ListResult, error) {
	rule, err := s.ruleSQL(c, c.ListRule, req, false)
	if err != nil {
		return nil, err
	}
	env := s.env(c, req, false)
	var where *store.SQL
	if strings.TrimSpace(p.Filter) != "" {
		f, err := s.compile(p.Filter, env)
		if err != nil {
			return nil, FilterError("filter", err)
		}
		where = &f
	}
	order := ""
	if strings.TrimSpace(p.Sort) != "" {
		if order, err = filter.CompileSort(p.Sort, env, s.store.Dialect()); err != nil {
			return nil, FilterError("sort", err)
		}
	}
	if p.Page < 1 {
		p.Page = 1
	}
	if p.PerPage <= 0 {
		p.PerPage = DefaultPerPage
	}
	if p.PerPage > MaxPerPage {
		p.PerPage = MaxPerPage
	}
	if order == "" {
		order = query.StableOrder(s.store.Dialect())
	}
	const maxOffset = 1 << 40
	offset := (p.Page - 1) * p.PerPage
	if p.Page > maxOffset/p.PerPage {
		offset = maxOffset
	}
	res, err := s.store.Find(ctx, store.Query{Collection: c, Where: query.And(rule, where), OrderBy: order,
		Limit: p.PerPage, Offset: offset, WithTotal: !p.SkipTotal})
	if err != nil {
		return nil, err
	}
	out := &ListResult{Page: p.Page, PerPage: p.PerPage, TotalItems: -1, TotalPages: -1, Items: res.Records}
	if out.Items == nil {
		out.Items = []*core.Record{}
	}
	if !p.SkipTotal {
		out.TotalItems = res.Total
		out.TotalPages = (res.Total + p.PerPage - 1) / p.PerPage
	}
	return out, nil
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

// GetRecord returns one record if the view rule admits it.
func (s *Service) GetRecord(ctx context.Context, req *Request, c *core.Collection, id string) (*core.Record, error) {
	rule, err := s.ruleSQL(c, c.ViewRule, req, false)
	if err != nil {
		return nil, err
	}
	return s.getWhere(ctx, s.store, c, id, rule)
}

func (s *Service) getWhere(ctx context.Context, r store.Reader, c *core.Collection, id string, rule *store.SQL) (*core.Record, error) {
	if rule == nil {
		rec, err := r.Get(ctx, c, id)
		if core.KindOf(err) == core.KindNotFound {
			return nil, errNotFound
		}
		return rec, err
	}
	res, err := r.Find(ctx, store.Query{Collection: c, Where: query.And(query.Eq("id", id), rule), Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(res.Records) == 0 {
		return nil, errNotFound
	}
	return res.Records[0], nil
}

// CreateRecord validates body and inserts a new record, if the create rule
// admits the record as it would be stored. The rule's @request.body sees
// the body as the record reads it (see input).
func (s *Service) CreateRecord(ctx context.Context, req *Request, c *core.Collection, body map[string]any) (*core.Record, error) {
	if req == nil {
		req = &Request{}
	}
	if !req.bypasses(c, true) && c.CreateRule == nil {
		return nil, errSuperusersOnly
	}
	rec := core.NewRecord(c)
	in, err := readInput(c, rec, body)
	if err != nil {
		return nil, err
	}
	// On create only superusers (and write keys) manage auth fields
	// (verified); the manageRule is about existing records.
	if err := s.applyInput(rec, nil, in, req, req.bypasses(c, true)); err != nil {
		return nil, err
	}
	if err := s.store.Update(ctx, func(tx store.Tx) error { return s.insertChecked(ctx, tx, req, rec, in) }); err != nil {
		return nil, err
	}
	s.emit(Change{Action: "create", Collection: c, RecordID: rec.ID()})
	return rec, nil
}

// insertChecked inserts a validated new record in tx, checking its
// relations and, for non-superusers, the create rule against the record
// as stored and the body as resolved in in.
func (s *Service) insertChecked(ctx context.Context, tx store.Tx, req *Request, rec *core.Record, in *input) error {
	c := rec.Collection
	if err := s.checkRelations(ctx, tx, rec, nil); err != nil {
		return err
	}
	if err := s.checkAuthID(ctx, tx, rec); err != nil {
		return err
	}
	if err := tx.Insert(ctx, rec); err != nil {
		return err
	}
	rule, err := s.ruleSQL(c, c.CreateRule, withBody(req, in.ruleBody()), true)
	if err != nil || rule == nil {
		return err
	}
	if _, err := s.getWhere(ctx, tx, c, rec.ID(), rule); err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return core.Invalid("Failed to create record.")
		}
		return err
	}
	return nil
}

// checkAuthID refuses a new auth record whose id an auth record of another
// collection already has: rules compare ids (owner = @request.auth.id),
// so a sign-up elsewhere with a chosen id must not become someone else.
func (s *Service) checkAuthID(ctx context.Context, tx store.Tx, rec *core.Record) error {
	if !rec.Collection.IsAuth() {
		return nil
	}
	for _, oc := range s.Collections() {
		if !oc.IsAuth() || oc.ID == rec.Collection.ID {
			continue
		}
		_, err := tx.Get(ctx, oc, rec.ID())
		switch {
		case err == nil:
			return core.FieldInvalid("id", "validation_not_unique", "The id is already in use.")
		case core.KindOf(err) != core.KindNotFound:
			return err
		}
	}
	return nil
}

func withBody(req *Request, body map[string]any) *Request {
	r := *req
	r.Body = body
	return &r
}

// UpdateRecord applies body to an existing record that the update rule admits.
func (s *Service) UpdateRecord(ctx context.Context, req *Request, c *core.Collection, id string, body map[string]any) (*core.Record, error) {
	return s.updateRecord(ctx, req, c, id, body, "")
}

// lockedTokenKey reads the auth record id of c in tx (which locks it until
// the transaction ends) and refuses unless its tokenKey is still want.
// Single-use tokens are signed with the tokenKey their redemption rotates,
// so two redemptions racing cannot both get past this.
func lockedTokenKey(ctx context.Context, tx store.Tx, c *core.Collection, id, want string) error {
	cur, err := tx.Get(ctx, c, id)
	if err != nil {
		return err
	}
	if cur.String("tokenKey") != want {
		return errInvalidToken()
	}
	return nil
}

// hasPassword reports whether body sets one of c's password fields.
func hasPassword(c *core.Collection, body map[string]any) bool {
	for i := range c.Fields {
		if c.Fields[i].Type == core.FieldPassword {
			if pw, _ := body[c.Fields[i].Name].(string); pw != "" {
				return true
			}
		}
	}
	return false
}

// updateRecord is UpdateRecord; with expectTokenKey it first requires, under
// a lock, that the record's tokenKey still is that (see lockedTokenKey).
func (s *Service) updateRecord(ctx context.Context, req *Request, c *core.Collection, id string, body map[string]any, expectTokenKey string) (*core.Record, error) {
	if req == nil {
		req = &Request{}
	}
	if !req.bypasses(c, true) && c.UpdateRule == nil {
		return nil, errSuperusersOnly
	}
	// bcrypt runs before the transaction; the callback only does
	// database work. Reading the record here takes no lock: the callback
	// reads it again, and uses this work only if its hash is unchanged.
	var hashed map[string]*hashWork
	if hasPassword(c, body) {
		stored, err := s.store.Get(ctx, c, id)
		if err != nil && core.KindOf(err) != core.KindNotFound {
			return nil, err
		}
		hashed = prehash(c, stored, body)
	}
	var rec *core.Record
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if expectTokenKey != "" {
			if err := lockedTokenKey(ctx, tx, c, id, expectTokenKey); err != nil {
				return err
			}
		}
		old, err := tx.Get(ctx, c, id)
		if err != nil {
			if core.KindOf(err) == core.KindNotFound {
				return errNotFound
			}
			return err
		}
		// The rules see the body resolved against the stored record; its
		// errors wait until the rule admitted the record, so a record the
		// caller may not change answers 404 whatever the body says.
		in, inputErr := readInput(c, old, body)
		if in == nil {
			return inputErr
		}
		in.hashed = hashed
		ruleReq := withBody(req, in.ruleBody())
		rule, err := s.ruleSQL(c, c.UpdateRule, ruleReq, true)
		if err != nil {
			return err
		}
		if rule != nil {
			if _, err := s.getWhere(ctx, tx, c, id, rule); err != nil {
				return err
			}
		}
		if inputErr != nil {
			return inputErr
		}
		manage, err := s.canManage(ctx, tx, ruleReq, old)
		if err != nil {
			return err
		}
		rec = old.Clone()
		if err := s.applyInput(rec, old, in, req, manage); err != nil {
			return err
		}
		if err := s.checkRelations(ctx, tx, rec, old); err != nil {
			return err
		}
		return tx.Update(ctx, rec)
	})
	if err != nil {
		return nil, err
	}
	s.emit(Change{Action: "update", Collection: c, RecordID: id})
	return rec, nil
}

// DeleteRecord deletes a record the delete rule admits, and applies its
// relations' cascade: cascading relations delete their records, others
// drop the id, and a required relation that would be left empty refuses.
func (s *Service) DeleteRecord(ctx context.Context, req *Request, c *core.Collection, id string) error {
	if req == nil {
		req = &Request{}
	}
	if !req.bypasses(c, true) && c.DeleteRule == nil {
		return errSuperusersOnly
	}
	var deleted []Change
	err := s.store.Update(ctx, func(tx store.Tx) error {
		deleted = deleted[:0]
		rule, err := s.ruleSQL(c, c.DeleteRule, req, true)
		if err != nil {
			return err
		}
		if _, err := s.getWhere(ctx, tx, c, id, rule); err != nil {
			return err
		}
		if c.Name == core.SuperusersName {
			res, err := tx.Find(ctx, store.Query{Collection: c, Limit: 1, WithTotal: true})
			if err != nil {
				return err
			}
			if res.Total <= 1 {
				return core.Invalid("The only remaining superuser cannot be deleted.")
			}
		}
		return s.deleteCascade(ctx, tx, c, id, map[string]bool{}, &deleted)
	})
	if err != nil {
		return err
	}
	for _, ch := range deleted {
		s.emit(ch)
	}
	return nil
}

const maxCascade = 10000

func (s *Service) deleteCascade(ctx context.Context, tx store.Tx, c *core.Collection, id string, seen map[string]bool, deleted *[]Change) error {
	key := c.ID + "/" + id
	if seen[key] {
		return nil
	}
	seen[key] = true
	if len(seen) > maxCascade {
		return core.Invalid("Deleting this record would cascade to more than %d records.", maxCascade)
	}
	for _, oc := range s.Collections() {
		for i := range oc.Fields {
			f := &oc.Fields[i]
			if f.Type != core.FieldRelation || f.CollectionID != c.ID {
				continue
			}
			res, err := tx.Find(ctx, store.Query{Collection: oc, Where: s.holding(f, id)})
			if err != nil {
				return err
			}
			for _, r := range res.Records {
				if oc.ID == c.ID && r.ID() == id {
					continue
				}
				if f.CascadeDelete {
					if err := s.deleteCascade(ctx, tx, oc, r.ID(), seen, deleted); err != nil {
						return err
					}
					continue
				}
				rest := removeString(r.Strings(f.Name), id)
				if f.Required && len(rest) == 0 {
					// No id: the caller may not be allowed to see that record.
					return core.Invalid("The record cannot be deleted: a record in %q requires it in its %q field.", oc.Name, f.Name)
				}
				n := r.Clone()
				if f.IsMultiple() {
					n.Data[f.Name] = rest
				} else {
					n.Data[f.Name] = ""
				}
				if err := tx.Update(ctx, n); err != nil {
					return err
				}
				*deleted = append(*deleted, Change{Action: "update", Collection: oc, RecordID: r.ID()})
			}
		}
	}
	if c.IsAuth() {
		// Linked identities and pending codes go with their account.
		for _, name := range []string{ExternalAuthsName, OTPsName, MFAsName, AuthOriginsName} {
			sys := s.schema.Load().CollectionByNameOrID(name)
			if sys == nil {
				continue
			}
			where := query.And(query.Eq("collectionRef", c.ID), query.Eq("recordRef", id))
			res, err := tx.Find(ctx, store.Query{Collection: sys, Where: where})
			if err != nil {
				return err
			}
			for _, r := range res.Records {
				if err := tx.Delete(ctx, sys, r.ID()); err != nil {
					return err
				}
			}
		}
	}
	if err := tx.Delete(ctx, c, id); err != nil {
		return err
	}
	*deleted = append(*deleted, Change{Action: "delete", Collection: c, RecordID: id})
	return nil
}

func removeString(l []string, s string) []string {
	out := make([]string, 0, len(l))
	for _, x := range l {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// holding matches the records whose relation field f holds any of ids.
func (s *Service) holding(f *core.Field, ids ...string) *store.SQL {
	if f.IsMultiple() {
		return query.ListHasAny(s.store.Dialect(), f.Name, ids)
	}
	return query.In(f.Name, ids)
}

// checkRelations verifies that every relation id rec gained since old
// points at an existing record of the target collection.
func (s *Service) checkRelations(ctx context.Context, tx store.Tx, rec, old *core.Record) error {
	errs := core.ValidationErrors{}
	for i := range rec.Collection.Fields {
		f := &rec.Collection.Fields[i]
		if f.Type != core.FieldRelation {
			continue
		}
		var added []string
		var before []string
		if old != nil {
			before = old.Strings(f.Name)
		}
		for _, id := range rec.Strings(f.Name) {
			if !slices.Contains(before, id) {
				added = append(added, id)
			}
		}
		if len(added) == 0 {
			continue
		}
		target := s.schema.Load().byID[f.CollectionID]
		if target == nil {
			errs.Add(f.Name, "validation_missing_collection", "The related collection no longer exists.")
			continue
		}
		// A record may relate to itself.
		var lookup []string
		for _, id := range added {
			if !(target.ID == rec.Collection.ID && id == rec.ID()) {
				lookup = append(lookup, id)
			}
		}
		if len(lookup) == 0 {
			continue
		}
		res, err := tx.Find(ctx, store.Query{Collection: target, Where: query.In("id", lookup)})
		if err != nil {
			return err
		}
		if len(res.Records) != len(lookup) {
			errs.Add(f.Name, "validation_missing_rel_records", "Failed to find all relation records with the provided ids.")
		}
	}
	return errs.Err()
}

// canManage reports whether req may manage the auth record rec: change its
// email, verified state or password without the old one. Superusers always
// may; others when the collection's manageRule admits rec.
func (s *Service) canManage(ctx context.Context, r store.Reader, req *Request, rec *core.Record) (bool, error) {
	c := rec.Collection
	if req.bypasses(c, true) {
		return true, nil
	}
	// A blank manageRule (refused since, but perhaps stored before) is
	// read as null: it never gives every user manage rights.
	if !c.IsAuth() || c.Auth == nil || c.Auth.ManageRule == nil || strings.TrimSpace(*c.Auth.ManageRule) == "" {
		return false, nil
	}
	rule, err := s.ruleSQL(c, c.Auth.ManageRule, req, true)
	if err != nil {
		return false, err
	}
	if _, err := s.getWhere(ctx, r, c, rec.ID(), rule); err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
