package store

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
)

func testCollection() *core.Collection {
	return &core.Collection{ID: "c1", Name: "posts", Fields: []core.Field{
		{ID: "f0", Name: "id", Type: core.FieldText},
		{ID: "f1", Name: "slug", Type: core.FieldText},
		{ID: "f2", Name: "Email", Type: core.FieldEmail},
		{ID: "f3", Name: "n", Type: core.FieldNumber},
	}}
}

func TestIndexSQL(t *testing.T) {
	cases := []struct {
		name, stmt, sqlite, postgres string
	}{
		{"pocketbase style",
			"CREATE UNIQUE INDEX `idx_slug` ON `posts` (`slug`)",
			`CREATE UNIQUE INDEX "idx_slug" ON "posts" ("slug")`,
			`CREATE UNIQUE INDEX "idx_slug" ON "posts" ("slug")`},
		{"nocase, desc, where, spelling normalised",
			`create unique index if not exists "idx_e" on posts (email collate nocase, N desc) where email != '' and n == 1;`,
			`CREATE UNIQUE INDEX "idx_e" ON "posts" ("Email" COLLATE NOCASE, "n" DESC) WHERE "Email" != '' AND "n" = 1`,
			`CREATE UNIQUE INDEX "idx_e" ON "posts" (lower("Email"), "n" DESC) WHERE "Email" != '' AND "n" = 1`},
		{"brackets and quotes in literals",
			`CREATE INDEX [idx x] ON [posts] ([slug]) WHERE slug <> 'it''s' OR slug IS NULL`,
			`CREATE INDEX "idx x" ON "posts" ("slug") WHERE "slug" <> 'it''s' OR "slug" IS NULL`,
			`CREATE INDEX "idx x" ON "posts" ("slug") WHERE "slug" <> 'it''s' OR "slug" IS NULL`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testCollection()
			c.Indexes = []string{tc.stmt}
			idx, err := ProcessIndexes(c, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := idx[0].SQL(SQLite, c.Name); got != tc.sqlite {
				t.Errorf("sqlite:\n got %s\nwant %s", got, tc.sqlite)
			}
			if got := idx[0].SQL(Postgres, c.Name); got != tc.postgres {
				t.Errorf("postgres:\n got %s\nwant %s", got, tc.postgres)
			}
		})
	}
}

func TestIndexRejected(t *testing.T) {
	for _, stmt := range []string{
		"", "CREATE TABLE x (a)", "CREATE INDEX", "CREATE INDEX i ON posts ()", "CREATE INDEX i ON posts (slug",
		"CREATE INDEX i ON posts (slug); DROP TABLE posts", "CREATE INDEX i ON other (slug)",
		"CREATE INDEX i ON posts (nope)", "CREATE INDEX i ON posts (lower(slug))", "CREATE INDEX main.i ON posts (slug)",
		"CREATE INDEX i ON main.posts (slug)", "CREATE INDEX i ON posts (slug) WHERE (SELECT 1)",
		"CREATE INDEX i ON posts (slug) WHERE n > (1", "CREATE INDEX i ON posts (slug) WHERE nope = 1",
		"CREATE INDEX i ON posts (slug) /* x */", "CREATE INDEX i ON posts (slug COLLATE RTRIM)",
		"CREATE INDEX sqlite_x ON posts (slug)", "CREATE INDEX i ON posts (slug) WHERE", "CREATE INDEX `` ON posts (slug)",
		"CREATE INDEX i ON posts (slug) extra", "CREATE INDEX i ON posts (slug) WHERE slug = 'x' ; DROP TABLE posts",
		"CREATE INDEX " + strings.Repeat("x", 64) + " ON posts (slug)", "CREATE INDEX i ON posts (slug) WHERE n = 1e",
	} {
		c := testCollection()
		c.Indexes = []string{stmt}
		_, err := ProcessIndexes(c, "")
		if e := core.AsError(err); e == nil || e.Kind != core.KindInvalid || e.Fields["indexes"].Code == "" {
			t.Errorf("%q: err = %v, want KindInvalid on indexes", stmt, err)
		}
	}
}

func TestIndexRetarget(t *testing.T) {
	c := testCollection()
	c.Name = "articles"
	c.Indexes = []string{"CREATE INDEX `idx_slug` ON `posts` (`slug`)", `CREATE INDEX "i2" ON "articles" ("n")`}
	idx, err := ProcessIndexes(c, "posts")
	if err != nil {
		t.Fatal(err)
	}
	if want := "CREATE INDEX `idx_slug` ON `articles` (`slug`)"; c.Indexes[0] != want {
		t.Errorf("rewritten to %s, want %s", c.Indexes[0], want)
	}
	if c.Indexes[1] != `CREATE INDEX "i2" ON "articles" ("n")` {
		t.Errorf("untouched statement changed: %s", c.Indexes[1])
	}
	if got := idx[0].SQL(SQLite, c.Name); got != `CREATE INDEX "idx_slug" ON "articles" ("slug")` {
		t.Errorf("SQL = %s", got)
	}
}

