package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// Issue 6, findings 4, 5 and 6: an API key escaping its limits, token
// routes skipping the authRule, and manageRule "".

// TestIssue6APIKeyCannotEscalate: a superuser API key acts as a superuser
// over the app's own collections, but no route lets it reach the system
// collections (accounts, keys, login state), impersonate a superuser or
// change the settings — any of which would make it a superuser account or
// a wider key. Superusers logged in with their account still can.
func TestIssue6APIKeyCannotEscalate(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		usersSchema(t, s, "")
		user := signUp(t, s, "u@example.com", "u-password-123")
		var root, reader keyAnswer
		s.Super("POST", "/api/keys", map[string]any{"name": "ops", "superuser": true}, 200, &root)
		s.Super("POST", "/api/keys", map[string]any{"name": "reporting", "collections": []string{"posts"}}, 200, &reader)
		key := "Bearer " + root.Key
		var sus list
		s.Super("GET", "/api/collections/_superusers/records", nil, 200, &sus)
		suID := sus.Items[0]["id"].(string)
		var suCol, keysCol map[string]any
		s.Super("GET", "/api/collections/_superusers", nil, 200, &suCol)
		s.Super("GET", "/api/collections/_apiKeys", nil, 200, &keysCol)
		// The whole definition of _apiKeys with its rules opened, as an
		// import would carry it.
		openKeys := map[string]any{}
		for k, v := range keysCol {
			openKeys[k] = v
		}
		openKeys["listRule"], openKeys["viewRule"], openKeys["updateRule"] = "", "", ""
		pw := "evil-password-1"

		// What the key keeps: a superuser over the app's own collections.
		s.Do("GET", "/api/collections/posts/records", key, nil, 200, nil)
		s.Do("POST", "/api/collections/posts/records", key, map[string]any{"title": "by key", "slug": "k"}, 200, nil)
		s.Do("PATCH", "/api/collections/posts", key, map[string]any{"listRule": nil}, 200, nil)
		s.Do("GET", "/api/collections/_superusers", key, nil, 200, nil)
		s.Do("GET", "/api/settings", key, nil, 200, nil)
		s.Do("GET", "/api/collections/posts/records?filter="+url.QueryEscape(`secret = ""`), key, nil, 200, nil)
		// It may impersonate a regular user (it could change that user's
		// records anyway); the token is the user's, no superuser's.
		var imp authed
		s.Do("POST", "/api/collections/users/impersonate/"+user.Record["id"].(string), key, nil, 200, &imp)
		s.Do("GET", "/api/keys", imp.Token, nil, 403, nil)
		// For an hour at most: revoking the key does not end the token.
		if exp := tokenExpiry(t, imp.Token); time.Until(exp) > time.Hour+time.Minute {
			t.Errorf("a key's impersonation token lasts until %v", exp)
		}
		s.Do("POST", "/api/collections/users/impersonate/"+user.Record["id"].(string), key, map[string]any{"duration": 3601}, 400, nil)
		s.Super("POST", "/api/collections/users/impersonate/"+user.Record["id"].(string), map[string]any{"duration": 86400}, 200, nil)

		attacks := []struct {
			name, method, path string
			body               any
			want               int
		}{
			{"impersonate a superuser", "POST", "/api/collections/_superusers/impersonate/" + suID, nil, 403},
			{"list keys as records", "GET", "/api/collections/_apiKeys/records", nil, 403},
			{"view a key as a record", "GET", "/api/collections/_apiKeys/records/" + reader.APIKey.ID, nil, 403},
			{"widen a key", "PATCH", "/api/collections/_apiKeys/records/" + reader.APIKey.ID,
				map[string]any{"scope": map[string]any{"superuser": true, "collections": []string{}, "write": true}}, 403},
			{"insert a key", "POST", "/api/collections/_apiKeys/records",
				map[string]any{"name": "minted", "keyHash": strings.Repeat("a", 64), "scope": map[string]any{"superuser": true}}, 403},
			{"revoke a key as a record", "DELETE", "/api/collections/_apiKeys/records/" + reader.APIKey.ID, nil, 403},
			{"list superusers", "GET", "/api/collections/_superusers/records", nil, 403},
			{"view a superuser", "GET", "/api/collections/_superusers/records/" + suID, nil, 403},
			{"create a superuser", "POST", "/api/collections/_superusers/records",
				map[string]any{"email": "evil@example.com", "password": pw, "passwordConfirm": pw}, 403},
			{"set a superuser's password", "PATCH", "/api/collections/_superusers/records/" + suID,
				map[string]any{"password": pw, "passwordConfirm": pw}, 403},
			{"plant a one-time code", "POST", "/api/collections/_otps/records",
				map[string]any{"collectionRef": suCol["id"], "recordRef": suID, "password": "123456"}, 403},
			{"link an identity to a superuser", "POST", "/api/collections/_externalAuths/records",
				map[string]any{"collectionRef": suCol["id"], "recordRef": suID, "provider": "oidc", "providerId": "evil"}, 403},
			{"read MFA sessions", "GET", "/api/collections/_mfas/records", nil, 403},
			{"read login origins", "GET", "/api/collections/_authOrigins/records", nil, 403},
			{"open the keys' rules", "PATCH", "/api/collections/_apiKeys", map[string]any{"listRule": "", "updateRule": ""}, 403},
			{"turn on OTP for superusers", "PATCH", "/api/collections/_superusers",
				map[string]any{"otp": map[string]any{"enabled": true, "duration": 180, "length": 6}}, 403},
			{"import over the keys", "PUT", "/api/collections/import", map[string]any{"collections": []any{openKeys}}, 403},
			{"route mail elsewhere", "PATCH", "/api/settings",
				map[string]any{"smtp": map[string]any{"enabled": true, "host": "smtp.evil.example", "port": 25}}, 403},
			{"mail anyone through the app's SMTP server", "POST", "/api/settings/test/email",
				map[string]any{"email": "victim@example.com", "template": "verification"}, 403},
			{"write to the app's bucket", "POST", "/api/settings/test/s3", map[string]any{"filesystem": "storage"}, 403},
			{"probe superusers in a filter", "GET", "/api/collections/posts/records?filter=" +
				url.QueryEscape(`@collection._superusers.email = "`+testkit.SuperuserEmail+`"`), nil, 400},
			{"probe keys in a filter", "GET", "/api/collections/posts/records?filter=" +
				url.QueryEscape(`@collection._apiKeys.keyHash != ""`), nil, 400},
			{"mint a key", "POST", "/api/keys", map[string]any{"name": "x", "superuser": true}, 403},
			// Last: on the unfixed code it deletes the key itself.
			{"revoke every key", "DELETE", "/api/collections/_apiKeys/truncate", nil, 403},
		}
		for _, a := range attacks {
			if r := s.Request(a.method, a.path, key, a.body); r.Status != a.want {
				t.Errorf("%s (%s %s): status %d, want %d: %s", a.name, a.method, a.path, r.Status, a.want, r.Body)
			}
		}
		// Nothing changed: the collection key is as narrow as it was, no
		// superuser was made, the system collections and settings are as
		// they were, both keys still exist.
		s.Do("POST", "/api/collections/posts/records", "Bearer "+reader.Key, map[string]any{"title": "x", "slug": "x"}, 403, nil)
		s.Do("GET", "/api/collections", "Bearer "+reader.Key, nil, 403, nil)
		s.Do("POST", "/api/collections/_superusers/auth-with-password", "", map[string]any{"identity": "evil@example.com", "password": pw}, 400, nil)
		var after map[string]any
		s.Super("GET", "/api/collections/_apiKeys", nil, 200, &after)
		if after["listRule"] != nil || after["updateRule"] != nil {
			t.Errorf("_apiKeys rules opened: %v %v", after["listRule"], after["updateRule"])
		}
		s.Super("GET", "/api/collections/_superusers", nil, 200, &after)
		if otp, _ := after["otp"].(map[string]any); otp["enabled"] == true {
			t.Errorf("OTP turned on for superusers: %v", otp)
		}
		var st struct{ SMTP struct{ Host string } }
		s.Super("GET", "/api/settings", nil, 200, &st)
		if st.SMTP.Host == "smtp.evil.example" {
			t.Errorf("settings changed by a key: %+v", st)
		}
		var keys struct{ Items []map[string]any }
		s.Super("GET", "/api/keys", nil, 200, &keys)
		if len(keys.Items) != 2 {
			t.Errorf("keys after the attacks: %d", len(keys.Items))
		}

		// A superuser logged in with its account still does all of it.
		var suImp authed
		s.Super("POST", "/api/collections/_superusers/impersonate/"+suID, nil, 200, &suImp)
		s.Do("GET", "/api/keys", suImp.Token, nil, 200, nil)
		var keyRecs list
		s.Super("GET", "/api/collections/_apiKeys/records", nil, 200, &keyRecs)
		if keyRecs.TotalItems != 2 {
			t.Errorf("_apiKeys records for a superuser: %+v", keyRecs)
		}
		s.Super("PATCH", "/api/collections/_apiKeys/records/"+reader.APIKey.ID, map[string]any{"scope": map[string]any{
			"collections": reader.APIKey.Collections, "write": true}}, 200, nil)
		s.Do("POST", "/api/collections/posts/records", "Bearer "+reader.Key, map[string]any{"title": "widened", "slug": "w"}, 200, nil)
		s.Super("POST", "/api/collections/_superusers/records", map[string]any{"email": "second@example.com", "password": pw, "passwordConfirm": pw}, 200, nil)
		s.Do("POST", "/api/collections/_superusers/auth-with-password", "", map[string]any{"identity": "second@example.com", "password": pw}, 200, nil)
		s.Super("GET", "/api/collections/posts/records?filter="+url.QueryEscape(`@collection._superusers.email = "`+testkit.SuperuserEmail+`"`), nil, 200, nil)
		s.Super("GET", "/api/collections/_mfas/records", nil, 200, nil)
		s.Super("PATCH", "/api/collections/_superusers", map[string]any{"otp": map[string]any{"enabled": true, "duration": 180, "length": 6}}, 200, nil)
		s.Super("PATCH", "/api/settings", map[string]any{"meta": map[string]any{"appName": "Changed"}}, 200, nil)
		s.Super("DELETE", "/api/collections/_apiKeys/truncate", nil, 204, nil)
		s.Do("GET", "/api/collections/posts/records", key, nil, 403, nil)
	})
}

