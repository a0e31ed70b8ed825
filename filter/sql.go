package filter

import (
	"maps"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
)

// Compile parses src, checks it against env and returns a WHERE fragment
// for dialect d that refers to the filtered table as query.MainAlias. The
// empty expression compiles to "1=1". Errors: KindInvalid for a bad
// expression (user-safe message), KindInternal for a bad env or dialect.
func Compile(src string, env *Env, d query.Dialect) (query.SQL, error) {
	e, err := Parse(src)
	if err != nil {
		return query.SQL{}, err
	}
	return CompileExpr(e, env, d)
}

// CompileExpr is Compile for an already parsed expression.
func CompileExpr(e *Expr, env *Env, d query.Dialect) (query.SQL, error) {
	if d != query.SQLite && d != query.Postgres {
		return query.SQL{}, core.Internal(nil, "filter: unknown dialect %q", d)
	}
	p, err := check(e, env)
	if err != nil {
		return query.SQL{}, err
	}
	g := &sqlgen{d: d}
	out := g.node(p.root, aliases{})
	return query.SQL{Text: out.text, Args: out.args}, nil
}

// sq is a fragment of SQL with the arguments of its placeholders, in order.
type sq struct {
	text string
	args []any
}

// cat concatenates strings and fragments, keeping arguments in order.
func cat(parts ...any) sq {
	var out sq
	var b strings.Builder
	for _, p := range parts {
		switch x := p.(type) {
		case string:
			b.WriteString(x)
		case sq:
			b.WriteString(x.text)
			out.args = append(out.args, x.args...)
		}
	}
	out.text = b.String()
	return out
}

// aliases maps the to-many sources in scope to their SQL aliases.
type aliases map[*source]string

type sqlgen struct {
	d query.Dialect
	n int
}

func (g *sqlgen) alias(prefix string) string {
	g.n++
	return prefix + strconv.Itoa(g.n)
}

func (g *sqlgen) pg() bool { return g.d == query.Postgres }

// quote quotes an identifier; names were checked with core.ValidName, the
// doubling is belt and braces.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// param binds one value of comparison type t.
func (g *sqlgen) param(v any, t ctype) sq {
	if g.pg() {
		// Explicit types: PostgreSQL cannot always infer a parameter's type.
		return sq{"CAST(? AS " + pgType(t) + ")", []any{v}}
	}
	if b, ok := v.(bool); ok {
		v = int64(0)
		if b {
			v = int64(1)
		}
	}
	return sq{"?", []any{v}}
}

func pgType(t ctype) string {
	switch t {
	case cNumber:
		return "double precision"
	case cBool:
		return "boolean"
	}
	return "text"
}

func (g *sqlgen) zero(t ctype) string {
	switch t {
	case cNumber:
		return "0"
	case cBool:
		if g.pg() {
			return "FALSE"
		}
		return "0"
	}
	return "''"
}

const (
	upperASCII = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerASCII = "abcdefghijklmnopqrstuvwxyz"
)

// lower lowercases ASCII letters only; PostgreSQL's lower() would also
// fold other letters by locale, which SQLite and Go do not.
func (g *sqlgen) lower(x sq) sq {
	if g.pg() {
		return cat("translate(", x, ", '"+upperASCII+"', '"+lowerASCII+"')")
	}
	return cat("lower(", x, ")")
}

// jsonElements is a set-returning call over the JSON array x, with the
// element column named by elemCol.
func (g *sqlgen) arrayIn(x sq) sq {
	if g.pg() {
		return cat("(SELECT jsonb_array_elements_text(", x, "))")
	}
	return cat("(SELECT value FROM json_each(", x, "))")
}

// col is the raw column of field f of the record source s stands for:
// NULL when there is no such record.
func (g *sqlgen) col(s *source, f *core.Field, env aliases) sq {
	name := quote(f.Name)
	switch {
	case s.kind == srcMain:
		if a, ok := env[s]; ok {
			// The main record of a related collection's listRule.
			return sq{text: a + "." + name}
		}
		return sq{text: query.MainAlias + "." + name}
	case s.many:
		return sq{text: env[s] + "." + name}
	}
	a := g.alias("_j")
	var key sq
	if s.kind == srcIDs {
		if len(s.ids) == 0 {
			return sq{text: "NULL"}
		}
		key = g.param(s.ids[0], cText)
	} else {
		key = g.col(s.parent, s.field, env)
	}
	return cat("(SELECT ", a, ".", name, " FROM ", quote(s.coll.Name), " ", a, " WHERE ", a, `."id" = `, key, g.access(s, a), ")")
}

