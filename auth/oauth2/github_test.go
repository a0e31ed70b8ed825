package oauth2_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/tortoise-dev/tortoise/auth/oauth2"
	"github.com/tortoise-dev/tortoise/core"
)

// fakeGitHub speaks the three GitHub endpoints the provider uses, the way
// GitHub does: the token endpoint answers 200 with a form-encoded body, and
// with error=bad_verification_code for a bad, used or mismatched code.
type fakeGitHub struct {
	*httptest.Server
	mu         sync.Mutex
	challenges map[string]string // code -> PKCE challenge ("" without PKCE)
	emails     []map[string]any
	userStatus int
}

const ghToken = "gho_test_access_token"

func startGitHub(t *testing.T, emails []map[string]any) *fakeGitHub {
	t.Helper()
	g := &fakeGitHub{challenges: map[string]string{}, emails: emails, userStatus: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		if r.FormValue("client_id") != "gh-id" || r.FormValue("client_secret") != "gh-secret" {
			_, _ = w.Write([]byte("error=incorrect_client_credentials"))
			return
		}
		g.mu.Lock()
		challenge, ok := g.challenges[r.FormValue("code")]
		delete(g.challenges, r.FormValue("code")) // codes are single-use
		g.mu.Unlock()
		if !ok || (challenge != "" && oauth2.S256Challenge(r.FormValue("code_verifier")) != challenge) {
			_, _ = w.Write([]byte("error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired."))
			return
		}
		_, _ = w.Write([]byte(url.Values{"access_token": {ghToken}, "scope": {"read:user,user:email"}, "token_type": {"bearer"}}.Encode()))
	})
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+ghToken {
				http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			h(w, r)
		}
	}
	mux.HandleFunc("GET /user", authed(func(w http.ResponseWriter, _ *http.Request) {
		if g.userStatus != http.StatusOK {
			w.WriteHeader(g.userStatus)
			return
		}
		_, _ = w.Write([]byte(`{"login":"octocat","id":583231,"name":"The Octocat","email":null,"avatar_url":"https://avatars.githubusercontent.com/u/583231"}`))
	}))
	mux.HandleFunc("GET /user/emails", authed(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(g.emails)
	}))
	g.Server = httptest.NewServer(mux)
	t.Cleanup(g.Close)
	return g
}

// issue plays GitHub's authorize step: it records a code for the
// challenge in authURL.
func (g *fakeGitHub) issue(t *testing.T, authURL string) string {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	code := oauth2.NewState()
	g.mu.Lock()
	g.challenges[code] = u.Query().Get("code_challenge")
	g.mu.Unlock()
	return code
}

func (g *fakeGitHub) provider(t *testing.T, pkce *bool) oauth2.Provider {
	t.Helper()
	return newProvider(t, oauth2.ProviderConfig{
		Name: "github", ClientID: "gh-id", ClientSecret: "gh-secret", PKCE: pkce,
		AuthURL:     g.URL + "/login/oauth/authorize",
		TokenURL:    g.URL + "/login/oauth/access_token",
		UserInfoURL: g.URL + "/user",
	})
}

func TestGitHubEmails(t *testing.T) {
	t.Parallel()
	mail := func(addr string, primary, verified bool) map[string]any {
		return map[string]any{"email": addr, "primary": primary, "verified": verified, "visibility": nil}
	}
	tests := []struct {
		name         string
		emails       []map[string]any
		wantEmail    string
		wantVerified bool
	}{
		{"primary verified", []map[string]any{mail("old@example.com", false, true), mail("main@example.com", true, true)}, "main@example.com", true},
		{"primary unverified, other verified", []map[string]any{mail("main@example.com", true, false), mail("alt@example.com", false, true)}, "alt@example.com", true},
		{"nothing verified", []map[string]any{mail("alt@example.com", false, false), mail("main@example.com", true, false)}, "main@example.com", false},
		{"no emails", []map[string]any{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := startGitHub(t, tt.emails)
			p := g.provider(t, nil)
			verifier, challenge := oauth2.NewPKCE()
			code := g.issue(t, p.AuthCodeURL("st", "", challenge, redirectURL))
			u, err := p.Exchange(context.Background(), code, verifier, redirectURL, oauth2.Nonce{})
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if u.ID != "583231" || u.Username != "octocat" || u.Name != "The Octocat" || u.AvatarURL == "" || u.AccessToken != ghToken {
				t.Errorf("user = %+v", u)
			}
			if u.Email != tt.wantEmail || u.EmailVerified != tt.wantVerified {
				t.Errorf("email = %q verified = %v, want %q %v", u.Email, u.EmailVerified, tt.wantEmail, tt.wantVerified)
			}
		})
	}
}

func TestGitHubRefused(t *testing.T) {
	t.Parallel()
	emails := []map[string]any{{"email": "main@example.com", "primary": true, "verified": true}}
	tests := []struct {
		name     string
		exchange func(t *testing.T, g *fakeGitHub, p oauth2.Provider, code, verifier string) error
		kind     core.Kind
	}{
		{"replayed code", func(t *testing.T, _ *fakeGitHub, p oauth2.Provider, code, verifier string) error {
			if _, err := p.Exchange(context.Background(), code, verifier, redirectURL, oauth2.Nonce{}); err != nil {
				t.Fatalf("first exchange: %v", err)
			}
			_, err := p.Exchange(context.Background(), code, verifier, redirectURL, oauth2.Nonce{})
			return err
		}, core.KindInvalid},
		{"PKCE verifier mismatch", func(t *testing.T, _ *fakeGitHub, p oauth2.Provider, code, _ string) error {
			other, _ := oauth2.NewPKCE()
			_, err := p.Exchange(context.Background(), code, other, redirectURL, oauth2.Nonce{})
			return err
		}, core.KindInvalid},
		{"user API down", func(t *testing.T, g *fakeGitHub, p oauth2.Provider, code, verifier string) error {
			g.userStatus = http.StatusBadGateway
			_, err := p.Exchange(context.Background(), code, verifier, redirectURL, oauth2.Nonce{})
			return err
		}, core.KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := startGitHub(t, emails)
			p := g.provider(t, nil)
			verifier, challenge := oauth2.NewPKCE()
			code := g.issue(t, p.AuthCodeURL("st", "", challenge, redirectURL))
			wantKind(t, tt.exchange(t, g, p, code, verifier), tt.kind)
		})
	}
}

func TestGitHubWithoutPKCE(t *testing.T) {
	t.Parallel()
	g := startGitHub(t, []map[string]any{{"email": "main@example.com", "primary": true, "verified": true}})
	off := false
	p := g.provider(t, &off)
	authURL := p.AuthCodeURL("st", "", "ignored", redirectURL)
	u, _ := url.Parse(authURL)
	if q := u.Query(); q.Has("code_challenge") || q.Get("client_id") != "gh-id" || q.Get("scope") != "read:user user:email" {
		t.Errorf("auth URL %q", authURL)
	}
	code := g.issue(t, authURL)
	if _, err := p.Exchange(context.Background(), code, "", redirectURL, oauth2.Nonce{}); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
}
