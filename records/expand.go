package records

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// MaxExpandDepth is how many relation hops one expand path may take.
const MaxExpandDepth = 6

// maxBackRelations caps the records one back-relation expand loads.
const maxBackRelations = 1000

// Limits of one expand beside its depth.
const (
	// MaxExpandRelations bounds the relations an expand names, counting
	// each distinct path prefix once (a,a.b,c is three): each is a query
	// of up to a thousand records, and the depth cap alone lets distinct
	// paths through a few relations name thousands. Thirty, as
	// filter.MaxJoins.
	MaxExpandRelations = 30
	// MaxExpandedRecords bounds the related records one expand leaves in
	// its records, each counted as often as it will be written: a record
	// is written under every parent that names it, so over records that
	// relate to one another an answer grows as the fan-out to the power
	// of the depth (8 records each linking to all 8, expanded 6 deep,
	// wrote 613 MB), while the queries behind it stay small. 50,000 leave
	// room for a full page of 1,000 records with a few relations of
	// several records each.
	MaxExpandedRecords = 50_000
)

type expandTree map[string]expandTree

// parseExpand reads "author,comments_via_post.user" into a tree of paths.
func parseExpand(param string) (expandTree, error) {
	tree := expandTree{}
	relations := 0
	for _, path := range strings.Split(param, ",") {
		path = strings.TrimSpace(path)
		if path == "" {
			continue
		}
		parts := strings.Split(path, ".")
		if len(parts) > MaxExpandDepth {
			return nil, core.FieldInvalid("expand", "validation_expand_depth",
				fmt.Sprintf("Expand %q goes deeper than %d levels.", path, MaxExpandDepth))
		}
		node := tree
		for _, p := range parts {
			if !core.ValidName(p) {
				return nil, core.FieldInvalid("expand", "validation_invalid_expand", fmt.Sprintf("Invalid expand path %q.", path))
			}
			if node[p] == nil {
				node[p] = expandTree{}
				if relations++; relations > MaxExpandRelations {
					return nil, core.FieldInvalid("expand", "validation_expand_too_wide",
						fmt.Sprintf("Expand names more than %d relations.", MaxExpandRelations))
				}
			}
			node = node[p]
		}
	}
	return tree, nil
}

// Expand loads the related records that the expand parameter names into
// each record's Expand, recursively. Related records the caller may not view
// (by their collection's view rule) are left out, as if absent.
func (s *Service) Expand(ctx context.Context, req *service.Request, recs []*core.Record, param string) error {
	left := MaxExpandedRecords
	return s.ExpandWithin(ctx, req, recs, param, &left)
}

// ExpandWithin is Expand drawing on a budget of related records shared
// with other expands (the items of one batch): *left is what remains of
// MaxExpandedRecords, and what this expand leaves in recs is taken from
// it. Past it, errExpandTooLarge.
func (s *Service) ExpandWithin(ctx context.Context, req *service.Request, recs []*core.Record, param string, left *int) error {
	if strings.TrimSpace(param) == "" || len(recs) == 0 {
		return nil
	}
	tree, err := parseExpand(param)
	if err != nil {
		return err
	}
	budget := *left
	if err := s.expandLevel(ctx, req, recs, tree, &budget); err != nil {
		return err
	}
	n := expandedRecords(recs, *left)
	if n > *left {
		return errExpandTooLarge()
	}
	*left -= n
	return nil
}

// CheckExpand tells whether param names only relations that req may
// expand from c, without reading any record: the errors Expand would give
// for the names, so that a write can refuse them before it commits.
func (s *Service) CheckExpand(req *service.Request, c *core.Collection, param string) error {
	_, err := s.ExpandCollections(req, c, param)
	return err
}

