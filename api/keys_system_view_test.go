package api_test

import (
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// A key meets a system collection's rules as a guest, superuser key or
// not; when a superuser has opened one of those rules, the key is shown
// its records as a guest is: without their hidden fields (a login
// origin's fingerprint, a code's address).
func TestSuperuserKeySeesSystemRecordsAsAGuest(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s := testkit.NewServer(t, engine)
			usersSchema(t, s, "")
			signUp(t, s, "ann@example.com", "ann-password-1")
			s.Super("PATCH", "/api/collections/_authOrigins", map[string]any{"listRule": ""}, 200, nil)
			var origins struct{ Items []map[string]any }
			s.Super("GET", "/api/collections/_authOrigins/records", nil, 200, &origins)
			if len(origins.Items) == 0 || origins.Items[0]["fingerprint"] == nil {
				t.Fatalf("the superuser sees no login origin with its fingerprint: %v", origins.Items)
			}
			var key keyAnswer
			s.Super("POST", "/api/keys", map[string]any{"name": "root", "superuser": true}, 200, &key)
			for who, token := range map[string]string{"guest": "", "superuser key": "Bearer " + key.Key} {
				r := s.Request("GET", "/api/collections/_authOrigins/records", token, nil)
				if r.Status != 200 || !strings.Contains(string(r.Body), `"recordRef"`) || strings.Contains(string(r.Body), "fingerprint") {
					t.Errorf("%s: %d %s", who, r.Status, r.Body)
				}
			}
		})
	}
}

// TestAttackKeyRulesCannotReachSystemCollections: a superuser key may
// write rules, but not ones reaching the system collections; naming them
// was refused, and following a relation a superuser made to _superusers
// (createdBy.password) was not: any guest could then read the password
// hash back, one comparison at a time. Rules the key leaves as they are
// stay whatever they read.
func TestAttackKeyRulesCannotReachSystemCollections(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	s.Super("POST", "/api/collections", map[string]any{"name": "posts", "listRule": "", "viewRule": "createdBy.email != ''",
		"fields": []map[string]any{{"name": "title", "type": "text"},
			{"name": "createdBy", "type": "relation", "collectionId": "_superusers", "maxSelect": 1}}}, 200, nil)
	var key keyAnswer
	s.Super("POST", "/api/keys", map[string]any{"name": "ops", "superuser": true}, 200, &key)
	k := "Bearer " + key.Key
	for _, rule := range []string{
		"createdBy.password >= @request.query.p",
		"createdBy.tokenKey != ''",
		"createdBy.email ~ 'admin'",
	} {
		r := s.Request("PATCH", "/api/collections/posts", k, map[string]any{"listRule": rule})
		if r.Status != 400 || !strings.Contains(string(r.Body), "listRule") {
			t.Errorf("a key's rule %q: %d %s, want 400 on listRule", rule, r.Status, r.Body)
		}
		r = s.Request("POST", "/api/collections", k, map[string]any{"name": "other", "listRule": rule, "fields": []map[string]any{
			{"name": "createdBy", "type": "relation", "collectionId": "posts", "maxSelect": 1}}})
		if r.Status == 200 {
			t.Errorf("a key's new collection with the rule %q through posts: %d", rule, r.Status)
		}
		r = s.Request("PUT", "/api/collections/import", k, map[string]any{"collections": []map[string]any{{"name": "posts", "listRule": rule,
			"fields": []map[string]any{{"name": "title", "type": "text"}, {"name": "createdBy", "type": "relation", "collectionId": "_superusers", "maxSelect": 1}}}}})
		if r.Status == 200 || r.Status == 204 {
			t.Errorf("a key's import with the rule %q: %d", rule, r.Status)
		}
	}
	var c map[string]any
	s.Super("GET", "/api/collections/posts", nil, 200, &c)
	if c["listRule"] != "" {
		t.Errorf("the list rule changed: %v", c["listRule"])
	}
	// Rules that compare the relation's id, and the superuser's own rule
	// the key leaves alone, are fine.
	s.Do("PATCH", "/api/collections/posts", k, map[string]any{"listRule": "createdBy != ''", "deleteRule": "title = 'x'"}, 200, nil)
}
