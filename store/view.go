package store

import (
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// View collections are database views: CREATE VIEW name AS a SELECT over
// the user's query whose columns are cast to the storage of the view's
// fields, so they read back exactly as table columns do (a COUNT(*) as a
// number, a NULL as the field's zero value, any expression as JSON).
//
// A view depends on the tables its query reads. Rather than track those
// dependencies, drivers drop every view before a schema change and create
// them all again after it (see the drivers' ddl): a change that breaks a
// view then fails as a whole, naming the view, and changes nothing.

// CreateViewSQL is the statement that creates c's view as name.
func CreateViewSQL(d Dialect, c *core.Collection, name string) string {
	cols := make([]string, 0, len(c.Fields))
	for i := range c.Fields {
		f := &c.Fields[i]
		cols = append(cols, viewColumn(d, f)+" AS "+QuoteIdent(f.Name))
	}
	return "CREATE VIEW " + QuoteIdent(name) + " AS SELECT " + strings.Join(cols, ", ") +
		" FROM (" + c.ViewQuery + ") AS " + QuoteIdent("_view")
}

// viewColumn reads the query's column for f as f's storage wants it.
func viewColumn(d Dialect, f *core.Field) string {
	col := QuoteIdent("_view") + "." + QuoteIdent(f.Name)
	pg := d == Postgres
	switch KindOf(f) {
	case ColumnNumber:
		if pg {
			return "COALESCE(CAST(" + col + " AS DOUBLE PRECISION), 0)"
		}
		return "COALESCE(CAST(" + col + " AS REAL), 0)"
	case ColumnBool:
		if pg {
			return "COALESCE(CAST(" + col + " AS BOOLEAN), false)"
		}
		return "(COALESCE(" + col + ", 0) != 0)"
	case ColumnJSON:
		if pg {
			return "to_jsonb(" + col + ")"
		}
		return "CASE WHEN " + col + " IS NULL THEN NULL WHEN typeof(" + col + ") = 'text' AND json_valid(" + col + ") THEN " + col + " ELSE json_quote(" + col + ") END"
	case ColumnList:
		if pg {
			return "COALESCE(to_jsonb(" + col + "), '[]'::jsonb)"
		}
		return "COALESCE(" + col + ", '[]')"
	}
	return "COALESCE(CAST(" + col + " AS TEXT), '')"
}

// ViewsOf returns the view collections among cols.
func ViewsOf(cols []*core.Collection) []*core.Collection {
	var out []*core.Collection
	for _, c := range cols {
		if c.IsView() {
			out = append(out, c)
		}
	}
	return out
}
