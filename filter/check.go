package filter

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
)

// vtype is the static type of one value of an operand.
type vtype uint8

const (
	vNull vtype = iota
	vString
	vNumber
	vBool
	vJSON // a json field: the type of its value is known only per row
)

func (t vtype) String() string {
	switch t {
	case vString:
		return "text"
	case vNumber:
		return "number"
	case vBool:
		return "bool"
	case vJSON:
		return "json"
	}
	return "null"
}

// ctype is the type a comparison is carried out in: both operands are
// converted to it, null becoming its zero value.
type ctype uint8

const (
	cText ctype = iota
	cNumber
	cBool
)

// srcKind tells how the records of a source are found.
type srcKind uint8

const (
	srcMain srcKind = iota // the filtered record itself
	srcRel                 // the records a relation field of the parent points at
	srcBack                // the records of coll whose relation field points at the parent
	srcAll                 // every record of coll (@collection)
	srcIDs                 // the records with the given ids (relations of @request.auth)
)

// source is a set of records an identifier reaches: the main record, or a
// hop along a relation. Sources are interned by key, so the same path
// written twice is the same source (see "Shared rows" in the package doc).
type source struct {
	key    string
	kind   srcKind
	coll   *core.Collection
	many   bool // may yield several records (a to-many hop)
	parent *source
	field  *core.Field // srcRel: relation field of parent; srcBack: relation field of coll
	ids    []string    // srcIDs
	depth  int
	// access restricts the records of another collection a client filter
	// reaches to those the collection's listRule lets the caller list;
	// nil means no restriction. See "Access through relations".
	access *access
}

// access is a related collection's listRule, checked for its records.
type access struct {
	deny bool  // a locked (nil) listRule, or one that can never hold
	rule *plan // otherwise the rule, whose main source is the related record
}

type opKind uint8

const (
	opConst   opKind = iota
	opField          // a field of a source's record
	opLength         // the number of items of a multiple field
	opChanged        // @request.body.f:changed
	opGeo            // geoDistance(lonA, latA, lonB, latB) over args
)

// operand is a resolved term.
type operand struct {
	kind   opKind
	name   string // as written, for messages
	pos    int
	vt     vtype
	coerce bool // a request value or parameter: converted to the comparison type

	vals []any // opConst: its values (string, float64, bool or nil)
	list bool  // the operand yields a list to quantify over (multiple field, array value)

	src   *source
	field *core.Field
	path  []string // the JSON path inside a json (or geoPoint) field
	sub   bool     // path names a typed part of the value (core.Subfields: a geoPoint's lon), in vt
	// leaves: a json value under ~, read as the list of its scalar values
	// (strings, numbers, bools and nulls at any depth), each as text.
	leaves bool

	args []*operand // opGeo: lonA, latA, lonB, latB, each a single number

	// emailGuard: the email field of an auth collection read by a client
	// filter; the comparison holds only where the record's email is
	// visible (emailVisibility, or the caller's own record: ownID).
	emailGuard bool
	ownID      string

	lower  bool // :lower
	each   bool // :each
	stored bool // list is a record's multiple field (select, file, relation) or json leaves, not request data
	jnull  bool // a json value compared with null: the value is "is null"

	chVals []string // opChanged on a multiple field: the body list
	chVal  any      // opChanged on a single field: the body value in the field's type
}

// cmpNode is a checked comparison.
type cmpNode struct {
	op   string // = != > >= < <= ~ !~
	any  bool
	l, r *operand
	t    ctype
}

// quantifiers splits what a comparison ranges over: the to-many sources
// and the lists every combination of which must satisfy it, and the lists
// of which some element must (chosen inside the "every" ones). The SQL
// generator and the evaluator both follow it; see "Lists and to-many
// paths" in the package doc:
//
//   - a ? operator: the sources are bound elsewhere (assignBinds) and every
//     list, :each or not, is "some";
//   - a plain operator: every source and every list is "every", except the
//     own values of a multiple field under ~ without :each, which are
//     "some" (labels ~ 'a' is "some label contains a", as PocketBase's LIKE
//     over the stored JSON text).
func (c *cmpNode) quantifiers() (forallSrc []*source, forall, exists []*operand) {
	if !c.any {
		forallSrc = c.sources()
	}
	for _, o := range []*operand{c.l, c.r} {
		switch {
		case !o.list:
		case c.any, c.op == "~" && o.stored && !o.each:
			exists = append(exists, o)
		default:
			forall = append(forall, o)
		}
	}
	return forallSrc, forall, exists
}

type nodeKind uint8

const (
	nTrue nodeKind = iota
	nFalse
	nAnd
	nOr
	nCmp
)

// node is a checked expression.
type node struct {
	kind  nodeKind
	kids  []*node
	cmp   *cmpNode
	binds []*source // shared to-many sources quantified (exists) at this node, parents first
}

// plan is a checked expression ready for SQL generation or evaluation.
type plan struct {
	root  *node
	env   *Env
	main  *source
	joins int // related tables reached, rules of related collections included
	colls int // @collection sources, rules of related collections included
}

