// Package oauth2 is Tortoise's OAuth2 and OpenID Connect provider layer for
// PocketBase's auth-with-oauth2 flow: it builds the authorization URL a
// client sends the user to, and turns the code the client brings back into
// a verified [User].
//
// OpenID Connect providers (generic "oidc" and custom names, google,
// microsoft, apple, auth0) are configured by discovery and their ID token is
// verified in full: signature against the provider's JWKS, iss, aud equal to
// the client id, exp, and the nonce (the one the server derived from the
// PKCE verifier or, for a login a native app started itself, see
// VerifierNonce). The email address counts as verified only when the
// verified ID token says so. GitHub is plain OAuth2: its profile comes
// from the REST API and the email's verified flag from /user/emails.
//
// PKCE (S256) is always used with OpenID Connect providers, and with GitHub
// unless turned off. Failures come back as core errors: KindInvalid with a
// user-safe message for anything the caller or the provider got wrong (bad,
// expired or replayed code, a token that fails verification), and
// KindUnavailable when the provider cannot be reached.
package oauth2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	xoauth2 "golang.org/x/oauth2"

	"github.com/tortoise-dev/tortoise/core"
)

// Preset provider names. Any other name that passes Validate is a generic
// OpenID Connect provider configured by DiscoveryURL (PocketBase's "oidc2",
// "oidc3" convention).
const (
	OIDC      = "oidc"
	Google    = "google"
	GitHub    = "github"
	Microsoft = "microsoft"
	Apple     = "apple"
	Auth0     = "auth0"
)

// Extra keys understood by the providers.
const (
	// ExtraTenant is the Microsoft Entra tenant: a tenant id or domain, or
	// "common" (the default), "organizations" or "consumers".
	ExtraTenant = "tenant"
	// ExtraTokenAuthStyle picks how the client secret reaches the token
	// endpoint: "params" (client_secret_post, the default: every preset
	// accepts it) or "header" (client_secret_basic).
	ExtraTokenAuthStyle = "tokenAuthStyle"
	// ExtraEmailsURL overrides GitHub's https://api.github.com/user/emails.
	ExtraEmailsURL = "emailsURL"
	// ExtraAuthParamPrefix marks keys copied into the authorization URL:
	// "auth:prompt": "select_account" adds prompt=select_account.
	ExtraAuthParamPrefix = "auth:"
	// ExtraPKCEEnforced set to "true" vouches that an OpenID Connect
	// provider refuses a code without the verifier of its PKCE challenge
	// although its discovery document does not say so (Azure AD B2C); see
	// VerifierNonce for what it allows. "false" withdraws the trust a
	// provider's discovery document or preset would give.
	ExtraPKCEEnforced = "pkceEnforced"
)

// ProviderConfig configures one provider. The JSON names follow
// PocketBase's collection oauth2 provider settings where they exist.
type ProviderConfig struct {
	// Name is the preset ("oidc", "google", "github", "microsoft", "apple",
	// "auth0") or a custom name for a generic OpenID Connect provider
	// ("oidc2"). Required; lowercase letters, digits, '_' and '-'.
	Name string `json:"name"`
	// DisplayName is shown to users; defaults to a title for presets and
	// to Name otherwise.
	DisplayName string `json:"displayName"`
	// ClientID is the OAuth2 client id. Required.
	ClientID string `json:"clientId"`
	// ClientSecret is the OAuth2 client secret. Required. For apple it is
	// the ES256 client-secret JWT the caller signs with its Apple key.
	ClientSecret string `json:"clientSecret"`
	// DiscoveryURL is the OpenID Connect issuer (or its
	// /.well-known/openid-configuration URL). Required for generic oidc
	// and auth0 (https://TENANT.auth0.com/); google, microsoft and apple
	// default to their own. Not used by github.
	DiscoveryURL string `json:"discoveryURL"`
	// AuthURL, TokenURL and UserInfoURL override the endpoints of a preset
	// (for OpenID Connect, the discovered ones). Empty keeps the default.
	// UserInfoURL is GitHub's /user; OpenID Connect providers never call
	// userinfo (see the package comment on trust).
	AuthURL     string `json:"authURL"`
	TokenURL    string `json:"tokenURL"`
	UserInfoURL string `json:"userInfoURL"`
	// Scopes replaces the preset's scopes when not empty. OpenID Connect
	// providers always get "openid" added.
	Scopes []string `json:"scopes"`
	// PKCE turns PKCE off when set to false; nil means on. Only github may
	// turn it off: OpenID Connect providers always use it.
	PKCE *bool `json:"pkce"`
	// Extra holds provider-specific settings; see the Extra* constants.
	Extra map[string]string `json:"extra"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,49}$`)

// IsOIDC reports whether the provider named name is OpenID Connect based
// (every name but github).
func IsOIDC(name string) bool { return name != GitHub }

