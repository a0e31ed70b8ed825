package filter

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
)

func rule(s string) *string { return &s }

// accessFixture is the differential world with restrictive listRules on
// the related collections: users are owner-only, tags are locked, comments
// are visible to their author and to the author of their post (a rule
// that itself follows a relation).
func accessFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{colls: testCollections(), now: time.Date(2025, 6, 15, 13, 45, 30, 123e6, time.UTC)}
	f.colls["users"].ListRule = rule("id = @request.auth.id")
	f.colls["tags"].ListRule = nil
	f.colls["comments"].ListRule = rule("author = @request.auth.id || post.author = @request.auth.id")
	f.records = buildRecords(f.colls, f.now)
	f.auth = f.records["users"][0]
	f.open(t)
	return f
}

// accessPostFilters reach users, tags and comments from posts.
var accessPostFilters = []string{
	`author.name ~ 'a'`,
	`author.name = null`,
	`author.name != ''`,
	`author = @request.auth.id`,
	`author.id = author`,
	`author.age > 20 || published = true`,
	`author.friends.name ?= 'Bob'`,
	`author.friends.friends.name ?= 'Cid'`,
	`author.email ~ 'example'`,
	`author.email = null`,
	`author.email != 'c@test.org'`,
	`author.email:lower ?~ '@'`,
	`tags.name ?= 'go'`,
	`tags.name = null`,
	`tags:length > 0 && tags.weight ?> 1`,
	`@collection.tags.name ?= 'go'`,
	`@collection.tags.weight > 100`,
	`@collection.users.name ?= author.name`,
	`@collection.users.id ?= author`,
	`@collection.users.email ?= 'a@example.com'`,
	`comments_via_post.likes ?> 3`,
	`comments_via_post.likes > 3`,
	`comments_via_post.id = null`,
	`comments_via_post.author.name ?= 'Ann'`,
	`comments_via_post.approved ?= true && comments_via_post.likes ?> 2`,
	`comments_via_post.mentions.name ?= 'Bob'`,
	`@collection.comments.post ?= id && @collection.comments.likes ?> 5`,
	`@request.auth.friends.name ?= author.name`,
	`@request.auth.comments_via_author.post ?= id`,
	`@request.auth.posts_via_author.views ?> views`,
}

// accessUserFilters filter users (an auth collection) directly.
var accessUserFilters = []string{
	`email ~ 'example'`,
	`email = null`,
	`email != ''`,
	`email = 'c@test.org' || name = 'Bob'`,
	`friends.email ?~ 'example'`,
	`friends.name ?= 'Ann'`,
	`users_via_friends.name ?= 'Ann'`,
	`comments_via_author.likes ?> 2`,
	`posts_via_author.views ?> 10`,
}

func TestDifferentialAccess(t *testing.T) {
	t.Parallel()
	f := accessFixture(t)
	got := map[string][]string{}
	for _, who := range []string{"auth", "guest", "superuser"} {
		for coll, exprs := range map[string][]string{"posts": accessPostFilters, "users": accessUserFilters} {
			env := f.env(coll)
			switch who {
			case "guest":
				env.Request.Auth = nil
			case "superuser":
				env.AllowHidden = true
			}
			for _, expr := range exprs {
				ids, err := f.matches(t, coll, expr, env)
				if err != nil {
					t.Errorf("%s %s: %v", who, expr, err)
				}
				got[who+" "+expr] = ids
			}
		}
	}
	// The rules must make a difference, or the test is weak.
	differ := 0
	for _, exprs := range [][]string{accessPostFilters, accessUserFilters} {
		for _, expr := range exprs {
			if !slices.Equal(got["auth "+expr], got["superuser "+expr]) {
				differ++
			}
		}
	}
	if n := len(accessPostFilters) + len(accessUserFilters); differ < n/2 {
		t.Errorf("only %d of %d filters see the listRules", differ, n)
	}
}

// TestDifferentialAccessRandom runs the random filters over posts under
// the restrictive rules, for the caller and for a guest.
func TestDifferentialAccessRandom(t *testing.T) {
	t.Parallel()
	f := accessFixture(t)
	for _, guest := range []bool{false, true} {
		env := f.env("posts")
		if guest {
			env.Request.Auth = nil
		}
		r := rand.New(rand.NewPCG(7, 7))
		for range 150 {
			expr := randomFilter(r, 2)
			if _, err := f.matches(t, "posts", expr, env); err != nil && core.KindOf(err) != core.KindInvalid {
				t.Errorf("%s: %v", expr, err)
			}
		}
	}
}

