package oauth2_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/tortoise-dev/tortoise/auth/oauth2"
	"github.com/tortoise-dev/tortoise/core"
)

const redirectURL = "http://127.0.0.1:8090/api/oauth2-redirect"

var (
	keyOnce   sync.Once
	sharedKey *rsa.PrivateKey
)

// signingKey returns one RSA key shared by the mock providers, so each test
// does not pay for generating its own.
func signingKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if sharedKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return sharedKey
}

// startOIDC runs a mockoidc provider for one test. mockoidc's session store
// is not safe for concurrent use, so tests never share one.
func startOIDC(t *testing.T, middleware ...func(http.Handler) http.Handler) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(signingKey(t))
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
	return m
}

func configFor(m *mockoidc.MockOIDC) oauth2.ProviderConfig {
	return oauth2.ProviderConfig{
		Name:         "oidc",
		ClientID:     m.ClientID,
		ClientSecret: m.ClientSecret,
		DiscoveryURL: m.Issuer(),
	}
}

func newProvider(t *testing.T, cfg oauth2.ProviderConfig) oauth2.Provider {
	t.Helper()
	p, err := oauth2.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// authorize plays the browser: it follows authURL to the provider and
// returns the code the provider redirects back with.
func authorize(t *testing.T, authURL, state string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: HTTP %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Query().Get("state"); got != state {
		t.Fatalf("state = %q, want %q", got, state)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatal("no code in redirect")
	}
	return code
}

// login runs the front half of the flow and returns what the server would
// later get back from the client, plus the nonce it put in the URL.
type login struct {
	code, verifier, nonce string
}

func begin(t *testing.T, p oauth2.Provider) login {
	t.Helper()
	verifier, challenge := oauth2.NewPKCE()
	state, nonce := oauth2.NewState(), oauth2.NewNonce()
	code := authorize(t, p.AuthCodeURL(state, nonce, challenge, redirectURL), state)
	return login{code: code, verifier: verifier, nonce: nonce}
}

// tamperedUser is a mockoidc user whose ID token claims are altered before
// the provider signs them: a genuinely signed token that lies.
type tamperedUser struct {
	*mockoidc.MockUser
	mutate func(*mockoidc.IDTokenClaims)
}

func (u tamperedUser) Claims(scope []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	rc := *base.RegisteredClaims
	c := &mockoidc.IDTokenClaims{Nonce: base.Nonce, RegisteredClaims: &rc}
	u.mutate(c)
	return u.MockUser.Claims(scope, c)
}

func wantKind(t *testing.T, err error, kind core.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	if got := core.KindOf(err); got != kind {
		t.Fatalf("kind = %v, want %v (err: %v)", got, kind, err)
	}
	if kind == core.KindInvalid {
		if e := core.AsError(err); e.Message != "Failed to authenticate with the OAuth2 provider." {
			t.Fatalf("message = %q", e.Message)
		}
	}
}

func TestOIDCHappyPath(t *testing.T) {
	t.Parallel()
	m := startOIDC(t)
	p := newProvider(t, configFor(m))
	l := begin(t, p)

	u, err := p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	def := mockoidc.DefaultUser()
	if u.ID != def.Subject || u.Email != def.Email || !u.EmailVerified || u.Username != def.PreferredUsername {
		t.Errorf("user = %+v", u)
	}
	if u.Raw["iss"] != m.Issuer() || u.Raw["nonce"] != l.nonce {
		t.Errorf("raw claims = %v", u.Raw)
	}
	if u.AccessToken == "" || u.Expiry.IsZero() {
		t.Errorf("token fields missing: %+v", u)
	}
	if p.Name() != "oidc" || p.DisplayName() != "OpenID Connect" {
		t.Errorf("names = %q, %q", p.Name(), p.DisplayName())
	}
}

func TestOIDCAuthCodeURL(t *testing.T) {
	t.Parallel()
	m := startOIDC(t)
	cfg := configFor(m)
	cfg.Extra = map[string]string{"auth:prompt": "select_account"}
	p := newProvider(t, cfg)
	u, err := url.Parse(p.AuthCodeURL("st", "nn", "ch", redirectURL))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.String(), m.AuthorizationEndpoint()+"?") {
		t.Errorf("auth URL %q not at %q", u, m.AuthorizationEndpoint())
	}
	want := map[string]string{
		"client_id": m.ClientID, "redirect_uri": redirectURL, "scope": "openid email profile",
		"state": "st", "nonce": "nn", "code_challenge": "ch", "code_challenge_method": "S256",
		"response_type": "code", "prompt": "select_account",
	}
	for k, v := range want {
		if got := u.Query().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestOIDCUnverifiedEmail(t *testing.T) {
	t.Parallel()
	m := startOIDC(t)
	user := mockoidc.DefaultUser()
	user.EmailVerified = false
	m.QueueUser(user)
	p := newProvider(t, configFor(m))
	l := begin(t, p)

	u, err := p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if u.Email != user.Email || u.EmailVerified {
		t.Errorf("email = %q verified = %v, want %q unverified", u.Email, u.EmailVerified, user.Email)
	}
}

// TestOIDCRefusedTokens has the real provider sign ID tokens whose claims
// are wrong, and checks each is refused.
func TestOIDCRefusedTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*mockoidc.IDTokenClaims)
	}{
		{"wrong aud", func(c *mockoidc.IDTokenClaims) { c.Audience = jwt.ClaimStrings{"someone-else"} }},
		{"no aud", func(c *mockoidc.IDTokenClaims) { c.Audience = nil }},
		{"wrong iss", func(c *mockoidc.IDTokenClaims) { c.Issuer = "https://evil.example.com/oidc" }},
		{"expired", func(c *mockoidc.IDTokenClaims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour)) }},
		{"wrong nonce", func(c *mockoidc.IDTokenClaims) { c.Nonce = "someone-elses-nonce" }},
		{"no nonce", func(c *mockoidc.IDTokenClaims) { c.Nonce = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := startOIDC(t)
			m.QueueUser(tamperedUser{MockUser: mockoidc.DefaultUser(), mutate: tt.mutate})
			p := newProvider(t, configFor(m))
			l := begin(t, p)
			u, err := p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
			if u != nil {
				t.Errorf("got user %q", u.ID)
			}
			wantKind(t, err, core.KindInvalid)
		})
	}
}