// ExpandCollections returns the collections param reaches from c, by
// forward relations and back-relations, each as often as a path reaches
// it, when the names are all relations req may expand (else CheckExpand's
// error, with what was reached before it): the collections whose view
// rules an expanded answer is read under.
func (s *Service) ExpandCollections(req *service.Request, c *core.Collection, param string) ([]*core.Collection, error) {
	if strings.TrimSpace(param) == "" {
		return nil, nil
	}
	tree, err := parseExpand(param)
	if err != nil {
		return nil, err
	}
	var out []*core.Collection
	err = s.checkLevel(req, c, tree, func(rc *core.Collection) { out = append(out, rc) })
	return out, err
}

func (s *Service) checkLevel(req *service.Request, c *core.Collection, tree expandTree, reached func(*core.Collection)) error {
	for key, sub := range tree {
		var next *core.Collection
		if f := c.Field(key); f != nil && f.Type == core.FieldRelation && (!f.Hidden || seesHidden(req, c)) {
			next = s.svc.Schema().ByID(f.CollectionID)
		} else if i := strings.Index(key, "_via_"); i > 0 {
			other, _, err := s.backRelation(req, c, key, key[:i], key[i+5:])
			if err != nil {
				return err
			}
			next = other
		} else {
			return errNotARelation(key, c)
		}
		if next == nil {
			continue // a relation to a collection since deleted: nothing to expand
		}
		reached(next)
		if len(sub) > 0 {
			if err := s.checkLevel(req, next, sub, reached); err != nil {
				return err
			}
		}
	}
	return nil
}

func errNotARelation(key string, c *core.Collection) error {
	return core.FieldInvalid("expand", "validation_invalid_expand",
		fmt.Sprintf("%q is not a relation field of %q.", key, c.Name))
}

// backRelation finds the collection and relation field a back-relation
// key "other_via_field" of c names, if req may expand it.
func (s *Service) backRelation(req *service.Request, c *core.Collection, key, colName, fieldName string) (*core.Collection, *core.Field, error) {
	other := s.svc.Schema().CollectionByNameOrID(colName)
	var f *core.Field
	if other != nil {
		f = other.Field(fieldName)
	}
	if f == nil || f.Type != core.FieldRelation || f.CollectionID != c.ID || f.Hidden && !seesHidden(req, other) {
		return nil, nil, core.FieldInvalid("expand", "validation_invalid_expand",
			fmt.Sprintf("%q is not a back-relation of %q.", key, c.Name))
	}
	return other, f, nil
}

func errExpandTooLarge() error {
	return core.FieldInvalid("expand", "validation_expand_too_large",
		fmt.Sprintf("Expand would answer with more than %d related records; expand fewer levels or list fewer records.", MaxExpandedRecords))
}

// expandedRecords counts the related records an encoder writes for recs,
// stopping at limit+1. Records shared by several parents are counted once
// per parent, as they are written, but each is visited once (memo), so
// the count costs what the expand loaded, not what would be written. A
// cycle, which no encoder could write, counts as over.
func expandedRecords(recs []*core.Record, limit int) int {
	memo := map[*core.Record]int{}
	var under func(r *core.Record) int
	under = func(r *core.Record) int {
		if n, ok := memo[r]; ok {
			return n
		}
		memo[r] = limit + 1 // in progress: a cycle is over
		n := 0
		add := func(c *core.Record) { n = min(n+1+under(c), limit+1) }
		for _, v := range r.Expand {
			switch x := v.(type) {
			case *core.Record:
				add(x)
			case []*core.Record:
				for _, c := range x {
					add(c)
				}
			}
		}
		memo[r] = n
		return n
	}
	total := 0
	for _, r := range recs {
		if total = min(total+under(r), limit+1); total > limit {
			break
		}
	}
	return total
}

