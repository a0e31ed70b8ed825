package filter

import (
	"encoding/json"
	"slices"

	"github.com/tortoise-dev/tortoise/core"
)

// Eval reports whether rec, a record of env.Collection, matches e. It gives
// the same answer as the SQL that CompileExpr produces for the same env,
// run against a database holding the records data returns. data may be nil
// when e uses no relation, back-relation or @collection. Errors: KindInvalid
// for an expression that does not check, KindInternal from data.
func Eval(e *Expr, env *Env, rec *core.Record, data Loader) (bool, error) {
	p, err := check(e, env)
	if err != nil {
		return false, err
	}
	if rec == nil {
		return false, core.Internal(nil, "filter: nil record")
	}
	ev := &evaluator{main: rec, loader: data, c: &evalCache{}}
	return ev.node(p.root, binding{})
}

// binding holds the record chosen for each to-many source in scope; nil
// stands for "no record" (a LEFT JOIN's row of nulls).
type binding map[*source]*core.Record

// set binds s to r and returns a function that restores the previous state.
func (b binding) set(s *source, r *core.Record) func() {
	old, had := b[s]
	b[s] = r
	return func() {
		if had {
			b[s] = old
		} else {
			delete(b, s)
		}
	}
}

type evaluator struct {
	main   *core.Record
	loader Loader
	c      *evalCache
}

// evalCache holds what one Eval has loaded and decided, shared with the
// evaluators of related collections' listRules.
type evalCache struct {
	all     map[string][]*core.Record
	byID    map[string]map[string]*core.Record
	allowed map[*access]map[*core.Record]bool
}

// allowed reports whether r, a record of s's collection, passes s's
// access restriction (the collection's listRule, see "Access through
// relations"), evaluated with r as the rule's record.
func (ev *evaluator) allowed(s *source, r *core.Record) (bool, error) {
	a := s.access
	switch {
	case a == nil:
		return true, nil
	case a.deny:
		return false, nil
	}
	if ok, done := ev.c.allowed[a][r]; done {
		return ok, nil
	}
	sub := &evaluator{main: r, loader: ev.loader, c: ev.c}
	ok, err := sub.node(a.rule.root, binding{})
	if err != nil {
		return false, err
	}
	if ev.c.allowed == nil {
		ev.c.allowed = map[*access]map[*core.Record]bool{}
	}
	if ev.c.allowed[a] == nil {
		ev.c.allowed[a] = map[*core.Record]bool{}
	}
	ev.c.allowed[a][r] = ok
	return ok, nil
}