// access is the condition, " AND (...)", that limits the records of s under
// alias a to those its collection's listRule lets the caller list; empty
// when they are not restricted.
func (g *sqlgen) access(s *source, a string) sq {
	switch {
	case s.access == nil:
		return sq{}
	case s.access.deny:
		return sq{text: " AND 1=0"}
	}
	p := s.access.rule
	return cat(" AND (", g.node(p.root, aliases{p.main: a}), ")")
}

// join is the LEFT JOIN that yields the records of the to-many source s
// under alias a (the parents of s are in env).
func (g *sqlgen) join(s *source, a string, env aliases) sq {
	var cond sq
	switch s.kind {
	case srcAll:
		cond = sq{text: "1=1"}
	case srcIDs:
		if len(s.ids) == 0 {
			cond = sq{text: "1=0"}
			break
		}
		parts := []any{a, `."id" IN (`}
		for i, id := range s.ids {
			if i > 0 {
				parts = append(parts, ", ")
			}
			parts = append(parts, g.param(id, cText))
		}
		cond = cat(append(parts, ")")...)
	case srcRel:
		cond = cat(a, `."id" IN `, g.arrayIn(g.col(s.parent, s.field, env)))
	case srcBack:
		pid := g.col(s.parent, idField, env)
		if s.field.IsMultiple() {
			cond = cat(pid, " IN ", g.arrayIn(sq{text: a + "." + quote(s.field.Name)}))
		} else {
			cond = cat(a, ".", quote(s.field.Name), " = ", pid)
		}
	}
	return cat(" LEFT JOIN ", quote(s.coll.Name), " ", a, " ON ", cond, g.access(s, a))
}

// listJoin is the LEFT JOIN that yields the elements of a list operand
// under alias a, as column a.v (SQLite json_each: a.value).
func (g *sqlgen) listJoin(o *operand, t ctype, a string, env aliases) sq {
	if o.kind == opConst {
		parts := []any{" LEFT JOIN ("}
		for i, v := range o.vals {
			if i > 0 {
				parts = append(parts, " UNION ALL ")
			}
			parts = append(parts, "SELECT ", g.param(v, t), " AS v")
		}
		return cat(append(parts, ") ", a, " ON 1=1")...)
	}
	c := g.col(o.src, o.field, env)
	if g.pg() {
		return cat(" LEFT JOIN jsonb_array_elements_text(", c, ") AS ", a, "(v) ON 1=1")
	}
	return cat(" LEFT JOIN json_each(", c, ") ", a, " ON 1=1")
}

func (g *sqlgen) elem(o *operand, a string) string {
	if o.kind == opField && !g.pg() {
		return a + ".value"
	}
	return a + ".v"
}

func (g *sqlgen) node(n *node, env aliases) sq {
	if len(n.binds) == 0 {
		return g.inner(n, env)
	}
	env = maps.Clone(env)
	parts := []any{"EXISTS (SELECT 1 FROM (SELECT 1) ", g.alias("_d")}
	for _, s := range n.binds {
		a := g.alias("_j")
		parts = append(parts, g.join(s, a, env))
		env[s] = a
	}
	return cat(append(parts, " WHERE ", g.inner(n, env), ")")...)
}

func (g *sqlgen) inner(n *node, env aliases) sq {
	switch n.kind {
	case nTrue:
		return sq{text: "1=1"}
	case nFalse:
		return sq{text: "1=0"}
	case nCmp:
		return g.cmp(n.cmp, env)
	}
	sep := " AND "
	if n.kind == nOr {
		sep = " OR "
	}
	parts := []any{"("}
	for i, k := range n.kids {
		if i > 0 {
			parts = append(parts, sep)
		}
		parts = append(parts, g.node(k, env))
	}
	return cat(append(parts, ")")...)
}

