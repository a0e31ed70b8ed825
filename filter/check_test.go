package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
)

// schemaOf is a Schema over a fixed set of collections.
type schemaOf map[string]*core.Collection

func (s schemaOf) CollectionByNameOrID(n string) *core.Collection {
	for _, c := range s {
		if c.Name == n || c.ID == n {
			return c
		}
	}
	return nil
}

func testEnv() *Env {
	colls := testCollections()
	auth := core.NewRecord(colls["users"])
	auth.Data["id"] = "user00000000001"
	auth.Data["friends"] = []string{"user00000000002"}
	return &Env{
		Schema:     schemaOf(colls),
		Collection: colls["posts"],
		Now:        time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Request:    &Request{Auth: auth, Body: map[string]any{"title": "x", "views": "3"}},
		Params:     map[string]any{"p": "v"},
	}
}

func TestCheckErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"unknown field", "nope = 1", `unknown field "nope" at position 0`},
		{"unknown field later", "title = 'a' && foo = 1", `unknown field "foo" at position 15`},
		{"unknown path", "author.nope = 1", `unknown field "author.nope"`},
		{"path through text", "title.x = 1", `unknown field "title.x"`},
		{"hidden field", "internal = 'x'", `unknown field "internal" at position 0`},
		{"hidden through relation", "author.secret = 'x'", `unknown field "author.secret"`},
		{"password through relation", "author.password = 'x'", `unknown field "author.password"`},
		{"hidden in collection", "@collection.users.secret ?= 'x'", `unknown field "@collection.users.secret"`},
		{"hidden on auth", "@request.auth.secret = 'x'", `unknown field "@request.auth.secret"`},
		{"unknown back relation", "comments_via_nope.id = ''", `unknown field "comments_via_nope"`},
		{"back relation wrong target", "comments_via_author.id = ''", `unknown field "comments_via_author"`},
		{"unknown collection", "@collection.nope.id = ''", `unknown collection "nope"`},
		{"collection without field", "@collection.users = ''", "@collection needs a collection and a field"},
		{"unknown request", "@request.nope = ''", `unknown identifier "@request.nope"`},
		{"unknown macro", "@later = ''", `unknown identifier "@later"`},
		{"macro with path", "@now.x = ''", "invalid identifier"},
		{"unknown modifier", "title:upper = 'a'", "unknown modifier :upper"},
		{"lower on number", "views:lower = 1", "modifier :lower needs a text field"},
		{"length on single", "title:length > 1", "modifier :length needs a multiple field"},
		{"each on single", "title:each = 'a'", "modifier :each needs a multiple field"},
		{"isset on field", "title:isset = true", "only valid on @request.body"},
		{"changed unknown", "@request.body.nope:changed = true", "modifier :changed needs a field of the collection"},
		{"changed hidden", "@request.body.internal:changed = true", "modifier :changed needs a field"},
		{"changed json", "@request.body.meta:changed = true", "not supported on json"},
		{"text vs number", "title = 1", `cannot compare title (text) with 1 (number)`},
		{"number vs text", "views > 'a'", `cannot compare views (number) with "a" (text)`},
		{"bool vs text", "published = 'true'", "cannot compare"},
		{"bool vs 2", "published = 2", "cannot compare"},
		{"bool ordering", "published > true", "cannot compare bool values"},
		{"unknown function", "distance(1, 2, 3, 4) < 1", `unknown function "distance"`},
		{"geo arity", "geoDistance(1, 2, 3) < 1", "needs 4 arguments"},
		{"geo no arguments", "geoDistance() < 1", "needs 4 arguments"},
		{"geo text argument", "geoDistance(title, 1, 2, 3) < 1", "argument 1 of geoDistance (title) must be a number, it is text"},
		{"geo bool argument", "geoDistance(1, published, 2, 3) < 1", "argument 2 of geoDistance (published) must be a number"},
		{"geo list argument", "geoDistance(labels, 1, 2, 3) < 1", "must be a single number, not a list"},
		{"geo nested call", "geoDistance(geoDistance(1, 2, 3, 4), 1, 2, 3) < 1", "cannot be calls"},
		{"geo unclosed", "geoDistance(1, 2, 3, 4 < 1", "expected , or )"},
		{"geo trailing comma", "geoDistance(1, 2, 3, 4,) < 1", "expected a value or a field"},
		{"comma outside a call", "title = 'a', views = 1", `unexpected ","`},
		{"geo unknown part", "location.alt = 1", `unknown field "location.alt"`},
		{"geo too deep", "location.lon.x = 1", `unknown field "location.lon.x"`},
		{"geo changed", "@request.body.location:changed = true", "not supported on geoPoint fields"},
		{"geo lower", "location.lon:lower = '1'", "needs a text field"},
		{"date vs number", "created > 5", "cannot compare"},
		{"json vs json", "meta = meta", "cannot compare two json values"},
		{"macro vs text", "@hour = 'x'", "cannot compare"},
		{"missing placeholder", "title = {:nope}", "no value for placeholder {:nope}"},
		{"bad json key", "meta.1a = 'x'", "invalid json key"},
		{"modifier mid path", "author:lower.name = 'x'", "invalid identifier"},
		{"empty segment", "author..name = 'x'", "invalid identifier"},
		{"too many hops", "author.friends.friends.friends.friends.friends.friends.name ?= 'x'", "more than 6 relations"},
		{"body alias bad", "@collection.users:a:b.name = 'x'", "invalid identifier"},
		{"request without key", "@request.body = 1", "invalid identifier"},
		{"system collection", "@collection._superusers.email ?= 'x'", `unknown collection "_superusers"`},
		{"auth back relation alone", "@request.auth.posts_via_author = ''", `unknown field "@request.auth.posts_via_author"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tc.src, testEnv(), query.SQLite)
			if err == nil {
				t.Fatalf("Compile(%q) succeeded", tc.src)
			}
			if core.KindOf(err) != core.KindInvalid {
				t.Fatalf("kind %v, want invalid: %v", core.KindOf(err), err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "invalid filter: ") {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// A hidden field and a missing one must be indistinguishable.
func TestHiddenIsUnknown(t *testing.T) {
	t.Parallel()
	_, hidden := Compile("internal = 'x'", testEnv(), query.SQLite)
	_, missing := Compile("internaX = 'x'", testEnv(), query.SQLite)
	if strings.ReplaceAll(hidden.Error(), "internal", "internaX") != missing.Error() {
		t.Fatalf("hidden %q vs missing %q", hidden, missing)
	}
	env := testEnv()
	env.AllowHidden = true
	if _, err := Compile("internal = 'x' && author.password = ''", env, query.SQLite); err != nil {
		t.Fatalf("with AllowHidden: %v", err)
	}
}

func TestCompileSQL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, sqlite, pg string
		args                  int
	}{
		{"empty", "", "1=1", "1=1", 0},
		{"simple", "title = 'a'", `_r."title" = ?`, `_r."title" = CAST(? AS text)`, 1},
		{"text order", "title < 'a'", `_r."title" < ?`, `_r."title" COLLATE "C" < CAST(? AS text)`, 1},
		{"bool", "published = true", `_r."published" = ?`, `_r."published" = CAST(? AS boolean)`, 1},
		{"constant folded true", "@request.auth.id != ''", "1=1", "1=1", 0},
		{"constant folded false", "@request.auth.id = '' && title = 'a'", "1=0", "1=0", 0},
		{"folded away", "@request.auth.id != '' && title = 'a'", `_r."title" = ?`, `_r."title" = CAST(? AS text)`, 1},
		{"or", "title = 'a' || views > 1", `(_r."title" = ? OR _r."views" > ?)`, `(_r."title" = CAST(? AS text) OR _r."views" > CAST(? AS double precision))`, 2},
		{"injection is an arg", `title = "'; DROP TABLE posts; --"`, `_r."title" = ?`, `_r."title" = CAST(? AS text)`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, d := range []query.Dialect{query.SQLite, query.Postgres} {
				got, err := Compile(tc.src, testEnv(), d)
				if err != nil {
					t.Fatal(err)
				}
				want := tc.sqlite
				if d == query.Postgres {
					want = tc.pg
				}
				if got.Text != want || len(got.Args) != tc.args {
					t.Errorf("%s: got %q %v, want %q with %d args", d, got.Text, got.Args, want, tc.args)
				}
			}
		})
	}
}

func TestCompileBadEnv(t *testing.T) {
	t.Parallel()
	if _, err := Compile("a = 1", nil, query.SQLite); core.KindOf(err) != core.KindInternal {
		t.Errorf("nil env: %v", err)
	}
	if _, err := Compile("title = 'a'", testEnv(), "oracle"); core.KindOf(err) != core.KindInternal {
		t.Errorf("bad dialect: %v", err)
	}
	env := testEnv()
	env.Schema = nil
	if _, err := Compile("author.name = 'a'", env, query.SQLite); core.KindOf(err) != core.KindInvalid {
		t.Errorf("no schema: %v", err)
	}
}

func TestMacros(t *testing.T) {
	t.Parallel()
	env := testEnv()
	env.Now = time.Date(2024, 2, 29, 23, 59, 58, 5e6, time.UTC) // Thursday, leap day
	want := map[string]any{
		"@now":        "2024-02-29 23:59:58.005Z",
		"@yesterday":  "2024-02-28 23:59:58.005Z",
		"@tomorrow":   "2024-03-01 23:59:58.005Z",
		"@todayStart": "2024-02-29 00:00:00.000Z",
		"@todayEnd":   "2024-02-29 23:59:59.999Z",
		"@monthStart": "2024-02-01 00:00:00.000Z",
		"@monthEnd":   "2024-02-29 23:59:59.999Z",
		"@yearStart":  "2024-01-01 00:00:00.000Z",
		"@yearEnd":    "2024-12-31 23:59:59.999Z",
		"@second":     58.0, "@minute": 59.0, "@hour": 23.0, "@weekday": 4.0,
		"@day": 29.0, "@month": 2.0, "@year": 2024.0,
	}
	for m, v := range want {
		op := "title = "
		if _, ok := v.(float64); ok {
			op = "views = "
		}
		got, err := Compile(op+m, env, query.SQLite)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if len(got.Args) != 1 || got.Args[0] != v {
			t.Errorf("%s = %v, want %v", m, got.Args, v)
		}
	}
}

func TestSort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, sort, sqlite, pg string
	}{
		{"empty", "", "", ""},
		{"fields", "-created,title", `_r."created" DESC, _r."title" ASC`, `_r."created" COLLATE "C" DESC, _r."title" COLLATE "C" ASC`},
		{"plus and number", "+views, -published", `_r."views" ASC, _r."published" DESC`, `_r."views" ASC, _r."published" DESC`},
		{"random rowid", "@random,-@rowid", "RANDOM() ASC, _r.rowid DESC", "RANDOM() ASC, _r.ctid DESC"},
		{"relation", "author.name", `COALESCE((SELECT _j1."name" FROM "users" _j1 WHERE _j1."id" = _r."author"), '') ASC`,
			`COALESCE((SELECT _j1."name" FROM "users" _j1 WHERE _j1."id" = _r."author"), '') COLLATE "C" ASC`},
		{"multiple", "labels", `_r."labels" ASC`, `CAST(_r."labels" AS text) COLLATE "C" ASC`},
		{"geoPoint part", "-location.lat",
			`COALESCE(CASE WHEN json_type(_r."location", '$.lat') IN ('integer', 'real') THEN json_extract(_r."location", '$.lat') END, 0) DESC`,
			`COALESCE(CASE jsonb_typeof(_r."location" -> 'lat') WHEN 'number' THEN CAST((_r."location" ->> 'lat') AS double precision) END, 0) DESC`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, d := range []query.Dialect{query.SQLite, query.Postgres} {
				got, err := CompileSort(tc.sort, testEnv(), d)
				if err != nil {
					t.Fatal(err)
				}
				want := tc.sqlite
				if d == query.Postgres {
					want = tc.pg
				}
				if got != want {
					t.Errorf("%s: got %q, want %q", d, got, want)
				}
			}
		})
	}
	bad := []struct{ sort, want string }{
		{"nope", `unknown field "nope"`},
		{"internal", `unknown field "internal"`},
		{"-", "bad key"},
		{"title,,views", "bad key"},
		{"title;drop", "bad key"},
		{"meta", "json field"},
		{"location", "geoPoint field"},
		{"location.alt", "unknown field"},
		{"geoDistance(location.lon,location.lat,1,2)", "bad key"},
		{"tags.name", "reaches many records"},
		{"comments_via_post.likes", "reaches many records"},
		{"title:lower", "bad key"},
		{strings.Repeat("title,", MaxSortFields) + "title", "more than"},
	}
	for _, tc := range bad {
		_, err := CompileSort(tc.sort, testEnv(), query.SQLite)
		if err == nil || core.KindOf(err) != core.KindInvalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CompileSort(%q) = %v, want invalid %q", tc.sort, err, tc.want)
		}
	}
}
