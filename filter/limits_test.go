package filter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
)

// aliasChain is the shape of the filter in finding 3 of issue 6: n+1
// @collection aliases, each compared with the next, so that all of them
// are bound together and their rows multiply.
func aliasChain(coll string, n int) string {
	parts := make([]string, n)
	for i := range n {
		parts[i] = fmt.Sprintf("@collection.%s:a%d.id ?!= @collection.%s:a%d.title", coll, i, coll, i+1)
	}
	return strings.Join(parts, " && ")
}

// TestMaxCollections checks the cap on @collection sources: aliases count
// one each, the same source written twice once, and the @collection
// sources of the listRules a client filter brings in count with its own.
func TestMaxCollections(t *testing.T) {
	t.Parallel()
	withRule := func(r string) func(*Env) {
		return func(env *Env) {
			colls := testCollections()
			colls["tags"].ListRule = rule(r)
			env.Schema = schemaOf(colls)
		}
	}
	hidden := func(env *Env) { env.AllowHidden = true }
	// Three @collection sources in the listRule of tags.
	tagsRule := "@collection.users:r1.id ?= @request.auth.id && @collection.users:r2.id ?= @request.auth.id && @collection.comments:r3.id ?!= ''"
	tests := []struct {
		name string
		src  string
		env  func(*Env)
		ok   bool
	}{
		{"at the cap", aliasChain("posts", MaxCollections-1), nil, true},
		{"one over", aliasChain("posts", MaxCollections), nil, false},
		{"the reported attack", aliasChain("posts", 9), nil, false},
		{"superusers too", aliasChain("posts", MaxCollections), hidden, false},
		{"same source written often", strings.Repeat("@collection.users.name ?= 'a' && ", 10) + "@collection.users.age ?> 1", nil, true},
		{"same alias written often", strings.Repeat("@collection.users:u.name ?= 'a' && ", 10) + "@collection.users:u.age ?> 1", nil, true},
		{"relations do not count", "author.friends.friends.name ?= 'a' && comments_via_post.author.name ?= 'b' && " + aliasChain("posts", MaxCollections-1), nil, true},
		{"rule sources count", "@collection.tags:t1.name ?= 'a' && @collection.tags:t2.name ?= 'b'", withRule(tagsRule), true},
		{"rule sources count over", "@collection.tags:t1.name ?= 'a' && @collection.tags:t2.name ?= 'b' && @collection.users:x.name ?= 'c'", withRule(tagsRule), false},
		{"through a relation", "tags.name ?= 'a' && @collection.posts:p1.id ?= '' && @collection.posts:p2.id ?= ''", withRule(tagsRule), true},
		{"through a relation over", "tags.name ?= 'a' && @collection.posts:p1.id ?= '' && @collection.posts:p2.id ?= '' && @collection.posts:p3.id ?= ''", withRule(tagsRule), false},
		{"rules do not apply to superusers", "@collection.tags:t1.name ?= 'a' && @collection.tags:t2.name ?= 'b' && @collection.users:x.name ?= 'c'", func(env *Env) { withRule(tagsRule)(env); hidden(env) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv()
			if tc.env != nil {
				tc.env(env)
			}
			for _, d := range []query.Dialect{query.SQLite, query.Postgres} {
				_, err := Compile(tc.src, env, d)
				checkCap(t, tc.src, err, tc.ok)
			}
			e, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			rec := core.NewRecord(env.Collection)
			_, err = Eval(e, env, rec, emptyLoader{})
			checkCap(t, tc.src, err, tc.ok)
		})
	}
}

func checkCap(t *testing.T, src string, err error, ok bool) {
	t.Helper()
	switch {
	case ok && err != nil:
		t.Fatalf("%q: %v", src, err)
	case !ok && err == nil:
		t.Fatalf("%q was accepted", src)
	case !ok && (core.KindOf(err) != core.KindInvalid || !strings.Contains(err.Error(), fmt.Sprintf("more than %d @collection sources", MaxCollections))):
		t.Fatalf("%q: error %v, want the @collection cap", src, err)
	}
}

type emptyLoader struct{}

func (emptyLoader) Records(*core.Collection) ([]*core.Record, error) { return nil, nil }

// A listRule over the cap is refused as a rule and, stored anyway, locks
// its collection for the client filters that reach it (fail closed).
func TestMaxCollectionsInRules(t *testing.T) {
	t.Parallel()
	env := testEnv()
	colls := testCollections()
	colls["tags"].ListRule = rule(aliasChain("users", MaxCollections))
	env.Schema = schemaOf(colls)
	ruleEnv := &Env{Schema: env.Schema, Collection: colls["tags"], AllowHidden: true}
	if _, err := Compile(*colls["tags"].ListRule, ruleEnv, query.SQLite); core.KindOf(err) != core.KindInvalid {
		t.Fatalf("rule over the cap: %v", err)
	}
	sql, err := Compile("tags.name ?= 'go'", env, query.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sql.Text, "1=0") {
		t.Fatalf("tags behind a rule over the cap are not locked: %s", sql.Text)
	}
}
