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
// under alias a, read by elem.
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
	if o.leaves {
		// Every scalar at or under the path, at any depth; a document (or
		// path) without one yields a single row of NULLs, as an empty list.
		if g.pg() {
			return cat(" LEFT JOIN jsonb_path_query(", c, " #> ", g.pgPath(o.path), ", 'strict $.**') AS ", a, "(v) ON jsonb_typeof(", a, ".v) NOT IN ('object', 'array')")
		}
		return cat(" LEFT JOIN json_tree(", c, ", ", g.sqlitePath(o.path), ") ", a, " ON ", a, ".type NOT IN ('object', 'array')")
	}
	if g.pg() {
		return cat(" LEFT JOIN jsonb_array_elements_text(", c, ") AS ", a, "(v) ON 1=1")
	}
	return cat(" LEFT JOIN json_each(", c, ") ", a, " ON 1=1")
}

// elem is the current element of a list operand joined as a: text, NULL
// for the row of an empty list (json leaves: the scalar as text, NULL for
// a JSON null).
func (g *sqlgen) elem(o *operand, a string) sq {
	switch {
	case o.leaves && g.pg():
		return cat("CASE jsonb_typeof(", a, ".v) WHEN 'string' THEN ", a, ".v #>> '{}' WHEN 'boolean' THEN ", a,
			".v #>> '{}' WHEN 'number' THEN ", g.numText(cat("CAST(", a, ".v #>> '{}' AS double precision)")), " END")
	case o.leaves:
		return cat("CASE ", a, ".type WHEN 'text' THEN ", a, ".atom WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'",
			" WHEN 'integer' THEN ", g.numText(sq{text: a + ".atom"}), " WHEN 'real' THEN ", g.numText(sq{text: a + ".atom"}), " END")
	case o.kind == opField && !g.pg():
		return sq{text: a + ".value"}
	}
	return sq{text: a + ".v"}
}

// pgPath and sqlitePath bind a JSON path: PostgreSQL's text[] for #> and
// #>>, SQLite's "$.a.b".
func (g *sqlgen) pgPath(path []string) sq {
	return sq{"CAST(? AS text[])", []any{"{" + strings.Join(path, ",") + "}"}}
}

func (g *sqlgen) sqlitePath(path []string) sq {
	p := "$"
	for _, k := range path {
		p += "." + k
	}
	return sq{"?", []any{p}}
}

// numText renders the number x as text, as core.FormatNumber does; NULL
// stays NULL. PostgreSQL: a whole number below 2^53 through bigint, any
// other through numeric, whose cast from double precision keeps 15
// significant digits; SQLite: store/sqlite's function.
func (g *sqlgen) numText(x sq) sq {
	if !g.pg() {
		return cat(core.SQLiteNumberText+"(", x, ")")
	}
	n := g.alias("_n")
	return cat("(SELECT CASE WHEN ", n, ".x = trunc(", n, ".x) AND abs(", n, ".x) < 9007199254740992 THEN CAST(CAST(", n,
		".x AS bigint) AS text) ELSE CAST(CAST(", n, ".x AS numeric) AS text) END FROM (SELECT CAST(", x, " AS double precision) AS x) ", n, ")")
}

// boolText renders the bool x as "true" or "false"; NULL stays NULL.
func (g *sqlgen) boolText(x sq) sq {
	if g.pg() {
		return cat("CASE ", x, " WHEN TRUE THEN 'true' WHEN FALSE THEN 'false' END")
	}
	return cat("CASE ", x, " WHEN 1 THEN 'true' WHEN 0 THEN 'false' END")
}

