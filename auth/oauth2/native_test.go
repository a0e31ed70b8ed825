package oauth2_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/tortoise-dev/tortoise/auth/oauth2"
	"github.com/tortoise-dev/tortoise/core"
)

// nativeAuthURL is the authorization request a native app (AppAuth) builds
// itself from the provider's metadata: its own state, nonce and PKCE
// challenge; an empty nonce leaves the parameter out.
func nativeAuthURL(m *mockoidc.MockOIDC, state, nonce, challenge string) string {
	q := url.Values{
		"client_id": {m.ClientID}, "response_type": {"code"}, "scope": {"openid email profile"},
		"redirect_uri": {redirectURL}, "state": {state},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	if nonce != "" {
		q.Set("nonce", nonce)
	}
	return m.AuthorizationEndpoint() + "?" + q.Encode()
}

// middleware alters a mock provider's answers.
type middleware = func(http.Handler) http.Handler

// hidePKCE serves the provider's discovery document without
// code_challenge_methods_supported: a provider that does not say whether
// it enforces PKCE.
func hidePKCE(next http.Handler) http.Handler {
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
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	})
}

// ignorePKCE drops the challenge from authorization requests, so the
// provider issues codes that any verifier redeems: a provider that does
// not do PKCE, or does it wrong.
func ignorePKCE(next http.Handler) http.Handler {
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

// TestVerifierNonce covers what PocketBase's stateless flow accepts: a
// login the server started must carry the nonce derived from its verifier;
// one a native app started with a nonce of its own is accepted only from a
// provider that enforces PKCE, and never with a nonce shaped like the
// server's.
func TestVerifierNonce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		middleware []middleware
		extra      map[string]string
		// authorize runs the front half and returns the code and the
		// verifier the client sends back.
		authorize func(t *testing.T, m *mockoidc.MockOIDC, p oauth2.Provider) (code, verifier string)
		ok        bool
	}{
		{name: "server-started login", ok: true, authorize: serverLogin},
		{name: "native app's own nonce", ok: true, authorize: nativeLogin(oauth2.NewNonce())},
		{name: "native app without a nonce", ok: true, authorize: nativeLogin("")},
		{name: "native app, provider vouched for", ok: true, middleware: []middleware{hidePKCE},
			extra: map[string]string{oauth2.ExtraPKCEEnforced: "true"}, authorize: nativeLogin(oauth2.NewNonce())},
		{name: "native app, provider silent on PKCE", middleware: []middleware{hidePKCE}, authorize: nativeLogin(oauth2.NewNonce())},
		{name: "native app, PKCE trust withdrawn", extra: map[string]string{oauth2.ExtraPKCEEnforced: "false"},
			authorize: nativeLogin(oauth2.NewNonce())},
		{name: "native app posing with a server-shaped nonce", authorize: nativeLogin(oauth2.NonceForVerifier("some other verifier"))},
		{name: "server-started code, another verifier, PKCE ignored by the provider", middleware: []middleware{ignorePKCE},
			authorize: func(t *testing.T, m *mockoidc.MockOIDC, p oauth2.Provider) (string, string) {
				code, _ := serverLogin(t, m, p)
				attacker, _ := oauth2.NewPKCE()
				return code, attacker
			}},
		{name: "empty verifier", authorize: func(t *testing.T, m *mockoidc.MockOIDC, p oauth2.Provider) (string, string) {
			code, _ := serverLogin(t, m, p)
			return code, ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := startOIDC(t, tt.middleware...)
			cfg := configFor(m)
			cfg.Extra = tt.extra
			p := newProvider(t, cfg)
			code, verifier := tt.authorize(t, m, p)
			u, err := p.Exchange(context.Background(), code, verifier, redirectURL, oauth2.VerifierNonce(verifier))
			if !tt.ok {
				if u != nil {
					t.Errorf("got user %q", u.ID)
				}
				wantKind(t, err, core.KindInvalid)
				return
			}
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if u.ID != mockoidc.DefaultUser().Subject {
				t.Errorf("user = %+v", u)
			}
		})
	}
}

// serverLogin is auth-methods' half: the nonce derived from the verifier.
func serverLogin(t *testing.T, _ *mockoidc.MockOIDC, p oauth2.Provider) (string, string) {
	t.Helper()
	verifier, challenge := oauth2.NewPKCE()
	state := oauth2.NewState()
	return authorize(t, p.AuthCodeURL(state, oauth2.NonceForVerifier(verifier), challenge, redirectURL), state), verifier
}

// nativeLogin is a native app's half, with nonce as its own.
func nativeLogin(nonce string) func(t *testing.T, m *mockoidc.MockOIDC, p oauth2.Provider) (string, string) {
	return func(t *testing.T, m *mockoidc.MockOIDC, _ oauth2.Provider) (string, string) {
		t.Helper()
		verifier, challenge := oauth2.NewPKCE()
		state := oauth2.NewState()
		return authorize(t, nativeAuthURL(m, state, nonce, challenge), state), verifier
	}
}

// TestNonceForVerifierMarked checks the marker VerifierNonce tells server
// nonces by: present on every derived nonce, absent from random ones.
func TestNonceForVerifierMarked(t *testing.T) {
	t.Parallel()
	v, _ := oauth2.NewPKCE()
	if n := oauth2.NonceForVerifier(v); !bytes.HasPrefix([]byte(n), []byte("tn1.")) {
		t.Errorf("NonceForVerifier = %q, want the tn1. marker", n)
	}
	for range 100 {
		if n := oauth2.NewNonce(); bytes.ContainsRune([]byte(n), '.') {
			t.Fatalf("NewNonce = %q holds the marker's '.'", n)
		}
	}
}

func TestPKCEEnforcedValidated(t *testing.T) {
	t.Parallel()
	cfg := oauth2.ProviderConfig{Name: "google", ClientID: "id", ClientSecret: "secret",
		Extra: map[string]string{oauth2.ExtraPKCEEnforced: "yes"}}
	err := cfg.Validate()
	if _, ok := core.AsError(err).Fields["extra.pkceEnforced"]; !ok || core.KindOf(err) != core.KindInvalid {
		t.Errorf("Validate = %v, want extra.pkceEnforced invalid", err)
	}
}
