// Package records creates, reads, changes and deletes the records of
// collections: it reads request bodies the way fields read them, applies
// the access rules, checks relations, cascades deletes and expands
// relations. Features take part in writes through hooks (see Write), so
// this package never names them.
package records

import (
	"context"
	"slices"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/filter"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// errViewReadOnly refuses writes to a view collection's records.
var errViewReadOnly = core.Invalid("The records of a view collection are read-only.")

// Paging limits of record lists.
const (
	DefaultPerPage = 30
	MaxPerPage     = 1000
)

// Service is the records part of the service layer.
type Service struct {
	svc   *service.Service
	store store.Store
	hooks hookSet
	// accept lists the body keys that are not fields but that features
	// read (see AcceptKeys).
	accept []acceptKeys
	// files is where file fields' files are kept (files.go).
	files fileStore
}

type acceptKeys struct {
	match func(*core.Collection) bool
	keys  []string
}

// New returns the records service over the service layer's shared part.
func New(svc *service.Service) *Service {
	return &Service{svc: svc, store: svc.Store()}
}

// AcceptKeys lets bodies for the collections match admits carry keys
// that are not fields (such as passwordConfirm), for hooks to read from
// Input.Extra and rules from @request.body; other unknown keys are an
// error.
func (s *Service) AcceptKeys(match func(*core.Collection) bool, keys ...string) {
	s.accept = append(s.accept, acceptKeys{match, keys})
}

func (s *Service) accepts(c *core.Collection, key string) bool {
	for _, a := range s.accept {
		if (a.match == nil || a.match(c)) && slices.Contains(a.keys, key) {
			return true
		}
	}
	return false
}

// ListParams are the query parameters of a record list.
type ListParams struct {
	Page, PerPage int
	Sort, Filter  string
	SkipTotal     bool
	// Search is a full-text query (see records/search.go); "" lists.
	Search string
}

// ListResult is one page of records.
type ListResult struct {
	Page       int            `json:"page"`
	PerPage    int            `json:"perPage"`
	TotalItems int            `json:"totalItems"`
	TotalPages int            `json:"totalPages"`
	Items      []*core.Record `json:"items"`
	// Highlights is set (possibly empty) when the list was a search:
	// record id → field → HTML snippet with the matches in <mark>.
	Highlights map[string]map[string]string `json:"highlights,omitempty"`
}

// List returns one page of a collection's records that the list rule and
// the filter admit.
func (s *Service) List(ctx context.Context, req *service.Request, c *core.Collection, p ListParams) (*ListResult, error) {
	return again(s, ctx, c, func(c *core.Collection) (*ListResult, error) { return s.list(ctx, req, c, p) })
}

func (s *Service) list(ctx context.Context, req *service.Request, c *core.Collection, p ListParams) (*ListResult, error) {
	where, env, err := s.listWhere(req, c, p.Filter)
	if err != nil {
		return nil, err
	}
	order := ""
	if strings.TrimSpace(p.Sort) != "" {
		if order, err = filter.CompileSort(p.Sort, env, s.store.Dialect()); err != nil {
			return nil, service.FilterError("sort", err)
		}
	}
	var offset int
	p.Page, p.PerPage, offset = pageWindow(p.Page, p.PerPage)
	sq, err := searchQuery(req, c, p.Search) // search.go
	if err != nil {
		return nil, err
	}
	if order == "" && sq == nil { // a search orders by relevance
		order = query.StableOrder(s.store.Dialect())
		if c.IsView() {
			order = query.Asc("id") // a view has no rowid
		}
	}
	fq := store.Query{Collection: c, Where: where, OrderBy: order,
		Limit: p.PerPage, Offset: offset, WithTotal: !p.SkipTotal, Search: sq}
	find := s.store.Find
	if sq != nil {
		find = s.findSearch
	}
	res, err := find(ctx, fq)
	if err != nil {
		return nil, err
	}
	out := &ListResult{Page: p.Page, PerPage: p.PerPage, TotalItems: -1, TotalPages: -1, Items: res.Records, Highlights: res.Highlights}
	if out.Items == nil {
		out.Items = []*core.Record{}
	}
	if !p.SkipTotal {
		out.TotalItems = res.Total
		out.TotalPages = (res.Total + p.PerPage - 1) / p.PerPage
	}
	return out, nil
}

// pageWindow settles a page request: page at least 1, perPage
// DefaultPerPage when not positive and at most MaxPerPage, and the rows
// to skip, capped so that a huge page number cannot overflow.
func pageWindow(page, perPage int) (int, int, int) {
	page = max(page, 1)
	if perPage <= 0 {
		perPage = DefaultPerPage
	}
	perPage = min(perPage, MaxPerPage)
	const maxOffset = 1 << 40
	if page > maxOffset/perPage {
		return page, perPage, maxOffset
	}
	return page, perPage, (page - 1) * perPage
}

// listWhere is what a caller may read of c as a list: the list rule as
// SQL ANDed with the filter the caller gave (blank: none), and the
// environment both were checked in (for a sort). Lists, searches and
// aggregations share it, so none can reach a record another could not.
func (s *Service) listWhere(req *service.Request, c *core.Collection, filterText string) (*store.SQL, *filter.Env, error) {
	rule, err := s.svc.RuleSQL(c, c.ListRule, req, false)
	if err != nil {
		return nil, nil, err
	}
	env := s.svc.Env(c, req, false)
	if strings.TrimSpace(filterText) == "" {
		return rule, env, nil
	}
	f, err := s.svc.Compile(filterText, env)
	if err != nil {
		return nil, nil, service.FilterError("filter", err)
	}
	return query.And(rule, &f), env, nil
}

// Get returns one record if the view rule admits it.
func (s *Service) Get(ctx context.Context, req *service.Request, c *core.Collection, id string) (*core.Record, error) {
	return again(s, ctx, c, func(c *core.Collection) (*core.Record, error) { return s.get(ctx, req, c, id) })
}

func (s *Service) get(ctx context.Context, req *service.Request, c *core.Collection, id string) (*core.Record, error) {
	rule, err := s.svc.RuleSQL(c, c.ViewRule, req, false)
	if err != nil {
		return nil, err
	}
	return s.svc.GetWhere(ctx, s.store, c, id, rule)
}

// Create validates body and inserts a new record, if the create rule
// admits the record as it would be stored. The rule's @request.body sees
// the body as the record reads it (see Input).
func (s *Service) Create(ctx context.Context, req *service.Request, c *core.Collection, body map[string]any) (*core.Record, error) {
	return again(s, ctx, c, func(c *core.Collection) (*core.Record, error) { return s.create(ctx, req, c, body) })
}

func (s *Service) create(ctx context.Context, req *service.Request, c *core.Collection, body map[string]any) (*core.Record, error) {
	w, err := s.prepareCreate(ctx, req, c, body, nil)
	if err != nil {
		return nil, err
	}
	if err := s.store.Update(ctx, func(tx store.Tx) error { w.Tx = tx; return s.insertChecked(w) }); err != nil {
		s.deleteKeys(w.uploaded)
		return nil, err
	}
	return w.Record, nil
}

// CreateIn is Create inside the transaction tx of a feature's own write
// (such as signing up with OAuth2 and linking the identity at once); set,
// if not nil, changes the validated record before it is inserted. It
// emits no change: the caller does, after its transaction committed.
func (s *Service) CreateIn(ctx context.Context, tx store.Tx, req *service.Request, c *core.Collection, body map[string]any, set func(*core.Record)) (*core.Record, error) {
	w, err := s.prepareCreate(ctx, req, c, body, set)
	if err != nil {
		return nil, err
	}
	w.Tx = tx
	return w.Record, s.insertChecked(w)
}

// prepareCreate refuses a null create rule to those it binds, reads body
// into a new record of c and runs the Prepare and Input hooks, all before
// the write transaction.
func (s *Service) prepareCreate(ctx context.Context, req *service.Request, c *core.Collection, body map[string]any, set func(*core.Record)) (*Write, error) {
	if req == nil {
		req = &service.Request{}
	}
	if c.IsView() {
		return nil, errViewReadOnly
	}
	if !req.Bypasses(c, true) && c.CreateRule == nil {
		return nil, service.ErrSuperusersOnly
	}
	// Uploaded files go to storage first, under the record's id, so the
	// transaction only names them.
	var fileID string
	var uploaded []string
	if len(uploadsIn(c, body)) > 0 {
		if err := s.refuseEarly(req, c); err != nil {
			return nil, err
		}
		fileID, _ = body["id"].(string)
		if fileID == "" {
			fileID = core.NewID()
		}
		if !safeFileID(fileID) {
			return nil, core.FieldInvalid("id", "validation_invalid_id", "Use letters, digits, '_' and '-' for the id of a record with files.")
		}
		var err error
		if uploaded, err = s.putUploads(ctx, c, fileID, body, seesHidden(req, c)); err != nil {
			return nil, err
		}
	}
	w, err := s.prepareCreateInput(ctx, req, c, body, set)
	if err != nil {
		s.deleteKeys(uploaded)
		return nil, err
	}
	w.uploaded = uploaded
	if fileID != "" {
		w.Record.Data["id"] = fileID
	}
	return w, nil
}

// prepareCreateInput is prepareCreate once the files are stored.
func (s *Service) prepareCreateInput(ctx context.Context, req *service.Request, c *core.Collection, body map[string]any, set func(*core.Record)) (*Write, error) {
	rec := core.NewRecord(c)
	in, err := s.readInput(c, rec, body, seesHidden(req, c))
	if err != nil {
		return nil, err
	}
	in.hashed = prehash(c, body)
	w := &Write{Ctx: ctx, Req: withBody(req, in.RuleBody()), Input: in}
	if err := run(s.hooks.prepare, c, w); err != nil {
		return nil, err
	}
	w.Record = rec
	if err := s.apply(w); err != nil {
		return nil, err
	}
	if set != nil {
		set(rec)
	}
	return w, nil
}

// insertChecked inserts w's validated new record in w.Tx, checking its
// relations and, for non-superusers, the create rule against the record
// as stored and the body as resolved.
func (s *Service) insertChecked(w *Write) error {
	ctx, tx, rec := w.Ctx, w.Tx, w.Record
	c := rec.Collection
	if err := s.checkRelations(ctx, tx, rec, nil); err != nil {
		return err
	}
	if err := run(s.hooks.write, c, w); err != nil {
		return err
	}
	if err := tx.Insert(ctx, rec); err != nil {
		return err
	}
	rule, err := s.svc.RuleSQL(c, c.CreateRule, w.Req, true)
	if err != nil || rule == nil {
		return err
	}
	if _, err := s.svc.GetWhere(ctx, tx, c, rec.ID(), rule); err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return core.Invalid("Failed to create record.")
		}
		return err
	}
	return nil
}

