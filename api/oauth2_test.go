package api_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/outbound"
)

const oauthRedirect = "http://127.0.0.1:5173/oauth-callback"

// startProvider runs a real OpenID Connect provider for one test and
// configures it on the users collection.
func startProvider(t *testing.T, s *testkit.Server) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
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
		"enabled":      true,
		"mappedFields": map[string]string{"name": "name"},
		"providers": []any{map[string]any{
			"name": "oidc", "displayName": "Test IdP", "clientId": m.ClientID, "clientSecret": m.ClientSecret, "discoveryURL": m.Issuer(),
		}},
	}}, 200, nil)
	return m
}

// allowProvider lets the server's OAuth2 client reach a provider on this
// machine (host:port), as TORTOISE_OUTBOUND_ALLOW_HOSTS would: it refuses
// loopback addresses otherwise.
func allowProvider(s *testkit.Server, hostport string) {
	s.App.Auth.SetHTTPClient(outbound.NewClient(outbound.Options{AllowHosts: []string{hostport}}))
}

type oauthStart struct {
	Name, State, AuthURL, CodeVerifier string
}

// beginOAuth asks auth-methods for the provider, then plays the browser:
// it follows the authURL (completed with the redirect URL, as the SDKs do)
// and returns the code the provider sends back.
func beginOAuth(t *testing.T, s *testkit.Server, user mockoidc.User) (code, verifier string) {
	t.Helper()
	var methods struct {
		OAuth2 struct {
			Enabled   bool
			Providers []oauthStart
		}
	}
	s.Do("GET", "/api/collections/users/auth-methods", "", nil, 200, &methods)
	if !methods.OAuth2.Enabled || len(methods.OAuth2.Providers) != 1 {
		t.Fatalf("auth-methods: %+v", methods)
	}
	p := methods.OAuth2.Providers[0]
	if user != nil {
		// mockoidc hands out queued users in order.
		mockFor(t).QueueUser(user)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(p.AuthURL + url.QueryEscape(oauthRedirect))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %v", resp.StatusCode, err)
	}
	if loc.Query().Get("state") != p.State || loc.Query().Get("code") == "" {
		t.Fatalf("redirect: %s", loc)
	}
	return loc.Query().Get("code"), p.CodeVerifier
}

var (
	mocksMu sync.Mutex
	mocks   = map[*testing.T]*mockoidc.MockOIDC{}
)

func mockFor(t *testing.T) *mockoidc.MockOIDC {
	mocksMu.Lock()
	defer mocksMu.Unlock()
	return mocks[t]
}

func decode(t *testing.T, r testkit.Response, status int, out any) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if err := json.Unmarshal(r.Body, out); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

type oauthResult struct {
	Token  string
	Record map[string]any
	Meta   map[string]any
}

func oauthLogin(s *testkit.Server, code, verifier string, createData map[string]any) testkit.Response {
	return s.Request("POST", "/api/collections/users/auth-with-oauth2", "", map[string]any{
		"provider": "oidc", "code": code, "codeVerifier": verifier, "redirectURL": oauthRedirect, "createData": createData,
	})
}

func countUsers(t *testing.T, s *testkit.Server) int {
	t.Helper()
	var l list
	s.Super("GET", "/api/collections/users/records?perPage=1", nil, 200, &l)
	return l.TotalItems
}