// noteWorld is the attack: user B filters their own note by the name of
// user A, whom the users listRule hides from B.
func noteWorld() (schemaOf, *core.Collection, *core.Record, *core.Record, map[string][]*core.Record) {
	idf := core.Field{ID: "f_id", Name: "id", Type: core.FieldText, PrimaryKey: true, System: true}
	users := &core.Collection{ID: "c_users", Name: "users", Type: core.TypeAuth, ListRule: rule("id = @request.auth.id"), Fields: []core.Field{
		idf,
		{ID: "u1", Name: "name", Type: core.FieldText},
		{ID: "u2", Name: "email", Type: core.FieldEmail},
		{ID: "u3", Name: "emailVisibility", Type: core.FieldBool},
	}}
	notes := &core.Collection{ID: "c_notes", Name: "notes", Type: core.TypeBase, ListRule: rule("owner = @request.auth.id"), Fields: []core.Field{
		idf,
		{ID: "n1", Name: "owner", Type: core.FieldRelation, CollectionID: "c_users", MaxSelect: 1},
		{ID: "n2", Name: "about", Type: core.FieldRelation, CollectionID: "c_users", MaxSelect: 1},
	}}
	a := core.NewRecord(users)
	a.Data["id"], a.Data["name"], a.Data["email"], a.Data["emailVisibility"] = "usera", "xavier", "a@x.org", false
	b := core.NewRecord(users)
	b.Data["id"], b.Data["name"], b.Data["email"], b.Data["emailVisibility"] = "userb", "bea", "b@x.org", false
	n := core.NewRecord(notes)
	n.Data["id"], n.Data["owner"], n.Data["about"] = "note1", "userb", "usera"
	recs := map[string][]*core.Record{"users": {a, b}, "notes": {n}}
	return schemaOf{"users": users, "notes": notes}, notes, a, b, recs
}

type memLoader map[string][]*core.Record

func (m memLoader) Records(c *core.Collection) ([]*core.Record, error) { return m[c.Name], nil }

func evalOn(t *testing.T, src string, env *Env, rec *core.Record, data Loader) bool {
	t.Helper()
	e, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := Eval(e, env, rec, data)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return ok
}

func TestAccessNoOracleThroughRelation(t *testing.T) {
	t.Parallel()
	schema, notes, _, b, recs := noteWorld()
	note := recs["notes"][0]
	client := &Env{Schema: schema, Collection: notes, Request: &Request{Auth: b}}
	// B cannot see A's name: as if the note had no "about" record.
	for src, want := range map[string]bool{
		`about.name ~ 'x'`:      false,
		`about.name = 'xavier'`: false,
		`about.name = null`:     true,
		`about.name != 'bea'`:   true,
		`about = 'usera'`:       true, // the note's own field stays visible
		`owner.name = 'bea'`:    true, // B's own record passes the rule
	} {
		if got := evalOn(t, src, client, note, memLoader(recs)); got != want {
			t.Errorf("client %s = %v, want %v", src, got, want)
		}
	}
	// Rules and superusers (AllowHidden) are not restricted.
	trusted := &Env{Schema: schema, Collection: notes, Request: &Request{Auth: b}, AllowHidden: true}
	if !evalOn(t, `about.name = 'xavier'`, trusted, note, memLoader(recs)) {
		t.Error("AllowHidden must reach every related record")
	}
	// The SQL carries the related collection's rule with the caller's id.
	sql, err := Compile(`about.name ~ 'x'`, client, query.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sql.Text, `"id" = ?`) || !slices.Contains(sql.Args, any("userb")) {
		t.Errorf("listRule not in SQL: %s %v", sql.Text, sql.Args)
	}
}

func TestAccessLockedCollection(t *testing.T) {
	t.Parallel()
	schema, notes, _, b, recs := noteWorld()
	schema["users"].ListRule = nil
	note := recs["notes"][0]
	env := &Env{Schema: schema, Collection: notes, Request: &Request{Auth: b}}
	for src, want := range map[string]bool{
		`owner.name = 'bea'`:                      false, // even one's own record: locked
		`owner.name = null`:                       true,
		`@collection.users.name ?= 'xavier'`:      false,
		`@collection.users.id = null`:             true,
		`@request.auth.name = 'bea'`:              true, // the caller's own record is a constant
		`@request.auth.notes_via_owner.id ?!= ''`: true,
	} {
		if got := evalOn(t, src, env, note, memLoader(recs)); got != want {
			t.Errorf("%s = %v, want %v", src, got, want)
		}
	}
	// A locked collection behaves like a missing record: no error, no
	// difference in messages.
	if _, err := Compile(`@collection.users.name ?= 'x'`, env, query.Postgres); err != nil {
		t.Errorf("locked collection must not be an error: %v", err)
	}
}

