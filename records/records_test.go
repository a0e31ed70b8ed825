package records_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
)

// Shorthands for testkit's helpers of service-layer tests.
var (
	superuser  = testkit.Superuser
	guest      = testkit.Guest
	kindOf     = testkit.Kind
	fieldCode  = testkit.FieldCode
	collection = testkit.Collection
)

const ok = testkit.NoError

// create stores a record as a superuser.
func create(t *testing.T, app *tortoise.App, c *core.Collection, body map[string]any) *core.Record {
	t.Helper()
	rec, err := app.Records.Create(context.Background(), superuser, c, body)
	if err != nil {
		t.Fatalf("create %s %v: %v", c.Name, body, err)
	}
	return rec
}

// get reads a record as a superuser; nil when it is gone.
func get(t *testing.T, app *tortoise.App, c *core.Collection, id string) *core.Record {
	t.Helper()
	rec, err := app.Records.Get(context.Background(), superuser, c, id)
	if core.KindOf(err) == core.KindNotFound {
		return nil
	}
	if err != nil {
		t.Fatalf("get %s/%s: %v", c.Name, id, err)
	}
	return rec
}

// count is how many records c holds.
func count(t *testing.T, app *tortoise.App, c *core.Collection, filter string) int {
	t.Helper()
	res, err := app.Records.List(context.Background(), superuser, c, records.ListParams{Filter: filter})
	if err != nil {
		t.Fatalf("list %s: %v", c.Name, err)
	}
	return res.TotalItems
}

func isNamed(name string) func(*core.Collection) bool {
	return func(c *core.Collection) bool { return c.Name == name }
}

// The access rules decide who does what: a null rule keeps everyone but
// superusers out (forbidden), a rule compares the record, the body and
// the caller, and a record the caller may not see or change is not found.
func TestRulesGateEachOperation(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		users := collection(t, app, `{"name":"users","type":"auth"}`)
		posts := collection(t, app, `{"name":"posts","fields":[
			{"name":"title","type":"text"},{"name":"public","type":"bool"},
			{"name":"owner","type":"relation","collectionId":"users"}],
			"listRule":"public = true || owner = @request.auth.id",
			"viewRule":"public = true || owner = @request.auth.id",
			"createRule":"@request.auth.id != '' && @request.body.owner = @request.auth.id",
			"updateRule":"owner = @request.auth.id",
			"deleteRule":null}`)
		secrets := collection(t, app, `{"name":"secrets","fields":[{"name":"title","type":"text"}]}`)
		alice := create(t, app, users, map[string]any{"email": "alice@example.com", "password": "alice-password-1"})
		bob := create(t, app, users, map[string]any{"email": "bob@example.com", "password": "bob-password-1"})
		asAlice, asBob := &service.Request{Auth: alice}, &service.Request{Auth: bob}
		public := create(t, app, posts, map[string]any{"title": "public", "public": true, "owner": alice.ID()})
		private := create(t, app, posts, map[string]any{"title": "private", "owner": alice.ID()})
		secret := create(t, app, secrets, map[string]any{"title": "s"})

		view := func(c *core.Collection, id string) func(*service.Request) error {
			return func(r *service.Request) error { _, err := app.Records.Get(ctx, r, c, id); return err }
		}
		list := func(c *core.Collection) func(*service.Request) error {
			return func(r *service.Request) error {
				_, err := app.Records.List(ctx, r, c, records.ListParams{})
				return err
			}
		}
		createIn := func(c *core.Collection, body map[string]any) func(*service.Request) error {
			return func(r *service.Request) error { _, err := app.Records.Create(ctx, r, c, body); return err }
		}
		update := func(c *core.Collection, id string, body map[string]any) func(*service.Request) error {
			return func(r *service.Request) error { _, err := app.Records.Update(ctx, r, c, id, body); return err }
		}
		del := func(c *core.Collection, id string) func(*service.Request) error {
			return func(r *service.Request) error { return app.Records.Delete(ctx, r, c, id) }
		}
		for _, tc := range []struct {
			name string
			req  *service.Request
			do   func(*service.Request) error
			want core.Kind
		}{
			{"guest lists a null-rule collection", guest, list(secrets), core.KindForbidden},
			{"guest views a null-rule record", guest, view(secrets, secret.ID()), core.KindForbidden},
			{"guest creates under a null rule", guest, createIn(secrets, map[string]any{"title": "x"}), core.KindForbidden},
			{"guest updates under a null rule", guest, update(secrets, secret.ID(), map[string]any{"title": "x"}), core.KindForbidden},
			{"user deletes under a null rule", asAlice, del(posts, private.ID()), core.KindForbidden},
			{"user views a null-rule record", asAlice, view(secrets, secret.ID()), core.KindForbidden},
			{"superuser views a null-rule record", superuser, view(secrets, secret.ID()), ok},
			{"guest views a public post", guest, view(posts, public.ID()), ok},
			{"guest views a private post", guest, view(posts, private.ID()), core.KindNotFound},
			{"another user views a private post", asBob, view(posts, private.ID()), core.KindNotFound},
			{"owner views a private post", asAlice, view(posts, private.ID()), ok},
			{"guest creates", guest, createIn(posts, map[string]any{"title": "x"}), core.KindInvalid},
			{"user creates for another", asBob, createIn(posts, map[string]any{"title": "x", "owner": alice.ID()}), core.KindInvalid},
			{"user creates for self", asBob, createIn(posts, map[string]any{"title": "bob's", "owner": bob.ID()}), ok},
			{"guest updates", guest, update(posts, public.ID(), map[string]any{"title": "x"}), core.KindNotFound},
			{"another user updates", asBob, update(posts, public.ID(), map[string]any{"title": "x"}), core.KindNotFound},
			{"owner updates", asAlice, update(posts, public.ID(), map[string]any{"title": "public, edited"}), ok},
			{"update of a missing record", superuser, update(posts, "missingid000000", map[string]any{"title": "x"}), core.KindNotFound},
			{"superuser deletes", superuser, del(secrets, secret.ID()), ok},
		} {
			if got := kindOf(tc.do(tc.req)); got != tc.want {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
		}
		// Refused writes left nothing behind; the admitted ones are there.
		if n := count(t, app, posts, ""); n != 3 {
			t.Errorf("posts: %d, want 3", n)
		}
		if n := count(t, app, posts, `title = "x"`); n != 0 {
			t.Errorf("a refused write was stored")
		}
		if got := get(t, app, posts, public.ID()); got.String("title") != "public, edited" {
			t.Errorf("owner's update: %v", got.Data)
		}
		if get(t, app, secrets, secret.ID()) != nil {
			t.Errorf("superuser's delete did not delete")
		}
		// A user's list holds the public posts and their own.
		for _, tc := range []struct {
			name string
			req  *service.Request
			want int
		}{{"guest", guest, 1}, {"alice", asAlice, 2}, {"bob", asBob, 2}, {"superuser", superuser, 3}} {
			res, err := app.Records.List(ctx, tc.req, posts, records.ListParams{})
			if err != nil || res.TotalItems != tc.want || len(res.Items) != tc.want {
				t.Errorf("%s lists: %v %v, want %d", tc.name, res, err, tc.want)
			}
		}
	})
}