// expandLevel expands tree's relations of recs and, under them, the
// levels below. *left counts down the related records still allowed to
// be loaded: each is written at least once, under a parent that names
// it, so an expand that loads more than MaxExpandedRecords would be
// refused at the end anyway, and is refused before it reads more.
func (s *Service) expandLevel(ctx context.Context, req *service.Request, recs []*core.Record, tree expandTree, left *int) error {
	if len(recs) == 0 {
		return nil
	}
	c := recs[0].Collection
	for key, sub := range tree {
		var loaded []*core.Record
		var err error
		// A hidden relation is no relation to those who may not see it,
		// as in filters: expanding it would show what it holds.
		if f := c.Field(key); f != nil && f.Type == core.FieldRelation && (!f.Hidden || seesHidden(req, c)) {
			loaded, err = s.expandForward(ctx, req, recs, f, *left)
		} else if i := strings.Index(key, "_via_"); i > 0 {
			loaded, err = s.expandBack(ctx, req, recs, key, key[:i], key[i+5:])
		} else {
			return errNotARelation(key, c)
		}
		if err != nil {
			return err
		}
		if *left -= len(loaded); *left < 0 {
			return errExpandTooLarge()
		}
		if len(sub) > 0 && len(loaded) > 0 {
			if err := s.expandLevel(ctx, req, loaded, sub, left); err != nil {
				return err
			}
		}
	}
	return nil
}

// viewable returns the records of c with the given ids that req may view.
func (s *Service) viewable(ctx context.Context, req *service.Request, c *core.Collection, where *store.SQL) ([]*core.Record, error) {
	rule, err := s.svc.RuleSQL(c, c.ViewRule, req, false)
	if err == service.ErrSuperusersOnly {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	res, err := s.store.Find(ctx, store.Query{Collection: c, Where: query.And(where, rule), Limit: maxBackRelations})
	if err != nil {
		return nil, err
	}
	return res.Records, nil
}

// expandForward loads the records f names in recs, those the caller may
// view. More than left ids is errExpandTooLarge, even if some would not
// be viewable: each is a lookup. The ids go to
// the database a thousand at a time, each query capped as viewable caps
// it, so every record is loaded however many the page names together and
// no statement nears SQLite's bound on variables.
func (s *Service) expandForward(ctx context.Context, req *service.Request, recs []*core.Record, f *core.Field, left int) ([]*core.Record, error) {
	target := s.svc.Schema().ByID(f.CollectionID)
	if target == nil {
		return nil, nil
	}
	var ids []string
	seen := map[string]bool{}
	for _, r := range recs {
		for _, id := range r.Strings(f.Name) {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > left {
		return nil, errExpandTooLarge()
	}
	var found []*core.Record
	for chunk := range slices.Chunk(ids, maxBackRelations) {
		part, err := s.viewable(ctx, req, target, query.In("id", chunk))
		if err != nil {
			return nil, err
		}
		found = append(found, part...)
	}
	byID := make(map[string]*core.Record, len(found))
	for _, r := range found {
		byID[r.ID()] = r
	}
	for _, r := range recs {
		if f.IsMultiple() {
			var list []*core.Record
			for _, id := range r.Strings(f.Name) {
				if t := byID[id]; t != nil {
					list = append(list, t)
				}
			}
			if len(list) > 0 {
				setExpand(r, f.Name, list)
			}
		} else if t := byID[r.String(f.Name)]; t != nil {
			setExpand(r, f.Name, t)
		}
	}
	return found, nil
}

func (s *Service) expandBack(ctx context.Context, req *service.Request, recs []*core.Record, key, colName, fieldName string) ([]*core.Record, error) {
	other, f, err := s.backRelation(req, recs[0].Collection, key, colName, fieldName)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID()
	}
	found, err := s.viewable(ctx, req, other, s.holding(f, ids...))
	if err != nil {
		return nil, err
	}
	byParent := map[string][]*core.Record{}
	for _, o := range found {
		for _, pid := range o.Strings(f.Name) {
			byParent[pid] = append(byParent[pid], o)
		}
	}
	for _, r := range recs {
		if list := byParent[r.ID()]; len(list) > 0 {
			setExpand(r, key, list)
		}
	}
	return found, nil
}

// setExpand stores related records on r; a record appearing under several
// parents gets its own copy of the Expand map, so nested expands stay apart.
func setExpand(r *core.Record, key string, v any) {
	if r.Expand == nil {
		r.Expand = map[string]any{}
	}
	r.Expand[key] = v
}
