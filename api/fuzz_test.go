package api_test

import (
	"net/url"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// No query parameters, however odd, may produce a 5xx.
func FuzzListParams(f *testing.F) {
	s := testkit.NewServer(f, "sqlite")
	blogSchema(f, s)
	for _, seed := range [][4]string{
		{"title = 'x'", "-created", "author", "id,title"},
		{"author.name ~ 'a' || tags ?= 'go'", "@random,title", "comments_via_post.post.author", "*,expand.author.name"},
		{"(((", "-", "..", "body:excerpt(x)"},
		{"@request.auth.id != '' && views > {:x}", "+views", "author,author", ":excerpt(1)"},
		{"@collection.authors.name ?= title", "title,-title", "a.b.c.d.e.f.g", "expand"},
		{"created > @todayStart && meta.a.b = 1", "meta", "nope_via_nope", ","},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, filter, sort, expand, fields string) {
		q := url.Values{"filter": {filter}, "sort": {sort}, "expand": {expand}, "fields": {fields}}
		s := s.With(t)
		for _, token := range []string{"", s.Token} {
			r := s.Request("GET", "/api/collections/posts/records?"+q.Encode(), token, nil)
			if r.Status >= 500 {
				t.Fatalf("status %d for %v: %s", r.Status, q, r.Body)
			}
		}
	})
}

// No request body, however odd, may produce a 5xx.
func FuzzCreateBody(f *testing.F) {
	s := testkit.NewServer(f, "sqlite")
	blogSchema(f, s)
	for _, seed := range []string{
		`{"title":"x"}`, `{"title":"x","tags":["go","go","db"],"views":1e308,"meta":{"a":[1,2]}}`,
		`{"title":null,"views":"12","status":["draft"],"author":""}`, `{"views+":"x","tags-":5,"+tags":"web"}`,
		`[]`, `null`, `"str"`, `{"title":"\u0000"}`, `{"id":"` + "aaaaaaaaaaaaaaa" + `","title":"t"}`, `{"views":-0.0}`, `{`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := s.With(t).Request("POST", "/api/collections/posts/records", s.Token, []byte(body))
		if r.Status >= 500 {
			t.Fatalf("status %d for %q: %s", r.Status, body, r.Body)
		}
	})
}
