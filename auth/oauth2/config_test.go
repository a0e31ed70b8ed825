package oauth2_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/auth/oauth2"
	"github.com/tortoise-dev/tortoise/core"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	off := false
	valid := oauth2.ProviderConfig{Name: "oidc2", ClientID: "id", ClientSecret: "secret", DiscoveryURL: "https://id.example.com"}
	tests := []struct {
		name   string
		edit   func(*oauth2.ProviderConfig)
		fields []string // fields the error must name; none means valid
	}{
		{"valid generic", func(*oauth2.ProviderConfig) {}, nil},
		{"valid google without discovery", func(c *oauth2.ProviderConfig) { c.Name, c.DiscoveryURL = "google", "" }, nil},
		{"valid github without PKCE", func(c *oauth2.ProviderConfig) { c.Name, c.DiscoveryURL, c.PKCE = "github", "", &off }, nil},
		{"missing everything", func(c *oauth2.ProviderConfig) { *c = oauth2.ProviderConfig{} }, []string{"name", "clientId", "clientSecret"}},
		{"bad name", func(c *oauth2.ProviderConfig) { c.Name = "My Provider" }, []string{"name"}},
		{"generic needs discovery", func(c *oauth2.ProviderConfig) { c.DiscoveryURL = "" }, []string{"discoveryURL"}},
		{"auth0 needs discovery", func(c *oauth2.ProviderConfig) { c.Name, c.DiscoveryURL = "auth0", "" }, []string{"discoveryURL"}},
		{"relative discovery", func(c *oauth2.ProviderConfig) { c.DiscoveryURL = "/oidc" }, []string{"discoveryURL"}},
		{"bad endpoints", func(c *oauth2.ProviderConfig) { c.AuthURL, c.TokenURL, c.UserInfoURL = "x", "ftp://h/t", "://" }, []string{"authURL", "tokenURL", "userInfoURL"}},
		{"scope with space", func(c *oauth2.ProviderConfig) { c.Scopes = []string{"openid email"} }, []string{"scopes"}},
		{"PKCE off for OIDC", func(c *oauth2.ProviderConfig) { c.PKCE = &off }, []string{"pkce"}},
		{"bad auth style", func(c *oauth2.ProviderConfig) { c.Extra = map[string]string{"tokenAuthStyle": "cookie"} }, []string{"extra.tokenAuthStyle"}},
		{"bad tenant", func(c *oauth2.ProviderConfig) { c.Extra = map[string]string{"tenant": "a/b"} }, []string{"extra.tenant"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.edit(&cfg)
			err := cfg.Validate()
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			e := core.AsError(err)
			if e == nil || e.Kind != core.KindInvalid {
				t.Fatalf("Validate = %v, want a KindInvalid *core.Error", err)
			}
			for _, f := range tt.fields {
				if _, ok := e.Fields[f]; !ok {
					t.Errorf("error %v does not name %s", err, f)
				}
			}
			if len(e.Fields) != len(tt.fields) {
				t.Errorf("error names %d fields, want %d: %v", len(e.Fields), len(tt.fields), err)
			}
			// New refuses the same configuration before touching the network.
			if _, err := oauth2.New(context.Background(), cfg, nil); core.KindOf(err) != core.KindInvalid {
				t.Errorf("New = %v, want KindInvalid", err)
			}
		})
	}
}

func TestPKCE(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		v, c := oauth2.NewPKCE()
		// RFC 7636: 43 to 128 characters of [A-Za-z0-9-._~].
		if len(v) < 43 || len(v) > 128 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "" {
			t.Fatalf("verifier %q is not RFC 7636", v)
		}
		if c != oauth2.S256Challenge(v) || len(c) != 43 {
			t.Fatalf("challenge %q does not match verifier %q", c, v)
		}
		if seen[v] {
			t.Fatalf("verifier %q repeated", v)
		}
		seen[v] = true
	}
	// RFC 7636 appendix B.
	if got := oauth2.S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Errorf("S256Challenge = %q", got)
	}
}

func TestRandomValues(t *testing.T) {
	t.Parallel()
	for name, gen := range map[string]func() string{"state": oauth2.NewState, "nonce": oauth2.NewNonce} {
		a, b := gen(), gen()
		if a == b {
			t.Errorf("%s repeated: %q", name, a)
		}
		raw, err := base64.RawURLEncoding.DecodeString(a)
		if err != nil || len(raw) < 32 {
			t.Errorf("%s %q is not 32+ bytes of base64url: %v", name, a, err)
		}
	}
	v, _ := oauth2.NewPKCE()
	n := oauth2.NonceForVerifier(v)
	if n != oauth2.NonceForVerifier(v) || n == oauth2.S256Challenge(v) || strings.Contains(n, v) {
		t.Errorf("NonceForVerifier(%q) = %q", v, n)
	}
}