// Security case 5: OAuth2 logins against a real OIDC provider.
func TestOAuth2(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		// This test logs in more often than the per-IP limit allows.
		s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"rules": []any{
			map[string]any{"label": "auth", "maxRequests": 100, "duration": 60}}}}, 200, nil)
		m := startProvider(t, s)
		mocksMu.Lock()
		mocks[t] = m
		mocksMu.Unlock()
		t.Cleanup(func() { mocksMu.Lock(); delete(mocks, t); mocksMu.Unlock() })

		jane := mockoidc.DefaultUser()
		code, verifier := beginOAuth(t, s, jane)
		var first oauthResult
		r := oauthLogin(s, code, verifier, map[string]any{"name": "Jane"})
		decode(t, r, 200, &first)
		if first.Record["email"] != jane.Email || first.Meta["isNew"] != true || first.Record["verified"] != true || first.Token == "" {
			t.Fatalf("first login: %+v", first)
		}
		s.Do("POST", "/api/collections/users/auth-refresh", first.Token, nil, 200, nil)

		// The code is single use.
		if r := oauthLogin(s, code, verifier, nil); r.Status != 400 {
			t.Errorf("replayed code: %d %s", r.Status, r.Body)
		}
		// The same identity logs into the same account.
		code, verifier = beginOAuth(t, s, jane)
		var again oauthResult
		decode(t, oauthLogin(s, code, verifier, nil), 200, &again)
		if again.Record["id"] != first.Record["id"] || again.Meta["isNew"] != false {
			t.Errorf("second login: %+v", again)
		}
		// A verifier other than the one the challenge was made from (so also
		// another nonce) is refused.
		code, _ = beginOAuth(t, s, jane)
		_, otherVerifier := beginOAuth(t, s, nil)
		if r := oauthLogin(s, code, otherVerifier, nil); r.Status != 400 {
			t.Errorf("wrong verifier: %d %s", r.Status, r.Body)
		}

		users := countUsers(t, s)
		// An email the provider did not verify neither links nor creates.
		unverified := &mockoidc.MockUser{Subject: "u-2", Email: "unverified@example.com", EmailVerified: false}
		code, verifier = beginOAuth(t, s, unverified)
		if r := oauthLogin(s, code, verifier, nil); r.Status != 400 {
			t.Errorf("unverified email: %d %s", r.Status, r.Body)
		}
		// createData cannot choose another email than the provider's.
		bob := &mockoidc.MockUser{Subject: "u-3", Email: "bob@example.com", EmailVerified: true}
		code, verifier = beginOAuth(t, s, bob)
		if r := oauthLogin(s, code, verifier, map[string]any{"email": "admin@example.com"}); r.Status != 400 {
			t.Errorf("createData.email: %d %s", r.Status, r.Body)
		}
		// Nor set a hidden field, which only superusers set.
		code, verifier = beginOAuth(t, s, bob)
		if r := oauthLogin(s, code, verifier, map[string]any{"secret": "mine"}); r.Status != 400 {
			t.Errorf("createData.secret (hidden): %d %s", r.Status, r.Body)
		}
		if n := countUsers(t, s); n != users {
			t.Errorf("refused logins created accounts: %d → %d", users, n)
		}

		// The pre-account hijack: someone registers the victim's email
		// first (unverified, their password). The victim's OAuth login
		// must not land in that account.
		s.Do("POST", "/api/collections/users/records", "", map[string]any{
			"email": "victim@example.com", "password": "attacker-pass-1", "passwordConfirm": "attacker-pass-1"}, 200, nil)
		victim := &mockoidc.MockUser{Subject: "u-4", Email: "victim@example.com", EmailVerified: true}
		code, verifier = beginOAuth(t, s, victim)
		if r := oauthLogin(s, code, verifier, nil); r.Status != 400 {
			t.Fatalf("pre-account hijack: %d %s", r.Status, r.Body)
		}
		var links list
		s.Super("GET", "/api/collections/_externalAuths/records", nil, 200, &links)
		if links.TotalItems != 1 {
			t.Errorf("links after refused logins: %+v", links)
		}
		// Once the account is verified (its owner proved the email), the
		// provider identity links to it.
		var pre list
		s.Super("GET", "/api/collections/users/records?filter="+q("email = 'victim@example.com'"), nil, 200, &pre)
		s.Super("PATCH", "/api/collections/users/records/"+pre.Items[0]["id"].(string), map[string]any{"verified": true}, 200, nil)
		code, verifier = beginOAuth(t, s, victim)
		var linked oauthResult
		decode(t, oauthLogin(s, code, verifier, nil), 200, &linked)
		if linked.Record["id"] != pre.Items[0]["id"] || linked.Meta["isNew"] != false {
			t.Errorf("link to verified account: %+v", linked)
		}

		// The user sees their own links only; deleting the account removes them.
		var mine list
		s.Do("GET", "/api/collections/_externalAuths/records", first.Token, nil, 200, &mine)
		if mine.TotalItems != 1 || mine.Items[0]["recordRef"] != first.Record["id"] {
			t.Errorf("own links: %+v", mine)
		}
		s.Super("DELETE", "/api/collections/users/records/"+first.Record["id"].(string), nil, 204, nil)
		s.Super("GET", "/api/collections/_externalAuths/records", nil, 200, &links)
		if links.TotalItems != 1 {
			t.Errorf("links after deleting an account: %d", links.TotalItems)
		}
		// The client secret is kept but never shown; a broken provider is refused.
		var col struct {
			OAuth2 struct{ Providers []map[string]any }
		}
		s.Super("GET", "/api/collections/users", nil, 200, &col)
		if _, shown := col.OAuth2.Providers[0]["clientSecret"]; shown || col.OAuth2.Providers[0]["clientId"] != m.ClientID {
			t.Errorf("provider as shown: %v", col.OAuth2.Providers[0])
		}
		var e errBody
		s.Super("PATCH", "/api/collections/users", map[string]any{"oauth2": map[string]any{"providers": []any{
			map[string]any{"name": "oidc", "discoveryURL": m.Issuer()}}}}, 400, &e)
		if e.Data["oauth2.providers.0.clientId"].Code == "" {
			t.Errorf("provider validation: %+v", e)
		}
		// Bad input.
		for name, body := range map[string]any{
			"unknown provider": map[string]any{"provider": "nope", "code": "x", "codeVerifier": "y"},
			"no code":          map[string]any{"provider": "oidc", "codeVerifier": "y"},
			"not json":         "{",
		} {
			if r := s.Request("POST", "/api/collections/users/auth-with-oauth2", "", body); r.Status != 400 {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}

		// A provider's value mapped to a hidden field is the provider's,
		// not the caller's: it is set.
		s.Super("PATCH", "/api/collections/users", map[string]any{"oauth2": map[string]any{
			"enabled":      true,
			"mappedFields": map[string]string{"username": "secret"},
			"providers": []any{map[string]any{
				"name": "oidc", "displayName": "Test IdP", "clientId": m.ClientID, "clientSecret": m.ClientSecret, "discoveryURL": m.Issuer(),
			}},
		}}, 200, nil)
		mapped := &mockoidc.MockUser{Subject: "u-5", Email: "mapped@example.com", EmailVerified: true, PreferredUsername: "mapped.one"}
		code, verifier = beginOAuth(t, s, mapped)
		var made oauthResult
		decode(t, oauthLogin(s, code, verifier, nil), 200, &made)
		var stored map[string]any
		s.Super("GET", "/api/collections/users/records/"+made.Record["id"].(string), nil, 200, &stored)
		if stored["secret"] != "mapped.one" {
			t.Errorf("the provider's name mapped to a hidden field: %v", stored)
		}
	})
}