// A list is a page of what both the list rule and the filter admit, in
// the sort's order, with totals unless skipped; a bad filter or sort is
// invalid input naming its parameter.
func TestListPages(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		items := collection(t, app, `{"name":"items","fields":[{"name":"n","type":"number"}],"listRule":"n != 3"}`)
		for n := 1; n <= 5; n++ {
			create(t, app, items, map[string]any{"n": float64(n)})
		}
		for _, tc := range []struct {
			name         string
			req          *service.Request
			p            records.ListParams
			want         []float64
			total, pages int
		}{
			{"first page", guest, records.ListParams{Filter: "n >= 2", Sort: "-n", PerPage: 2}, []float64{5, 4}, 3, 2},
			{"second page", guest, records.ListParams{Filter: "n >= 2", Sort: "-n", PerPage: 2, Page: 2}, []float64{2}, 3, 2},
			{"past the end", guest, records.ListParams{Filter: "n >= 2", Sort: "-n", PerPage: 2, Page: 3}, []float64{}, 3, 2},
			{"superuser skips the rule", superuser, records.ListParams{Filter: "n >= 2", Sort: "-n", PerPage: 2}, []float64{5, 4}, 4, 2},
			{"ascending, no filter", guest, records.ListParams{Sort: "n"}, []float64{1, 2, 4, 5}, 4, 1},
			{"skip total", guest, records.ListParams{Sort: "n", PerPage: 1, SkipTotal: true}, []float64{1}, -1, -1},
		} {
			res, err := app.Records.List(ctx, tc.req, items, tc.p)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			got := []float64{}
			for _, r := range res.Items {
				got = append(got, r.Data["n"].(float64))
			}
			if !slices.Equal(got, tc.want) || res.TotalItems != tc.total || res.TotalPages != tc.pages {
				t.Errorf("%s: %v total %d pages %d; want %v total %d pages %d", tc.name, got, res.TotalItems, res.TotalPages, tc.want, tc.total, tc.pages)
			}
		}
		for _, tc := range []struct{ name, param string }{{"filter", "filter"}, {"sort", "sort"}} {
			p := records.ListParams{Filter: "nope = 1"}
			if tc.param == "sort" {
				p = records.ListParams{Sort: "-nope"}
			}
			_, err := app.Records.List(ctx, guest, items, p)
			if core.KindOf(err) != core.KindInvalid || fieldCode(err, tc.param) != "validation_invalid_"+tc.param {
				t.Errorf("bad %s: %v", tc.name, err)
			}
		}
	})
}

