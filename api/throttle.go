package api

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/settings"
)

// policy is what requests consult of the settings: how to find the
// client address behind trusted proxies, which addresses superusers may
// call from, and the rate limit rules. It is built once per version of
// the settings (settings.Service.Current hands out one shared value per
// version), not once per request.
type policy struct {
	src      *settings.Settings
	proxies  *guard.Proxies // nil: trust nobody
	forward  guard.Forwarding
	superIPs []netip.Prefix // empty: superusers may call from anywhere
	limitsOn bool
	excluded []netip.Prefix
	rules    []limitRule
	byLabel  map[string][]int // label → indexes into rules, in settings order
	prefixes []int            // rules whose label ends in "/"
	// tagRules and pathRules say whether any rule could match a request
	// by its collection tags or by its path; without them the general
	// limiter has nothing to do.
	tagRules, pathRules bool
}

// limitRule is a settings.RateLimitRule made ready for the limiter.
type limitRule struct {
	label    string // with any method upper-cased
	audience string
	rule     guard.Rule
}

// policy returns the policy of the current settings.
func (s *Server) policy(ctx context.Context) (*policy, error) {
	st, err := s.settings.Current(ctx)
	if err != nil {
		return nil, err
	}
	if p := s.pol.Load(); p != nil && p.src == st {
		return p, nil
	}
	p := newPolicy(st)
	s.pol.Store(p)
	return p, nil
}

func newPolicy(st *settings.Settings) *policy {
	p := &policy{src: st, limitsOn: st.RateLimits.Enabled, byLabel: map[string][]int{},
		forward: guard.Forwarding{Headers: st.TrustedProxy.Headers, Leftmost: st.TrustedProxy.UseLeftmostIP}}
	var err error
	if p.proxies, err = guard.ParseProxies(st.TrustedProxies); err != nil {
		p.proxies = nil // settings are validated on save; trust nobody if not
	}
	p.superIPs = prefixes(st.SuperuserIPs)
	p.excluded = prefixes(st.RateLimits.ExcludedIPs)
	for _, r := range st.RateLimits.Rules {
		label := r.Label
		if method, path, ok := strings.Cut(label, " "); ok {
			label = strings.ToUpper(method) + " " + path
		}
		p.rules = append(p.rules, limitRule{label: label, audience: r.Audience,
			rule: guard.Rule{Limit: r.MaxRequests, Window: r.DurationTime()}})
		i := len(p.rules) - 1
		p.byLabel[label] = append(p.byLabel[label], i)
		switch {
		case strings.HasSuffix(label, "/"):
			p.prefixes = append(p.prefixes, i)
			p.pathRules = true
		case strings.Contains(label, "/"):
			p.pathRules = true
		case strings.Contains(label, ":"):
			p.tagRules = true
		}
	}
	return p
}

