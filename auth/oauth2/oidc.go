package oauth2

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	xoauth2 "golang.org/x/oauth2"

	"github.com/tortoise-dev/tortoise/core"
)

const wellKnown = "/.well-known/openid-configuration"

// Issuers of the OpenID Connect presets that need no DiscoveryURL.
const (
	googleIssuer = "https://accounts.google.com"
	appleIssuer  = "https://appleid.apple.com"
	// microsoftIssuer takes the tenant; for the multi-tenant ones
	// (common, organizations, consumers) the discovered issuer is the
	// template with "{tenantid}" in it, filled per token from its tid.
	microsoftIssuer = "https://login.microsoftonline.com/%s/v2.0"
)

// oidcProvider is every OpenID Connect based provider: the presets differ
// only in defaults and, for Microsoft's multi-tenant endpoints, in how the
// issuer is checked.
type oidcProvider struct {
	cfg      ProviderConfig
	oauth    xoauth2.Config // RedirectURL is set per call
	verifier *oidc.IDTokenVerifier
	client   *http.Client
	authOpts []xoauth2.AuthCodeOption
	// issuerTemplate, when set, replaces go-oidc's exact issuer check:
	// the token's iss must be this with {tenantid} replaced by its tid.
	issuerTemplate string
	// pkceEnforced: the provider refuses a code without the verifier of
	// its challenge, which is what lets VerifierNonce accept a native
	// app's own nonce.
	pkceEnforced bool
}

var _ Provider = (*oidcProvider)(nil)

func newOIDC(ctx context.Context, cfg ProviderConfig, client *http.Client) (*oidcProvider, error) {
	issuer := strings.TrimSuffix(cfg.DiscoveryURL, wellKnown)
	scopes := []string{oidc.ScopeOpenID, "email", "profile"}
	var authOpts []xoauth2.AuthCodeOption
	var issuerTemplate string
	switch cfg.Name {
	case Google:
		if issuer == "" {
			issuer = googleIssuer
		}
	case Apple:
		if issuer == "" {
			issuer = appleIssuer
		}
		scopes = []string{oidc.ScopeOpenID, "name", "email"}
		// Apple refuses the name and email scopes unless the result is
		// posted back to the redirect URL.
		authOpts = append(authOpts, xoauth2.SetAuthURLParam("response_mode", "form_post"))
	case Microsoft:
		if issuer == "" {
			tenant := cfg.Extra[ExtraTenant]
			if tenant == "" {
				tenant = "common"
			}
			issuer = fmt.Sprintf(microsoftIssuer, tenant)
			switch tenant {
			case "common", "organizations", "consumers":
				issuerTemplate = fmt.Sprintf(microsoftIssuer, "{tenantid}")
			}
		}
	}
	if len(cfg.Scopes) > 0 {
		scopes = cfg.Scopes
		if !slices.Contains(scopes, oidc.ScopeOpenID) {
			scopes = append([]string{oidc.ScopeOpenID}, scopes...)
		}
	}

	dctx := oidc.ClientContext(ctx, client)
	if issuerTemplate != "" {
		// The multi-tenant discovery document names the template as its
		// issuer; accept it here and check each token's issuer below.
		dctx = oidc.InsecureIssuerURLContext(dctx, issuerTemplate)
	}
	op, err := oidc.NewProvider(dctx, issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			e := core.FieldInvalid("discoveryURL", "validation_issuer_mismatch",
				fmt.Sprintf("The discovery document names issuer %q, not %q.", mismatch.Discovered, mismatch.Provided))
			e.Err = err
			return nil, e
		}
		if ctx.Err() != nil || isTransport(err) {
			return nil, unavailable(fmt.Errorf("discover %s: %w", issuer, err))
		}
		// A non-200 answer or a document that is not JSON: most likely a
		// wrong URL, but possibly a provider outage; say which URL failed.
		return nil, &core.Error{Kind: core.KindUnavailable,
			Message: fmt.Sprintf("Failed to load the OpenID Connect discovery document of provider %q.", cfg.Name),
			Err:     fmt.Errorf("discover %s: %w", issuer, err)}
	}

	// RFC 9700 (2.1.1): a server that advertises S256 enforces the
	// verifier of any challenge it was given. Microsoft enforces PKCE
	// without advertising it.
	var meta struct {
		Methods []string `json:"code_challenge_methods_supported"`
	}
	_ = op.Claims(&meta) // a document without the key leaves it empty
	pkceEnforced := slices.Contains(meta.Methods, "S256") || cfg.Name == Microsoft
	switch cfg.Extra[ExtraPKCEEnforced] {
	case "true":
		pkceEnforced = true
	case "false":
		pkceEnforced = false
	}

	ep := op.Endpoint()
	if cfg.AuthURL != "" {
		ep.AuthURL = cfg.AuthURL
	}
	if cfg.TokenURL != "" {
		ep.TokenURL = cfg.TokenURL
	}
	ep.AuthStyle = cfg.authStyle()

	return &oidcProvider{
		cfg: cfg,
		oauth: xoauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     ep,
			Scopes:       scopes,
		},
		verifier: op.Verifier(&oidc.Config{
			ClientID:        cfg.ClientID,
			SkipIssuerCheck: issuerTemplate != "",
		}),
		client:         client,
		authOpts:       append(authOpts, cfg.authParams()...),
		issuerTemplate: issuerTemplate,
		pkceEnforced:   pkceEnforced,
	}, nil
}

