package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tortoise-dev/tortoise/auth/oauth2"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// providerCache keeps OAuth2 providers between requests: OpenID Connect
// ones fetch their discovery document when made.
type providerCache struct {
	mu sync.Mutex
	m  map[string]oauth2.Provider // by collection id, name and a hash of the config
}

// SetHTTPClient sets the client OAuth2 providers reach their endpoints
// (discovery, token, user info) with: the app's outbound one, which
// refuses private, loopback and metadata addresses but for the hosts the
// operator allowed (TORTOISE_OUTBOUND_ALLOW_HOSTS), as for webhooks. The
// endpoints are a definition's, which a superuser API key may write, and
// a provider's user info comes back in the login's answer. Call it at
// start-up, before any login.
func (s *Service) SetHTTPClient(c *http.Client) { s.oauthHTTP = c }

// OAuth2Provider returns the provider name configured on auth collection c.
// Errors: KindInvalid (unknown or disabled), KindUnavailable (discovery failed).
func (s *Service) OAuth2Provider(ctx context.Context, c *core.Collection, name string) (oauth2.Provider, error) {
	if !c.IsAuth() || c.Auth == nil || !c.Auth.OAuth2.Enabled {
		return nil, core.Invalid("The collection is not configured to allow OAuth2 authentication.")
	}
	var pc *core.OAuth2Provider
	for i := range c.Auth.OAuth2.Providers {
		if c.Auth.OAuth2.Providers[i].Name == name {
			pc = &c.Auth.OAuth2.Providers[i]
		}
	}
	if pc == nil {
		return nil, core.FieldInvalid("provider", "validation_invalid_provider", fmt.Sprintf("Provider %q is not configured.", name))
	}
	cfg := oauth2.ConfigOf(pc)
	raw, _ := json.Marshal(cfg)
	sum := sha256.Sum256(raw)
	key := c.ID + "/" + hex.EncodeToString(sum[:])
	s.providers.mu.Lock()
	p := s.providers.m[key]
	s.providers.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := oauth2.New(ctx, cfg, s.oauthHTTP)
	if err != nil {
		return nil, err
	}
	s.providers.mu.Lock()
	if s.providers.m == nil {
		s.providers.m = map[string]oauth2.Provider{}
	}
	s.providers.m[key] = p
	s.providers.mu.Unlock()
	return p, nil
}

// OAuth2Start is what auth-methods tells a client about one provider: where
// to send the user, and the PKCE verifier to send back with the code.
type OAuth2Start struct {
	Name                string `json:"name"`
	DisplayName         string `json:"displayName"`
	State               string `json:"state"`
	AuthURL             string `json:"authURL"`
	CodeVerifier        string `json:"codeVerifier"`
	CodeChallenge       string `json:"codeChallenge"`
	CodeChallengeMethod string `json:"codeChallengeMethod"`
}

// OAuth2Starts prepares a login with each provider of c. As the PocketBase
// SDKs expect, each authURL ends in "redirect_uri=" for the client to
// complete. The nonce is derived from the verifier, so nothing is stored.
func (s *Service) OAuth2Starts(ctx context.Context, c *core.Collection) ([]OAuth2Start, error) {
	out := []OAuth2Start{}
	if !c.IsAuth() || c.Auth == nil || !c.Auth.OAuth2.Enabled {
		return out, nil
	}
	for _, pc := range c.Auth.OAuth2.Providers {
		p, err := s.OAuth2Provider(ctx, c, pc.Name)
		if err != nil {
			s.svc.Log().Warn("oauth2 provider unavailable", "collection", c.Name, "provider", pc.Name, "err", err)
			continue
		}
		verifier, challenge := oauth2.NewPKCE()
		state := oauth2.NewState()
		u := p.AuthCodeURL(state, oauth2.NonceForVerifier(verifier), challenge, "")
		if !strings.Contains(u, "redirect_uri=") {
			u += "&redirect_uri="
		}
		out = append(out, OAuth2Start{Name: p.Name(), DisplayName: p.DisplayName(), State: state, AuthURL: u,
			CodeVerifier: verifier, CodeChallenge: challenge, CodeChallengeMethod: "S256"})
	}
	return out, nil
}

