package oauth2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	xoauth2 "golang.org/x/oauth2"
)

// GitHub's endpoints, overridable through ProviderConfig and Extra.
const (
	githubAuthURL   = "https://github.com/login/oauth/authorize"
	githubTokenURL  = "https://github.com/login/oauth/access_token"
	githubUserURL   = "https://api.github.com/user"
	githubEmailsURL = "https://api.github.com/user/emails"
)

// githubProvider is GitHub's OAuth app / GitHub app user flow. GitHub issues
// no ID token, so identity comes from the REST API, called with the access
// token the code was exchanged for.
type githubProvider struct {
	cfg       ProviderConfig
	oauth     xoauth2.Config
	client    *http.Client
	pkce      bool
	userURL   string
	emailsURL string
	authOpts  []xoauth2.AuthCodeOption
}

var _ Provider = (*githubProvider)(nil)

func newGitHub(cfg ProviderConfig, client *http.Client) *githubProvider {
	ep := xoauth2.Endpoint{AuthURL: githubAuthURL, TokenURL: githubTokenURL, AuthStyle: cfg.authStyle()}
	if cfg.AuthURL != "" {
		ep.AuthURL = cfg.AuthURL
	}
	if cfg.TokenURL != "" {
		ep.TokenURL = cfg.TokenURL
	}
	scopes := []string{"read:user", "user:email"}
	if len(cfg.Scopes) > 0 {
		scopes = cfg.Scopes
	}
	p := &githubProvider{
		cfg:       cfg,
		oauth:     xoauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: ep, Scopes: scopes},
		client:    client,
		pkce:      cfg.PKCE == nil || *cfg.PKCE,
		userURL:   githubUserURL,
		emailsURL: githubEmailsURL,
		authOpts:  cfg.authParams(),
	}
	if cfg.UserInfoURL != "" {
		p.userURL = cfg.UserInfoURL
		p.emailsURL = strings.TrimSuffix(cfg.UserInfoURL, "/") + "/emails"
	}
	if u := cfg.Extra[ExtraEmailsURL]; u != "" {
		p.emailsURL = u
	}
	return p
}

func (p *githubProvider) Name() string        { return p.cfg.Name }
func (p *githubProvider) DisplayName() string { return p.cfg.displayName() }

// AuthCodeURL ignores nonce: GitHub is not an OpenID Connect provider.
func (p *githubProvider) AuthCodeURL(state, _, codeChallenge, redirectURL string) string {
	c := p.oauth
	c.RedirectURL = redirectURL
	opts := p.authOpts
	if p.pkce {
		opts = append([]xoauth2.AuthCodeOption{
			xoauth2.SetAuthURLParam("code_challenge", codeChallenge),
			xoauth2.SetAuthURLParam("code_challenge_method", "S256"),
		}, opts...)
	}
	return c.AuthCodeURL(state, opts...)
}

type githubUser struct {
	ID        int64  `json:"id"`
	Login     string `json:"login"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	AvatarURL string `json:"avatar_url"`
}

type githubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// Exchange ignores nonce: GitHub is not an OpenID Connect provider.
func (p *githubProvider) Exchange(ctx context.Context, code, codeVerifier, redirectURL string, _ Nonce) (*User, error) {
	if code == "" {
		return nil, failed(errors.New("empty code"))
	}
	c := p.oauth
	c.RedirectURL = redirectURL
	var opts []xoauth2.AuthCodeOption
	if p.pkce {
		if codeVerifier == "" {
			return nil, failed(errors.New("empty PKCE code verifier"))
		}
		opts = append(opts, xoauth2.VerifierOption(codeVerifier))
	}
	tok, err := c.Exchange(context.WithValue(ctx, xoauth2.HTTPClient, p.client), code, opts...)
	if err != nil {
		return nil, tokenError(ctx, err)
	}

	var gu githubUser
	var raw map[string]any
	body, err := p.get(ctx, p.userURL, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &gu); err != nil {
		return nil, failed(fmt.Errorf("decode github user: %w", err))
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, failed(fmt.Errorf("decode github user: %w", err))
	}
	if gu.ID == 0 {
		return nil, failed(errors.New("github user has no id"))
	}

	var emails []githubEmail
	body, err = p.get(ctx, p.emailsURL, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &emails); err != nil {
		return nil, failed(fmt.Errorf("decode github emails: %w", err))
	}
	email, verified := chooseGitHubEmail(emails)
	if email == "" {
		// No address in /user/emails: the public profile address, which
		// GitHub does not vouch for.
		email = gu.Email
	}

	return &User{
		ID:            strconv.FormatInt(gu.ID, 10),
		Email:         email,
		EmailVerified: verified,
		Name:          gu.Name,
		Username:      gu.Login,
		AvatarURL:     gu.AvatarURL,
		Raw:           raw,
		AccessToken:   tok.AccessToken,
		RefreshToken:  tok.RefreshToken,
		Expiry:        tok.Expiry,
	}, nil
}

// chooseGitHubEmail picks the primary verified address, else any verified
// one, else the primary one unverified.
func chooseGitHubEmail(emails []githubEmail) (email string, verified bool) {
	for _, e := range emails {
		if e.Primary && e.Verified && e.Email != "" {
			return e.Email, true
		}
	}
	for _, e := range emails {
		if e.Verified && e.Email != "" {
			return e.Email, true
		}
	}
	for _, e := range emails {
		if e.Primary {
			return e.Email, false
		}
	}
	return "", false
}

// get calls a GitHub REST endpoint with the user's access token.
func (p *githubProvider) get(ctx context.Context, url, accessToken string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, failed(fmt.Errorf("github request: %w", err))
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, transportError(ctx, "github api", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, transportError(ctx, "github api", err)
	}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, unavailable(fmt.Errorf("github api %s: HTTP %d", req.URL.Path, resp.StatusCode))
	case resp.StatusCode != http.StatusOK:
		return nil, failed(fmt.Errorf("github api %s: HTTP %d", req.URL.Path, resp.StatusCode))
	}
	return body, nil
}
