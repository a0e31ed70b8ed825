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