// prefixes parses an address list of the settings, skipping (already
// refused) malformed entries.
func prefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range list {
		if p, ok := settings.ParseAddress(a); ok {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range list {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP returns the address of the client that sent r, through the
// trusted proxies and forwarding headers of the settings.
func (p *policy) clientIP(r *http.Request) netip.Addr {
	return p.proxies.ClientIPWith(r, p.forward)
}

// clientIP is policy.clientIP under the current settings.
func (s *Server) clientIP(r *http.Request) (netip.Addr, error) {
	p, err := s.policy(r.Context())
	if err != nil {
		return netip.Addr{}, err
	}
	return p.clientIP(r), nil
}

// superuserAllowed reports whether a superuser may call from ip.
func (p *policy) superuserAllowed(ip netip.Addr) bool {
	return len(p.superIPs) == 0 || contains(p.superIPs, ip)
}

// fits reports whether a rule of audience applies to a caller.
func fits(audience string, authed bool) bool {
	return audience == settings.AudienceAll ||
		authed && audience == settings.AudienceAuth || !authed && audience == settings.AudienceGuest
}

// find returns the rule for a request with the given labels, as
// PocketBase documents the lookup: for each label in turn, a rule with
// exactly that label, then a path prefix rule ("/api/") the label falls
// under; the first whose audience fits.
func (p *policy) find(labels []string, authed bool) (limitRule, bool) {
	for _, l := range labels {
		for _, i := range p.byLabel[l] {
			if fits(p.rules[i].audience, authed) {
				return p.rules[i], true
			}
		}
		for _, i := range p.prefixes {
			if strings.HasPrefix(l+"/", p.rules[i].label) && fits(p.rules[i].audience, authed) {
				return p.rules[i], true
			}
		}
	}
	return limitRule{}, false
}

// routeTags are the tags PocketBase gives the collection routes for rate
// limiting: rules labelled "collection:tag" or "*:tag" apply to them.
var routeTags = map[string][]string{
	"GET /api/collections/{collection}/records":                 {"list"},
	"GET /api/collections/{collection}/records/{id}":            {"view"},
	"POST /api/collections/{collection}/records":                {"create"},
	"PATCH /api/collections/{collection}/records/{id}":          {"update"},
	"DELETE /api/collections/{collection}/records/{id}":         {"delete"},
	"GET /api/collections/{collection}/auth-methods":            {"listAuthMethods"},
	"POST /api/collections/{collection}/auth-refresh":           {"authRefresh"},
	"POST /api/collections/{collection}/auth-with-password":     {"authWithPassword", "auth"},
	"POST /api/collections/{collection}/auth-with-oauth2":       {"authWithOAuth2", "auth"},
	"POST /api/collections/{collection}/request-otp":            {"requestOTP"},
	"POST /api/collections/{collection}/auth-with-otp":          {"authWithOTP", "auth"},
	"POST /api/collections/{collection}/request-password-reset": {"requestPasswordReset"},
	"POST /api/collections/{collection}/confirm-password-reset": {"confirmPasswordReset"},
	"POST /api/collections/{collection}/request-verification":   {"requestVerification"},
	"POST /api/collections/{collection}/confirm-verification":   {"confirmVerification"},
	"POST /api/collections/{collection}/request-email-change":   {"requestEmailChange"},
	"POST /api/collections/{collection}/confirm-email-change":   {"confirmEmailChange"},
}

// limitLabels returns the labels a rule may match r by, in the order
// they are tried, and the collection whose tags are among them (nil for
// a request outside the collection routes): "posts:create",
// "*:create", "POST /api/collections/posts/records",
// "/api/collections/posts/records".
func (s *Server) limitLabels(r *http.Request, p *policy) ([]string, *core.Collection) {
	path := r.URL.Path
	var labels []string
	var coll *core.Collection
	if p.tagRules && strings.HasPrefix(path, "/api/collections/") {
		if _, pattern := s.mux.Handler(r); routeTags[pattern] != nil {
			name, _, _ := strings.Cut(strings.TrimPrefix(path, "/api/collections/"), "/")
			if c, err := s.svc.Collection(name); err == nil {
				coll = c
				tags := routeTags[pattern]
				for _, t := range tags {
					labels = append(labels, c.Name+":"+t)
				}
				for _, t := range tags {
					labels = append(labels, "*:"+t)
				}
			}
		}
	}
	if p.pathRules {
		// A collection's path is the same path by its id or any case of
		// its name, and HEAD runs GET's handler: a rule written for
		// "GET /api/collections/posts/records" meets them all.
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		if rest, ok := strings.CutPrefix(path, "/api/collections/"); ok {
			name, tail, _ := strings.Cut(rest, "/")
			c := coll
			if c == nil {
				c, _ = s.svc.Collection(name)
			}
			if c != nil && name != c.Name {
				canonical := "/api/collections/" + c.Name
				if tail != "" || strings.HasSuffix(rest, "/") {
					canonical += "/" + tail
				}
				labels = append(labels, method+" "+canonical, canonical)
			}
		}
		labels = append(labels, method+" "+path, path)
	}
	return labels, coll
}

// callerKey carries the caller admit identified, so that the handler
// does not authenticate the request again (see Server.caller).
type callerKey struct{}

// errSuperuserAddress answers a superuser calling from an address
// outside the settings' superuserIPs.
var errSuperuserAddress = core.Forbidden("Superusers are not allowed to call the API from this address (see superuserIPs in the settings).")

// admit applies to every request what the settings say about its client
// before it is routed: a superuser calling from an address outside
// superuserIPs is refused (403), and the rate limit rule that matches
// the request, if any, is applied per client address (429 with
// Retry-After). Superusers and the rateLimits' excludedIPs are not rate
// limited. The caller is identified only when that decides something,
// and is then handed to the handler with the request.
func (s *Server) admit(r *http.Request) (*http.Request, error) {
	p, err := s.policy(r.Context())
	if err != nil {
		return r, err
	}
	checkSuper := len(p.superIPs) > 0 && r.Header.Get("Authorization") != ""
	var labels []string
	var coll *core.Collection
	var ip netip.Addr
	if p.limitsOn && (p.tagRules || p.pathRules) {
		ip = p.clientIP(r)
		if !contains(p.excluded, ip) {
			labels, coll = s.limitLabels(r, p)
		}
	}
	if !checkSuper && len(labels) == 0 {
		return r, nil
	}
	req := s.caller(r)
	r = r.WithContext(context.WithValue(r.Context(), callerKey{}, req))
	if !ip.IsValid() {
		ip = p.clientIP(r)
	}
	if checkSuper && req.Superuser && !p.superuserAllowed(ip) {
		return r, errSuperuserAddress
	}
	return r, s.applyRule(r.Context(), p, labels, coll, ip, req)
}

// applyRule counts a request of req from ip against the rate limit rule
// that matches labels (see limitLabels; coll: the collection they name),
// if any, and refuses it when that rule's allowance is spent. Superusers
// are not limited.
func (s *Server) applyRule(ctx context.Context, p *policy, labels []string, coll *core.Collection, ip netip.Addr, req *service.Request) error {
	if len(labels) == 0 || req.Superuser {
		return nil
	}
	rule, ok := p.find(labels, req.Auth != nil || req.Key != nil)
	if !ok {
		return nil
	}
	key := "rule:" + rule.label + "|" + rule.audience
	if coll != nil && !strings.Contains(rule.label, "/") {
		key += "|" + coll.ID // a tag rule counts per collection, as in PocketBase
	}
	if ok, wait := s.rates.Allow(ctx, guard.IPKey(key, ip), rule.rule, time.Now()); !ok {
		return tooMany(wait)
	}
	return nil
}

// limitBatchItem counts one item of a batch (sub: the item as a request of
// its own, caller req) against the rate limit rule it would meet sent
// alone: "posts:create", "POST /api/collections/posts/records" and the
// like, from the batch's own client address (r), never one the item's
// headers claim; an upsert counts as a create. Without it a batch of
// fifty creates met only the batch's own rule.
func (s *Server) limitBatchItem(r, sub *http.Request, req *service.Request) error {
	p, err := s.policy(r.Context())
	if err != nil {
		return err
	}
	if !p.limitsOn || !p.tagRules && !p.pathRules {
		return nil
	}
	ip := p.clientIP(r)
	if contains(p.excluded, ip) {
		return nil
	}
	if sub.Method == http.MethodPut {
		// An upsert has no route of its own; it may create.
		sub = sub.Clone(sub.Context())
		sub.Method = http.MethodPost
	}
	labels, coll := s.limitLabels(sub, p)
	return s.applyRule(r.Context(), p, labels, coll, ip, req)
}

// knownCaller returns the caller admit identified for r, if it did.
func knownCaller(r *http.Request) (*service.Request, bool) {
	req, ok := r.Context().Value(callerKey{}).(*service.Request)
	if !ok {
		return nil, false
	}
	c := *req
	return &c, true
}

// throttle applies the built-in abuse guard of label (guard.LabelAuth,
// LabelSignup, LabelOTP, LabelReset) to r, per client IP and, when
// account is not empty, per account (collection and identity), so neither
// changing IP nor changing the body's identity escapes both. When a limit
// is reached it returns a KindTooMany error carrying the wait, which the
// status table answers as 429 with Retry-After; otherwise it returns r
// carrying its origin (client address and user agent) for the service's
// login origins and alerts.
//
// The per-IP limit is the settings' rate limit rule labelled label
// ("auth", "signup", "otp", "reset") when one fits the caller, else
// guard's default; the per-account limits are guard's defaults. Nothing
// is limited while rateLimits.enabled is off, and the excludedIPs are not
// limited per IP. Limits are per process unless the server was given a
// shared RateLimiter (Options.RateLimiter: Redis when configured).
func (s *Server) throttle(r *http.Request, label, collection, account string) (*http.Request, error) {
	p, err := s.policy(r.Context())
	if err != nil {
		return r, err
	}
	ip := p.clientIP(r)
	r = r.WithContext(auth.WithOrigin(r.Context(), auth.Origin{IP: ip.String(), UserAgent: r.UserAgent()}))
	if !p.limitsOn {
		return r, nil
	}
	limits, _ := guard.DefaultPolicy().For(label)
	now := time.Now()
	if !contains(p.excluded, ip) {
		perIP := limits.PerIP
		authed := -1 // unknown until a rule needs it
		for _, i := range p.byLabel[label] {
			rule := p.rules[i]
			if rule.audience != settings.AudienceAll && authed < 0 {
				authed = 0
				if req := s.caller(r); req.Auth != nil || req.Key != nil {
					authed = 1
				}
			}
			if fits(rule.audience, authed == 1) {
				perIP = rule.rule
				break
			}
		}
		if ok, wait := s.rates.Allow(r.Context(), guard.IPKey(label, ip), perIP, now); !ok {
			return r, tooMany(wait)
		}
	}
	return r, s.limitAccount(r.Context(), label, collection, account, limits.PerAccount, now)
}

// limitAccount counts one try of account (none when "") of label against
// rule, guard's per-account limit of label.
func (s *Server) limitAccount(ctx context.Context, label, collection, account string, rule guard.Rule, now time.Time) error {
	if account == "" {
		return nil
	}
	if ok, wait := s.rates.Allow(ctx, guard.AccountKey(label, collection, account), rule, now); !ok {
		return tooMany(wait)
	}
	return nil
}

// throttleAccount applies only the per-account part of throttle, for a
// flow that learns its account after the per-IP limit was applied (from
// a token it checked). Nothing is limited while rateLimits.enabled is off.
func (s *Server) throttleAccount(r *http.Request, label, collection, account string) error {
	p, err := s.policy(r.Context())
	if err != nil || !p.limitsOn {
		return err
	}
	limits, _ := guard.DefaultPolicy().For(label)
	return s.limitAccount(r.Context(), label, collection, account, limits.PerAccount, time.Now())
}

// tooMany is a rate limit's refusal, in the words of guard.TooMany.
func tooMany(wait time.Duration) error {
	return core.TooMany(wait, "Too many requests.")
}