// Rules see the body as the record will store it: modifiers are resolved
// against the stored record first, so {"n+": 20} on a stored 0 is n = 20
// to a rule that caps n at 10. A record the rule refuses answers not found
// whatever its body says; only an admitted one learns what is wrong with it.
func TestRulesSeeTheResolvedBody(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		counters := collection(t, app, `{"name":"counters","fields":[
			{"name":"n","type":"number"},
			{"name":"tags","type":"select","values":["a","b","c"],"maxSelect":3}],
			"viewRule":"","createRule":"@request.body.n <= 10",
			"updateRule":"@request.body.n <= 10 && @request.body.tags:length <= 2"}`)
		for _, tc := range []struct {
			name  string
			body  map[string]any
			want  core.Kind
			field string // the body key the error names
			n     float64
			tags  []string
		}{
			{"n+ past the rule", map[string]any{"n+": 20.0}, core.KindNotFound, "", 0, []string{"a"}},
			{"n+ within the rule", map[string]any{"n+": 5.0}, ok, "", 5, []string{"a"}},
			{"n- below zero", map[string]any{"n-": 30.0}, ok, "", -30, []string{"a"}},
			{"a modifier starts from the plain value", map[string]any{"n": 3.0, "n+": 4.0}, ok, "", 7, []string{"a"}},
			{"a plain value over the cap brought back", map[string]any{"n": 20.0, "n-": 15.0}, ok, "", 5, []string{"a"}},
			{"tags+ appends", map[string]any{"tags+": "b"}, ok, "", 0, []string{"a", "b"}},
			{"+tags prepends", map[string]any{"+tags": "c"}, ok, "", 0, []string{"c", "a"}},
			{"tags- removes", map[string]any{"tags-": "a"}, ok, "", 0, []string{}},
			{"tags+ past the rule", map[string]any{"tags+": []any{"b", "c"}}, core.KindNotFound, "", 0, []string{"a"}},
			{"refused with a bad body", map[string]any{"n+": 20.0, "nope": 1.0}, core.KindNotFound, "", 0, []string{"a"}},
			{"admitted with a bad body", map[string]any{"n+": 1.0, "nope": 1.0}, core.KindInvalid, "nope", 0, []string{"a"}},
			{"a modifier of the wrong type", map[string]any{"n+": "many"}, core.KindInvalid, "n+", 0, []string{"a"}},
			{"an option the field lacks", map[string]any{"tags+": "z"}, core.KindInvalid, "tags", 0, []string{"a"}},
		} {
			rec := create(t, app, counters, map[string]any{"n": 0.0, "tags": []string{"a"}})
			_, err := app.Records.Update(ctx, guest, counters, rec.ID(), tc.body)
			if kindOf(err) != tc.want || (tc.field != "" && fieldCode(err, tc.field) == "") {
				t.Errorf("%s: %v, want %v naming %q", tc.name, err, tc.want, tc.field)
			}
			got := get(t, app, counters, rec.ID())
			if got.Data["n"] != tc.n || !slices.Equal(got.Strings("tags"), tc.tags) {
				t.Errorf("%s: stored n=%v tags=%v, want n=%v tags=%v", tc.name, got.Data["n"], got.Strings("tags"), tc.n, tc.tags)
			}
		}
		// On create, modifiers start from the new record's zero values.
		if _, err := app.Records.Create(ctx, guest, counters, map[string]any{"n+": 20.0}); core.KindOf(err) != core.KindInvalid {
			t.Errorf("create past the rule: %v", err)
		}
		if n := count(t, app, counters, "n = 20"); n != 0 {
			t.Errorf("a refused create was stored")
		}
		rec, err := app.Records.Create(ctx, guest, counters, map[string]any{"n": 20.0, "n-": 15.0})
		if err != nil || rec.Data["n"] != float64(5) {
			t.Errorf("create brought under the cap: %v %v", rec, err)
		}
	})
}