func (p *oidcProvider) Name() string        { return p.cfg.Name }
func (p *oidcProvider) DisplayName() string { return p.cfg.displayName() }

func (p *oidcProvider) AuthCodeURL(state, nonce, codeChallenge, redirectURL string) string {
	c := p.oauth
	c.RedirectURL = redirectURL
	opts := append([]xoauth2.AuthCodeOption{
		oidc.Nonce(nonce),
		xoauth2.SetAuthURLParam("code_challenge", codeChallenge),
		xoauth2.SetAuthURLParam("code_challenge_method", "S256"),
	}, p.authOpts...)
	return c.AuthCodeURL(state, opts...)
}

// idClaims are the ID token claims Tortoise reads besides the registered
// ones go-oidc checks.
type idClaims struct {
	Email             string `json:"email"`
	EmailVerified     flag   `json:"email_verified"`
	Name              string `json:"name"`
	GivenName         string `json:"given_name"`
	FamilyName        string `json:"family_name"`
	PreferredUsername string `json:"preferred_username"`
	Nickname          string `json:"nickname"`
	Picture           string `json:"picture"`
	TenantID          string `json:"tid"`
}

// flag is a boolean claim that some providers (Apple) send as the string
// "true" or "false". Anything else is false.
type flag bool

func (f *flag) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case bool:
		*f = flag(v)
	case string:
		*f = flag(v == "true")
	default:
		*f = false
	}
	return nil
}

func (p *oidcProvider) Exchange(ctx context.Context, code, codeVerifier, redirectURL string, nonce Nonce) (*User, error) {
	if code == "" {
		return nil, failed(errors.New("empty code"))
	}
	if nonce.want == "" {
		// Without an expected nonce a stolen ID token could be replayed.
		return nil, failed(errors.New("no nonce to check the ID token against"))
	}
	if codeVerifier == "" {
		return nil, failed(errors.New("empty PKCE code verifier"))
	}
	c := p.oauth
	c.RedirectURL = redirectURL
	hctx := context.WithValue(ctx, xoauth2.HTTPClient, p.client)
	tok, err := c.Exchange(hctx, code, xoauth2.VerifierOption(codeVerifier))
	if err != nil {
		return nil, tokenError(ctx, err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, failed(errors.New("token response has no id_token"))
	}
	idt, err := p.verifier.Verify(hctx, rawID)
	if err != nil {
		return nil, failed(fmt.Errorf("verify ID token: %w", err))
	}
	if !p.nonceAccepted(idt.Nonce, nonce) {
		return nil, failed(errors.New("ID token nonce does not match"))
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, failed(fmt.Errorf("verify at_hash: %w", err))
		}
	}
	if idt.Subject == "" {
		return nil, failed(errors.New("ID token has no sub"))
	}
	var c2 idClaims
	var raw map[string]any
	if err := idt.Claims(&c2); err != nil {
		return nil, failed(fmt.Errorf("decode ID token claims: %w", err))
	}
	if err := idt.Claims(&raw); err != nil {
		return nil, failed(fmt.Errorf("decode ID token claims: %w", err))
	}
	if p.issuerTemplate != "" {
		if c2.TenantID == "" || strings.ContainsAny(c2.TenantID, "/{}") ||
			idt.Issuer != strings.Replace(p.issuerTemplate, "{tenantid}", c2.TenantID, 1) {
			return nil, failed(fmt.Errorf("ID token issuer %q does not match tenant %q", idt.Issuer, c2.TenantID))
		}
	}

	u := &User{
		ID:            idt.Subject,
		Email:         c2.Email,
		EmailVerified: c2.Email != "" && bool(c2.EmailVerified),
		Name:          c2.Name,
		Username:      c2.PreferredUsername,
		AvatarURL:     c2.Picture,
		Raw:           raw,
		AccessToken:   tok.AccessToken,
		RefreshToken:  tok.RefreshToken,
		Expiry:        tok.Expiry,
	}
	if u.Name == "" {
		u.Name = strings.TrimSpace(c2.GivenName + " " + c2.FamilyName)
	}
	if u.Username == "" {
		u.Username = c2.Nickname
	}
	return u, nil
}

// nonceAccepted reports whether an ID token carrying got may complete a
// login that expects n (see VerifierNonce for the native case).
func (p *oidcProvider) nonceAccepted(got string, n Nonce) bool {
	if subtle.ConstantTimeCompare([]byte(got), []byte(n.want)) == 1 {
		return true
	}
	return n.native && p.pkceEnforced && !isServerNonce(got)
}

// isTransport reports whether err is a failure to reach the server rather
// than an answer from it.
func isTransport(err error) bool {
	return transportError(context.Background(), "", err).(*core.Error).Kind == core.KindUnavailable
}