// visible keeps the records of rs that pass s's access restriction.
func (ev *evaluator) visible(s *source, rs []*core.Record) ([]*core.Record, error) {
	if s.access == nil {
		return rs, nil
	}
	var out []*core.Record
	for _, r := range rs {
		ok, err := ev.allowed(s, r)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// one returns r if it passes s's access restriction, else nil.
func (ev *evaluator) one(s *source, r *core.Record, err error) (*core.Record, error) {
	if r == nil || err != nil {
		return nil, err
	}
	ok, err := ev.allowed(s, r)
	if !ok || err != nil {
		return nil, err
	}
	return r, nil
}

func (ev *evaluator) records(c *core.Collection) ([]*core.Record, error) {
	if ev.c == nil {
		ev.c = &evalCache{}
	}
	if rs, ok := ev.c.all[c.Name]; ok {
		return rs, nil
	}
	if ev.loader == nil {
		return nil, core.Internal(nil, "filter: no loader to follow relations of %q", c.Name)
	}
	rs, err := ev.loader.Records(c)
	if err != nil {
		return nil, core.Wrap(core.KindInternal, err, "filter: load %q", c.Name)
	}
	if ev.c.all == nil {
		ev.c.all, ev.c.byID = map[string][]*core.Record{}, map[string]map[string]*core.Record{}
	}
	idx := make(map[string]*core.Record, len(rs))
	for _, r := range rs {
		idx[r.ID()] = r
	}
	ev.c.all[c.Name], ev.c.byID[c.Name] = rs, idx
	return rs, nil
}

func (ev *evaluator) lookup(c *core.Collection, id string) (*core.Record, error) {
	if id == "" {
		return nil, nil
	}
	if _, err := ev.records(c); err != nil {
		return nil, err
	}
	return ev.c.byID[c.Name][id], nil
}

// record returns the one record a single-valued source stands for, or nil.
func (ev *evaluator) record(s *source, b binding) (*core.Record, error) {
	switch {
	case s.kind == srcMain:
		return ev.main, nil
	case s.many:
		r, ok := b[s]
		if !ok {
			return nil, core.Internal(nil, "filter: unbound source %q", s.key)
		}
		return r, nil
	case s.kind == srcIDs:
		if len(s.ids) == 0 {
			return nil, nil
		}
		r, err := ev.lookup(s.coll, s.ids[0])
		return ev.one(s, r, err)
	}
	p, err := ev.record(s.parent, b)
	if p == nil || err != nil {
		return nil, err
	}
	r, err := ev.lookup(s.coll, p.String(s.field.Name))
	return ev.one(s, r, err)
}

// rows returns the records a to-many source yields in the current binding.
func (ev *evaluator) rows(s *source, b binding) ([]*core.Record, error) {
	var ids []string
	switch s.kind {
	case srcAll:
		rs, err := ev.records(s.coll)
		if err != nil {
			return nil, err
		}
		return ev.visible(s, rs)
	case srcIDs:
		ids = s.ids
	case srcRel, srcBack:
		p, err := ev.record(s.parent, b)
		if p == nil || err != nil {
			return nil, err
		}
		if s.kind == srcBack {
			all, err := ev.records(s.coll)
			if err != nil {
				return nil, err
			}
			var out []*core.Record
			for _, r := range all {
				if slices.Contains(r.Strings(s.field.Name), p.ID()) {
					out = append(out, r)
				}
			}
			return ev.visible(s, out)
		}
		ids = p.Strings(s.field.Name)
	}
	var out []*core.Record
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		r, err := ev.lookup(s.coll, id)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return ev.visible(s, out)
}

func (ev *evaluator) node(n *node, b binding) (bool, error) {
	return ev.bindFrom(n, b, 0)
}

// bindFrom chooses a record for each of n's shared sources in turn: n holds
// if it holds for some choice. A source without records gets nil.
func (ev *evaluator) bindFrom(n *node, b binding, i int) (bool, error) {
	if i == len(n.binds) {
		return ev.inner(n, b)
	}
	s := n.binds[i]
	rows, err := ev.rows(s, b)
	if err != nil {
		return false, err
	}
	if len(rows) == 0 {
		rows = []*core.Record{nil}
	}
	for _, r := range rows {
		undo := b.set(s, r)
		ok, err := ev.bindFrom(n, b, i+1)
		undo()
		if ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

func (ev *evaluator) inner(n *node, b binding) (bool, error) {
	switch n.kind {
	case nTrue:
		return true, nil
	case nFalse:
		return false, nil
	case nCmp:
		return ev.cmp(n.cmp, b)
	}
	for _, k := range n.kids {
		ok, err := ev.node(k, b)
		if err != nil {
			return false, err
		}
		if n.kind == nOr && ok {
			return true, nil
		}
		if n.kind == nAnd && !ok {
			return false, nil
		}
	}
	return n.kind == nAnd, nil
}

func (ev *evaluator) cmp(c *cmpNode, b binding) (bool, error) {
	if b == nil {
		b = binding{}
	}
	srcs, forall, exists := c.quantifiers()
	elems := map[*operand]any{}
	pred := func() (bool, error) {
		l, err := ev.value(c.l, c.t, b, elems)
		if err != nil {
			return false, err
		}
		r, err := ev.value(c.r, c.t, b, elems)
		if err != nil {
			return false, err
		}
		if !compare(c, l, r) {
			return false, nil
		}
		for _, o := range []*operand{c.l, c.r} {
			if o.emailGuard {
				if ok, err := ev.emailVisible(o, b); !ok || err != nil {
					return false, err
				}
			}
		}
		return true, nil
	}
	inner := func() (bool, error) { return ev.overLists(exists, 0, b, elems, false, pred) }
	return ev.overSources(srcs, 0, b, func() (bool, error) {
		return ev.overLists(forall, 0, b, elems, true, inner)
	})
}

// overSources requires fn to hold for every combination of records of srcs.
func (ev *evaluator) overSources(srcs []*source, i int, b binding, fn func() (bool, error)) (bool, error) {
	if i == len(srcs) {
		return fn()
	}
	rows, err := ev.rows(srcs[i], b)
	if err != nil {
		return false, err
	}
	if len(rows) == 0 {
		rows = []*core.Record{nil}
	}
	for _, r := range rows {
		undo := b.set(srcs[i], r)
		ok, err := ev.overSources(srcs, i+1, b, fn)
		undo()
		if !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// overLists requires fn to hold for every (all) or some (!all) combination
// of the lists' elements; an empty list has the single element nil.
func (ev *evaluator) overLists(lists []*operand, i int, b binding, elems map[*operand]any, all bool, fn func() (bool, error)) (bool, error) {
	if i == len(lists) {
		return fn()
	}
	o := lists[i]
	items, err := ev.items(o, b)
	if err != nil {
		return false, err
	}
	if len(items) == 0 {
		items = []any{nil}
	}
	for _, it := range items {
		elems[o] = it
		ok, err := ev.overLists(lists, i+1, b, elems, all, fn)
		if err != nil {
			return false, err
		}
		if ok != all {
			return ok, nil
		}
	}
	return all, nil
}

// items returns the elements of a list operand.
func (ev *evaluator) items(o *operand, b binding) ([]any, error) {
	if o.kind == opConst {
		return o.vals, nil
	}
	r, err := ev.record(o.src, b)
	if r == nil || err != nil {
		return nil, err
	}
	if o.leaves {
		return jsonLeaves(jsonAt(fieldValue(r, o.field), o.path), nil), nil
	}
	var out []any
	for _, s := range r.Strings(o.field.Name) {
		out = append(out, s)
	}
	return out, nil
}

// jsonLeaves appends the scalars of a decoded JSON value, at any depth, to
// out: strings, numbers, bools and nulls (nil), in no particular order.
// Empty objects and arrays add nothing.
func jsonLeaves(v any, out []any) []any {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			out = jsonLeaves(e, out)
		}
	case []any:
		for _, e := range x {
			out = jsonLeaves(e, out)
		}
	default:
		out = append(out, x)
	}
	return out
}

// value returns an operand's value in the comparison type t, as
// sqlgen.value computes it: a value of another type as its text, a
// missing one as t's zero value.
func (ev *evaluator) value(o *operand, t ctype, b binding, elems map[*operand]any) (any, error) {
	var raw any
	switch o.kind {
	case opConst:
		if o.list {
			return elems[o], nil
		}
		return o.vals[0], nil
	case opLength:
		r, err := ev.record(o.src, b)
		if err != nil {
			return nil, err
		}
		raw = float64(0)
		if r != nil {
			raw = float64(len(r.Strings(o.field.Name)))
		}
	case opChanged:
		raw = changed(o, ev.main)
	case opGeo:
		var xs [4]float64
		for i, a := range o.args {
			v, err := ev.value(a, cNumber, b, elems)
			if err != nil {
				return nil, err
			}
			xs[i] = v.(float64)
		}
		raw = geoDistance(xs[0], xs[1], xs[2], xs[3])
	default:
		if o.list {
			raw = elems[o] // an item: text, or a json leaf's own value
		} else {
			r, err := ev.record(o.src, b)
			if err != nil {
				return nil, err
			}
			raw = fieldValue(r, o.field)
		}
		if isJSON(o.field) && !o.leaves {
			v := jsonAt(raw, o.path)
			if o.jnull {
				return v == nil, nil
			}
			if typeOfValue(v) != vtypeOfC(ownType(o, t)) {
				v = nil
			}
			raw = v
		}
	}
	if raw == nil {
		return coerce(nil, t), nil // t's zero
	}
	v := coerce(raw, t) // from the operand's own type, to text if it differs
	if o.lower {
		v = asciiLower(v.(string))
	}
	return v, nil
}

// emailVisible reports whether the email o reads is visible to the caller:
// the record exists and has emailVisibility on, or is the caller's own.
func (ev *evaluator) emailVisible(o *operand, b binding) (bool, error) {
	r, err := ev.record(o.src, b)
	if r == nil || err != nil {
		return false, err
	}
	if f := o.src.coll.Field(emailVisibilityField); f != nil && f.Type == core.FieldBool && r.Data[f.Name] == true {
		return true, nil
	}
	return o.ownID != "" && r.ID() == o.ownID, nil
}

func vtypeOfC(t ctype) vtype {
	switch t {
	case cNumber:
		return vNumber
	case cBool:
		return vBool
	}
	return vString
}

// fieldValue reads a field of r; nil for no record.
func fieldValue(r *core.Record, f *core.Field) any {
	if r == nil {
		return nil
	}
	if f.Name == "id" {
		return r.ID()
	}
	return r.Data[f.Name]
}

// jsonAt decodes a json field value and follows path; nil when missing.
func jsonAt(raw any, path []string) any {
	var v any
	switch x := raw.(type) {
	case nil:
	case json.RawMessage:
		if json.Unmarshal(x, &v) != nil {
			v = nil
		}
	case []byte:
		if json.Unmarshal(x, &v) != nil {
			v = nil
		}
	default:
		// Already decoded: round-trip to get JSON's own types.
		if json.Unmarshal([]byte(jsonText(x)), &v) != nil {
			v = nil
		}
	}
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// changed reports whether the body value of a :changed operand differs
// from the record's stored value.
func changed(o *operand, rec *core.Record) bool {
	if o.field.IsMultiple() {
		return !slices.Equal(rec.Strings(o.field.Name), o.chVals)
	}
	return coerce(fieldValue(rec, o.field), ctypeOf(fieldVType(o.field))) != o.chVal
}

// compare applies a comparison to two values already in its type.
func compare(c *cmpNode, l, r any) bool {
	switch c.op {
	case "~":
		return likeMatch(l.(string), likePatternFor(c, r.(string)))
	case "!~":
		return !likeMatch(l.(string), likePatternFor(c, r.(string)))
	}
	var k int
	switch c.t {
	case cNumber:
		x, y := l.(float64), r.(float64)
		switch {
		case x < y:
			k = -1
		case x > y:
			k = 1
		}
	case cBool:
		if l.(bool) != r.(bool) {
			k = 1
		}
	default:
		x, y := l.(string), r.(string)
		switch {
		case x < y:
			k = -1
		case x > y:
			k = 1
		}
	}
	switch c.op {
	case "=":
		return k == 0
	case "!=":
		return k != 0
	case ">":
		return k > 0
	case ">=":
		return k >= 0
	case "<":
		return k < 0
	}
	return k <= 0 // "<="
}

// likePatternFor returns the LIKE pattern for the right operand of ~: a
// constant was made a pattern when checked (see likeConstPattern); any
// other value is searched for as a substring.
func likePatternFor(c *cmpNode, r string) string {
	if c.r.kind == opConst {
		return r
	}
	return "%" + likeEscape(r) + "%"
}