type checker struct {
	env     *Env
	now     time.Time
	sources map[string]*source
	main    *source
	rules   map[string]*access // listRule access per related collection id
	joins   int                // tables joined by those rules
	colls   int                // @collection sources of those rules
}

// errUnknown is the error for a name that does not resolve, or that the
// caller may not see: one message for both, so it is not an oracle.
func errUnknown(pos int, name string) error {
	return parseError(pos, "unknown field %q", name)
}

func check(e *Expr, env *Env) (*plan, error) {
	if env == nil || env.Collection == nil {
		return nil, core.Internal(nil, "filter: no collection in env")
	}
	if e == nil {
		return nil, core.Internal(nil, "filter: nil expression")
	}
	c := &checker{env: env, now: env.Now, sources: map[string]*source{}}
	if c.now.IsZero() {
		c.now = time.Now()
	}
	c.now = c.now.UTC()
	c.main = &source{kind: srcMain, coll: env.Collection}
	root, err := c.expr(e)
	if err != nil {
		return nil, err
	}
	joins := len(c.sources) + c.joins
	if joins > MaxJoins {
		return nil, core.Invalid("invalid filter: more than %d relations joined", MaxJoins)
	}
	colls := c.colls
	for _, s := range c.sources {
		if s.kind == srcAll {
			colls++
		}
	}
	if colls > MaxCollections {
		return nil, core.Invalid("invalid filter: more than %d @collection sources (each alias counts, as do those of the listRules of the collections it reaches)", MaxCollections)
	}
	assignBinds(root)
	return &plan{root: root, env: env, main: c.main, joins: joins, colls: colls}, nil
}

// accessTo returns the restriction on the records of coll that a client
// filter reaches through a relation, a back-relation or @collection: its
// listRule, checked with the same request (so @request.auth is the
// caller) and with AllowHidden, since rules are trusted. Rules are
// compiled with AllowHidden, so they never restrict further and cannot
// recurse. A rule that does not check locks the collection (fail closed).
func (c *checker) accessTo(coll *core.Collection) *access {
	if c.env.AllowHidden {
		return nil
	}
	if a, ok := c.rules[coll.ID]; ok {
		return a
	}
	if c.rules == nil {
		c.rules = map[string]*access{}
	}
	a := c.compileRule(coll)
	if a != nil && a.rule != nil {
		c.joins += a.rule.joins
		c.colls += a.rule.colls
	}
	c.rules[coll.ID] = a
	return a
}

func (c *checker) compileRule(coll *core.Collection) *access {
	if coll.ListRule == nil {
		return &access{deny: true}
	}
	if strings.TrimSpace(*coll.ListRule) == "" {
		return nil
	}
	e, err := Parse(*coll.ListRule)
	if err != nil {
		return &access{deny: true}
	}
	env := &Env{Schema: c.env.Schema, Collection: coll, Request: c.env.Request, Now: c.now, AllowHidden: true}
	p, err := check(e, env)
	if err != nil {
		return &access{deny: true}
	}
	switch p.root.kind {
	case nTrue:
		return nil
	case nFalse:
		return &access{deny: true}
	}
	return &access{rule: p}
}

func (c *checker) expr(e *Expr) (*node, error) {
	switch {
	case e.empty:
		return &node{kind: nTrue}, nil
	case e.cmp != nil:
		return c.comparison(e.cmp)
	}
	kind, list := nAnd, e.and
	if e.or != nil {
		kind, list = nOr, e.or
	}
	n := &node{kind: kind}
	for _, k := range list {
		kn, err := c.expr(k)
		if err != nil {
			return nil, err
		}
		// Fold constants so that request-only conditions cost no SQL.
		switch {
		case kn.kind == nTrue && kind == nOr, kn.kind == nFalse && kind == nAnd:
			return kn, nil
		case kn.kind == nTrue || kn.kind == nFalse:
			continue
		}
		n.kids = append(n.kids, kn)
	}
	switch len(n.kids) {
	case 0:
		if kind == nAnd {
			return &node{kind: nTrue}, nil
		}
		return &node{kind: nFalse}, nil
	case 1:
		return n.kids[0], nil
	}
	return n, nil
}

// ---- comparisons ----