// TestAttackOAuth2ProviderURLsMeetTheOutboundPolicy: a provider's
// endpoints are a definition's, which a superuser API key may write, and
// what the user info endpoint answers comes back in the login's answer:
// the server must not reach loopback or private addresses for them unless
// the operator allowed the host, as for webhooks.
func TestAttackOAuth2ProviderURLsMeetTheOutboundPolicy(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	usersSchema(t, s, "")
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"abc","token_type":"bearer","id":1,"email":"x@example.com","name":"INTERNAL"}`))
	}))
	t.Cleanup(internal.Close)
	s.Super("PATCH", "/api/collections/users", map[string]any{"oauth2": map[string]any{"enabled": true, "providers": []any{
		map[string]any{"name": "github", "clientId": "x", "clientSecret": "y",
			"tokenURL": internal.URL + "/token", "userInfoURL": internal.URL + "/user"},
		map[string]any{"name": "oidc", "clientId": "x", "clientSecret": "y", "discoveryURL": internal.URL + "/meta"},
	}}}, 200, nil)
	s.Request("GET", "/api/collections/users/auth-methods", "", nil)
	for _, provider := range []string{"github", "oidc"} {
		r := s.Request("POST", "/api/collections/users/auth-with-oauth2", "", map[string]any{
			"provider": provider, "code": "c", "codeVerifier": strings.Repeat("v", 43), "redirectURL": "https://app.example.com/cb"})
		if r.Status == 200 || strings.Contains(string(r.Body), "INTERNAL") {
			t.Errorf("%s: %d %s", provider, r.Status, r.Body)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server reached a loopback address %d times for a provider", n)
	}
	if countUsers(t, s) != 0 {
		t.Error("an account was made")
	}
}

// TestOAuth2FirstLoginsAtOnce: the first logins of one new identity at
// the same moment (two tabs, two processes) all log into the one account
// the first of them made; on PostgreSQL the others answered 400 (the
// email "not unique") where a retry would have found it.
func TestOAuth2FirstLoginsAtOnce(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		liftLimits(t, s)
		m := startProvider(t, s)
		mocksMu.Lock()
		mocks[t] = m
		mocksMu.Unlock()
		t.Cleanup(func() { mocksMu.Lock(); delete(mocks, t); mocksMu.Unlock() })
		const n = 6
		type start struct{ code, verifier string }
		var starts []start
		for range n {
			code, verifier := beginOAuth(t, s, &mockoidc.MockUser{Subject: "same-1", Email: "same@example.com", EmailVerified: true})
			starts = append(starts, start{code, verifier})
		}
		// The mock works out its key id on first use, unguarded: once here,
		// so the logins below race only in Tortoise.
		if _, err := m.Keypair.KeyID(); err != nil {
			t.Fatal(err)
		}
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i, st := range starts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := oauthLogin(s, st.code, st.verifier, nil)
				statuses[i] = r.Status
				if r.Status != 200 {
					t.Logf("login %d: %s", i, r.Body)
				}
			}()
		}
		wg.Wait()
		for i, st := range statuses {
			if st != 200 {
				t.Errorf("login %d: %d", i, st)
			}
		}
		if c := countUsers(t, s); c != 1 {
			t.Errorf("%d accounts for one identity", c)
		}
	})
}