func TestPrepareCollection(t *testing.T) {
	prev := testCollection()
	bad := map[string]func(c *core.Collection){
		"bad name":          func(c *core.Collection) { c.Name = "1x" },
		"reserved name":     func(c *core.Collection) { c.Name = "_collections" },
		"no id field":       func(c *core.Collection) { c.Fields = c.Fields[1:] },
		"duplicate name":    func(c *core.Collection) { c.Fields[2].Name = "SLUG" },
		"duplicate id":      func(c *core.Collection) { c.Fields[2].ID = "f1" },
		"unknown type":      func(c *core.Collection) { c.Fields[1].Type = "blob" },
		"type change":       func(c *core.Collection) { c.Fields[3].Type = core.FieldText },
		"collection id":     func(c *core.Collection) { c.ID = "other" },
		"id field replaced": func(c *core.Collection) { c.Fields[0].ID = "new" },
	}
	for name, edit := range bad {
		next := prev.Clone()
		edit(next)
		if _, err := PrepareCollection(prev, next); core.KindOf(err) != core.KindInvalid {
			t.Errorf("%s: err = %v, want KindInvalid", name, err)
		}
	}
	next := prev.Clone()
	next.Fields[1].Type = core.FieldText
	next.Fields = append(next.Fields, core.Field{ID: "f4", Name: "tags", Type: core.FieldSelect, MaxSelect: 3})
	if _, err := PrepareCollection(prev, next); err != nil {
		t.Errorf("valid change: %v", err)
	}
}

func TestDiffIndexes(t *testing.T) {
	prev := testCollection()
	prev.Indexes = []string{"CREATE INDEX a ON posts (slug)", "CREATE INDEX b ON posts (n)", "CREATE INDEX c ON posts (n)"}
	next := prev.Clone()
	next.Name = "renamed"
	next.Indexes = []string{"CREATE INDEX a ON posts (slug)", "CREATE UNIQUE INDEX b ON renamed (n)", "CREATE INDEX d ON renamed (n)"}
	idx, err := ProcessIndexes(next, prev.Name)
	if err != nil {
		t.Fatal(err)
	}
	drop, create := DiffIndexes(SQLite, next.Name, StoredIndexes(prev), idx)
	var names []string
	for _, ix := range create {
		names = append(names, ix.Name)
	}
	if !reflect.DeepEqual(drop, []string{"b", "c"}) || !reflect.DeepEqual(names, []string{"b", "d"}) {
		t.Errorf("drop %v create %v", drop, names)
	}
}

func TestNumberPlaceholders(t *testing.T) {
	cases := []struct {
		in, out string
		next    int
	}{
		{`a = ? AND b = ?`, `a = $1 AND b = $2`, 3},
		{`a = '?' AND b = ?`, `a = '?' AND b = $1`, 2},
		{`a = 'it''s ?' AND "we?ird" = ?`, `a = 'it''s ?' AND "we?ird" = $1`, 2},
		{`a = E'\'?' AND b = ?`, `a = E'\'?' AND b = $1`, 2},
		{`a = $$ ? $$ AND b = $tag$ ?$ $tag$ AND c = ?`, `a = $$ ? $$ AND b = $tag$ ?$ $tag$ AND c = $1`, 2},
		{"a = ? -- what?\n AND b = ?", "a = $1 -- what?\n AND b = $2", 3},
		{`a = ? /* x /* ? */ ? */ AND b = ?`, `a = $1 /* x /* ? */ ? */ AND b = $2`, 3},
		{`x$y = ?`, `x$y = $1`, 2},
		{`no placeholders`, `no placeholders`, 1},
	}
	for _, tc := range cases {
		out, next := NumberPlaceholders(tc.in, 1)
		if out != tc.out || next != tc.next {
			t.Errorf("%s\n got %s (%d)\nwant %s (%d)", tc.in, out, next, tc.out, tc.next)
		}
	}
	if out, next := NumberPlaceholders("? ?", 4); out != "$4 $5" || next != 6 {
		t.Errorf("from 4: %s %d", out, next)
	}
}

