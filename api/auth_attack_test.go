package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tortoise-dev/tortoise/auth/tokens"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/service"
)

// TestAttackEmailIdentityComesFirst: with identityFields ["username",
// "email"], a user who takes someone's email as their username must not
// shut that person out of logging in with their email: as in PocketBase,
// an email-shaped identity is looked up by email first.
func TestAttackEmailIdentityComesFirst(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "users", "type": "auth", "createRule": "", "authRule": "",
			"fields":       []map[string]any{{"name": "username", "type": "text"}},
			"indexes":      []string{"CREATE UNIQUE INDEX `idx_users_username` ON `users` (`username`) WHERE `username` != ''"},
			"passwordAuth": map[string]any{"enabled": true, "identityFields": []string{"username", "email"}},
		}, 200, nil)
		liftLimits(t, s)
		base := "/api/collections/users/"
		s.Do("POST", base+"records", "", map[string]any{"email": "ann@example.com", "username": "ann",
			"password": "ann-password-1", "passwordConfirm": "ann-password-1"}, 200, nil)
		s.Do("POST", base+"records", "", map[string]any{"email": "mallory@example.com", "username": "ann@example.com",
			"password": "mallory-password-1", "passwordConfirm": "mallory-password-1"}, 200, nil)
		login := func(identity, password string, status int) authed {
			t.Helper()
			var a authed
			s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": identity, "password": password}, status, &a)
			return a
		}
		if a := login("ann@example.com", "ann-password-1", 200); a.Record["username"] != "ann" {
			t.Errorf("ann's email logged in as %v", a.Record)
		}
		// Mallory's username does not open Ann's account, nor her own.
		login("ann@example.com", "mallory-password-1", 400)
		// The other identity fields still work.
		login("ann", "ann-password-1", 200)
		login("mallory@example.com", "mallory-password-1", 200)
	})
}

// A login looks its identity up in each identity field: a field that two
// records may share would log in as either, so an identity field other
// than email needs a UNIQUE index of its own, as PocketBase requires.
func TestIdentityFieldsMustBeUnique(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	s.Super("POST", "/api/collections", map[string]any{
		"name": "users", "type": "auth", "fields": []map[string]any{{"name": "name", "type": "text"}},
	}, 200, nil)
	var e errBody
	s.Super("PATCH", "/api/collections/users", map[string]any{
		"passwordAuth": map[string]any{"enabled": true, "identityFields": []string{"email", "name"}},
	}, 400, &e)
	if e.Data["passwordAuth"].Code != "validation_identity_field_not_unique" {
		t.Errorf("a shared identity field: %+v", e)
	}
	for _, ix := range []string{
		"CREATE INDEX idx_name ON users (name)",            // not unique
		"CREATE UNIQUE INDEX idx_name ON users (name, id)", // unique only with another column
	} {
		s.Super("PATCH", "/api/collections/users", map[string]any{"indexes": []string{ix},
			"passwordAuth": map[string]any{"enabled": true, "identityFields": []string{"email", "name"}}}, 400, nil)
	}
	s.Super("PATCH", "/api/collections/users", map[string]any{"indexes": []string{"CREATE UNIQUE INDEX idx_name ON users (name)"},
		"passwordAuth": map[string]any{"enabled": true, "identityFields": []string{"email", "name"}}}, 200, nil)
}

// TestAttackForgedAuthTokens: a token is an auth token only when it is
// HS256-signed with its own record's tokenKey joined with its own
// collection's auth secret: not unsigned, not signed with part of that
// key or another token type's key, and not a file token.
func TestAttackForgedAuthTokens(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		base := "/api/collections/users/"
		ann := signUp(t, s, "ann@example.com", "ann-password-1")
		annID := ann.Record["id"].(string)
		c, err := s.App.Service.Collection("users")
		if err != nil {
			t.Fatal(err)
		}
		rec, err := s.App.Records.Get(context.Background(), &service.Request{Superuser: true}, c, annID)
		if err != nil {
			t.Fatal(err)
		}
		claims := tokens.Claims{ID: annID, CollectionID: c.ID, Type: tokens.TypeAuth, Refreshable: true,
			RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}
		sign := func(m jwt.SigningMethod, key any) string {
			tok, err := jwt.NewWithClaims(m, claims).SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		tk := rec.String("tokenKey")
		var file struct{ Token string }
		s.Do("POST", "/api/files/token", ann.Token, nil, 200, &file)
		for name, tok := range map[string]string{
			"alg none":           sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
			"empty key":          sign(jwt.SigningMethodHS256, []byte("")),
			"collection secret":  sign(jwt.SigningMethodHS256, []byte(c.Auth.AuthToken.Secret)),
			"tokenKey alone":     sign(jwt.SigningMethodHS256, []byte(tk)),
			"file secret":        sign(jwt.SigningMethodHS256, []byte(tk+c.Auth.FileToken.Secret)),
			"verification key":   sign(jwt.SigningMethodHS256, []byte(tk+c.Auth.VerificationToken.Secret)),
			"HS512 with the key": sign(jwt.SigningMethodHS512, []byte(tk+c.Auth.AuthToken.Secret)),
			"file token":         file.Token,
		} {
			if r := s.Request("POST", base+"auth-refresh", tok, nil); r.Status != 401 {
				t.Errorf("%s: refresh %d %s", name, r.Status, r.Body)
			}
			if r := s.Request("GET", base+"records/"+annID, tok, nil); r.Status != 404 {
				t.Errorf("%s: view own record %d", name, r.Status)
			}
		}
		// The real key works, so the cases above failed for their flaw.
		s.Do("POST", base+"auth-refresh", sign(jwt.SigningMethodHS256, []byte(tk+c.Auth.AuthToken.Secret)), nil, 200, nil)
	})
}

// Anyone may sign up with another's email and a password of their own,
// then wait: when the address's owner logs in by a mailed code, the code
// proves the address and the account becomes verified. That must not hand
// the account to whoever set its password: verifying by code replaces the
// password and signs out every earlier session.
func TestOTPVerificationEndsWhatCameBefore(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		liftLimits(t, s)
		enableOTP(t, s, 180)
		base := "/api/collections/users/"
		mallory := signUp(t, s, "ann@example.com", "mallory-password-1") // unverified: Ann never confirmed it
		var o struct{ OTPID string }
		s.Do("POST", base+"request-otp", "", map[string]any{"email": "ann@example.com"}, 200, &o)
		m := nextMail(t, s, "ann@example.com", "")
		code := mailed(t, m, otpCode)
		var ann authed
		s.Do("POST", base+"auth-with-otp", "", map[string]any{"otpId": o.OTPID, "password": code}, 200, &ann)
		if ann.Record["verified"] != true {
			t.Fatalf("Ann's login by code: %+v", ann.Record)
		}
		s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "mallory-password-1"}, 400, nil)
		s.Do("POST", base+"auth-refresh", mallory.Token, nil, 401, nil)
		s.Do("POST", base+"auth-refresh", ann.Token, nil, 200, nil)
		// Once verified, a later login by code changes nothing.
		s.Do("POST", base+"request-otp", "", map[string]any{"email": "ann@example.com"}, 200, &o)
		code = mailed(t, nextMail(t, s, "ann@example.com", m.ID), otpCode)
		s.Do("POST", base+"auth-with-otp", "", map[string]any{"otpId": o.OTPID, "password": code}, 200, nil)
		s.Do("POST", base+"auth-refresh", ann.Token, nil, 200, nil)
	})
}
