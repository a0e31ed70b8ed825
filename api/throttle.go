package api

import (
	"net/http"
	"time"

	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/guard"
)

// throttle applies the rate limits of label to r, per client IP and, when
// account is not empty, per account (collection and identity), so neither
// changing IP nor changing the body's identity escapes both. It answers 429
// with Retry-After and returns false when a limit is reached; otherwise it
// returns r carrying its origin (client address and user agent) for the
// service's login origins and alerts. Limits and trusted proxies come from
// the settings, read once here; the per-account limits are guard's
// defaults. Limits are per process: scaled-out deployments divide them by
// the number of processes (a shared limiter is future work).
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, label, collection, account string) (*http.Request, bool) {
	st, err := s.settings.Settings(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return r, false
	}
	proxies, err := guard.ParseProxies(st.TrustedProxies)
	if err != nil {
		proxies = nil // settings are validated on save; trust nobody if not
	}
	ip := proxies.ClientIP(r)
	r = r.WithContext(auth.WithOrigin(r.Context(), auth.Origin{IP: ip.String(), UserAgent: r.UserAgent()}))
	if !st.RateLimits.Enabled {
		return r, true
	}
	limits, _ := guard.DefaultPolicy().For(label)
	for _, rule := range st.RateLimits.Rules {
		if rule.Label == label {
			limits.PerIP = guard.Rule{Limit: rule.MaxRequests, Window: time.Duration(rule.Duration) * time.Second}
		}
	}
	now := time.Now()
	if ok, wait := s.limiter.Allow(guard.IPKey(label, ip), limits.PerIP, now); !ok {
		guard.TooMany(w, wait)
		return r, false
	}
	if account != "" {
		if ok, wait := s.limiter.Allow(guard.AccountKey(label, collection, account), limits.PerAccount, now); !ok {
			guard.TooMany(w, wait)
			return r, false
		}
	}
	return r, true
}
