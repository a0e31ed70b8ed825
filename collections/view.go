package collections

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// sourceNames finds the collections a view query reads from, for typing
// its columns: the names after FROM and JOIN.
var sourceNames = regexp.MustCompile("(?i)\\b(?:from|join)\\s+[\"`]?([A-Za-z_][A-Za-z0-9_]*)")

// viewFields checks next's view query and derives its fields from the
// columns the query yields, as PocketBase does: "id" (required) is the
// record id; a column named like a field of a collection the query reads
// from takes that field's type and options; any other column is json. A
// view's records are read-only, so its create, update and delete rules
// are superusers-only and it has no indexes. On an update, fields keep
// the ids of the same-named fields they had.
func (s *Service) viewFields(ctx context.Context, sc *service.Snapshot, prev, next *core.Collection) error {
	if err := checkViewQuery(next); err != nil {
		return err
	}
	q := next.ViewQuery
	cols, err := s.store.ViewColumns(ctx, q)
	if err != nil {
		return err
	}
	var sources []*core.Collection
	for _, m := range sourceNames.FindAllStringSubmatch(q, -1) {
		if c := sc.ByName(m[1]); c != nil && (prev == nil || c.ID != prev.ID) {
			sources = append(sources, c)
		}
	}
	seen := map[string]bool{}
	var fields []core.Field
	for _, name := range cols {
		if seen[strings.ToLower(name)] {
			return core.FieldInvalid("viewQuery", "validation_invalid_view_query", "The view query yields the column "+quoted(name)+" twice.")
		}
		seen[strings.ToLower(name)] = true
		if !core.ValidName(name) {
			return core.FieldInvalid("viewQuery", "validation_invalid_view_query", "Column "+quoted(name)+" is not a valid field name: give it an alias of letters, digits and underscores.")
		}
		f := viewField(name, sources)
		if prev != nil {
			// The id field too keeps its field id: one imported without
			// the standard id got another, and a change giving it the
			// standard one read as removing the system field.
			if old := prev.Field(name); old != nil {
				f.ID = old.ID
			}
		}
		fields = append(fields, f)
	}
	if !seen["id"] {
		return core.FieldInvalid("viewQuery", "validation_invalid_view_query", `The view query must yield an "id" column.`)
	}
	next.Fields = fields
	next.Indexes = []string{}
	next.CreateRule, next.UpdateRule, next.DeleteRule = nil, nil, nil
	next.Auth = nil
	return nil
}

// checkViewQuery trims next's view query of its trailing semicolon and
// checks that it is one SELECT (or WITH) statement. The drivers paste the
// query into CREATE VIEW and run that as a script, so this check is what
// keeps a second statement after a ';' from running in the schema
// change's transaction: every route that stores a view query passes here.
func checkViewQuery(next *core.Collection) error {
	q := strings.TrimSpace(next.ViewQuery)
	q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
	next.ViewQuery = q
	lower := strings.ToLower(q)
	switch {
	case q == "":
		return core.FieldInvalid("viewQuery", "validation_required", "A view collection needs a view query.")
	case !strings.HasPrefix(lower, "select") && !strings.HasPrefix(lower, "with"):
		return core.FieldInvalid("viewQuery", "validation_invalid_view_query", "The view query must be one SELECT statement.")
	case strings.Contains(q, ";"):
		return core.FieldInvalid("viewQuery", "validation_invalid_view_query", "The view query must be one statement, without ';'.")
	}
	return nil
}

// importViewFields derives an imported view's fields from its query, as
// Create and Update do. A query that reads a collection the same import
// creates or changes (named in imported) cannot be run before the
// import's transaction: such a view keeps the fields it was given, and
// creating it in that transaction checks the query against them.
func (s *Service) importViewFields(ctx context.Context, sc *service.Snapshot, prev, next *core.Collection, imported map[string]bool) error {
	if err := checkViewQuery(next); err != nil {
		return err
	}
	err := s.viewFields(ctx, sc, prev, next)
	if err == nil {
		return nil
	}
	for _, m := range sourceNames.FindAllStringSubmatch(next.ViewQuery, -1) {
		if imported[strings.ToLower(m[1])] {
			if prev != nil {
				carryOver(prev, next)
			} else if next.Field("id") == nil {
				next.Fields = append([]core.Field{core.IDField()}, next.Fields...)
			}
			next.Indexes = []string{}
			next.CreateRule, next.UpdateRule, next.DeleteRule = nil, nil, nil
			next.Auth = nil
			return nil
		}
	}
	return err
}

// viewField is the field for a view column named name.
func viewField(name string, sources []*core.Collection) core.Field {
	if name == "id" {
		return core.IDField()
	}
	for _, c := range sources {
		if f := c.Field(name); f != nil {
			g := *f
			g.ID = ""
			g.System, g.PrimaryKey, g.Required = false, false, false
			g.AutogeneratePattern = ""
			return g
		}
	}
	return core.Field{Name: name, Type: core.FieldJSON}
}

func quoted(s string) string { return `"` + s + `"` }

// dryRunRows is how many records DryRunView shows.
const dryRunRows = 10

// DryRunView checks a view query as a view collection's and returns a
// sample of the records it yields (at most 10), each value as text (or
// nil), saving nothing: what an admin UI shows while a view query is
// being written (the SDK's collections.dryRunViewQuery). Errors:
// KindInvalid naming "viewQuery", as Create's.
func (s *Service) DryRunView(ctx context.Context, query string) ([]map[string]any, error) {
	tmp := &core.Collection{ID: "pbc_dry_run", Name: "dry_run", Type: core.TypeView, ViewQuery: query}
	if err := s.viewFields(ctx, s.svc.Schema(), nil, tmp); err != nil {
		return nil, err
	}
	console, ok := s.store.(store.SQLConsole)
	if !ok {
		return nil, core.Internal(nil, "the store has no read-only console")
	}
	res, err := console.ConsoleQuery(ctx, "SELECT * FROM ("+tmp.ViewQuery+") AS "+store.QuoteIdent("_dry_run")+" LIMIT "+strconv.Itoa(dryRunRows), dryRunRows)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(res.Rows))
	for _, row := range res.Rows {
		rec := make(map[string]any, len(row))
		for i, v := range row {
			rec[res.Columns[i].Name] = v
		}
		out = append(out, rec)
	}
	return out, nil
}