// Validate reports every problem with cfg as a KindInvalid *core.Error whose
// Fields name the offending settings by their JSON names.
func (cfg ProviderConfig) Validate() error {
	v := core.ValidationErrors{}
	switch {
	case cfg.Name == "":
		v.Add("name", "validation_required", "Missing provider name.")
	case !nameRE.MatchString(cfg.Name):
		v.Add("name", "validation_invalid_name", "Provider name must be lowercase letters, digits, '_' or '-'.")
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		v.Add("clientId", "validation_required", "Missing client id.")
	}
	if strings.TrimSpace(cfg.ClientSecret) == "" {
		v.Add("clientSecret", "validation_required", "Missing client secret.")
	}
	if cfg.DiscoveryURL == "" {
		if cfg.Name != "" && needsDiscoveryURL(cfg.Name) {
			v.Add("discoveryURL", "validation_required", "Missing discovery URL (the OpenID Connect issuer).")
		}
	} else if !validURL(cfg.DiscoveryURL) {
		v.Add("discoveryURL", "validation_invalid_url", "Must be an absolute http(s) URL.")
	}
	for field, u := range map[string]string{"authURL": cfg.AuthURL, "tokenURL": cfg.TokenURL, "userInfoURL": cfg.UserInfoURL} {
		if u != "" && !validURL(u) {
			v.Add(field, "validation_invalid_url", "Must be an absolute http(s) URL.")
		}
	}
	for _, s := range cfg.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			v.Add("scopes", "validation_invalid_scope", "Scopes must be non-empty and contain no spaces or quotes.")
			break
		}
	}
	if cfg.PKCE != nil && !*cfg.PKCE && cfg.Name != "" && IsOIDC(cfg.Name) {
		v.Add("pkce", "validation_pkce_required", "PKCE cannot be turned off for OpenID Connect providers.")
	}
	if s, ok := cfg.Extra[ExtraTokenAuthStyle]; ok && s != "params" && s != "header" {
		v.Add("extra."+ExtraTokenAuthStyle, "validation_invalid_value", `Must be "params" or "header".`)
	}
	if u, ok := cfg.Extra[ExtraEmailsURL]; ok && !validURL(u) {
		v.Add("extra."+ExtraEmailsURL, "validation_invalid_url", "Must be an absolute http(s) URL.")
	}
	if s, ok := cfg.Extra[ExtraPKCEEnforced]; ok && s != "true" && s != "false" {
		v.Add("extra."+ExtraPKCEEnforced, "validation_invalid_value", `Must be "true" or "false".`)
	}
	if t, ok := cfg.Extra[ExtraTenant]; ok && (t == "" || strings.ContainsAny(t, "/?#% ")) {
		v.Add("extra."+ExtraTenant, "validation_invalid_value", "Must be a tenant id, domain, common, organizations or consumers.")
	}
	return v.Err()
}