// refuseEarly decides the create rule before a create's uploads are
// stored, when the rule reads nothing of the record: only who asks
// (@request.auth, headers, method, context) and the clock. Such a rule
// answers the same in the transaction, so a caller it refuses costs no
// storage (before, the uploads were stored, then deleted). Any other rule
// (the record's fields, the body, relations, other collections) is left
// to the transaction.
func (s *Service) refuseEarly(req *service.Request, c *core.Collection) error {
	if req.Bypasses(c, true) || c.CreateRule == nil || strings.TrimSpace(*c.CreateRule) == "" {
		return nil
	}
	e, err := s.svc.Parse(*c.CreateRule)
	if err != nil {
		return nil
	}
	for _, id := range e.Idents() {
		if !readsOnlyTheCaller(id) {
			return nil
		}
	}
	ok, err := filter.Eval(e, s.svc.Env(c, req, true), core.NewRecord(c), needsData{})
	if err != nil || ok {
		return nil
	}
	return core.Invalid("Failed to create record.")
}

// readsOnlyTheCaller reports whether the identifier id names something
// of the request's caller or the clock, not of the record.
func readsOnlyTheCaller(id string) bool {
	for _, p := range []string{"@request.auth.", "@request.headers."} {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	name, _, _ := strings.Cut(id, ":")
	switch {
	case name == "@request.method", name == "@request.context":
		return true
	case strings.HasPrefix(id, "@request"), strings.HasPrefix(id, "@collection"):
		return false
	}
	return strings.HasPrefix(id, "@") // a macro: @now, @todayStart, …
}

func withBody(req *service.Request, body map[string]any) *service.Request {
	r := *req
	r.Body = body
	return &r
}

// Update applies body to an existing record that the update rule admits.
func (s *Service) Update(ctx context.Context, req *service.Request, c *core.Collection, id string, body map[string]any) (*core.Record, error) {
	return s.UpdateChecked(ctx, req, c, id, body, nil)
}

// UpdateChecked is Update with a precondition: check runs first in the
// transaction, with the record as stored then (on PostgreSQL, locked),
// and an error from it stops the update. Features use it to make a
// token's redemption single-use.
func (s *Service) UpdateChecked(ctx context.Context, req *service.Request, c *core.Collection, id string, body map[string]any, check func(cur *core.Record) error) (*core.Record, error) {
	return again(s, ctx, c, func(c *core.Collection) (*core.Record, error) { return s.updateChecked(ctx, req, c, id, body, check) })
}

func (s *Service) updateChecked(ctx context.Context, req *service.Request, c *core.Collection, id string, body map[string]any, check func(cur *core.Record) error) (*core.Record, error) {
	apply, uploaded, err := s.prepareUpdate(ctx, req, c, id, body, check)
	if err != nil {
		return nil, err
	}
	var rec *core.Record
	err = s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		rec, err = apply(tx)
		return err
	})
	if err != nil {
		s.deleteKeys(uploaded)
		return nil, err
	}
	return rec, nil
}

