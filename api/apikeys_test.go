package api_test

import (
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

type keyAnswer struct {
	Key    string
	APIKey struct {
		ID          string
		Collections []string
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		post := create(t, s, "posts", map[string]any{"title": "hello", "slug": "h", "secret": "hidden"})
		s.Super("PATCH", "/api/collections/posts", map[string]any{"listRule": nil, "viewRule": nil}, 200, nil)

		var reader, writer, root keyAnswer
		s.Super("POST", "/api/keys", map[string]any{"name": "reporting", "collections": []string{"posts"}}, 200, &reader)
		s.Super("POST", "/api/keys", map[string]any{"name": "importer", "collections": []string{"posts"}, "write": true}, 200, &writer)
		s.Super("POST", "/api/keys", map[string]any{"name": "ops", "superuser": true}, 200, &root)
		if !strings.HasPrefix(reader.Key, "tk_") || len(reader.APIKey.Collections) != 1 {
			t.Fatalf("created key: %+v", reader)
		}
		bearer := func(k keyAnswer) string { return "Bearer " + k.Key }

		// A read key reads its collections past their rules, and nothing more.
		var l list
		s.Do("GET", "/api/collections/posts/records", bearer(reader), nil, 200, &l)
		if l.TotalItems != 1 {
			t.Errorf("read key list: %+v", l)
		}
		s.Do("GET", "/api/collections/posts/records/"+post["id"].(string), bearer(reader), nil, 200, nil)
		s.Do("POST", "/api/collections/posts/records", bearer(reader), map[string]any{"title": "x"}, 403, nil)
		s.Do("DELETE", "/api/collections/posts/records/"+post["id"].(string), bearer(reader), nil, 403, nil)
		s.Do("GET", "/api/collections", bearer(reader), nil, 403, nil)
		s.Do("GET", "/api/collections/_superusers/records", bearer(reader), nil, 403, nil)
		// A write key changes them.
		s.Do("POST", "/api/collections/posts/records", bearer(writer), map[string]any{"title": "via key", "slug": "k"}, 200, nil)
		// A superuser key is a superuser, but cannot manage keys.
		s.Do("GET", "/api/collections", bearer(root), nil, 200, nil)
		s.Do("GET", "/api/keys", bearer(root), nil, 403, nil)
		s.Do("POST", "/api/keys", bearer(root), map[string]any{"name": "x", "superuser": true}, 403, nil)

		// Listing shows names and use, never the key or its hash.
		resp := s.Super("GET", "/api/keys", nil, 200, nil)
		for _, secret := range []string{reader.Key, writer.Key, root.Key, "keyHash"} {
			if strings.Contains(string(resp.Body), secret) {
				t.Errorf("key listing leaks %q", secret)
			}
		}
		if !strings.Contains(string(resp.Body), `"lastUsed":"20`) {
			t.Errorf("lastUsed not recorded: %s", resp.Body)
		}
		// Revoked keys stop at once; unknown and malformed keys are guests.
		s.Super("DELETE", "/api/keys/"+reader.APIKey.ID, nil, 204, nil)
		s.Do("GET", "/api/collections/posts/records", bearer(reader), nil, 403, nil)
		s.Do("GET", "/api/collections", "Bearer tk_not-a-key", nil, 401, nil)
		s.Super("DELETE", "/api/keys/"+reader.APIKey.ID, nil, 404, nil)

		// Bad requests.
		for name, body := range map[string]any{
			"no name":    map[string]any{"collections": []string{"posts"}},
			"no scope":   map[string]any{"name": "x"},
			"unknown":    map[string]any{"name": "x", "collections": []string{"nope"}},
			"system":     map[string]any{"name": "x", "collections": []string{"_superusers"}},
			"not json":   "{",
			"wrong type": map[string]any{"name": 5},
		} {
			if r := s.Request("POST", "/api/keys", s.Token, body); r.Status != 400 {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		// Non-superusers cannot touch keys.
		s.Do("GET", "/api/keys", "", nil, 401, nil)
	})
}

// An API key with the jobs scope reaches the job and cron routes, one with
// the webhooks scope the webhook and hook routes; neither reaches the
// other's routes or the settings, and a records key reaches none.
func TestAPIKeyScopes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		var jobsKey, hooksKey, postsKey keyAnswer
		s.Super("POST", "/api/keys", map[string]any{"name": "worker", "scopes": []string{"jobs"}}, 200, &jobsKey)
		s.Super("POST", "/api/keys", map[string]any{"name": "integrations", "scopes": []string{"webhooks"}}, 200, &hooksKey)
		blogSchema(t, s)
		s.Super("POST", "/api/keys", map[string]any{"name": "reader", "collections": []string{"posts"}}, 200, &postsKey)
		bearer := func(k keyAnswer) string { return "Bearer " + k.Key }
		s.Do("GET", "/api/jobs", bearer(jobsKey), nil, 200, nil)
		s.Do("GET", "/api/crons", bearer(jobsKey), nil, 200, nil)
		s.Do("POST", "/api/jobs", bearer(jobsKey), map[string]any{"kind": "email", "args": map[string]any{"to": "a@example.com", "text": "x"}, "runAt": "2040-01-01T00:00:00Z"}, 200, nil)
		s.Do("GET", "/api/webhooks", bearer(jobsKey), nil, 403, nil)
		s.Do("GET", "/api/hooks", bearer(jobsKey), nil, 403, nil)
		s.Do("GET", "/api/settings", bearer(jobsKey), nil, 403, nil)

		s.Do("GET", "/api/webhooks", bearer(hooksKey), nil, 200, nil)
		s.Do("GET", "/api/hooks", bearer(hooksKey), nil, 200, nil)
		s.Do("GET", "/api/jobs", bearer(hooksKey), nil, 403, nil)
		s.Do("GET", "/api/crons", bearer(hooksKey), nil, 403, nil)

		s.Do("GET", "/api/jobs", bearer(postsKey), nil, 403, nil)
		s.Do("GET", "/api/jobs", "Bearer tk_nope", nil, 401, nil)

		s.Super("POST", "/api/keys", map[string]any{"name": "bad", "scopes": []string{"everything"}}, 400, nil)
		s.Super("POST", "/api/keys", map[string]any{"name": "empty"}, 400, nil)
	})
}