// cmp quantifies a comparison the same way evaluator.cmp does: for all
// records of its own sources and all elements of its "for all" lists,
// some element of its "exists" lists satisfies the predicate.
func (g *sqlgen) cmp(c *cmpNode, env aliases) sq {
	srcs, forall, exists := c.quantifiers()
	env = maps.Clone(env)
	la := map[*operand]string{}
	var outer []any
	for _, s := range srcs {
		a := g.alias("_j")
		outer = append(outer, g.join(s, a, env))
		env[s] = a
	}
	for _, o := range forall {
		a := g.alias("_e")
		outer = append(outer, g.listJoin(o, c.t, a, env))
		la[o] = a
	}
	var innerJoins []any
	for _, o := range exists {
		a := g.alias("_e")
		innerJoins = append(innerJoins, g.listJoin(o, c.t, a, env))
		la[o] = a
	}
	pred := g.pred(c, env, la)
	if len(innerJoins) > 0 {
		parts := append([]any{"EXISTS (SELECT 1 FROM (SELECT 1) ", g.alias("_d")}, innerJoins...)
		pred = cat(append(parts, " WHERE ", pred, ")")...)
	}
	if len(outer) > 0 {
		parts := append([]any{"NOT EXISTS (SELECT 1 FROM (SELECT 1) ", g.alias("_d")}, outer...)
		pred = cat(append(parts, " WHERE NOT (", pred, "))")...)
	}
	return pred
}

func (g *sqlgen) pred(c *cmpNode, env aliases, la map[*operand]string) sq {
	p := g.compare(c, env, la)
	for _, o := range []*operand{c.l, c.r} {
		if o.emailGuard {
			p = cat("(", p, " AND ", g.emailVisible(o, env), ")")
		}
	}
	return p
}

// emailVisible is the condition that the email o reads is visible to the
// caller: the record exists and has emailVisibility on, or is the caller's.
func (g *sqlgen) emailVisible(o *operand, env aliases) sq {
	var conds []any
	if f := o.src.coll.Field(emailVisibilityField); f != nil && f.Type == core.FieldBool {
		v := g.col(o.src, f, env)
		if g.pg() {
			conds = append(conds, cat("COALESCE(", v, ", FALSE)"))
		} else {
			conds = append(conds, cat("COALESCE(", v, ", 0) = 1"))
		}
	}
	if o.ownID != "" {
		conds = append(conds, cat("COALESCE(", g.col(o.src, idField, env), ", '') = ", g.param(o.ownID, cText)))
	}
	if len(conds) == 0 {
		return sq{text: "1=0"}
	}
	parts := []any{"("}
	for i, x := range conds {
		if i > 0 {
			parts = append(parts, " OR ")
		}
		parts = append(parts, x)
	}
	return cat(append(parts, ")")...)
}

// compare is the comparison itself, on the operands' values.
func (g *sqlgen) compare(c *cmpNode, env aliases, la map[*operand]string) sq {
	l := g.value(c.l, c.t, env, la)
	r := g.value(c.r, c.t, env, la)
	switch c.op {
	case "~", "!~":
		pat := r
		if c.r.kind != opConst {
			// Another column's value is searched for literally.
			esc := cat(`replace(replace(replace(`, r, `, '\', '\\'), '%', '\%'), '_', '\_')`)
			if g.pg() {
				esc = g.lower(esc)
			}
			pat = cat(`('%' || `, esc, ` || '%')`)
		}
		if g.pg() {
			l = g.lower(l)
		}
		like := cat(l, " LIKE ", pat, ` ESCAPE '\'`)
		if c.op == "!~" {
			return cat("NOT (", like, ")")
		}
		return like
	}
	op := c.op
	if op == "!=" {
		op = "<>"
	}
	if c.t == cText && g.pg() && op != "=" && op != "<>" {
		// Byte order, as SQLite's BINARY collation and Go compare text.
		return cat(l, ` COLLATE "C" `, op, " ", r)
	}
	return cat(l, " ", op, " ", r)
}

