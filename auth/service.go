// Package auth is how people and programs sign in: passwords, one-time
// codes by mail, multi-factor authentication, OAuth2/OIDC, impersonation,
// the mail flows (verification, password reset, email change) and the
// tokens they end in. It takes part in the writes of auth records through
// the records hooks (protected fields, the manageRule, ids unique across
// auth collections, what goes with a deleted account), so the record code
// does not know about accounts.
//
// Its subpackages are the primitives: tokens (signed tokens), passwords
// (bcrypt) and oauth2 (the providers).
package auth

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/tortoise-dev/tortoise/auth/oauth2"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/outbound"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/settings"
	"github.com/tortoise-dev/tortoise/store"
)

// Service signs people in.
type Service struct {
	svc      *service.Service
	store    store.Store
	records  *records.Service
	settings *settings.Service

	providers providerCache
	oauthHTTP *http.Client // see SetHTTPClient
	// background counts mails being sent after their request answered.
	background sync.WaitGroup
}

// New returns the auth service: it registers the system collections of
// accounts and logins and its hooks on the writes of auth records.
func New(svc *service.Service, recs *records.Service, sets *settings.Service) *Service {
	s := &Service{svc: svc, store: svc.Store(), records: recs, settings: sets,
		oauthHTTP: outbound.NewClient(outbound.Options{Timeout: oauth2.DefaultTimeout})}
	for _, c := range systemCollections() {
		svc.RegisterSystemCollection(c)
	}
	s.hook(recs)
	return s
}

// Close waits (until ctx ends) for work still running in the background,
// such as mails sent after their request was answered.
func (s *Service) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.background.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("background work still running: %w", ctx.Err())
	}
}

func isAuth(c *core.Collection) bool { return c.IsAuth() }
