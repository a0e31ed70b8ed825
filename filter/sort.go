package filter

import (
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
)

// MaxSortFields bounds the number of comma-separated sort keys.
const MaxSortFields = 16

// CompileSort turns PocketBase's sort parameter, e.g. "-created,title",
// into an ORDER BY list (without the keywords) for dialect d. A leading "-"
// sorts descending, "+" or nothing ascending. Keys are fields of
// env.Collection, paths through single relations (author.name), parts of
// a geoPoint (location.lat, a number), @random and @rowid (insertion
// order on SQLite; physical order on PostgreSQL). Text is ordered by bytes
// on both engines. The result has no placeholders. Errors: KindInvalid for
// an unknown, hidden, json, whole geoPoint, multiple-relation or malformed
// key.
func CompileSort(sort string, env *Env, d query.Dialect) (string, error) {
	if d != query.SQLite && d != query.Postgres {
		return "", core.Internal(nil, "filter: unknown dialect %q", d)
	}
	if env == nil || env.Collection == nil {
		return "", core.Internal(nil, "filter: no collection in env")
	}
	if strings.TrimSpace(sort) == "" {
		return "", nil
	}
	if len(sort) > MaxLength {
		return "", core.Invalid("invalid sort: longer than %d characters", MaxLength)
	}
	items := strings.Split(sort, ",")
	if len(items) > MaxSortFields {
		return "", core.Invalid("invalid sort: more than %d fields", MaxSortFields)
	}
	c := &checker{env: env, sources: map[string]*source{}, main: &source{kind: srcMain, coll: env.Collection}}
	g := &sqlgen{d: d}
	out := make([]string, 0, len(items))
	for _, item := range items {
		item = strings.TrimSpace(item)
		dir := " ASC"
		switch {
		case strings.HasPrefix(item, "-"):
			dir, item = " DESC", item[1:]
		case strings.HasPrefix(item, "+"):
			item = item[1:]
		}
		switch item {
		case "@random":
			out = append(out, "RANDOM()"+dir)
			continue
		case "@rowid":
			if g.pg() {
				out = append(out, query.MainAlias+".ctid"+dir)
			} else {
				out = append(out, query.MainAlias+".rowid"+dir)
			}
			continue
		}
		if item == "" || strings.ContainsAny(item, ":@") {
			return "", core.Invalid("invalid sort: bad key %q", item)
		}
		for _, ch := range []byte(item) {
			if !isIdentChar(ch) {
				return "", core.Invalid("invalid sort: bad key %q", item)
			}
		}
		o, err := c.path(term{kind: termIdent, text: item}, c.main, "", strings.Split(item, "."), "")
		if err != nil {
			return "", core.Invalid("invalid sort: unknown field %q", item)
		}
		if isJSON(o.field) && !o.sub {
			return "", core.Invalid("invalid sort: cannot sort by %s field %q", o.field.Type, item)
		}
		for s := o.src; s != nil; s = s.parent {
			if s.many {
				return "", core.Invalid("invalid sort: cannot sort by %q, it reaches many records", item)
			}
		}
		t := ctypeOf(o.vt)
		if o.list {
			t = cText // a multiple field sorts by its JSON text
		}
		col := g.col(o.src, o.field, aliases{})
		if o.sub {
			// A typed part of a JSON value (a geoPoint's lon), its zero
			// value where it is missing or of another type.
			col = cat("COALESCE(", g.sortJSON(col, o.path[0], t), ", ", g.zero(t), ")")
		}
		if o.emailGuard {
			// A hidden email sorts as empty (the caller's own is not
			// special here: a sort has no bound arguments).
			o.ownID = ""
			col = cat("CASE WHEN ", g.emailVisible(o, aliases{}), " THEN ", col, " END")
		}
		if len(col.args) > 0 {
			// A related collection's listRule with request values: the
			// sort string cannot carry them, so refuse rather than leak.
			return "", core.Invalid("invalid sort: cannot sort by %q", item)
		}
		expr := col.text
		if g.pg() && o.list {
			expr = "CAST(" + expr + " AS text)"
		}
		if o.src.kind != srcMain || o.emailGuard {
			// No related record sorts as the zero value on both engines,
			// which otherwise disagree on where NULLs go.
			expr = "COALESCE(" + expr + ", " + g.zero(t) + ")"
		}
		if g.pg() && t == cText {
			expr += ` COLLATE "C"`
		}
		out = append(out, expr+dir)
	}
	if len(c.sources) > MaxJoins {
		return "", core.Invalid("invalid sort: more than %d relations joined", MaxJoins)
	}
	return strings.Join(out, ", "), nil
}

// sortJSON reads key of the JSON column c when it has JSON's type for t,
// else NULL, with the key written into the SQL (a sort has no arguments;
// keys come from core.Subfields and are plain names).
func (g *sqlgen) sortJSON(c sq, key string, t ctype) sq {
	lit := "'" + strings.ReplaceAll(key, "'", "''") + "'"
	if g.pg() {
		typ := cat("jsonb_typeof(", c, " -> ", lit, ")")
		txt := cat("(", c, " ->> ", lit, ")")
		switch t {
		case cNumber:
			return cat("CASE ", typ, " WHEN 'number' THEN CAST(", txt, " AS double precision) END")
		case cBool:
			return cat("CASE ", typ, " WHEN 'boolean' THEN CAST(", txt, " AS boolean) END")
		}
		return cat("CASE ", typ, " WHEN 'string' THEN ", txt, " END")
	}
	p := "'$." + strings.ReplaceAll(key, "'", "''") + "'"
	typ := cat("json_type(", c, ", ", p, ")")
	switch t {
	case cNumber:
		return cat("CASE WHEN ", typ, " IN ('integer', 'real') THEN json_extract(", c, ", ", p, ") END")
	case cBool:
		return cat("CASE ", typ, " WHEN 'true' THEN 1 WHEN 'false' THEN 0 END")
	}
	return cat("CASE ", typ, " WHEN 'text' THEN json_extract(", c, ", ", p, ") END")
}