func (c *checker) comparison(x *comparison) (*node, error) {
	l, err := c.operand(x.left)
	if err != nil {
		return nil, err
	}
	r, err := c.operand(x.right)
	if err != nil {
		return nil, err
	}
	cn := &cmpNode{op: x.op, any: x.any, l: l, r: r}
	opName := x.op
	if x.any {
		opName = "?" + opName
	}
	lt, rt := l.dynType(), r.dynType()
	// geoDistance yields one value per record even when its arguments come
	// through a to-many relation: the comparison holds for some of them.
	if l.kind == opGeo && len(l.manySources()) > 0 || r.kind == opGeo && len(r.manySources()) > 0 {
		cn.any = true
	}
	if x.op == "~" || x.op == "!~" {
		// Any value compares as its text (see "Text search" in the package
		// doc); a json value as the list of its scalar values.
		for _, o := range []*operand{l, r} {
			if o.kind == opField && o.vt == vJSON {
				o.list, o.stored, o.leaves = true, true, true
			}
		}
		cn.t = cText
	} else {
		switch {
		case lt == vJSON && rt == vJSON:
			return nil, parseError(x.pos, "cannot compare two json values (%s and %s)", l.name, r.name)
		case lt == vJSON || rt == vJSON:
			j, o := l, r
			ot := rt
			if rt == vJSON {
				j, o, ot = r, l, lt
			}
			if ot == vNull {
				// json = null asks whether the value is missing or JSON null.
				j.jnull = true
				o.vals, o.list, o.vt, o.coerce = []any{true}, false, vBool, false
				o.kind = opConst
				cn.t = cBool
			} else {
				cn.t = ctypeOf(ot)
			}
		case lt == vNull && rt == vNull:
			cn.t = cText
		case lt == vNull:
			cn.t = ctypeOf(rt)
		case rt == vNull, lt == rt:
			cn.t = ctypeOf(lt)
		case l.coerce && !r.coerce:
			cn.t = ctypeOf(rt)
		case r.coerce && !l.coerce:
			cn.t = ctypeOf(lt)
		case l.coerce && r.coerce:
			cn.t = cText
		case lt == vBool && rt == vNumber && r.isZeroOne(), rt == vBool && lt == vNumber && l.isZeroOne():
			cn.t = cBool
		default:
			return nil, parseError(x.pos, "cannot compare %s (%s) with %s (%s)", l.name, lt, r.name, rt)
		}
		if cn.t == cBool && x.op != "=" && x.op != "!=" {
			return nil, parseError(x.pos, "operator %s cannot compare bool values", opName)
		}
	}
	// Constants take the comparison's type now, so every evaluator sees
	// the same values.
	for _, o := range []*operand{l, r} {
		if o.kind == opConst {
			for i, v := range o.vals {
				o.vals[i] = coerce(v, cn.t)
			}
		}
	}
	if (x.op == "~" || x.op == "!~") && r.kind == opConst {
		for i, v := range r.vals {
			r.vals[i] = asciiLower(likeConstPattern(v.(string)))
		}
	}
	n := &node{kind: nCmp, cmp: cn}
	if l.kind == opConst && r.kind == opConst {
		ok, err := (&evaluator{}).cmp(cn, nil)
		if err != nil {
			return nil, err
		}
		if ok {
			return &node{kind: nTrue}, nil
		}
		return &node{kind: nFalse}, nil
	}
	return n, nil
}

// dynType is the type that decides the comparison type: the static type,
// or for a request value the type of what it holds.
func (o *operand) dynType() vtype {
	if o.kind != opConst || !o.coerce {
		return o.vt
	}
	for _, v := range o.vals {
		if t := typeOfValue(v); t != vNull {
			return t
		}
	}
	return vNull
}

func (o *operand) isZeroOne() bool {
	if o.kind != opConst || len(o.vals) != 1 {
		return false
	}
	f, ok := o.vals[0].(float64)
	return ok && (f == 0 || f == 1)
}

func ctypeOf(t vtype) ctype {
	switch t {
	case vNumber:
		return cNumber
	case vBool:
		return cBool
	}
	return cText
}

func typeOfValue(v any) vtype {
	switch v.(type) {
	case string:
		return vString
	case float64:
		return vNumber
	case bool:
		return vBool
	}
	return vNull
}

