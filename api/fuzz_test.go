package api_test

import (
	"net/url"
	"strings"
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

// No body sent to the auth routes, however odd, may produce a 5xx.
func FuzzAuthBodies(f *testing.F) {
	s := testkit.NewServer(f, "sqlite")
	usersSchema(f, s, "")
	s.Super("PATCH", "/api/collections/users", map[string]any{"otp": map[string]any{"enabled": true, "duration": 60, "length": 6}}, 200, nil)
	s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"enabled": false}}, 200, nil)
	routes := []string{"auth-with-password", "auth-refresh", "auth-with-oauth2", "request-otp", "auth-with-otp",
		"request-verification", "confirm-verification", "request-password-reset", "confirm-password-reset",
		"request-email-change", "confirm-email-change", "impersonate/abcdefghijklmno"}
	for i, seed := range []string{
		`{"identity":"a@example.com","password":"x"}`, `{"email":"a@example.com"}`, `{"token":"a.b.c"}`,
		`{"otpId":"x","password":"1"}`, `{"provider":"oidc","code":"c","codeVerifier":"v"}`, `{"mfaId":"x"}`,
		`[]`, `null`, `{"identity":{"$gt":""}}`, `{"password":"` + strings.Repeat("x", 300) + `"}`, `{`,
	} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		s := s.With(t)
		path := "/api/collections/users/" + routes[int(route)%len(routes)]
		for _, token := range []string{"", s.Token} {
			if r := s.Request("POST", path, token, []byte(body)); r.Status >= 500 {
				t.Fatalf("POST %s %q: status %d %s", path, body, r.Status, r.Body)
			}
		}
	})
}
