package filter

import (
	"testing"

	"github.com/tortoise-dev/tortoise/query"
)

func BenchmarkCompile(b *testing.B) {
	env := testEnv()
	src := `(title ~ 'abc' || views > 10) && comments_via_post.approved ?= true && comments_via_post.likes ?> 2 && author.name != ''`
	for b.Loop() {
		if _, err := Compile(src, env, query.Postgres); err != nil {
			b.Fatal(err)
		}
	}
}