// coerce converts a constant to the comparison type; null becomes the
// type's zero value.
func coerce(v any, t ctype) any {
	if f, ok := toFloat(v); ok {
		v = f
	}
	switch t {
	case cNumber:
		switch x := v.(type) {
		case float64:
			return x
		case bool:
			if x {
				return float64(1)
			}
			return float64(0)
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return float64(0)
			}
			return f
		}
		return float64(0)
	case cBool:
		switch x := v.(type) {
		case bool:
			return x
		case float64:
			return x != 0
		case string:
			b, _ := strconv.ParseBool(strings.TrimSpace(x))
			return b
		}
		return false
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return core.FormatNumber(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// ---- operands ----

func constOp(t term, vt vtype, v any) *operand {
	return &operand{kind: opConst, name: t.String(), pos: t.pos, vt: vt, vals: []any{v}}
}

func (c *checker) operand(t term) (*operand, error) {
	switch t.kind {
	case termString:
		return constOp(t, vString, t.text), nil
	case termNumber:
		return constOp(t, vNumber, t.num), nil
	case termBool:
		return constOp(t, vBool, t.b), nil
	case termNull:
		return constOp(t, vNull, nil), nil
	case termPlaceholder:
		v, ok := c.env.Params[t.text]
		if !ok {
			return nil, parseError(t.pos, "no value for placeholder {:%s}", t.text)
		}
		return dynConst(t, v), nil
	case termCall:
		return c.call(t)
	}
	return c.ident(t)
}

// call resolves a function call. The one function is geoDistance(lonA,
// latA, lonB, latB): the great-circle distance in kilometres between two
// points given in degrees (see "geoDistance" in the package doc).
func (c *checker) call(t term) (*operand, error) {
	if t.text != "geoDistance" {
		return nil, parseError(t.pos, "unknown function %q", t.text)
	}
	if len(t.args) != 4 {
		return nil, parseError(t.pos, "geoDistance needs 4 arguments (lonA, latA, lonB, latB), got %d", len(t.args))
	}
	o := &operand{kind: opGeo, name: t.String(), pos: t.pos, vt: vNumber}
	consts := true
	for i, at := range t.args {
		a, err := c.operand(at)
		if err != nil {
			return nil, err
		}
		if a.list {
			return nil, parseError(at.pos, "argument %d of geoDistance (%s) must be a single number, not a list", i+1, a.name)
		}
		switch vt := a.dynType(); {
		case vt == vNumber, vt == vNull, vt == vJSON:
		case a.coerce:
		default:
			return nil, parseError(at.pos, "argument %d of geoDistance (%s) must be a number, it is %s", i+1, a.name, vt)
		}
		if a.kind == opConst {
			a.vals[0] = coerce(a.vals[0], cNumber)
		} else {
			consts = false
		}
		o.args = append(o.args, a)
	}
	if consts {
		// Known now: fold, so a comparison of constants is decided here.
		return constOp(t, vNumber, geoDistance(o.args[0].vals[0].(float64), o.args[1].vals[0].(float64),
			o.args[2].vals[0].(float64), o.args[3].vals[0].(float64))), nil
	}
	return o, nil
}

// earthKm is the Earth's mean radius in kilometres (IUGG), and degree one
// degree in radians; the SQL uses the same constants.
const (
	earthKm = 6371
	degree  = 0.017453292519943295
	// geoClamp bounds every geoDistance argument, so that no difference of
	// two of them overflows to infinity, on which PostgreSQL's sin fails.
	geoClamp = 1e300
)

// geoDistance is the haversine distance in kilometres between (lonA,
// latA) and (lonB, latB), rounded to the millimetre, computed in the same
// steps as the SQL (each product rounded on its own, never fused). The
// engines' math libraries (Go's, SQLite's, PostgreSQL's C library) differ
// in the last bits of sin, cos and asin; the rounding hides that, so they
// give the same number unless the exact distance lies within a few
// 1e-12 km of half a millimetre.
func geoDistance(lonA, latA, lonB, latB float64) float64 {
	cl := func(x float64) float64 { return math.Max(-geoClamp, math.Min(geoClamp, x)) }
	lonA, latA, lonB, latB = cl(lonA), cl(latA), cl(lonB), cl(latB)
	dLat := float64(float64(latB-latA)*degree) / 2
	dLon := float64(float64(lonB-lonA)*degree) / 2
	cosA := math.Cos(float64(latA * degree))
	cosB := math.Cos(float64(latB * degree))
	h := float64(math.Pow(math.Sin(dLat), 2)) + float64(float64(cosA*cosB)*math.Pow(math.Sin(dLon), 2))
	h = math.Max(0, math.Min(1, h))
	d := float64(2*earthKm) * math.Asin(math.Sqrt(h))
	return math.Floor(float64(d*1e6)+0.5) / 1e6
}

// dynConst makes an operand of a value known only at run time (request
// data, parameters): its type comes from the value.
func dynConst(t term, v any) *operand {
	vals, list := normalize(v)
	o := &operand{kind: opConst, name: t.String(), pos: t.pos, vals: vals, list: list, coerce: true}
	o.vt = o.dynType()
	if list && len(vals) == 0 {
		// An empty list behaves as null: see "Null and empty values".
		o.vals, o.list = []any{nil}, false
	}
	return o
}

// normalize turns a Go value into the evaluator's domain: nil, string,
// float64, bool, or a list of those. Other values become their JSON text.
func normalize(v any) (vals []any, list bool) {
	switch x := v.(type) {
	case nil:
		return []any{nil}, false
	case string, bool, float64:
		return []any{x}, false
	case json.RawMessage:
		var a any
		if json.Unmarshal(x, &a) != nil {
			return []any{string(x)}, false
		}
		return normalize(a)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			ev, elist := normalize(e)
			if elist {
				ev = []any{jsonText(e)}
			}
			out = append(out, ev...)
		}
		return out, true
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return []any{x.String()}, false
		}
		return []any{f}, false
	case time.Time:
		return []any{core.FormatTime(x)}, false
	case fmt.Stringer:
		return []any{x.String()}, false
	}
	if f, ok := toFloat(v); ok {
		return []any{f}, false
	}
	return []any{jsonText(v)}, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	}
	return 0, false
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

var macroNames = map[string]bool{
	"@now": true, "@second": true, "@minute": true, "@hour": true, "@weekday": true, "@day": true,
	"@month": true, "@year": true, "@yesterday": true, "@tomorrow": true, "@todayStart": true,
	"@todayEnd": true, "@monthStart": true, "@monthEnd": true, "@yearStart": true, "@yearEnd": true,
}