// geo is geoDistance over its arguments' values: the haversine formula,
// rounded to the millimetre, in the steps filter.geoDistance takes, each
// argument evaluated once.
func (g *sqlgen) geo(o *operand, env aliases, la map[*operand]string) sq {
	least, greatest := "min(", "max("
	if g.pg() {
		least, greatest = "LEAST(", "GREATEST("
	}
	a := g.alias("_g")
	clamp := func(x sq) sq {
		return cat(greatest, "-1e300, ", least, "1e300, ", x, "))")
	}
	args := make([]any, 0, 12)
	for i, name := range []string{"lon1", "lat1", "lon2", "lat2"} {
		if i > 0 {
			args = append(args, ", ")
		}
		args = append(args, clamp(g.value(o.args[i], cNumber, env, la)), " AS "+name)
	}
	k := strconv.FormatFloat(degree, 'g', -1, 64)
	h := "power(sin((" + a + ".lat2 - " + a + ".lat1) * " + k + " / 2), 2) + cos(" + a + ".lat1 * " + k + ") * cos(" + a + ".lat2 * " + k +
		") * power(sin((" + a + ".lon2 - " + a + ".lon1) * " + k + " / 2), 2)"
	d := strconv.Itoa(2*earthKm) + " * asin(sqrt(" + greatest + "0, " + least + "1, " + h + "))))"
	parts := []any{"(SELECT floor(" + d + " * 1e6 + 0.5) / 1e6 FROM (SELECT "}
	parts = append(parts, args...)
	return cat(append(parts, ") "+a+")")...)
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

// ownType is the type of o's own values; a json value takes the type t
// it is compared in.
func ownType(o *operand, t ctype) ctype {
	switch {
	case o.kind == opLength, o.kind == opGeo:
		return cNumber
	case o.kind == opChanged:
		return cBool
	case o.vt == vJSON:
		return t
	}
	return ctypeOf(o.vt)
}

// value is an operand's value in comparison type t, never NULL. A value
// of another type is compared as its text (t is then text: see "Text
// search" in the package doc); a missing one, such as the field of a
// missing related record, is t's zero value.
func (g *sqlgen) value(o *operand, t ctype, env aliases, la map[*operand]string) sq {
	own := ownType(o, t)
	var v sq
	nullable := false
	switch o.kind {
	case opConst:
		if o.list {
			return g.elem(o, la[o])
		}
		return g.param(o.vals[0], t)
	case opLength:
		fn := "json_array_length("
		if g.pg() {
			fn = "jsonb_array_length("
		}
		v = cat("COALESCE(", fn, g.col(o.src, o.field, env), "), 0)")
	case opChanged:
		if g.pg() {
			v = cat("(", g.changed(o, env), ")")
		} else {
			v = cat("(CASE WHEN ", g.changed(o, env), " THEN 1 ELSE 0 END)")
		}
	case opGeo:
		v = g.geo(o, env, la)
	default:
		switch {
		case o.list:
			v = cat("COALESCE(", g.elem(o, la[o]), ", '')")
		case isJSON(o.field) && o.jnull:
			return g.jsonValue(o, t, g.col(o.src, o.field, env))
		case isJSON(o.field):
			v, nullable = g.jsonTyped(o, own, g.col(o.src, o.field, env)), true
		case o.src.kind == srcMain:
			v = g.col(o.src, o.field, env) // NOT NULL column
		default:
			v, nullable = g.col(o.src, o.field, env), true
		}
	}
	if own != t {
		// Only to text: numbers and bools compared with text (~).
		if own == cNumber {
			v = g.numText(v)
		} else {
			v = g.boolText(v)
		}
	}
	if nullable {
		v = cat("COALESCE(", v, ", ", g.zero(t), ")")
	}
	if o.lower {
		v = g.lower(v)
	}
	return v
}

// jsonValue is, for o.jnull, whether the value at o.path of json column c
// is missing or null; otherwise jsonTyped with t's zero for NULL.
func (g *sqlgen) jsonValue(o *operand, t ctype, c sq) sq {
	if o.jnull {
		var typ sq
		if g.pg() {
			typ = cat("jsonb_typeof(", c, " #> ", g.pgPath(o.path), ")")
		} else {
			typ = cat("json_type(", c, ", ", g.sqlitePath(o.path), ")")
		}
		return cat("(COALESCE(", typ, ", 'null') = 'null')")
	}
	return cat("COALESCE(", g.jsonTyped(o, t, c), ", ", g.zero(t), ")")
}

// jsonTyped reads the value at o.path of json column c when JSON's type
// of it matches t; NULL otherwise (missing, null, another type).
func (g *sqlgen) jsonTyped(o *operand, t ctype, c sq) sq {
	if g.pg() {
		p := g.pgPath(o.path)
		typ := cat("jsonb_typeof(", c, " #> ", p, ")")
		txt := cat("(", c, " #>> ", p, ")")
		switch t {
		case cNumber:
			return cat("CASE ", typ, " WHEN 'number' THEN CAST(", txt, " AS double precision) END")
		case cBool:
			return cat("CASE ", typ, " WHEN 'boolean' THEN CAST(", txt, " AS boolean) END")
		}
		return cat("CASE ", typ, " WHEN 'string' THEN ", txt, " END")
	}
	p := g.sqlitePath(o.path)
	typ := cat("json_type(", c, ", ", p, ")")
	switch t {
	case cNumber:
		return cat("CASE WHEN ", typ, " IN ('integer', 'real') THEN json_extract(", c, ", ", p, ") END")
	case cBool:
		return cat("CASE ", typ, " WHEN 'true' THEN 1 WHEN 'false' THEN 0 END")
	}
	return cat("CASE ", typ, " WHEN 'text' THEN json_extract(", c, ", ", p, ") END")
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
