package api_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// appRedirect is a native app's redirect URI (a private-use scheme).
const appRedirect = "com.example.app:/oauth2redirect"

// startIdP runs a real OpenID Connect provider, its answers altered by
// middleware, and makes it the users collection's "oidc" provider.
func startIdP(t *testing.T, s *testkit.Server, middleware ...func(http.Handler) http.Handler) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, mw := range middleware {
		if err := m.AddMiddleware(mw); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	allowProvider(s, ln.Addr().String())
	s.Super("PATCH", "/api/collections/users", map[string]any{"oauth2": map[string]any{
		"enabled": true,
		"providers": []any{map[string]any{
			"name": "oidc", "clientId": m.ClientID, "clientSecret": m.ClientSecret, "discoveryURL": m.Issuer(),
		}},
	}}, 200, nil)
	return m
}

// randomToken is what AppAuth draws its state, nonce and verifier from.
func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// followAuthURL plays the browser at the provider and returns the code it
// redirects back with, after checking the state came back unchanged.
func followAuthURL(t *testing.T, authURL, state string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %v", resp.StatusCode, err)
	}
	if loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		t.Fatalf("redirect: %s", loc)
	}
	return loc.Query().Get("code")
}

// nativeCode is AppAuth's half of the login: the app reads the provider's
// endpoints itself, makes its own state, nonce and PKCE verifier, sends
// the user to the provider and takes the code at its redirect URI. The
// server takes no part until the code and verifier reach it.
func nativeCode(t *testing.T, m *mockoidc.MockOIDC, user mockoidc.User) (code, verifier string) {
	t.Helper()
	if user != nil {
		m.QueueUser(user)
	}
	verifier, state := randomToken(t), randomToken(t)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {m.ClientID}, "response_type": {"code"}, "scope": {"openid email profile"},
		"redirect_uri": {appRedirect}, "state": {state}, "nonce": {randomToken(t)},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	return followAuthURL(t, m.AuthorizationEndpoint()+"?"+q.Encode(), state), verifier
}

// webCode is the SDKs' half: auth-methods, then the provider.
func webCode(t *testing.T, s *testkit.Server, m *mockoidc.MockOIDC, user mockoidc.User) (code, verifier string) {
	t.Helper()
	var methods struct {
		OAuth2 struct{ Providers []oauthStart }
	}
	s.Do("GET", "/api/collections/users/auth-methods", "", nil, 200, &methods)
	if len(methods.OAuth2.Providers) != 1 {
		t.Fatalf("auth-methods: %+v", methods)
	}
	p := methods.OAuth2.Providers[0]
	if user != nil {
		m.QueueUser(user)
	}
	return followAuthURL(t, p.AuthURL+url.QueryEscape(oauthRedirect), p.State), p.CodeVerifier
}

func nativeLogin(s *testkit.Server, code, verifier string) testkit.Response {
	return s.Request("POST", "/api/collections/users/auth-with-oauth2", "", map[string]any{
		"provider": "oidc", "code": code, "codeVerifier": verifier, "redirectURL": appRedirect})
}

// otherAudience is a provider user whose ID tokens the provider signs for
// another client: a token obtained by some other app.
type otherAudience struct{ *mockoidc.MockUser }

func (u otherAudience) Claims(scope []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	rc := *base.RegisteredClaims
	rc.Audience = jwt.ClaimStrings{"another-app"}
	return u.MockUser.Claims(scope, &mockoidc.IDTokenClaims{Nonce: base.Nonce, RegisteredClaims: &rc})
}

// withoutPKCE makes the provider drop the challenge from authorization
// requests, so its codes are redeemable with any verifier: a provider that
// does not do PKCE, or does it wrong.
func withoutPKCE(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == mockoidc.AuthorizationEndpoint {
			q := r.URL.Query()
			q.Del("code_challenge")
			q.Del("code_challenge_method")
			r.URL.RawQuery = q.Encode()
		}
		next.ServeHTTP(w, r)
	})
}

// silentOnPKCE serves the discovery document without
// code_challenge_methods_supported: a provider that does not say it
// enforces PKCE.
func silentOnPKCE(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != mockoidc.DiscoveryEndpoint {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var doc map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		delete(doc, "code_challenge_methods_supported")
		var b bytes.Buffer
		_ = json.NewEncoder(&b).Encode(doc)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b.Bytes())
	})
}