func (c *checker) macro(t term) *operand {
	n := c.now
	day := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
	month := time.Date(n.Year(), n.Month(), 1, 0, 0, 0, 0, time.UTC)
	year := time.Date(n.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Millisecond
	date := func(tm time.Time) *operand { return constOp(t, vString, core.FormatTime(tm)) }
	num := func(i int) *operand { return constOp(t, vNumber, float64(i)) }
	switch t.text {
	case "@now":
		return date(n)
	case "@second":
		return num(n.Second())
	case "@minute":
		return num(n.Minute())
	case "@hour":
		return num(n.Hour())
	case "@weekday":
		return num(int(n.Weekday()))
	case "@day":
		return num(n.Day())
	case "@month":
		return num(int(n.Month()))
	case "@year":
		return num(n.Year())
	case "@yesterday":
		return date(n.AddDate(0, 0, -1))
	case "@tomorrow":
		return date(n.AddDate(0, 0, 1))
	case "@todayStart":
		return date(day)
	case "@todayEnd":
		return date(day.AddDate(0, 0, 1).Add(-last))
	case "@monthStart":
		return date(month)
	case "@monthEnd":
		return date(month.AddDate(0, 1, 0).Add(-last))
	case "@yearStart":
		return date(year)
	}
	return date(year.AddDate(1, 0, 0).Add(-last)) // @yearEnd
}

// ident resolves an identifier: a field path, a macro, @request.* or
// @collection.*, with an optional :modifier on its last segment.
func (c *checker) ident(t term) (*operand, error) {
	name := t.text
	segs := strings.Split(name, ".")
	mod := ""
	lastSeg := segs[len(segs)-1]
	if i := strings.IndexByte(lastSeg, ':'); i >= 0 && !(len(segs) == 2 && segs[0] == "@collection") {
		mod, segs[len(segs)-1] = lastSeg[i+1:], lastSeg[:i]
	}
	for i, s := range segs {
		if s == "" {
			return nil, parseError(t.pos, "invalid identifier %q", name)
		}
		isAlias := i == 1 && segs[0] == "@collection"
		if strings.IndexByte(s, ':') >= 0 && !isAlias {
			return nil, parseError(t.pos, "invalid identifier %q", name)
		}
		if i > 0 && strings.IndexByte(s, '@') >= 0 {
			return nil, parseError(t.pos, "invalid identifier %q", name)
		}
	}
	switch mod {
	case "", "isset", "changed", "length", "each", "lower":
	default:
		return nil, parseError(t.pos, "unknown modifier :%s in %q", mod, name)
	}
	if macroNames[segs[0]] {
		if len(segs) > 1 || mod != "" {
			return nil, parseError(t.pos, "invalid identifier %q", name)
		}
		return c.macro(t), nil
	}
	switch segs[0] {
	case "@request":
		return c.request(t, segs[1:], mod)
	case "@collection":
		if len(segs) < 3 {
			return nil, parseError(t.pos, "@collection needs a collection and a field, as in @collection.users.name")
		}
		collName, alias, _ := strings.Cut(segs[1], ":")
		if strings.Contains(alias, ":") || (alias != "" && !core.ValidName(alias)) {
			return nil, parseError(t.pos, "invalid identifier %q", name)
		}
		coll := c.collection(collName)
		if coll == nil {
			return nil, parseError(t.pos, "unknown collection %q", collName)
		}
		src := c.source("@collection."+segs[1], func() *source {
			return &source{kind: srcAll, coll: coll, many: true}
		})
		return c.path(t, src, "@collection."+segs[1], segs[2:], mod)
	}
	if strings.HasPrefix(segs[0], "@") {
		return nil, parseError(t.pos, "unknown identifier %q", segs[0])
	}
	return c.path(t, c.main, "", segs, mod)
}

func (c *checker) collection(nameOrID string) *core.Collection {
	if c.env.Schema == nil {
		return nil
	}
	coll := c.env.Schema.CollectionByNameOrID(nameOrID)
	if coll == nil || !core.ValidName(coll.Name) {
		return nil
	}
	// System collections (superusers, auth data) are off limits to client
	// filters, like hidden fields.
	if core.IsSystemName(coll.Name) && !c.env.AllowHidden {
		return nil
	}
	return coll
}

// source interns a source by key.
func (c *checker) source(key string, mk func() *source) *source {
	if s, ok := c.sources[key]; ok {
		return s
	}
	s := mk()
	s.key = key
	if s.parent != nil {
		s.depth = s.parent.depth + 1
	}
	// Records of another collection (not the authenticated record itself,
	// a srcIDs source without a field) are subject to their listRule.
	if s.kind != srcMain && (s.kind != srcIDs || s.field != nil) {
		s.access = c.accessTo(s.coll)
	}
	c.sources[key] = s
	return s
}

// The email field of auth collections and the flag that makes it public.
const (
	emailField           = "email"
	emailVisibilityField = "emailVisibility"
)

var idField = &core.Field{Name: "id", Type: core.FieldText, PrimaryKey: true, System: true}

// field finds a field the caller may use; hidden fields count as unknown.
func (c *checker) field(coll *core.Collection, name string) *core.Field {
	f := coll.Field(name)
	if f == nil {
		if name == "id" {
			return idField
		}
		return nil
	}
	if !core.ValidName(f.Name) || !core.KnownFieldType(f.Type) {
		return nil
	}
	if (f.Hidden || f.Def().Secret()) && !c.env.AllowHidden {
		return nil
	}
	return f
}

// backRelation resolves "coll_via_field": the records of coll whose
// relation field points at records of target.
func (c *checker) backRelation(seg string, target *core.Collection) (*core.Collection, *core.Field) {
	i := strings.LastIndex(seg, "_via_")
	if i <= 0 {
		return nil, nil
	}
	coll := c.collection(seg[:i])
	if coll == nil {
		return nil, nil
	}
	f := c.field(coll, seg[i+len("_via_"):])
	if f == nil || f.Type != core.FieldRelation || f.CollectionID != target.ID {
		return nil, nil
	}
	return coll, f
}

// path resolves field segments starting at src.
func (c *checker) path(t term, src *source, prefix string, segs []string, mod string) (*operand, error) {
	hops := 0
	cur := src
	key := prefix
	for i, seg := range segs {
		if key != "" {
			key += "."
		}
		key += seg
		last := i == len(segs)-1
		f := c.field(cur.coll, seg)
		if f == nil {
			bc, bf := c.backRelation(seg, cur.coll)
			if bc == nil {
				return nil, errUnknown(t.pos, key)
			}
			if hops++; hops > MaxPathHops {
				return nil, parseError(t.pos, "%q follows more than %d relations", t.text, MaxPathHops)
			}
			parent := cur
			cur = c.source(key, func() *source {
				return &source{kind: srcBack, coll: bc, many: true, parent: parent, field: bf}
			})
			if last {
				return c.fieldOperand(t, cur, idField, nil, nil, mod)
			}
			continue
		}
		if last {
			return c.fieldOperand(t, cur, f, nil, nil, mod)
		}
		if subs := core.Subfields(f); subs != nil {
			// A typed part of the value, such as a geoPoint's lon: the
			// last segment, one of the type's names.
			if i+2 == len(segs) {
				for _, sf := range subs {
					if sf.Name == segs[i+1] {
						return c.fieldOperand(t, cur, f, []string{sf.Name}, &sf, mod)
					}
				}
			}
			return nil, errUnknown(t.pos, key+"."+strings.Join(segs[i+1:], "."))
		}
		switch f.Type {
		case core.FieldRelation:
			target := c.collection(f.CollectionID)
			if target == nil {
				return nil, errUnknown(t.pos, key+"."+segs[i+1])
			}
			if hops++; hops > MaxPathHops {
				return nil, parseError(t.pos, "%q follows more than %d relations", t.text, MaxPathHops)
			}
			parent := cur
			cur = c.source(key, func() *source {
				return &source{kind: srcRel, coll: target, many: f.IsMultiple(), parent: parent, field: f}
			})
		case core.FieldJSON:
			for _, p := range segs[i+1:] {
				if !core.ValidName(p) {
					return nil, parseError(t.pos, "invalid json key %q in %q", p, t.text)
				}
			}
			return c.fieldOperand(t, cur, f, segs[i+1:], nil, mod)
		default:
			return nil, errUnknown(t.pos, key+"."+segs[i+1])
		}
	}
	// Only reached with no segments at all.
	return nil, parseError(t.pos, "invalid identifier %q", t.text)
}

// fieldVType is the type a field's values compare in, which its storage
// decides (a list compares item by item, as text).
func fieldVType(f *core.Field) vtype { return storageVType(f.Def().Storage(f)) }

func storageVType(s core.Storage) vtype {
	switch s {
	case core.StorageNumber:
		return vNumber
	case core.StorageBool:
		return vBool
	case core.StorageJSON:
		return vJSON
	}
	return vString
}

// isJSON reports whether f's values are JSON documents (json, geoPoint).
func isJSON(f *core.Field) bool { return f.Def().Storage(f) == core.StorageJSON }

// fieldOperand makes the operand for field f of src's records: its value,
// the value at path inside a json field, or the typed part sub.
func (c *checker) fieldOperand(t term, src *source, f *core.Field, path []string, sub *core.Subfield, mod string) (*operand, error) {
	o := &operand{kind: opField, name: t.text, pos: t.pos, src: src, field: f, path: path, vt: fieldVType(f), list: f.IsMultiple(), stored: f.IsMultiple()}
	if sub != nil {
		o.sub, o.vt = true, storageVType(sub.Storage)
	}
	if f.Name == emailField && src.coll.IsAuth() && !c.env.AllowHidden {
		o.emailGuard = true
		if req := c.env.Request; req != nil && req.Auth != nil && req.Auth.Collection != nil && req.Auth.Collection.ID == src.coll.ID {
			o.ownID = req.Auth.ID()
		}
	}
	switch mod {
	case "":
	case "lower":
		if o.vt != vString {
			return nil, parseError(t.pos, "modifier :lower needs a text field, %q is %s", t.text, o.vt)
		}
		o.lower = true
	case "length":
		if !o.list {
			return nil, parseError(t.pos, "modifier :length needs a multiple field, %q is not", t.text)
		}
		o.kind, o.vt, o.list = opLength, vNumber, false
	case "each":
		if !o.list {
			return nil, parseError(t.pos, "modifier :each needs a multiple field, %q is not", t.text)
		}
		o.each = true
	default:
		return nil, parseError(t.pos, "modifier :%s is only valid on @request.body or @request.query values", mod)
	}
	return o, nil
}

// request resolves @request.* to constants (and, for relations of the
// authenticated record, to sources).
func (c *checker) request(t term, segs []string, mod string) (*operand, error) {
	req := c.env.Request
	if req == nil {
		req = &Request{}
	}
	if len(segs) == 0 {
		return nil, parseError(t.pos, "invalid identifier %q", t.text)
	}
	switch segs[0] {
	case "method", "context":
		if len(segs) != 1 {
			return nil, parseError(t.pos, "invalid identifier %q", t.text)
		}
		v := req.Method
		if segs[0] == "context" {
			v = req.Context
			if v == "" {
				v = "default"
			}
		}
		return c.constMod(t, dynConst(t, v), mod)
	case "headers":
		if len(segs) != 2 {
			return nil, parseError(t.pos, "invalid identifier %q", t.text)
		}
		var v any
		for k, hv := range req.Headers {
			if strings.ReplaceAll(strings.ToLower(k), "-", "_") == strings.ToLower(segs[1]) {
				v = hv
				break
			}
		}
		return c.constMod(t, dynConst(t, v), mod)
	case "query":
		if len(segs) != 2 {
			return nil, parseError(t.pos, "invalid identifier %q", t.text)
		}
		v, ok := req.Query[segs[1]]
		if mod == "isset" {
			return constOp(t, vBool, ok), nil
		}
		var val any
		if ok {
			val = v
		}
		return c.constMod(t, dynConst(t, val), mod)
	case "body", "data":
		return c.body(t, req, segs[1:], mod)
	case "auth":
		return c.auth(t, req.Auth, segs[1:], mod)
	}
	return nil, parseError(t.pos, "unknown identifier %q", "@request."+segs[0])
}

func (c *checker) body(t term, req *Request, segs []string, mod string) (*operand, error) {
	if len(segs) == 0 {
		return nil, parseError(t.pos, "invalid identifier %q", t.text)
	}
	var v any = req.Body
	found := true
	for _, s := range segs {
		if raw, ok := v.(json.RawMessage); ok {
			// A json field's resolved value (see records' RuleBody).
			v = nil
			_ = json.Unmarshal(raw, &v)
		}
		m, ok := v.(map[string]any)
		if !ok {
			found, v = false, nil
			break
		}
		if v, ok = m[s]; !ok {
			found = false
			break
		}
	}
	// A body value for one of the collection's fields is read as that field
	// reads it, e.g. a form value "3" for a number field is 3.
	var f *core.Field
	if len(segs) == 1 {
		f = c.env.Collection.Field(segs[0])
		if f != nil && found {
			v = castToField(f, v)
		}
	}
	switch mod {
	case "isset":
		return constOp(t, vBool, found), nil
	case "changed":
		if f == nil || c.field(c.env.Collection, f.Name) == nil {
			return nil, parseError(t.pos, "modifier :changed needs a field of the collection, %q is not", t.text)
		}
		if isJSON(f) {
			return nil, parseError(t.pos, "modifier :changed is not supported on %s fields", f.Type)
		}
		if !found {
			return constOp(t, vBool, false), nil
		}
		o := &operand{kind: opChanged, name: t.text, pos: t.pos, vt: vBool, src: c.main, field: f}
		if f.IsMultiple() {
			o.chVals = v.([]string)
		} else {
			o.chVal = coerce(v, ctypeOf(fieldVType(f)))
		}
		return o, nil
	}
	return c.constMod(t, dynConst(t, v), mod)
}

// castToField converts a body value to a field's canonical Go type.
func castToField(f *core.Field, v any) any {
	vals, list := normalize(v)
	if f.IsMultiple() {
		out := []string{}
		for _, e := range vals {
			if s := coerce(e, cText).(string); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	if list {
		if len(vals) == 0 {
			return nil
		}
		vals = vals[len(vals)-1:]
	}
	switch f.Def().Storage(f) {
	case core.StorageNumber:
		return coerce(vals[0], cNumber)
	case core.StorageBool:
		return coerce(vals[0], cBool)
	case core.StorageJSON:
		return v
	}
	return coerce(vals[0], cText)
}

// constMod applies a modifier to a constant operand.
func (c *checker) constMod(t term, o *operand, mod string) (*operand, error) {
	switch mod {
	case "":
	case "lower":
		for i, v := range o.vals {
			o.vals[i] = asciiLower(coerce(v, cText).(string))
		}
		o.vt = vString
	case "length":
		n := 0
		if o.list {
			n = len(o.vals)
		} else if o.vals[0] != nil {
			n = 1
		}
		return &operand{kind: opConst, name: o.name, pos: o.pos, vt: vNumber, vals: []any{float64(n)}}, nil
	case "each":
		o.each = true
		o.list = true
	default:
		return nil, parseError(t.pos, "modifier :%s is not valid on %q", mod, t.text)
	}
	return o, nil
}

// auth resolves @request.auth.*. For a guest every such value is null.
func (c *checker) auth(t term, rec *core.Record, segs []string, mod string) (*operand, error) {
	if len(segs) == 0 {
		return nil, parseError(t.pos, "invalid identifier %q", t.text)
	}
	if rec == nil || rec.Collection == nil {
		return c.constMod(t, dynConst(t, nil), mod)
	}
	coll := rec.Collection
	if len(segs) == 1 {
		switch segs[0] {
		case "collectionName":
			return c.constMod(t, dynConst(t, coll.Name), mod)
		case "collectionId":
			return c.constMod(t, dynConst(t, coll.ID), mod)
		}
	}
	key := "@request.auth." + segs[0]
	f := c.field(coll, segs[0])
	if f == nil {
		if bc, _ := c.backRelation(segs[0], coll); bc != nil && len(segs) > 1 {
			// A back-relation starts from the authenticated record's row.
			id := rec.ID()
			root := c.source("@request.auth", func() *source {
				return &source{kind: srcIDs, coll: coll, ids: []string{id}}
			})
			return c.path(t, root, "@request.auth", segs, mod)
		}
		return nil, errUnknown(t.pos, key)
	}
	val := rec.Data[f.Name]
	if f.Name == "id" {
		val = rec.ID()
	}
	if len(segs) == 1 {
		o := dynConst(t, val)
		if f.IsMultiple() {
			o.vals, o.list, o.stored = nil, true, true
			for _, s := range rec.Strings(f.Name) {
				o.vals = append(o.vals, s)
			}
			if len(o.vals) == 0 {
				o.vals, o.list = []any{nil}, false
			}
		}
		if mod == "length" || mod == "each" {
			if !f.IsMultiple() {
				return nil, parseError(t.pos, "modifier :%s needs a multiple field, %q is not", mod, t.text)
			}
			if mod == "length" {
				return constOp(t, vNumber, float64(len(rec.Strings(f.Name)))), nil
			}
		}
		return c.constMod(t, o, mod)
	}
	switch f.Type {
	case core.FieldRelation:
		target := c.collection(f.CollectionID)
		if target == nil {
			return nil, errUnknown(t.pos, key+"."+segs[1])
		}
		ids := append([]string(nil), rec.Strings(f.Name)...)
		src := c.source(key, func() *source {
			return &source{kind: srcIDs, coll: target, many: f.IsMultiple(), ids: ids, field: f}
		})
		return c.path(t, src, key, segs[1:], mod)
	}
	if isJSON(f) {
		if subs := core.Subfields(f); subs != nil && (len(segs) != 2 || !slices.ContainsFunc(subs, func(sf core.Subfield) bool { return sf.Name == segs[1] })) {
			return nil, errUnknown(t.pos, key+"."+segs[1])
		}
		v := any(nil)
		if raw, ok := val.(json.RawMessage); ok && raw != nil {
			_ = json.Unmarshal(raw, &v)
		}
		for _, s := range segs[1:] {
			m, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = m[s]
		}
		return c.constMod(t, dynConst(t, v), mod)
	}
	return nil, errUnknown(t.pos, key+"."+segs[1])
}

// ---- shared rows ----

// manySources lists the to-many sources an operand reaches (those of its
// arguments for a call), parents first.
func (o *operand) manySources() []*source {
	var out []*source
	seen := map[*source]bool{}
	add := func(src *source) {
		for s := src; s != nil; s = s.parent {
			if s.many && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	add(o.src)
	for _, a := range o.args {
		add(a.src)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].depth < out[j].depth })
	return out
}

// cmpSources lists the to-many sources of both operands, parents first.
func (c *cmpNode) sources() []*source {
	seen := map[*source]bool{}
	var out []*source
	for _, o := range []*operand{c.l, c.r} {
		for _, s := range o.manySources() {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].depth < out[j].depth })
	return out
}

// assignBinds places each to-many source used by an any-of (?) comparison
// at the lowest node that contains every such use: one record of the
// source is chosen there (exists), and all uses below see the same record.
// Since the language has no negation, this is the same as choosing the
// rows for the whole expression at once, the way a SQL join would.
func assignBinds(root *node) {
	total := map[*source]int{}
	var count func(n *node)
	count = func(n *node) {
		if n.kind == nCmp && n.cmp.any {
			for _, s := range n.cmp.sources() {
				total[s]++
			}
		}
		for _, k := range n.kids {
			count(k)
		}
	}
	count(root)
	done := map[*source]bool{}
	var walk func(n *node) map[*source]int
	walk = func(n *node) map[*source]int {
		counts := map[*source]int{}
		if n.kind == nCmp && n.cmp.any {
			for _, s := range n.cmp.sources() {
				counts[s]++
			}
		}
		for _, k := range n.kids {
			for s, v := range walk(k) {
				counts[s] += v
			}
		}
		for s, v := range counts {
			if v == total[s] && !done[s] {
				done[s] = true
				n.binds = append(n.binds, s)
			}
		}
		sort.Slice(n.binds, func(i, j int) bool {
			if n.binds[i].depth != n.binds[j].depth {
				return n.binds[i].depth < n.binds[j].depth
			}
			return n.binds[i].key < n.binds[j].key
		})
		return counts
	}
	walk(root)
}

// asciiLower lowercases ASCII letters only, as SQLite's lower() and LIKE do.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