func needsDiscoveryURL(name string) bool {
	switch name {
	case GitHub, Google, Microsoft, Apple:
		return false
	}
	return true
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func (cfg ProviderConfig) displayName() string {
	if cfg.DisplayName != "" {
		return cfg.DisplayName
	}
	if n := presetDisplayName(cfg.Name); n != "" {
		return n
	}
	return cfg.Name
}

func (cfg ProviderConfig) authStyle() xoauth2.AuthStyle {
	if cfg.Extra[ExtraTokenAuthStyle] == "header" {
		return xoauth2.AuthStyleInHeader
	}
	return xoauth2.AuthStyleInParams
}

// authParams returns the Extra "auth:" entries as authorization URL options.
func (cfg ProviderConfig) authParams() []xoauth2.AuthCodeOption {
	var opts []xoauth2.AuthCodeOption
	for k, v := range cfg.Extra {
		if name, ok := strings.CutPrefix(k, ExtraAuthParamPrefix); ok && name != "" {
			opts = append(opts, xoauth2.SetAuthURLParam(name, v))
		}
	}
	return opts
}

// Provider is one configured OAuth2 or OpenID Connect provider. It is safe
// for concurrent use.
type Provider interface {
	// Name returns the configured provider name ("google", "oidc2").
	Name() string
	// DisplayName returns the name shown to users.
	DisplayName() string
	// AuthCodeURL returns the URL to send the user to. It carries
	// client_id, redirect_uri, scope, state and, for OpenID Connect, nonce;
	// with PKCE on it carries codeChallenge with code_challenge_method=S256
	// (see NewPKCE).
	AuthCodeURL(state, nonce, codeChallenge, redirectURL string) string
	// Exchange trades an authorization code for the user it belongs to.
	// codeVerifier is the PKCE verifier behind the challenge that was in
	// the authorization URL; redirectURL must match the one used there;
	// nonce says which ID token nonces to accept (ExpectNonce,
	// VerifierNonce; ignored by github). Errors: KindInvalid for an empty,
	// bad, expired or replayed code, a PKCE mismatch or an ID token that
	// fails verification; KindUnavailable when the provider cannot be
	// reached or fails on its side.
	Exchange(ctx context.Context, code, codeVerifier, redirectURL string, nonce Nonce) (*User, error)
}

// Nonce is what an exchange accepts as the ID token's nonce: see
// ExpectNonce and VerifierNonce. The zero Nonce accepts nothing.
type Nonce struct {
	want string
	// native also accepts a nonce this server did not issue, from a
	// provider that enforces PKCE (see VerifierNonce).
	native bool
}

// ExpectNonce accepts exactly nonce, the one put in the authorization
// URL: for servers that keep it between the two halves of the login. An
// empty nonce accepts nothing.
func ExpectNonce(nonce string) Nonce { return Nonce{want: nonce} }

// VerifierNonce is what PocketBase's auth-with-oauth2 accepts, where the
// server keeps nothing between auth-methods and the exchange and knows a
// login only by the PKCE verifier the client sends back:
//
//   - A login the server started (auth-methods) put
//     NonceForVerifier(verifier) in the authorization URL, and its ID
//     token must carry exactly that.
//   - A login a native app started itself (AppAuth on iOS and Android:
//     its own state, nonce and PKCE verifier) carries a nonce the server
//     never saw, or none. It is accepted when the provider enforces PKCE —
//     its discovery document lists S256 in code_challenge_methods_supported,
//     it is the microsoft preset, or ExtraPKCEEnforced vouches for it — since
//     the code was then redeemable only with this verifier; and only when
//     the nonce is not one this server issues, so a code taken from a login
//     the server started cannot be passed off as a native app's, whatever
//     the provider does with PKCE.
//
// An empty verifier accepts nothing.
func VerifierNonce(verifier string) Nonce {
	if verifier == "" {
		return Nonce{}
	}
	return Nonce{want: NonceForVerifier(verifier), native: true}
}

// User is what a provider tells about the person who logged in.
type User struct {
	// ID is the provider's stable subject: the ID token's sub, or GitHub's
	// numeric user id.
	ID string
	// Email is the address the provider reports; it may be empty.
	Email string
	// EmailVerified is true only when the provider vouches for Email: the
	// verified ID token's email_verified claim, or GitHub's verified flag.
	EmailVerified bool
	// Name, Username and AvatarURL are profile details; any may be empty.
	Name      string
	Username  string
	AvatarURL string
	// Raw holds the claims of the verified ID token, or GitHub's /user
	// response.
	Raw map[string]any
	// AccessToken, RefreshToken and Expiry come from the token response.
	AccessToken  string
	RefreshToken string
	Expiry       time.Time
}

// DefaultTimeout bounds each request to a provider when New is given no
// HTTP client.
const DefaultTimeout = 15 * time.Second

// New validates cfg and builds its provider. OpenID Connect providers fetch
// their discovery document here, so New needs the network for them. A nil
// httpClient means one with DefaultTimeout. Errors: KindInvalid for a bad
// configuration (including a discovery document whose issuer differs from
// DiscoveryURL), KindUnavailable when discovery cannot be fetched.
func New(ctx context.Context, cfg ProviderConfig, httpClient *http.Client) (Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.Name == GitHub {
		return newGitHub(cfg, httpClient), nil
	}
	return newOIDC(ctx, cfg, httpClient)
}

// Messages of the errors this package returns; safe to show to users.
const (
	msgFailed      = "Failed to authenticate with the OAuth2 provider."
	msgUnavailable = "The OAuth2 provider is currently unavailable."
)

// failed is a KindInvalid error with the user-safe message and cause.
func failed(cause error) error {
	return &core.Error{Kind: core.KindInvalid, Message: msgFailed, Err: cause}
}

func unavailable(cause error) error {
	return &core.Error{Kind: core.KindUnavailable, Message: msgUnavailable, Err: cause}
}

// tokenError classifies a token-endpoint failure. The provider's response
// body is left out of the cause: it may echo the code back.
func tokenError(ctx context.Context, err error) error {
	var re *xoauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		cause := fmt.Errorf("token endpoint: HTTP %d %s", status, re.ErrorCode)
		if status >= 500 || status == http.StatusTooManyRequests {
			return unavailable(cause)
		}
		return failed(cause)
	}
	return transportError(ctx, "token endpoint", err)
}

// transportError classifies a failure to talk to the provider at all.
func transportError(ctx context.Context, what string, err error) error {
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return unavailable(fmt.Errorf("%s: %w", what, err))
	}
	return failed(fmt.Errorf("%s: %w", what, err))
}