// Deleting a record applies its relations' cascade: a required relation
// refuses, a cascading one deletes its records, other ones drop the id.
func TestDeleteCascades(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		authors := collection(t, app, `{"name":"authors","fields":[{"name":"name","type":"text"}],"deleteRule":""}`)
		books := collection(t, app, `{"name":"books","fields":[{"name":"author","type":"relation","collectionId":"authors","required":true}]}`)
		comments := collection(t, app, `{"name":"comments","fields":[{"name":"author","type":"relation","collectionId":"authors","cascadeDelete":true}]}`)
		likes := collection(t, app, `{"name":"likes","fields":[{"name":"authors","type":"relation","collectionId":"authors","maxSelect":5}]}`)
		notes := collection(t, app, `{"name":"notes","fields":[{"name":"author","type":"relation","collectionId":"authors"}]}`)
		other := create(t, app, authors, map[string]any{"name": "other"})
		for _, tc := range []struct {
			name  string
			dep   *core.Collection
			body  func(author string) map[string]any
			want  core.Kind
			check func(t *testing.T, dep *core.Record) // dep as stored after the delete, nil if gone
		}{
			{"a required relation refuses", books, func(a string) map[string]any { return map[string]any{"author": a} }, core.KindInvalid,
				func(t *testing.T, dep *core.Record) {
					if dep == nil || dep.String("author") == "" {
						t.Errorf("the book changed: %v", dep)
					}
				}},
			{"a cascading relation deletes", comments, func(a string) map[string]any { return map[string]any{"author": a} }, ok,
				func(t *testing.T, dep *core.Record) {
					if dep != nil {
						t.Errorf("the comment is still there: %v", dep.Data)
					}
				}},
			{"a multiple relation drops the id", likes, func(a string) map[string]any { return map[string]any{"authors": []string{a, other.ID()}} }, ok,
				func(t *testing.T, dep *core.Record) {
					if dep == nil || !slices.Equal(dep.Strings("authors"), []string{other.ID()}) {
						t.Errorf("the like: %v", dep)
					}
				}},
			{"a single relation is emptied", notes, func(a string) map[string]any { return map[string]any{"author": a} }, ok,
				func(t *testing.T, dep *core.Record) {
					if dep == nil || dep.String("author") != "" {
						t.Errorf("the note: %v", dep)
					}
				}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				author := create(t, app, authors, map[string]any{"name": tc.name})
				dep := create(t, app, tc.dep, tc.body(author.ID()))
				err := app.Records.Delete(ctx, guest, authors, author.ID())
				if kindOf(err) != tc.want {
					t.Fatalf("delete: %v, want %v", err, tc.want)
				}
				if gone := get(t, app, authors, author.ID()) == nil; gone != (tc.want == ok) {
					t.Errorf("author gone: %v", gone)
				}
				tc.check(t, get(t, app, tc.dep, dep.ID()))
			})
		}
		if get(t, app, authors, other.ID()) == nil {
			t.Error("an unrelated author was deleted")
		}
	})
}

// An expanded relation holds only the related records the caller may view
// by the related collection's viewRule, as if the others did not exist.
func TestExpandFollowsTheViewRule(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		authors := collection(t, app, `{"name":"authors","fields":[{"name":"name","type":"text"},{"name":"public","type":"bool"}],"viewRule":"public = true"}`)
		posts := collection(t, app, `{"name":"posts","fields":[{"name":"author","type":"relation","collectionId":"authors"}],"listRule":"","viewRule":""}`)
		shown := create(t, app, authors, map[string]any{"name": "shown", "public": true})
		hidden := create(t, app, authors, map[string]any{"name": "hidden"})
		p1 := create(t, app, posts, map[string]any{"author": shown.ID()})
		p2 := create(t, app, posts, map[string]any{"author": hidden.ID()})
		for _, tc := range []struct {
			name string
			req  *service.Request
			want map[string]string // post id -> expanded author name, "" for none
		}{
			{"guest", guest, map[string]string{p1.ID(): "shown", p2.ID(): ""}},
			{"superuser", superuser, map[string]string{p1.ID(): "shown", p2.ID(): "hidden"}},
		} {
			res, err := app.Records.List(ctx, tc.req, posts, records.ListParams{})
			if err != nil {
				t.Fatal(err)
			}
			if err := app.Records.Expand(ctx, tc.req, res.Items, "author"); err != nil {
				t.Fatalf("%s: expand: %v", tc.name, err)
			}
			for _, p := range res.Items {
				name := ""
				if a, isRec := p.Expand["author"].(*core.Record); isRec {
					name = a.String("name")
				}
				if name != tc.want[p.ID()] {
					t.Errorf("%s: post %s expands to %q, want %q", tc.name, p.ID(), name, tc.want[p.ID()])
				}
			}
		}
		// Back-relations expand the same way.
		for _, tc := range []struct {
			name   string
			author *core.Record
			req    *service.Request
			want   int
		}{{"guest", shown, guest, 1}, {"superuser", hidden, superuser, 1}} {
			a := get(t, app, authors, tc.author.ID())
			if err := app.Records.Expand(ctx, tc.req, []*core.Record{a}, "posts_via_author"); err != nil {
				t.Fatal(err)
			}
			if got, _ := a.Expand["posts_via_author"].([]*core.Record); len(got) != tc.want {
				t.Errorf("%s: posts_via_author %v", tc.name, a.Expand)
			}
		}
		for _, param := range []string{"nope", "author.nope", "a.b.c.d.e.f.g"} {
			recs := []*core.Record{get(t, app, posts, p1.ID())}
			if err := app.Records.Expand(ctx, guest, recs, param); core.KindOf(err) != core.KindInvalid || fieldCode(err, "expand") == "" {
				t.Errorf("expand %q: %v", param, err)
			}
		}
	})
}