// value is an operand's value in comparison type t, never NULL.
func (g *sqlgen) value(o *operand, t ctype, env aliases, la map[*operand]string) sq {
	switch o.kind {
	case opConst:
		if o.list {
			return sq{text: g.elem(o, la[o])}
		}
		return g.param(o.vals[0], t)
	case opLength:
		fn := "json_array_length("
		if g.pg() {
			fn = "jsonb_array_length("
		}
		return cat("COALESCE(", fn, g.col(o.src, o.field, env), "), 0)")
	case opChanged:
		if g.pg() {
			return cat("(", g.changed(o, env), ")")
		}
		return cat("(CASE WHEN ", g.changed(o, env), " THEN 1 ELSE 0 END)")
	}
	var v sq
	switch {
	case o.list:
		v = cat("COALESCE(", g.elem(o, la[o]), ", '')")
	case o.field.Type == core.FieldJSON:
		v = g.jsonValue(o, t, g.col(o.src, o.field, env))
	case o.src.kind == srcMain:
		v = g.col(o.src, o.field, env) // NOT NULL column
	default:
		v = cat("COALESCE(", g.col(o.src, o.field, env), ", ", g.zero(t), ")")
	}
	if o.lower {
		v = g.lower(v)
	}
	return v
}

// jsonValue reads the value at o.path of json column c: a value of JSON's
// type matching t, else t's zero; or, for o.jnull, whether it is null.
func (g *sqlgen) jsonValue(o *operand, t ctype, c sq) sq {
	if g.pg() {
		p := sq{"CAST(? AS text[])", []any{"{" + strings.Join(o.path, ",") + "}"}}
		typ := cat("jsonb_typeof(", c, " #> ", p, ")")
		txt := cat("(", c, " #>> ", p, ")")
		switch {
		case o.jnull:
			return cat("(COALESCE(", typ, ", 'null') = 'null')")
		case t == cNumber:
			return cat("COALESCE(CASE ", typ, " WHEN 'number' THEN CAST(", txt, " AS double precision) END, 0)")
		case t == cBool:
			return cat("COALESCE(CASE ", typ, " WHEN 'boolean' THEN CAST(", txt, " AS boolean) END, FALSE)")
		}
		return cat("COALESCE(CASE ", typ, " WHEN 'string' THEN ", txt, " END, '')")
	}
	path := "$"
	for _, k := range o.path {
		path += "." + k
	}
	p := sq{"?", []any{path}}
	typ := cat("json_type(", c, ", ", p, ")")
	switch {
	case o.jnull:
		return cat("(COALESCE(", typ, ", 'null') = 'null')")
	case t == cNumber:
		return cat("COALESCE(CASE WHEN ", typ, " IN ('integer', 'real') THEN json_extract(", c, ", ", p, ") END, 0)")
	case t == cBool:
		return cat("COALESCE(CASE ", typ, " WHEN 'true' THEN 1 WHEN 'false' THEN 0 END, 0)")
	}
	return cat("COALESCE(CASE ", typ, " WHEN 'text' THEN json_extract(", c, ", ", p, ") END, '')")
}

// changed is the condition "the body value differs from the stored one".
func (g *sqlgen) changed(o *operand, env aliases) sq {
	c := g.col(o.src, o.field, env)
	if !o.field.IsMultiple() {
		return cat(c, " <> ", g.param(o.chVal, ctypeOf(fieldVType(o.field))))
	}
	// Same length and the same element at every index.
	if g.pg() {
		parts := []any{"NOT COALESCE((COALESCE(jsonb_array_length(", c, "), 0) = ", sq{"CAST(? AS integer)", []any{int64(len(o.chVals))}}}
		for i, v := range o.chVals {
			parts = append(parts, " AND (", c, " ->> ", sq{"CAST(? AS integer)", []any{int64(i)}}, ") = ", g.param(v, cText))
		}
		return cat(append(parts, "), FALSE)")...)
	}
	parts := []any{"NOT COALESCE((COALESCE(json_array_length(", c, "), 0) = ", sq{"?", []any{int64(len(o.chVals))}}}
	for i, v := range o.chVals {
		parts = append(parts, " AND json_extract(", c, ", ", sq{"?", []any{"$[" + strconv.Itoa(i) + "]"}}, ") = ", g.param(v, cText))
	}
	return cat(append(parts, "), 0)")...)
}
