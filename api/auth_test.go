package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

func TestSuperuserTokenShape(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		parts := strings.Split(s.Token, ".")
		if len(parts) != 3 {
			t.Fatalf("token is not a JWT: %q", s.Token)
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		if err := json.Unmarshal(raw, &claims); err != nil {
			t.Fatal(err)
		}
		if claims["type"] != "auth" || claims["refreshable"] != true || claims["id"] == "" || claims["collectionId"] == "" {
			t.Errorf("claims: %v", claims)
		}
		if exp, _ := claims["exp"].(float64); exp < float64(time.Now().Unix()) {
			t.Errorf("exp: %v", claims["exp"])
		}
		// Bare and Bearer forms both work; refresh issues a working token.
		s.Do("GET", "/api/collections", "Bearer "+s.Token, nil, 200, nil)
		var out struct {
			Token  string
			Record map[string]any
		}
		s.Do("POST", "/api/collections/_superusers/auth-refresh", s.Token, nil, 200, &out)
		if out.Token == "" || out.Record["email"] != testkit.SuperuserEmail {
			t.Errorf("refresh: %+v", out)
		}
		if _, leaked := out.Record["password"]; leaked {
			t.Errorf("password in response")
		}
		if _, leaked := out.Record["tokenKey"]; leaked {
			t.Errorf("tokenKey in response")
		}
		s.Do("GET", "/api/collections", out.Token, nil, 200, nil)
	})
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		path := "/api/collections/_superusers/auth-with-password"
		for name, body := range map[string]any{
			"wrong password": map[string]any{"identity": testkit.SuperuserEmail, "password": "wrong-password"},
			"no account":     map[string]any{"identity": "ghost@example.com", "password": "whatever-password"},
			"empty":          map[string]any{},
			"not json":       "{{",
		} {
			if r := s.Request("POST", path, "", body); r.Status != 400 {
				t.Errorf("%s: status %d %s", name, r.Status, r.Body)
			}
		}
		// Email identities are matched case-insensitively.
		s.Do("POST", path, "", map[string]any{"identity": strings.ToUpper(testkit.SuperuserEmail), "password": testkit.SuperuserPassword}, 200, nil)
	})
}

func TestRejectedTokens(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(s.Token, claims); err != nil {
			t.Fatal(err)
		}
		none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		otherKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("not-the-key"))
		expiredClaims := jwt.MapClaims{}
		for k, v := range claims {
			expiredClaims[k] = v
		}
		expiredClaims["exp"] = time.Now().Add(-time.Minute).Unix()
		expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, expiredClaims).SignedString([]byte("irrelevant"))
		for name, tok := range map[string]string{"alg none": none, "other key": otherKey, "expired": expired, "garbage": "a.b.c"} {
			if r := s.Request("GET", "/api/collections", tok, nil); r.Status != 401 {
				t.Errorf("%s: status %d", name, r.Status)
			}
		}

		// A password change signs out every older token.
		old := s.Token
		if _, err := s.App.Auth.UpsertSuperuser(context.Background(), testkit.SuperuserEmail, "a-new-password-456"); err != nil {
			t.Fatal(err)
		}
		if r := s.Request("GET", "/api/collections", old, nil); r.Status != 401 {
			t.Errorf("token after password change: status %d", r.Status)
		}
		var auth struct{ Token string }
		s.Do("POST", "/api/collections/_superusers/auth-with-password", "",
			map[string]any{"identity": testkit.SuperuserEmail, "password": "a-new-password-456"}, 200, &auth)

		// A deleted superuser's token stops working.
		second, err := s.App.Auth.UpsertSuperuser(context.Background(), "second@example.com", "second-password-1")
		if err != nil {
			t.Fatal(err)
		}
		var a2 struct{ Token string }
		s.Do("POST", "/api/collections/_superusers/auth-with-password", "",
			map[string]any{"identity": "second@example.com", "password": "second-password-1"}, 200, &a2)
		s.Do("DELETE", "/api/collections/_superusers/records/"+second.ID(), auth.Token, nil, 204, nil)
		if r := s.Request("GET", "/api/collections", a2.Token, nil); r.Status != 401 {
			t.Errorf("token of deleted superuser: status %d", r.Status)
		}
	})
}