// bannableUsers creates an auth collection "users" whose authRule shuts
// out banned accounts, open for sign-up, records their owners' business.
func bannableUsers(t *testing.T, s *testkit.Server) {
	t.Helper()
	owner := "id = @request.auth.id"
	s.Super("POST", "/api/collections", map[string]any{
		"name": "users", "type": "auth", "createRule": "", "listRule": owner, "viewRule": owner,
		"updateRule": owner, "deleteRule": owner, "authRule": "banned = false",
		"fields": []map[string]any{{"name": "name", "type": "text"}, {"name": "banned", "type": "bool"}},
	}, 200, nil)
}

// TestIssue6RefreshRechecksAuthRule: a token is issued only to a record
// its collection's authRule admits now — at login by every method, and at
// auth-refresh, so a banned (or no longer verified, or deleted) account
// cannot keep a session alive by refreshing an old token.
func TestIssue6RefreshRechecksAuthRule(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		bannableUsers(t, s)
		liftLimits(t, s)
		base := "/api/collections/users/"
		setBanned := func(id string, banned bool) {
			t.Helper()
			s.Super("PATCH", base+"records/"+id, map[string]any{"banned": banned}, 200, nil)
		}
		refresh := func(token string, want int) authed {
			t.Helper()
			var a authed
			r := s.Request("POST", base+"auth-refresh", token, nil)
			if r.Status != want {
				t.Errorf("refresh: status %d, want %d: %s", r.Status, want, r.Body)
			}
			if want == 200 {
				decode(t, r, 200, &a)
			}
			return a
		}
		ann := signUp(t, s, "ann@example.com", "ann-password-1")
		annID := ann.Record["id"].(string)
		fresh := refresh(ann.Token, 200)

		// Banned: no login, and neither the old token nor a refreshed one
		// refreshes.
		setBanned(annID, true)
		s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "ann-password-1"}, 400, nil)
		refresh(ann.Token, 403)
		refresh(fresh.Token, 403)
		// A superuser may still impersonate her (PocketBase's rule: the
		// superuser acts knowingly); that token does not refresh either.
		var imp authed
		s.Super("POST", base+"impersonate/"+annID, nil, 200, &imp)
		refresh(imp.Token, 403)
		// Unbanned, the same tokens work again (the ban signed nothing out).
		setBanned(annID, false)
		refresh(ann.Token, 200)

		// The verified requirement, written in the authRule, holds too.
		s.Super("PATCH", "/api/collections/users", map[string]any{"authRule": "banned = false && verified = true"}, 200, nil)
		refresh(ann.Token, 403)
		s.Super("PATCH", base+"records/"+annID, map[string]any{"verified": true}, 200, nil)
		refresh(ann.Token, 200)
		s.Super("PATCH", "/api/collections/users", map[string]any{"authRule": "banned = false"}, 200, nil)
		// A null authRule lets no one in, refreshing included.
		s.Super("PATCH", "/api/collections/users", map[string]any{"authRule": nil}, 200, nil)
		refresh(ann.Token, 403)
		s.Super("PATCH", "/api/collections/users", map[string]any{"authRule": "banned = false"}, 200, nil)

		// OTP, and the second factor of MFA, check the rule as they finish.
		s.Super("PATCH", "/api/collections/users", map[string]any{
			"otp": map[string]any{"enabled": true, "duration": 180, "length": 6}}, 200, nil)
		otpLogin := func(email, mfaID string) testkit.Response {
			t.Helper()
			prev := ""
			if m, err := s.App.Settings.Mailbox().Latest(email); err == nil {
				prev = m.ID
			}
			var o struct{ OTPID string }
			s.Do("POST", base+"request-otp", "", map[string]any{"email": email}, 200, &o)
			code := mailed(t, nextMail(t, s, email, prev), otpCode)
			return s.Request("POST", base+"auth-with-otp", "", map[string]any{"otpId": o.OTPID, "password": code, "mfaId": mfaID})
		}
		setBanned(annID, true)
		if r := otpLogin("ann@example.com", ""); r.Status != 400 {
			t.Errorf("banned OTP login: %d %s", r.Status, r.Body)
		}
		setBanned(annID, false)
		s.Super("PATCH", "/api/collections/users", map[string]any{"mfa": map[string]any{"enabled": true, "duration": 600, "rule": ""}}, 200, nil)
		var first struct{ MFAID string }
		s.Do("POST", base+"auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "ann-password-1"}, 401, &first)
		setBanned(annID, true)
		if r := otpLogin("ann@example.com", first.MFAID); r.Status != 400 {
			t.Errorf("banned between factors: %d %s", r.Status, r.Body)
		}
		setBanned(annID, false)
		s.Super("PATCH", "/api/collections/users", map[string]any{"mfa": map[string]any{"enabled": false}}, 200, nil)

		// OAuth2 too.
		m := startProvider(t, s)
		mocksMu.Lock()
		mocks[t] = m
		mocksMu.Unlock()
		t.Cleanup(func() { mocksMu.Lock(); delete(mocks, t); mocksMu.Unlock() })
		dave := &mockoidc.MockUser{Subject: "dave-1", Email: "dave@example.com", EmailVerified: true}
		code, verifier := beginOAuth(t, s, dave)
		var viaOAuth oauthResult
		decode(t, oauthLogin(s, code, verifier, nil), 200, &viaOAuth)
		setBanned(viaOAuth.Record["id"].(string), true)
		code, verifier = beginOAuth(t, s, dave)
		if r := oauthLogin(s, code, verifier, nil); r.Status != 400 {
			t.Errorf("banned OAuth2 login: %d %s", r.Status, r.Body)
		}
		refresh(viaOAuth.Token, 403)

		// A deleted account's token refreshes no more.
		s.Super("DELETE", base+"records/"+annID, nil, 204, nil)
		refresh(ann.Token, 401)
	})
}