func TestCanonical(t *testing.T) {
	num := &core.Field{Name: "n", Type: core.FieldNumber}
	multi := &core.Field{Name: "m", Type: core.FieldSelect, MaxSelect: 2}
	single := &core.Field{Name: "s", Type: core.FieldRelation}
	js := &core.Field{Name: "j", Type: core.FieldJSON}
	cases := []struct {
		f    *core.Field
		in   any
		want any
	}{
		{num, 3, 3.0}, {num, int64(-2), -2.0}, {num, json.Number("1.5"), 1.5}, {num, nil, 0.0},
		{multi, "a", []string{"a"}}, {multi, "", []string{}}, {multi, []any{"x", "y"}, []string{"x", "y"}}, {multi, nil, []string{}},
		{single, []string{"a", "b"}, "b"}, {single, []string{}, ""},
		{js, json.RawMessage("null"), json.RawMessage(nil)}, {js, map[string]int{"a": 1}, json.RawMessage(`{"a":1}`)},
		{js, `[1]`, json.RawMessage(`[1]`)},
	}
	for _, tc := range cases {
		got, err := Canonical(tc.f, tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %#v: got %#v, %v; want %#v", tc.f.Name, tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []struct {
		f  *core.Field
		in any
	}{{num, "1"}, {num, math.NaN()}, {num, math.Inf(1)}, {js, "{nope"}, {multi, []any{1}}, {&core.Field{Name: "b", Type: core.FieldBool}, 1}} {
		if _, err := Canonical(bad.f, bad.in); core.KindOf(err) != core.KindInvalid {
			t.Errorf("%s %#v: err = %v, want KindInvalid", bad.f.Name, bad.in, err)
		}
	}
}

func TestDecodeList(t *testing.T) {
	for in, want := range map[string][]string{
		``: {}, `[]`: {}, `null`: {}, `["a","b"]`: {"a", "b"}, `[1,"x",true]`: {"1", "x", "true"}, `"a"`: {}, `{`: {},
	} {
		if got := DecodeList([]byte(in)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, want %#v", in, got, want)
		}
	}
}

// FuzzParseIndex checks that the parser never panics and that whatever it
// accepts renders to a statement it accepts again, unchanged.
func FuzzParseIndex(f *testing.F) {
	for _, s := range []string{
		"CREATE UNIQUE INDEX `idx_slug` ON `posts` (`slug`)",
		`CREATE INDEX "i" ON "posts" ("Email" COLLATE NOCASE DESC) WHERE "Email" != '' AND n >= -1.5e3`,
		`CREATE INDEX [i] ON posts (slug, n) WHERE (slug IS NOT NULL OR n IN (1, 2)) AND slug LIKE 'a%'`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stmt string) {
		c := testCollection()
		c.Indexes = []string{stmt}
		idx, err := ProcessIndexes(c, "")
		if err != nil {
			return
		}
		for _, d := range []Dialect{SQLite} {
			sql := idx[0].SQL(d, c.Name)
			c2 := testCollection()
			c2.Indexes = []string{sql}
			idx2, err := ProcessIndexes(c2, "")
			if err != nil {
				t.Fatalf("rendered %q from %q does not parse: %v", sql, stmt, err)
			}
			if again := idx2[0].SQL(d, c.Name); again != sql {
				t.Fatalf("not stable: %q then %q", sql, again)
			}
		}
	})
}

// FuzzNumberPlaceholders checks that rewriting never panics, keeps every
// byte that is not a placeholder, and numbers placeholders consecutively.
func FuzzNumberPlaceholders(f *testing.F) {
	for _, s := range []string{`a = ? AND b = '?'`, `$$?$$ ? "?" -- ?`, `/* /* ? */ */ ?`, `E'\'' ?`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, next := NumberPlaceholders(in, 1)
		if n := next - 1; n > strings.Count(in, "?") || n < 0 {
			t.Fatalf("%d placeholders from %d question marks", n, strings.Count(in, "?"))
		}
		if next == 1 && out != in {
			t.Fatalf("changed without placeholders: %q → %q", in, out)
		}
	})
}

func FuzzDecodeList(f *testing.F) {
	for _, s := range []string{`[]`, `["a","b"]`, `["a\"b"]`, `[ "a" ]`, `["a",]`, `[,"a"]`, `["a""b"]`, `[1]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := DecodeList([]byte(in))
		var want []string
		if json.Unmarshal([]byte(in), &want) == nil && want != nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %q, encoding/json says %q", in, got, want)
		}
		if got == nil {
			t.Fatal("nil list")
		}
	})
}

// A collection may not take the name of a table the store, the request
// log or the job queue keeps beside the collections' tables: creating it
// would fail inside the engine, or worse, on a database where the table
// does not exist yet, claim it.
func TestReservedNames(t *testing.T) {
	for _, name := range []string{"_collections", "_META", "_params", "_migrations", "_counts", "_changes",
		"_search_flush", "_search_pbc_123_q", "_Search_x", "_request_logs", "_request_stats", "_jobs_outbox", "river_job",
		"River_leader", "sqlite_master", "pg_class"} {
		if !IsReservedName(name) {
			t.Errorf("IsReservedName(%q) = false", name)
		}
		c := &core.Collection{ID: "pbc_reserved", Name: name, Type: core.TypeBase, Fields: []core.Field{core.IDField()}}
		if _, err := PrepareCollection(nil, c); core.KindOf(err) != core.KindInvalid {
			t.Errorf("PrepareCollection(%q) = %v, want an invalid-name error", name, err)
		}
	}
	for _, name := range []string{"_superusers", "_mfas", "_otps", "_externalAuths", "_authOrigins", "posts",
		"search", "_searches", "rivers", "params", "counts"} {
		if IsReservedName(name) {
			t.Errorf("IsReservedName(%q) = true", name)
		}
	}
}