// UpdateChecked runs its precondition on the record as stored, in the
// transaction: an error from it stops the update and changes nothing.
func TestUpdateCheckedPrecondition(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		docs := collection(t, app, `{"name":"docs","fields":[{"name":"title","type":"text"},{"name":"version","type":"number"}]}`)
		doc := create(t, app, docs, map[string]any{"title": "v1", "version": 1.0})
		stale := core.Invalid("The document changed.")
		atVersion := func(v float64) func(*core.Record) error {
			return func(cur *core.Record) error {
				if cur.Data["version"] != v {
					return stale
				}
				return nil
			}
		}
		for _, tc := range []struct {
			name    string
			body    map[string]any
			check   func(*core.Record) error
			want    error
			title   string
			version float64
		}{
			{"a stale version", map[string]any{"title": "v2", "version+": 1.0}, atVersion(0), stale, "v1", 1},
			{"the current version", map[string]any{"title": "v2", "version+": 1.0}, atVersion(1), nil, "v2", 2},
			{"the same precondition again", map[string]any{"title": "v3", "version+": 1.0}, atVersion(1), stale, "v2", 2},
		} {
			_, err := app.Records.UpdateChecked(ctx, superuser, docs, doc.ID(), tc.body, tc.check)
			if err != tc.want {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
			got := get(t, app, docs, doc.ID())
			if got.String("title") != tc.title || got.Data["version"] != tc.version {
				t.Errorf("%s: stored %v", tc.name, got.Data)
			}
		}
		called := false
		_, err := app.Records.UpdateChecked(ctx, superuser, docs, "missingid000000", map[string]any{"title": "x"},
			func(*core.Record) error { called = true; return nil })
		if core.KindOf(err) != core.KindNotFound || called {
			t.Errorf("a missing record: %v, check called: %v", err, called)
		}
	})
}

// Relation ids must name existing records of the target collection.
func TestRelationsMustExist(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		tags := collection(t, app, `{"name":"tags","fields":[{"name":"label","type":"text"}]}`)
		posts := collection(t, app, `{"name":"posts","fields":[{"name":"tags","type":"relation","collectionId":"tags","maxSelect":3}]}`)
		tag := create(t, app, tags, map[string]any{"label": "go"})
		post := create(t, app, posts, map[string]any{"tags": []string{tag.ID()}})
		for i, body := range []map[string]any{
			{"tags": []string{tag.ID(), "missingid000000"}},
			{"tags+": "missingid000000"},
		} {
			_, err := app.Records.Update(ctx, superuser, posts, post.ID(), body)
			if fieldCode(err, "tags") != "validation_missing_rel_records" {
				t.Errorf("case %d: %v", i, err)
			}
		}
		if _, err := app.Records.Create(ctx, superuser, posts, map[string]any{"tags": []string{"missingid000000"}}); fieldCode(err, "tags") != "validation_missing_rel_records" {
			t.Errorf("create: %v", err)
		}
		if got := get(t, app, posts, post.ID()); !slices.Equal(got.Strings("tags"), []string{tag.ID()}) {
			t.Errorf("stored: %v", got.Data)
		}
		if n := count(t, app, posts, ""); n != 1 {
			t.Errorf("posts: %d", n)
		}
	})
}
