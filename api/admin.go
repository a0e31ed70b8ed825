package api

import (
	"net/http"

	"github.com/tortoise-dev/tortoise/guard"
)

// Mount serves h for pattern beside the API, behind the same ServeHTTP
// (panic recovery, body limit, settings' rate limits): the admin app is
// mounted at /admin/ this way.
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ThrottleLogin applies the API's sign-in throttle (per client address and
// per account) to a sign-in made outside the API, as the admin's form is,
// so it is no way around the limits. See throttle.
func (s *Server) ThrottleLogin(r *http.Request, collectionID, identity string) (*http.Request, error) {
	return s.throttle(r, guard.LabelAuth, collectionID, identity)
}

// SuperuserAllowed reports whether a superuser may act from r's client
// address, as the settings' superuser addresses say (all when none are
// set). The API checks it for superuser tokens in admit; the admin, whose
// session is a cookie, asks here.
func (s *Server) SuperuserAllowed(r *http.Request) (bool, error) {
	p, err := s.policy(r.Context())
	if err != nil {
		return false, err
	}
	return len(p.superIPs) == 0 || p.superuserAllowed(p.clientIP(r)), nil
}