// TestOIDCRefusedExchanges covers failures decided by the client's input or
// the provider's token endpoint rather than by the token's claims.
func TestOIDCRefusedExchanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// exchange runs the back half of the flow; it may alter the inputs.
		exchange func(t *testing.T, m *mockoidc.MockOIDC, p oauth2.Provider, l login) (*oauth2.User, error)
		kind     core.Kind
	}{
		{"nonce mismatch", func(t *testing.T, _ *mockoidc.MockOIDC, p oauth2.Provider, l login) (*oauth2.User, error) {
			return p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(oauth2.NewNonce()))
		}, core.KindInvalid},
		{"empty expected nonce", func(t *testing.T, _ *mockoidc.MockOIDC, p oauth2.Provider, l login) (*oauth2.User, error) {
			return p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(""))
		}, core.KindInvalid},
		{"replayed code", func(t *testing.T, _ *mockoidc.MockOIDC, p oauth2.Provider, l login) (*oauth2.User, error) {
			if _, err := p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce)); err != nil {
				t.Fatalf("first exchange: %v", err)
			}
			return p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
		}, core.KindInvalid},
		{"unknown code", func(t *testing.T, _ *mockoidc.MockOIDC, p oauth2.Provider, l login) (*oauth2.User, error) {
			return p.Exchange(context.Background(), "not-a-code", l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
		}, core.KindInvalid},
		{"empty code", func(t *testing.T, _ *mockoidc.MockOIDC, p oauth2.Provider, l login) (*oauth2.User, error) {
			return p.Exchange(context.Background(), "", l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
		}, core.KindInvalid},
		{"PKCE verifier mismatch", func(t *testing.T, _ *mockoidc.MockOIDC, p oauth2.Provider, l login) (*oauth2.User, error) {
			other, _ := oauth2.NewPKCE()
			return p.Exchange(context.Background(), l.code, other, redirectURL, oauth2.ExpectNonce(l.nonce))
		}, core.KindInvalid},
		{"empty PKCE verifier", func(t *testing.T, _ *mockoidc.MockOIDC, p oauth2.Provider, l login) (*oauth2.User, error) {
			return p.Exchange(context.Background(), l.code, "", redirectURL, oauth2.ExpectNonce(l.nonce))
		}, core.KindInvalid},
		{"client id not the provider's", func(t *testing.T, m *mockoidc.MockOIDC, _ oauth2.Provider, l login) (*oauth2.User, error) {
			cfg := configFor(m)
			cfg.ClientID = "not-" + m.ClientID
			return newProvider(t, cfg).Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
		}, core.KindInvalid},
		{"wrong client secret", func(t *testing.T, m *mockoidc.MockOIDC, _ oauth2.Provider, l login) (*oauth2.User, error) {
			cfg := configFor(m)
			cfg.ClientSecret = "wrong"
			return newProvider(t, cfg).Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
		}, core.KindInvalid},
		{"provider error 503", func(t *testing.T, m *mockoidc.MockOIDC, p oauth2.Provider, l login) (*oauth2.User, error) {
			m.QueueError(&mockoidc.ServerError{Code: http.StatusServiceUnavailable, Error: "temporarily_unavailable"})
			return p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
		}, core.KindUnavailable},
		{"provider down", func(t *testing.T, m *mockoidc.MockOIDC, p oauth2.Provider, l login) (*oauth2.User, error) {
			if err := m.Shutdown(); err != nil {
				t.Fatal(err)
			}
			return p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
		}, core.KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := startOIDC(t)
			p := newProvider(t, configFor(m))
			l := begin(t, p)
			u, err := tt.exchange(t, m, p, l)
			if u != nil {
				t.Errorf("got user %q", u.ID)
			}
			wantKind(t, err, tt.kind)
		})
	}
}