// prepareUpdate does an update's work that needs no transaction (bcrypt,
// the Prepare hooks) and returns the part that runs in one.
// It also stores the files body uploads, returning their keys for the
// caller to delete if the transaction fails.
func (s *Service) prepareUpdate(ctx context.Context, req *service.Request, c *core.Collection, id string, body map[string]any, check func(cur *core.Record) error) (func(store.Tx) (*core.Record, error), []string, error) {
	if req == nil {
		req = &service.Request{}
	}
	if c.IsView() {
		return nil, nil, errViewReadOnly
	}
	if !req.Bypasses(c, true) && c.UpdateRule == nil {
		return nil, nil, service.ErrSuperusersOnly
	}
	var uploaded []string
	if len(uploadsIn(c, body)) > 0 {
		if !safeFileID(id) {
			return nil, nil, service.ErrNotFound
		}
		var err error
		if uploaded, err = s.putUploads(ctx, c, id, body, seesHidden(req, c)); err != nil {
			return nil, nil, err
		}
	}
	apply, err := s.prepareUpdateTx(ctx, req, c, id, body, check)
	if err != nil {
		s.deleteKeys(uploaded)
		return nil, nil, err
	}
	return apply, uploaded, nil
}

// prepareUpdateTx is prepareUpdate once the files are stored.
func (s *Service) prepareUpdateTx(ctx context.Context, req *service.Request, c *core.Collection, id string, body map[string]any, check func(cur *core.Record) error) (func(store.Tx) (*core.Record, error), error) {
	// CPU-bound work (bcrypt) runs before the transaction; the callback
	// only does database work. Reading the record here takes no lock: the
	// callback reads it again, and hooks use what they prepared only if
	// it still holds.
	prep := &Write{Ctx: ctx, Req: req}
	var hashed map[string]*hashWork
	if hasPassword(c, body) || matches(s.hooks.prepare, c) {
		stored, err := s.store.Get(ctx, c, id)
		if err != nil && core.KindOf(err) != core.KindNotFound {
			return nil, err
		}
		if stored != nil {
			hashed = prehash(c, body)
			prep.Old = stored
			prep.Input = &Input{Values: map[string]any{}, Extra: map[string]any{}}
			if in, _ := s.readInput(c, stored, body, seesHidden(req, c)); in != nil {
				prep.Input, prep.Req = in, withBody(req, in.RuleBody())
			}
			if err := run(s.hooks.prepare, c, prep); err != nil {
				return nil, err
			}
		}
	}
	return func(tx store.Tx) (*core.Record, error) {
		old, err := tx.Get(ctx, c, id)
		if err != nil {
			if core.KindOf(err) == core.KindNotFound {
				return nil, service.ErrNotFound
			}
			return nil, err
		}
		if check != nil {
			if err := check(old); err != nil {
				return nil, err
			}
		}
		// The rules see the body resolved against the stored record; its
		// errors wait until the rule admitted the record, so a record the
		// caller may not change answers 404 whatever the body says.
		in, inputErr := s.readInput(c, old, body, seesHidden(req, c))
		if in == nil {
			return nil, inputErr
		}
		in.hashed = hashed
		w := &Write{Ctx: ctx, Tx: tx, Req: withBody(req, in.RuleBody()), Old: old, Input: in, memo: prep.memo}
		rule, err := s.svc.RuleSQL(c, c.UpdateRule, w.Req, true)
		if err != nil {
			return nil, err
		}
		if rule != nil {
			if _, err := s.svc.GetWhere(ctx, tx, c, id, rule); err != nil {
				return nil, err
			}
		}
		if inputErr != nil {
			return nil, inputErr
		}
		w.Record = old.Clone()
		if err := s.apply(w); err != nil {
			return nil, err
		}
		if err := s.checkRelations(ctx, tx, w.Record, old); err != nil {
			return nil, err
		}
		if err := run(s.hooks.write, c, w); err != nil {
			return nil, err
		}
		return w.Record, tx.Update(ctx, w.Record)
	}, nil
}