// A native app (AppAuth) that builds its own authorization request logs in
// with its code and verifier, as PocketBase allows; the attacks on that
// flow stay refused.
func TestOAuth2NativeApp(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"rules": []any{
			map[string]any{"label": "auth", "maxRequests": 100, "duration": 60}}}}, 200, nil)
		m := startIdP(t, s)

		jane := mockoidc.DefaultUser()
		code, verifier := nativeCode(t, m, jane)
		var first oauthResult
		decode(t, nativeLogin(s, code, verifier), 200, &first)
		if first.Record["email"] != jane.Email || first.Record["verified"] != true || first.Meta["isNew"] != true || first.Token == "" {
			t.Fatalf("native login: %+v", first)
		}
		s.Do("POST", "/api/collections/users/auth-refresh", first.Token, nil, 200, nil)
		// The same person, through the app or the web, is the same account.
		code, verifier = nativeCode(t, m, jane)
		var again oauthResult
		decode(t, nativeLogin(s, code, verifier), 200, &again)
		code, verifier = webCode(t, s, m, jane)
		var web oauthResult
		decode(t, oauthLogin(s, code, verifier, nil), 200, &web)
		if again.Record["id"] != first.Record["id"] || web.Record["id"] != first.Record["id"] || again.Meta["isNew"] != false {
			t.Errorf("later logins: %+v %+v", again, web)
		}

		users := countUsers(t, s)
		eve := &mockoidc.MockUser{Subject: "eve", Email: "eve@example.com", EmailVerified: true}
		attacks := []struct {
			name  string
			login func() testkit.Response
		}{
			{"code replayed", func() testkit.Response {
				code, verifier := nativeCode(t, m, eve)
				if r := nativeLogin(s, code, verifier); r.Status != 200 {
					t.Fatalf("first use: %d %s", r.Status, r.Body)
				}
				return nativeLogin(s, code, verifier)
			}},
			{"code stolen, verifier guessed", func() testkit.Response {
				code, _ := nativeCode(t, m, eve)
				return nativeLogin(s, code, randomToken(t))
			}},
			{"code stolen, no verifier", func() testkit.Response {
				code, _ := nativeCode(t, m, eve)
				return nativeLogin(s, code, "")
			}},
			{"web login's code with the attacker's verifier", func() testkit.Response {
				code, _ := webCode(t, s, m, eve)
				return nativeLogin(s, code, randomToken(t))
			}},
			{"ID token issued to another client", func() testkit.Response {
				code, verifier := nativeCode(t, m, otherAudience{&mockoidc.MockUser{Subject: "mallory", Email: "m@example.com", EmailVerified: true}})
				return nativeLogin(s, code, verifier)
			}},
		}
		for _, a := range attacks {
			if r := a.login(); r.Status != 400 {
				t.Errorf("%s: %d %s", a.name, r.Status, r.Body)
			}
		}
		if n := countUsers(t, s); n != users+1 { // eve's one genuine login
			t.Errorf("accounts after the attacks: %d, want %d", n, users+1)
		}

		// A provider without PKCE: a code from a login the server started
		// is bound to its verifier by the nonce alone, and a native app's
		// code could be redeemed by whoever took it, so only the web flow
		// works.
		m = startIdP(t, s, withoutPKCE, silentOnPKCE)
		code, _ = webCode(t, s, m, jane)
		if r := nativeLogin(s, code, randomToken(t)); r.Status != 400 {
			t.Errorf("stolen web code, provider without PKCE: %d %s", r.Status, r.Body)
		}
		code, verifier = nativeCode(t, m, jane)
		if r := nativeLogin(s, code, verifier); r.Status != 400 {
			t.Errorf("native login, provider without PKCE: %d %s", r.Status, r.Body)
		}
		code, verifier = webCode(t, s, m, jane)
		decode(t, oauthLogin(s, code, verifier, nil), 200, &web)
		// One that says it does PKCE but does not check the verifier:
		// the web flow's codes are still bound by their nonce.
		m = startIdP(t, s, withoutPKCE)
		code, _ = webCode(t, s, m, jane)
		if r := nativeLogin(s, code, randomToken(t)); r.Status != 400 {
			t.Errorf("stolen web code, provider ignoring PKCE: %d %s", r.Status, r.Body)
		}

		// A provider that does not say it enforces PKCE is not trusted to.
		m = startIdP(t, s, silentOnPKCE)
		code, verifier = nativeCode(t, m, jane)
		if r := nativeLogin(s, code, verifier); r.Status != 400 {
			t.Errorf("native login, provider silent on PKCE: %d %s", r.Status, r.Body)
		}
		// Its administrator can vouch for it.
		s.Super("PATCH", "/api/collections/users", map[string]any{"oauth2": map[string]any{"providers": []any{map[string]any{
			"name": "oidc", "clientId": m.ClientID, "discoveryURL": m.Issuer(), "extra": map[string]any{"pkceEnforced": true},
		}}}}, 200, nil)
		code, verifier = nativeCode(t, m, jane)
		decode(t, nativeLogin(s, code, verifier), 200, &again)
		if again.Record["id"] != first.Record["id"] {
			t.Errorf("native login, provider vouched for: %+v", again)
		}
	})
}
