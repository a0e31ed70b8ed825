package api

import (
	"net/http"
	"time"

	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
)

// throttle applies the rate limits of label to r, per client IP and, when
// account is not empty, per account (collection and identity), so neither
// changing IP nor changing the body's identity escapes both. When a limit
// is reached it returns a KindTooMany error carrying the wait, which the
// status table answers as 429 with Retry-After; otherwise it returns r
// carrying its origin (client address and user agent) for the
// service's login origins and alerts. Limits and trusted proxies come from
// the settings, read once here; the per-account limits are guard's
// defaults. Limits are per process: scaled-out deployments divide them by
// the number of processes (a shared limiter is future work).
func (s *Server) throttle(r *http.Request, label, collection, account string) (*http.Request, error) {
	st, err := s.settings.Settings(r.Context())
	if err != nil {
		return r, err
	}
	proxies, err := guard.ParseProxies(st.TrustedProxies)
	if err != nil {
		proxies = nil // settings are validated on save; trust nobody if not
	}
	ip := proxies.ClientIP(r)
	r = r.WithContext(auth.WithOrigin(r.Context(), auth.Origin{IP: ip.String(), UserAgent: r.UserAgent()}))
	if !st.RateLimits.Enabled {
		return r, nil
	}
	limits, _ := guard.DefaultPolicy().For(label)
	for _, rule := range st.RateLimits.Rules {
		if rule.Label == label {
			limits.PerIP = guard.Rule{Limit: rule.MaxRequests, Window: time.Duration(rule.Duration) * time.Second}
		}
	}
	now := time.Now()
	if ok, wait := s.limiter.Allow(guard.IPKey(label, ip), limits.PerIP, now); !ok {
		return r, tooMany(wait)
	}
	if account != "" {
		if ok, wait := s.limiter.Allow(guard.AccountKey(label, collection, account), limits.PerAccount, now); !ok {
			return r, tooMany(wait)
		}
	}
	return r, nil
}

// tooMany is a rate limit's refusal, in the words of guard.TooMany.
func tooMany(wait time.Duration) error {
	return core.TooMany(wait, "Too many requests.")
}
