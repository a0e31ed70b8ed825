package filter

import (
	"slices"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
)

// multipleFixture is the world of PocketBase's multiple-field idioms:
// items tagged [go,db], [db], [web] and [], and shelves holding items.
func multipleFixture(t *testing.T) *fixture {
	t.Helper()
	idf := core.Field{ID: "f_id", Name: "id", Type: core.FieldText, PrimaryKey: true, System: true}
	items := &core.Collection{ID: "c_items", Name: "items", Type: core.TypeBase, Fields: []core.Field{
		idf,
		{ID: "i1", Name: "title", Type: core.FieldText},
		{ID: "i2", Name: "tags", Type: core.FieldSelect, Values: []string{"go", "db", "web", "js"}, MaxSelect: 3},
	}}
	shelves := &core.Collection{ID: "c_shelves", Name: "shelves", Type: core.TypeBase, Fields: []core.Field{
		idf,
		{ID: "s1", Name: "title", Type: core.FieldText},
		{ID: "s2", Name: "items", Type: core.FieldRelation, CollectionID: "c_items", MaxSelect: 5},
	}}
	items.ListRule, shelves.ListRule = new(string), new(string)
	f := &fixture{
		colls:   map[string]*core.Collection{"items": items, "shelves": shelves},
		records: map[string][]*core.Record{},
		now:     time.Date(2025, 6, 15, 13, 45, 30, 0, time.UTC),
	}
	add := func(c *core.Collection, id, title, field string, list []string) {
		r := core.NewRecord(c)
		r.Data["id"], r.Data["title"], r.Data[field] = id, title, list
		f.records[c.Name] = append(f.records[c.Name], r)
	}
	add(items, rid("item", 1), "go+db", "tags", []string{"go", "db"})
	add(items, rid("item", 2), "db", "tags", []string{"db"})
	add(items, rid("item", 3), "web", "tags", []string{"web"})
	add(items, rid("item", 4), "none", "tags", []string{})
	add(shelves, rid("shelf", 1), "go+db,db", "items", []string{rid("item", 1), rid("item", 2)})
	add(shelves, rid("shelf", 2), "go+db,web", "items", []string{rid("item", 1), rid("item", 3)})
	add(shelves, rid("shelf", 3), "empty", "items", []string{})
	f.open(t)
	return f
}

// TestMultipleFieldSemantics pins the meaning of filters on multiple
// fields that PocketBase users rely on (measured against PocketBase
// v0.39), on SQLite, PostgreSQL and Eval alike: a plain ~ on the field
// means "some item contains", :each leaves the quantifier to the operator.
func TestMultipleFieldSemantics(t *testing.T) {
	t.Parallel()
	f := multipleFixture(t)
	tests := []struct {
		name, coll, expr string
		want             []string // titles, sorted
	}{
		// The table PocketBase's JS SDK test checks.
		{"plain ~ is some item contains", "items", `tags ~ "db"`, []string{"db", "go+db"}},
		{"plain ~ matches inside an item", "items", `tags ~ "o"`, []string{"go+db"}},
		{"each with ?= is some item", "items", `tags:each ?= "db"`, []string{"db", "go+db"}},
		{"each with plain = is every item", "items", `tags:each = "db"`, []string{"db"}},
		{"length counts items", "items", `tags:length > 1`, []string{"go+db"}},
		{"body each with plain ~ is every item", "items", `@request.body.prefixed:each ~ 'pb_%'`, []string{"db", "go+db", "none", "web"}},
		{"body each with plain ~ fails on one item", "items", `@request.body.mixed:each ~ 'pb_%'`, nil},

		// Around it.
		{"plain !~ is no item contains", "items", `tags !~ "db"`, []string{"none", "web"}},
		{"?~ is some item contains", "items", `tags ?~ "o"`, []string{"go+db"}},
		{"?!~ is some item does not contain", "items", `tags ?!~ "db"`, []string{"go+db", "none", "web"}},
		{"each with plain ~ is every item contains", "items", `tags:each ~ "b"`, []string{"db", "web"}},
		{"each with plain ~ on a partial match", "items", `tags:each ~ "o"`, nil},
		{"each with ?~ is some item contains", "items", `tags:each ?~ "o"`, []string{"go+db"}},
		{"lower keeps plain ~ as some item", "items", `tags:lower ~ "DB"`, []string{"db", "go+db"}},
		{"plain = is every item", "items", `tags = "db"`, []string{"db"}},
		{"plain != is every item", "items", `tags != "db"`, []string{"none", "web"}},
		{"?= is some item", "items", `tags ?= "db"`, []string{"db", "go+db"}},
		{"each with ?!= is some item", "items", `tags:each ?!= "db"`, []string{"go+db", "none", "web"}},
		{"empty list is one null value", "items", `tags:each = ""`, []string{"none"}},
		{"empty list does not contain", "items", `tags ~ "b" || tags:each ?~ "b"`, []string{"db", "go+db", "web"}},
		{"each ?= body list is some item in the list", "items", `tags:each ?= @request.body.picked`, []string{"db", "go+db"}},
		{"body each ?= field is some body item", "items", `@request.body.picked:each ?= tags`, []string{"db", "go+db"}},
		{"body each with ?~ is some item", "items", `@request.body.mixed:each ?~ 'pb_%'`, []string{"db", "go+db", "none", "web"}},
		{"body list under plain ~ is every item", "items", `tags ~ @request.body.picked`, nil},
		{"field under plain ~ with a body list", "items", `tags ~ @request.body.dbgo`, []string{"go+db"}},

		// The last field of a to-many path follows the field's rule; the
		// path keeps its own: every item on the shelf, some of its tags.
		{"path plain ~ is every record, some item", "shelves", `items.tags ~ "db"`, []string{"go+db,db"}},
		{"path ?~ is some record, some item", "shelves", `items.tags ?~ "db"`, []string{"go+db,db", "go+db,web"}},
		{"path each ?= is some record, some item", "shelves", `items.tags:each ?= "web"`, []string{"go+db,web"}},
		{"path each plain = is every record, every item", "shelves", `items.tags:each = "db"`, nil},
		{"path plain !~ is every record, no item", "shelves", `items.tags !~ "go"`, []string{"empty"}},
		{"multiple relation ids under plain ~", "shelves", `items ~ "0001"`, []string{"go+db,db", "go+db,web"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := &Env{Schema: f, Collection: f.colls[tc.coll], Now: f.now, Request: &Request{Body: map[string]any{
				"prefixed": []any{"pb_a", "pb_b"},
				"mixed":    []any{"pb_a", "x"},
				"picked":   []any{"db", "js"},
				"dbgo":     []any{"d", "g"},
			}}}
			ids, err := f.matches(t, tc.coll, tc.expr, env)
			if err != nil {
				t.Fatalf("%s: %v", tc.expr, err)
			}
			var got []string
			for _, r := range f.records[tc.coll] {
				if slices.Contains(ids, r.ID()) {
					got = append(got, r.String("title"))
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}
