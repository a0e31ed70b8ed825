// Package guard protects the HTTP API from abuse: it identifies the client
// behind a request (trusting forwarded headers only from configured proxies)
// and rate-limits by key, telling the caller how long to wait (RetryAfter
// gives the header value of the API's 429).
//
// A typical auth handler checks two keys, one per client address and one per
// account, so that neither spraying many accounts from one address nor
// guessing one account's password from many addresses gets far:
//
//	ip := proxies.ClientIP(r)
//	now := time.Now()
//	if ok, wait := lim.Allow(guard.IPKey("auth", ip), pol.Auth.PerIP, now); !ok {
//		return core.TooMany(wait, "Too many requests.")
//	}
//	if ok, wait := lim.Allow(guard.AccountKey("auth", coll, identity), pol.Auth.PerAccount, now); !ok {
//		return core.TooMany(wait, "Too many requests.")
//	}
//
// Work whose cost a rate does not bound, such as list requests carrying a
// client's filter, is capped by requests in progress per key instead
// (InFlight, carried by the Limiter):
//
//	release, ok := lim.InFlight().Enter(r.Context(), guard.IPKey("read", ip))
//	if !ok {
//		// answer 429
//	}
//	defer release()
//
// Keys are built from values the server has normalized (the client address,
// the lowercased identity), never from raw body fields, so varying case,
// whitespace or extra fields does not give a client a fresh allowance.
package guard