// OAuth2Login is what a client posts to auth-with-oauth2.
type OAuth2Login struct {
	Provider     string         `json:"provider"`
	Code         string         `json:"code"`
	CodeVerifier string         `json:"codeVerifier"`
	RedirectURL  string         `json:"redirectURL"`
	CreateData   map[string]any `json:"createData"`
	MFAID        string         `json:"mfaId"`
}

// OAuth2Result is a completed OAuth2 login.
type OAuth2Result struct {
	Record *core.Record
	Token  string
	Meta   map[string]any
}

var errOAuth2Failed = core.Invalid("Failed to authenticate with the OAuth2 provider.")

// AuthWithOAuth2 exchanges the code with the provider and logs in the
// account linked to the provider identity. Without a link, it links the
// account with the provider's email only when the provider verified that
// email and the account is itself verified (an unverified account made by
// someone else with that email must never capture the login), or creates
// a new verified account, through the create rule, with createData. All
// changes happen in one transaction.
func (s *Service) AuthWithOAuth2(ctx context.Context, req *service.Request, c *core.Collection, in OAuth2Login) (*OAuth2Result, error) {
	errs := core.ValidationErrors{}
	if in.Provider == "" {
		errs.Add("provider", "validation_required", "Cannot be blank.")
	}
	if in.Code == "" {
		errs.Add("code", "validation_required", "Cannot be blank.")
	}
	if in.CodeVerifier == "" {
		errs.Add("codeVerifier", "validation_required", "Cannot be blank.")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	p, err := s.OAuth2Provider(ctx, c, in.Provider)
	if err != nil {
		return nil, err
	}
	// VerifierNonce also accepts a login a native app started itself (its
	// own nonce), from providers that bind the code to the verifier.
	user, err := p.Exchange(ctx, in.Code, in.CodeVerifier, in.RedirectURL, oauth2.VerifierNonce(in.CodeVerifier))
	if err != nil {
		return nil, err
	}
	if user.ID == "" {
		return nil, errOAuth2Failed
	}
	ext := s.svc.Schema().CollectionByNameOrID(ExternalAuthsName)
	if ext == nil {
		return nil, core.Internal(fmt.Errorf("no %s collection", ExternalAuthsName), "oauth2")
	}
	var rec *core.Record
	isNew := false
	login := func(tx store.Tx) error {
		rec, isNew = nil, false
		link, err := findLink(ctx, tx, ext, c, p.Name(), user.ID)
		if err != nil {
			return err
		}
		if link != nil {
			r, err := tx.Get(ctx, c, link.String("recordRef"))
			if err == nil {
				rec = r
				return nil
			}
			if core.KindOf(err) != core.KindNotFound {
				return err
			}
			if err := tx.Delete(ctx, ext, link.ID()); err != nil { // a stale link
				return err
			}
		}
		if user.Email == "" {
			return core.Invalid("The OAuth2 provider did not share an email address.")
		}
		if !user.EmailVerified {
			return core.Invalid("The OAuth2 provider has not verified the email address.")
		}
		existing, err := s.findAuthByIdentityIn(ctx, tx, c, user.Email)
		if err != nil && core.KindOf(err) != core.KindNotFound {
			return err
		}
		if existing != nil {
			if existing.Data["verified"] != true {
				return core.Invalid("An unverified account with this email already exists: verify it (or reset its password) before linking %s.", p.Name())
			}
			rec = existing
		} else {
			if rec, err = s.newOAuth2Account(ctx, tx, req, c, user.Email, user, in.CreateData); err != nil {
				return err
			}
			isNew = true
		}
		return insertLink(ctx, tx, ext, c, rec.ID(), p.Name(), user.ID)
	}
	err = s.store.Update(ctx, login)
	if e := core.AsError(err); e != nil && e.Kind == core.KindInvalid &&
		(e.Fields["email"].Code == "validation_not_unique" || e.Fields["providerId"].Code == "validation_not_unique") {
		// A first login of the same identity at the same moment (another
		// tab, another process) made the account or the link first: it is
		// committed, so this attempt, made again, logs into it.
		err = s.store.Update(ctx, login)
	}
	if err != nil {
		return nil, err
	}
	tok, err := s.completeLogin(ctx, rec, errOAuth2Failed, MethodOAuth2, in.MFAID)
	if err != nil {
		return nil, err
	}
	meta := map[string]any{
		"id": user.ID, "name": user.Name, "username": user.Username, "email": user.Email,
		"avatarURL": user.AvatarURL, "isNew": isNew, "rawUser": user.Raw,
		"accessToken": user.AccessToken, "refreshToken": user.RefreshToken, "expiry": user.Expiry.UTC().Format(time.RFC3339),
	}
	return &OAuth2Result{Record: rec, Token: tok, Meta: meta}, nil
}

// newOAuth2Account creates a verified account for a provider identity. The
// email is the provider's; createData may not say otherwise.
func (s *Service) newOAuth2Account(ctx context.Context, tx store.Tx, req *service.Request, c *core.Collection, email string, user *oauth2.User, createData map[string]any) (*core.Record, error) {
	if req == nil {
		req = &service.Request{}
	}
	if !req.Bypasses(c, true) && c.CreateRule == nil {
		return nil, service.ErrSuperusersOnly
	}
	body := map[string]any{}
	for k, v := range createData {
		switch k {
		case "verified", "tokenKey", "password", "passwordConfirm":
			continue // set below or never from outside
		case "email":
			if e, _ := v.(string); !strings.EqualFold(e, email) {
				return nil, core.FieldInvalid("createData.email", "validation_invalid_email", "The email must be the one the provider verified.")
			}
			continue
		}
		body[k] = v
	}
	// The provider's values go to the mapped fields; a hidden one, which
	// a caller's body may not set, is set from outside the body, if the
	// value fits it.
	hidden := map[string]string{}
	for key, value := range map[string]string{"name": user.Name, "username": user.Username, "avatarURL": user.AvatarURL} {
		field := c.Auth.OAuth2.MappedFields[key]
		f := c.Field(field)
		switch {
		case field == "" || f == nil || (f.Type != core.FieldText && f.Type != core.FieldURL) || body[field] != nil:
		case f.Hidden:
			if core.ValidateValue(f, value) == nil {
				hidden[field] = value
			}
		default:
			body[field] = value
		}
	}
	pw := core.RandomString(40, core.Alphanumeric)
	body["email"], body["password"], body["passwordConfirm"] = email, pw, pw
	creator := *req
	creator.Method = "POST"
	return s.records.CreateIn(ctx, tx, &creator, c, body, func(rec *core.Record) {
		rec.Data["verified"] = true // the provider verified the email
		for field, value := range hidden {
			rec.Data[field] = value
		}
	})
}

func findLink(ctx context.Context, r store.Reader, ext, c *core.Collection, provider, providerID string) (*core.Record, error) {
	res, err := r.Find(ctx, store.Query{Collection: ext, Limit: 1, Where: query.And(
		query.Eq("collectionRef", c.ID), query.Eq("provider", provider), query.Eq("providerId", providerID))})
	if err != nil || len(res.Records) == 0 {
		return nil, err
	}
	return res.Records[0], nil
}

func insertLink(ctx context.Context, tx store.Tx, ext, c *core.Collection, recordID, provider, providerID string) error {
	link := core.NewRecord(ext)
	now := core.Now()
	link.Data["id"] = core.NewID()
	link.Data["collectionRef"], link.Data["recordRef"] = c.ID, recordID
	link.Data["provider"], link.Data["providerId"] = provider, providerID
	link.Data["created"], link.Data["updated"] = now, now
	return tx.Insert(ctx, link)
}

// findAuthByIdentityIn finds an auth record by email inside a transaction.
func (s *Service) findAuthByIdentityIn(ctx context.Context, r store.Reader, c *core.Collection, email string) (*core.Record, error) {
	res, err := r.Find(ctx, store.Query{Collection: c, Limit: 1, Where: query.EqFold("email", email)})
	if err != nil {
		return nil, err
	}
	if len(res.Records) == 0 {
		return nil, core.NotFound("no such account")
	}
	return res.Records[0], nil
}