// TestIssue6EmptyManageRuleRefused: manageRule "" would let every user
// manage every account of the collection (verify itself, change emails
// without confirmation, passwords without the old one). Like PocketBase,
// it is refused — on create, update and import — and null (superusers
// only) is the way to say "nobody else".
func TestIssue6EmptyManageRuleRefused(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		def := func(name string, manage any) map[string]any {
			return map[string]any{"name": name, "type": "auth", "createRule": "", "manageRule": manage,
				"updateRule": "id = @request.auth.id", "viewRule": "id = @request.auth.id"}
		}
		for name, rule := range map[string]string{"empty": "", "blank": " \t\n"} {
			wantFieldError(t, s.Request("POST", "/api/collections", s.Token, def("m_"+name, rule)), 400, "manageRule")
			wantFieldError(t, s.Request("PUT", "/api/collections/import", s.Token,
				map[string]any{"collections": []any{def("m_"+name, rule)}}), 400, `collections\.0\.manageRule`)
			s.Super("GET", "/api/collections/m_"+name, nil, 404, nil)
		}
		s.Super("POST", "/api/collections", def("users", nil), 200, nil)
		wantFieldError(t, s.Request("PATCH", "/api/collections/users", s.Token, map[string]any{"manageRule": ""}), 400, "manageRule")
		wantFieldError(t, s.Request("PUT", "/api/collections/import", s.Token,
			map[string]any{"collections": []any{map[string]any{"name": "users", "type": "auth", "manageRule": ""}}}), 400, `collections\.0\.manageRule`)
		var c map[string]any
		s.Super("GET", "/api/collections/users", nil, 200, &c)
		if c["manageRule"] != nil {
			t.Fatalf("manageRule after refused changes: %#v", c["manageRule"])
		}
		// A real rule is fine.
		s.Super("PATCH", "/api/collections/users", map[string]any{"manageRule": "@request.auth.id != '' && @request.auth.id = 'nobody'"}, 200, nil)

		// So a user cannot verify itself.
		s.Do("POST", "/api/collections/users/records", "", map[string]any{
			"email": "eve@example.com", "password": "eve-password-1", "passwordConfirm": "eve-password-1"}, 200, nil)
		var eve authed
		s.Do("POST", "/api/collections/users/auth-with-password", "", map[string]any{"identity": "eve@example.com", "password": "eve-password-1"}, 200, &eve)
		s.Request("PATCH", "/api/collections/users/records/"+eve.Record["id"].(string), eve.Token, map[string]any{"verified": true})
		var rec map[string]any
		s.Super("GET", "/api/collections/users/records/"+eve.Record["id"].(string), nil, 200, &rec)
		if rec["verified"] != false {
			t.Errorf("a user verified itself: %v", rec)
		}
	})
}

