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
// env.Collection, paths through single relations (author.name), @random
// and @rowid (insertion order on SQLite; physical order on PostgreSQL).
// Text is ordered by bytes on both engines. The result has no placeholders.
// Errors: KindInvalid for an unknown, hidden, json, multiple-relation or
// malformed key.
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
		if o.field.Type == core.FieldJSON {
			return "", core.Invalid("invalid sort: cannot sort by json field %q", item)
		}
		for s := o.src; s != nil; s = s.parent {
			if s.many {
				return "", core.Invalid("invalid sort: cannot sort by %q, it reaches many records", item)
			}
		}
		t := ctypeOf(fieldVType(o.field))
		if o.list {
			t = cText // a multiple field sorts by its JSON text
		}
		col := g.col(o.src, o.field, aliases{})
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
