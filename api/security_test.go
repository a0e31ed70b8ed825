package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tortoise-dev/tortoise/auth/tokens"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/service"
)

// Security case 3 (users): a token whose claims name user A but that is
// signed with user B's key, and a token of a deleted user, are refused.
func TestForgedUserTokens(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		a := signUp(t, s, "a@example.com", "a-password-123")
		b := signUp(t, s, "b@example.com", "b-password-123")
		ctx := context.Background()
		users, err := s.App.Service.Collection("users")
		if err != nil {
			t.Fatal(err)
		}
		bRec, err := s.App.Records.Get(ctx, &service.Request{Superuser: true}, users, b.Record["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		bKey := tokens.SigningKey(bRec.String("tokenKey"), users.Auth.AuthToken.Secret)
		forged, err := tokens.Sign(bKey, a.Record["id"].(string), users.ID, tokens.TypeAuth, true, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s.Do("GET", "/api/collections/users/records/"+a.Record["id"].(string), forged, nil, 404, nil)
		s.Do("POST", "/api/collections/users/auth-refresh", forged, nil, 401, nil)
		// B's own key with B's id still works: the refusal is about the key.
		genuine, _ := tokens.Sign(bKey, b.Record["id"].(string), users.ID, tokens.TypeAuth, true, time.Hour)
		s.Do("POST", "/api/collections/users/auth-refresh", genuine, nil, 200, nil)
		// A token of another type is not an auth token.
		other, _ := tokens.Sign(bKey, b.Record["id"].(string), users.ID, "passwordReset", true, time.Hour)
		s.Do("POST", "/api/collections/users/auth-refresh", other, nil, 401, nil)
		// The token of a deleted user stops working.
		s.Super("DELETE", "/api/collections/users/records/"+a.Record["id"].(string), nil, 204, nil)
		s.Do("POST", "/api/collections/users/auth-refresh", a.Token, nil, 401, nil)
		// HS256 with the key, but "alg" claiming something else, is refused.
		claims := jwt.MapClaims{"id": b.Record["id"], "collectionId": users.ID, "type": "auth", "refreshable": true, "exp": time.Now().Add(time.Hour).Unix()}
		hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString(bKey)
		s.Do("POST", "/api/collections/users/auth-refresh", hs512, nil, 401, nil)
	})
}

// Security case 7: non-superusers get 401 (guests) or 403 (users) on every
// collection, settings and API-key route.
func TestSuperuserRoutesRefuseOthers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		u := signUp(t, s, "u@example.com", "u-password-123")
		routes := []struct{ method, path string }{
			{"GET", "/api/collections"},
			{"POST", "/api/collections"},
			{"PUT", "/api/collections/import"},
			{"GET", "/api/collections/users"},
			{"PATCH", "/api/collections/users"},
			{"DELETE", "/api/collections/users"},
			{"DELETE", "/api/collections/users/truncate"},
			{"GET", "/api/settings"},
			{"PATCH", "/api/settings"},
			{"GET", "/api/keys"},
			{"POST", "/api/keys"},
			{"DELETE", "/api/keys/abcdefghijklmno"},
			{"POST", "/api/collections/users/impersonate/" + u.Record["id"].(string)},
			{"GET", "/api/collections/_superusers/records"},
			{"GET", "/api/collections/_apiKeys/records"},
			{"GET", "/api/collections/_otps/records"},
		}
		for _, rt := range routes {
			for _, who := range []struct {
				token string
				want  []int
			}{{"", []int{http.StatusUnauthorized, http.StatusForbidden}}, {u.Token, []int{http.StatusForbidden}}} {
				r := s.Request(rt.method, rt.path, who.token, map[string]any{"name": "x"})
				ok := false
				for _, w := range who.want {
					ok = ok || r.Status == w
				}
				if !ok {
					t.Errorf("%s %s with token=%v: status %d %s", rt.method, rt.path, who.token != "", r.Status, r.Body)
				}
			}
		}
		// Nothing was changed by those attempts.
		s.Super("GET", "/api/collections/users", nil, 200, nil)
	})
}
