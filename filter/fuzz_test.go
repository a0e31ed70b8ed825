package filter

import (
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
)

func addSeeds(f *testing.F) {
	for _, s := range postFilters {
		f.Add(s)
	}
	for _, s := range []string{"(", ")", "a = '", "{:", "@request.", "@collection.x:y.z", "a ?!~ b", "--1", "a = -.5e-3"} {
		f.Add(s)
	}
}

// FuzzParse: Parse never panics, and fails only with KindInvalid.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, src string) {
		if _, err := Parse(src); err != nil && core.KindOf(err) != core.KindInvalid {
			t.Fatalf("Parse(%q): %v", src, err)
		}
	})
}

// FuzzCompile: Compile never panics, fails only with KindInvalid, emits
// one argument per placeholder, and the SQL runs on SQLite (and PostgreSQL
// when TORTOISE_TEST_POSTGRES is set) selecting exactly what Eval selects.
func FuzzCompile(f *testing.F) {
	addSeeds(f)
	fx := newFixture(f)
	env := fx.env("posts")
	f.Fuzz(func(t *testing.T, src string) {
		for _, d := range []query.Dialect{query.SQLite, query.Postgres} {
			out, err := Compile(src, env, d)
			if err != nil {
				if core.KindOf(err) != core.KindInvalid {
					t.Fatalf("Compile(%q): %v", src, err)
				}
				return
			}
			if n := strings.Count(out.Text, "?"); n != len(out.Args) {
				t.Fatalf("Compile(%q) for %s: %d placeholders, %d args: %s", src, d, n, len(out.Args), out.Text)
			}
		}
		if _, err := fx.matches(t, "posts", src, env); err != nil {
			t.Fatalf("matches(%q): %v", src, err)
		}
	})
}
