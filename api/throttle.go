package api

import (
	"net/http"
	"time"

	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/service"
)

// throttle applies the rate limits of label to r, per client IP and, when
// account is not empty, per account (collection and identity), so neither
// changing IP nor changing the body's identity escapes both. It answers 429
// with Retry-After and returns false when a limit is reached. Limits and
// trusted proxies come from the settings; the per-account limits are
// guard's defaults. Limits are per process: scaled-out deployments divide
// them by the number of processes (a shared limiter is future work).
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, label, collection, account string) bool {
	st, err := s.svc.Settings(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return false
	}
	if !st.RateLimits.Enabled {
		return true
	}
	limits, _ := guard.DefaultPolicy().For(label)
	for _, rule := range st.RateLimits.Rules {
		if rule.Label == label {
			limits.PerIP = guard.Rule{Limit: rule.MaxRequests, Window: time.Duration(rule.Duration) * time.Second}
		}
	}
	proxies, err := guard.ParseProxies(st.TrustedProxies)
	if err != nil {
		proxies = nil // settings are validated on save; trust nobody if not
	}
	now := time.Now()
	if ok, wait := s.limiter.Allow(guard.IPKey(label, proxies.ClientIP(r)), limits.PerIP, now); !ok {
		guard.TooMany(w, wait)
		return false
	}
	if account != "" {
		if ok, wait := s.limiter.Allow(guard.AccountKey(label, collection, account), limits.PerAccount, now); !ok {
			guard.TooMany(w, wait)
			return false
		}
	}
	return true
}

// withOrigin returns r carrying its client address and user agent, for the
// login origins and alerts of the service.
func (s *Server) withOrigin(r *http.Request) *http.Request {
	var proxies *guard.Proxies
	if st, err := s.svc.Settings(r.Context()); err == nil {
		proxies, _ = guard.ParseProxies(st.TrustedProxies)
	}
	o := service.Origin{IP: proxies.ClientIP(r).String(), UserAgent: r.UserAgent()}
	return r.WithContext(service.WithOrigin(r.Context(), o))
}