// TestIssue6APIKeyCannotProbeSystemCollectionsThroughRules: a superuser
// key may define the app's collections, but not with a rule or relation
// that reaches a system collection — rules see every field, so
// "@collection._superusers.tokenKey ~ 'a%'" would be an oracle over
// token keys and password hashes.
func TestIssue6APIKeyCannotProbeSystemCollectionsThroughRules(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		var root keyAnswer
		s.Super("POST", "/api/keys", map[string]any{"name": "ops", "superuser": true}, 200, &root)
		key := "Bearer " + root.Key
		var keysCol map[string]any
		s.Super("GET", "/api/collections/_apiKeys", nil, 200, &keysCol)
		probe := "@collection._superusers.tokenKey ~ 'a%'"
		defs := map[string]map[string]any{
			"rule":              {"name": "probe1", "listRule": probe},
			"rule, other case":  {"name": "probe2", "listRule": "@collection._SUPERUSERS.password != ''"},
			"relation by name":  {"name": "probe3", "fields": []any{map[string]any{"name": "k", "type": "relation", "collectionId": "_apiKeys", "maxSelect": 1}}},
			"relation by id":    {"name": "probe4", "fields": []any{map[string]any{"name": "k", "type": "relation", "collectionId": keysCol["id"], "maxSelect": 1}}},
			"view rule of otps": {"name": "probe5", "viewRule": "@collection._otps.password != ''"},
		}
		for name, def := range defs {
			if r := s.Request("POST", "/api/collections", key, def); r.Status != 403 {
				t.Errorf("create, %s: status %d: %s", name, r.Status, r.Body)
			}
		}
		s.Do("POST", "/api/collections", key, map[string]any{"name": "plain", "listRule": ""}, 200, nil)
		if r := s.Request("PATCH", "/api/collections/plain", key, map[string]any{"listRule": probe}); r.Status != 403 {
			t.Errorf("update: status %d: %s", r.Status, r.Body)
		}
		if r := s.Request("PUT", "/api/collections/import", key, map[string]any{"collections": []any{map[string]any{"name": "plain", "listRule": probe}}}); r.Status != 403 {
			t.Errorf("import: status %d: %s", r.Status, r.Body)
		}
		var plain map[string]any
		s.Super("GET", "/api/collections/plain", nil, 200, &plain)
		if plain["listRule"] != "" {
			t.Fatalf("the probe rule was stored: %v", plain["listRule"])
		}
		// A superuser's own account may write such rules.
		s.Super("PATCH", "/api/collections/plain", map[string]any{"listRule": probe}, 200, nil)
	})
}

// tokenExpiry reads a JWT's exp claim, unverified.
func tokenExpiry(t *testing.T, token string) time.Time {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Exp int64 }
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return time.Unix(claims.Exp, 0)
}