func TestAccessBackRelation(t *testing.T) {
	t.Parallel()
	schema, notes, a, b, recs := noteWorld()
	users := schema["users"]
	users.ListRule = rule("")
	// notes are owner-only: A cannot learn about B's note about A.
	env := &Env{Schema: schema, Collection: users, Request: &Request{Auth: a}}
	if evalOn(t, `notes_via_about.id ?!= ''`, env, a, memLoader(recs)) {
		t.Error("A sees B's note through a back-relation")
	}
	env.Request.Auth = b
	if !evalOn(t, `notes_via_about.id ?!= ''`, env, a, memLoader(recs)) {
		t.Error("B does not see their own note through a back-relation")
	}
	_ = notes
}

func TestAccessEmailVisibility(t *testing.T) {
	t.Parallel()
	schema, notes, a, b, recs := noteWorld()
	users := schema["users"]
	users.ListRule = rule("")
	env := &Env{Schema: schema, Collection: users, Request: &Request{Auth: b}}
	data := memLoader(recs)
	for _, c := range []struct {
		src  string
		rec  *core.Record
		want bool
	}{
		{`email = 'a@x.org'`, a, false},
		{`email != 'zzz'`, a, false}, // a hidden email matches nothing
		{`email ~ 'x.org'`, b, true}, // the caller's own email
		{`emailVisibility = false`, a, true},
	} {
		if got := evalOn(t, c.src, env, c.rec, data); got != c.want {
			t.Errorf("%s on %s = %v, want %v", c.src, c.rec.ID(), got, c.want)
		}
	}
	a.Data["emailVisibility"] = true
	if !evalOn(t, `email = 'a@x.org'`, env, a, data) {
		t.Error("a public email is not visible")
	}
	a.Data["emailVisibility"] = false
	nenv := &Env{Schema: schema, Collection: notes, Request: &Request{Auth: b}}
	if evalOn(t, `about.email ~ 'a@'`, nenv, recs["notes"][0], data) {
		t.Error("a hidden email is visible through a relation")
	}
	nenv.AllowHidden = true
	if !evalOn(t, `about.email ~ 'a@'`, nenv, recs["notes"][0], data) {
		t.Error("rules must see every email")
	}
}

func TestAccessBadRuleFailsClosed(t *testing.T) {
	t.Parallel()
	schema, notes, _, b, recs := noteWorld()
	schema["users"].ListRule = rule("nope = 1")
	env := &Env{Schema: schema, Collection: notes, Request: &Request{Auth: b}}
	if evalOn(t, `owner.name = 'bea'`, env, recs["notes"][0], memLoader(recs)) {
		t.Error("a rule that does not check must lock the collection")
	}
}

func TestAccessSort(t *testing.T) {
	t.Parallel()
	schema, notes, _, b, _ := noteWorld()
	env := &Env{Schema: schema, Collection: notes, Request: &Request{Auth: b}}
	if _, err := CompileSort("about.name", env, query.SQLite); err == nil {
		t.Error("sort through an owner-only collection must be refused")
	}
	schema["users"].ListRule = nil
	s, err := CompileSort("about.name", env, query.SQLite)
	if err != nil || !strings.Contains(s, "1=0") {
		t.Errorf("sort through a locked collection: %q %v", s, err)
	}
	schema["users"].ListRule = rule("")
	uenv := &Env{Schema: schema, Collection: schema["users"], Request: &Request{Auth: b}}
	s, err = CompileSort("-email", uenv, query.Postgres)
	if err != nil || !strings.Contains(s, "emailVisibility") {
		t.Errorf("sort by email: %q %v", s, err)
	}
	env.AllowHidden = true
	schema["users"].ListRule = rule("id = @request.auth.id")
	if _, err := CompileSort("about.name", env, query.SQLite); err != nil {
		t.Errorf("superuser sort: %v", err)
	}
}