// Delete deletes a record the delete rule admits, and applies its
// relations' cascade: cascading relations delete their records, others
// drop the id, and a required relation that would be left empty refuses.
func (s *Service) Delete(ctx context.Context, req *service.Request, c *core.Collection, id string) error {
	_, err := again(s, ctx, c, func(c *core.Collection) (struct{}, error) {
		apply, err := s.prepareDelete(ctx, req, c, id)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, s.store.Update(ctx, apply)
	})
	return err
}

// prepareDelete refuses a locked delete rule and returns the part of a
// delete that runs in the transaction.
func (s *Service) prepareDelete(ctx context.Context, req *service.Request, c *core.Collection, id string) (func(store.Tx) error, error) {
	if req == nil {
		req = &service.Request{}
	}
	if c.IsView() {
		return nil, errViewReadOnly
	}
	if !req.Bypasses(c, true) && c.DeleteRule == nil {
		return nil, service.ErrSuperusersOnly
	}
	return func(tx store.Tx) error {
		rule, err := s.svc.RuleSQL(c, c.DeleteRule, req, true)
		if err != nil {
			return err
		}
		if _, err := s.svc.GetWhere(ctx, tx, c, id, rule); err != nil {
			return err
		}
		return s.deleteCascade(&Write{Ctx: ctx, Tx: tx, Req: req}, c, id, map[string]bool{})
	}, nil
}

const maxCascade = 10000

func (s *Service) deleteCascade(w *Write, c *core.Collection, id string, seen map[string]bool) error {
	ctx, tx := w.Ctx, w.Tx
	key := c.ID + "/" + id
	if seen[key] {
		return nil
	}
	seen[key] = true
	if len(seen) > maxCascade {
		return core.Invalid("Deleting this record would cascade to more than %d records.", maxCascade)
	}
	for _, oc := range s.svc.Collections() {
		if oc.IsView() {
			// A view's relations are its source tables': those are
			// cleared or cascaded, and the view follows. Writing the
			// view's rows would fail the delete.
			continue
		}
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
					if err := s.deleteCascade(w, oc, r.ID(), seen); err != nil {
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
			}
		}
	}
	if len(s.hooks.delete) > 0 {
		rec, err := tx.Get(ctx, c, id)
		if err != nil {
			return err
		}
		dw := &Write{Ctx: ctx, Tx: tx, Req: w.Req, Record: rec}
		if err := run(s.hooks.delete, c, dw); err != nil {
			return err
		}
	}
	return tx.Delete(ctx, c, id)
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
		target := s.svc.Schema().ByID(f.CollectionID)
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