// TestOIDCWrongSigningKey serves a JWKS that does not hold the key the
// provider signs with, as if the token came from an impostor.
func TestOIDCWrongSigningKey(t *testing.T) {
	t.Parallel()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := mockoidc.NewKeypair(other)
	if err != nil {
		t.Fatal(err)
	}
	m := startOIDC(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != mockoidc.JWKSEndpoint {
				next.ServeHTTP(w, r)
				return
			}
			b, err := kp.JWKS()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		})
	})
	p := newProvider(t, configFor(m))
	l := begin(t, p)
	_, err = p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
	wantKind(t, err, core.KindInvalid)
}

// TestOIDCTokenFromAnotherIssuer points the token endpoint at a second, real
// provider sharing the client credentials: its tokens carry its own issuer
// and are signed with its own key, and must be refused.
func TestOIDCTokenFromAnotherIssuer(t *testing.T) {
	t.Parallel()
	a := startOIDC(t)
	bKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b, err := mockoidc.NewServer(bKey)
	if err != nil {
		t.Fatal(err)
	}
	b.ClientID, b.ClientSecret = a.ClientID, a.ClientSecret
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown() })

	cfg := configFor(a)
	cfg.AuthURL, cfg.TokenURL = b.AuthorizationEndpoint(), b.TokenEndpoint()
	p := newProvider(t, cfg)
	l := begin(t, p)
	_, err = p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
	wantKind(t, err, core.KindInvalid)
}

func TestOIDCDiscovery(t *testing.T) {
	t.Parallel()
	m := startOIDC(t)
	// The same server under another host name: its discovery document
	// names an issuer that is not the one configured.
	mismatched := strings.Replace(m.Issuer(), "127.0.0.1", "localhost", 1)

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + closed.Addr().String() + "/oidc"
	closed.Close()

	tests := []struct {
		name      string
		discovery string
		kind      core.Kind // 0 (internal) never expected; -1 means success
		field     string
	}{
		{"issuer", m.Issuer(), -1, ""},
		{"well-known URL", m.DiscoveryEndpoint(), -1, ""},
		{"issuer mismatch", mismatched, core.KindInvalid, "discoveryURL"},
		{"unreachable", down, core.KindUnavailable, ""},
		{"not a provider", m.Addr() + "/nothing", core.KindUnavailable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := configFor(m)
			cfg.DiscoveryURL = tt.discovery
			p, err := oauth2.New(context.Background(), cfg, nil)
			if tt.kind == -1 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if p == nil {
					t.Fatal("nil provider")
				}
				return
			}
			if err == nil {
				t.Fatal("New succeeded")
			}
			if got := core.KindOf(err); got != tt.kind {
				t.Fatalf("kind = %v, want %v (%v)", got, tt.kind, err)
			}
			if tt.field != "" {
				if _, ok := core.AsError(err).Fields[tt.field]; !ok {
					t.Errorf("error %v does not name %s", err, tt.field)
				}
			}
		})
	}
}

// TestErrorsHideSecrets checks that neither the code nor the client secret
// leak into an error's text, which callers may log.
func TestErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	m := startOIDC(t)
	p := newProvider(t, configFor(m))
	l := begin(t, p)
	other, _ := oauth2.NewPKCE()
	_, err := p.Exchange(context.Background(), l.code, other, redirectURL, oauth2.ExpectNonce(l.nonce))
	if err == nil {
		t.Fatal("exchange with the wrong verifier succeeded")
	}
	msg := err.Error()
	for _, secret := range []string{l.code, other, m.ClientSecret} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q contains a secret", msg)
		}
	}
	b, _ := json.Marshal(core.AsError(err))
	if strings.Contains(string(b), l.code) {
		t.Errorf("marshalled error %s contains the code", b)
	}
}

// stringFlagUser sends email_verified as a string, the way Apple does.
type stringFlagUser struct {
	*mockoidc.MockUser
	verified string
}

func (u stringFlagUser) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return &struct {
		*mockoidc.IDTokenClaims
		Email         string `json:"email"`
		EmailVerified string `json:"email_verified"`
	}{base, u.Email, u.verified}, nil
}

func TestOIDCEmailVerifiedAsString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		claim string
		want  bool
	}{{"true", true}, {"false", false}, {"yes", false}} {
		t.Run(tt.claim, func(t *testing.T) {
			t.Parallel()
			m := startOIDC(t)
			m.QueueUser(stringFlagUser{MockUser: mockoidc.DefaultUser(), verified: tt.claim})
			p := newProvider(t, configFor(m))
			l := begin(t, p)
			u, err := p.Exchange(context.Background(), l.code, l.verifier, redirectURL, oauth2.ExpectNonce(l.nonce))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if u.EmailVerified != tt.want || u.Email == "" {
				t.Errorf("email %q verified = %v, want %v", u.Email, u.EmailVerified, tt.want)
			}
		})
	}
}
