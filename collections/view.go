package collections

import (
	"context"
	"regexp"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
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
			if old := prev.Field(name); old != nil && name != "id" {
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

// DryRunView checks a view collection's definition without saving it and
// returns the collection as it would be stored, its fields derived from
// the query: what an admin UI shows while a view query is being written.
// The body is a collection's JSON form; with the id of an existing view
// collection it is checked as an update of it. Errors: as Create's.
func (s *Service) DryRunView(ctx context.Context, body []byte) (*core.Collection, error) {
	next, err := decodeCollection(nil, body)
	if err != nil {
		return nil, err
	}
	next.Type = core.TypeView
	sc := s.svc.Schema()
	var prev *core.Collection
	if next.ID != "" {
		if prev = sc.ByID(next.ID); prev != nil && !prev.IsView() {
			return nil, core.FieldInvalid("id", "validation_invalid_id", "The id is a collection that is not a view.")
		}
	} else {
		next.ID = "pbc_" + core.RandomString(10, "0123456789")
	}
	if err := s.viewFields(ctx, sc, prev, next); err != nil {
		return nil, err
	}
	if err := s.validateCollection(sc, prev, next); err != nil {
		return nil, err
	}
	return next, nil
}
