package settings

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	tmail "github.com/tortoise-dev/tortoise/mail"
)

// Bounds of the lists in the settings: far above any real use, low enough
// that matching a request against them stays cheap.
const (
	maxAddresses  = 1000 // superuserIPs, trustedProxies, rateLimits.excludedIPs
	maxRules      = 1000 // rateLimits.rules
	maxHeaders    = 20   // trustedProxy.headers
	maxDuration   = 86400
	maxTextLength = 255
)

// validate reports every invalid key, named by its path
// ("rateLimits.rules.0.maxRequests"). hasSecret tells, per secret key,
// whether the settings will hold one (sent now or stored before).
// maxBatchTimeout is the longest a batch's transaction may be allowed, in
// seconds: an hour, which already holds SQLite's one writer far too long.
const maxBatchTimeout = 3600

func (st *Settings) validate(hasSecret map[string]bool) error {
	errs := core.ValidationErrors{}
	st.validateMeta(errs)
	st.validateSMTP(errs)

	b := st.Batch
	if b.MaxRequests < 0 || b.Enabled && b.MaxRequests < 1 {
		errs.Add("batch.maxRequests", "validation_min_number_constraint", "Must be at least 1 (0 only while batch is disabled).")
	}
	switch {
	case b.Timeout < 0 || b.Enabled && b.Timeout < 1:
		errs.Add("batch.timeout", "validation_min_number_constraint", "Must be at least 1 second (0 only while batch is disabled).")
	case b.Timeout > maxBatchTimeout:
		// Past it the seconds would also overflow a time.Duration.
		errs.Add("batch.timeout", "validation_max_number_constraint", fmt.Sprintf("Must be at most %d seconds.", maxBatchTimeout))
	}
	if b.MaxBodySize < 0 {
		errs.Add("batch.maxBodySize", "validation_min_number_constraint", "Must be 0 (the default, 128 MiB) or more.")
	}

	addresses(errs, "trustedProxies", st.TrustedProxies)
	addresses(errs, "superuserIPs", st.SuperuserIPs)
	addresses(errs, "rateLimits.excludedIPs", st.RateLimits.ExcludedIPs)
	if len(st.TrustedProxy.Headers) > maxHeaders {
		errs.Add("trustedProxy.headers", "validation_length_too_long", fmt.Sprintf("At most %d headers.", maxHeaders))
	}
	for i, h := range st.TrustedProxy.Headers {
		if !headerName(h) {
			errs.Add(fmt.Sprintf("trustedProxy.headers.%d", i), "validation_invalid_header", fmt.Sprintf("%q is not an HTTP header name.", h))
		}
	}
	if len(st.TrustedProxy.Headers) > 0 && len(st.TrustedProxies) == 0 {
		errs.Add("trustedProxy.headers", "validation_no_trusted_proxies",
			"List your proxies' addresses in trustedProxies too: Tortoise believes these headers only from them, since anyone else can send them.")
	}

	validateS3(errs, "s3", st.S3, hasSecret["s3.secret"])
	validateS3(errs, "backups.s3", st.Backups.S3, hasSecret["backups.s3.secret"])
	if st.Backups.Cron != "" {
		if problem := cronProblem(st.Backups.Cron); problem != "" {
			errs.Add("backups.cron", "validation_invalid_cron", problem)
		}
	}
	if st.Backups.CronMaxKeep < 0 || st.Backups.Cron != "" && st.Backups.CronMaxKeep < 1 {
		errs.Add("backups.cronMaxKeep", "validation_min_number_constraint", "Must be at least 1 while backups are scheduled.")
	}
	if st.Logs.MaxDays < 0 {
		errs.Add("logs.maxDays", "validation_min_number_constraint", "Must be 0 or more.")
	}
	st.validateRateLimits(errs)
	return errs.Err()
}

func (st *Settings) validateMeta(errs core.ValidationErrors) {
	m := &st.Meta
	if strings.TrimSpace(m.AppName) == "" || len(m.AppName) > maxTextLength || !oneLine(m.AppName) {
		errs.Add("meta.appName", "validation_required", "Give the app a name (one line, at most 255 characters).")
	}
	if !httpURL(m.AppURL) {
		errs.Add("meta.appURL", "validation_is_url", "Must be an absolute http(s) URL.")
	} else if _, err := tmail.BuildLink(m.AppURL, "/check/", "t"); err != nil || !validPort(m.AppURL) {
		// Mail links are built on it: what they refuse (a query, a
		// fragment, credentials) would leave every link mail unsent.
		errs.Add("meta.appURL", "validation_is_url", "Must be an http(s) URL with a host and a valid port, and no credentials, query or fragment.")
	}
	if a, err := mail.ParseAddress(m.SenderAddress); err != nil || a.Address != m.SenderAddress {
		errs.Add("meta.senderAddress", "validation_is_email", "Must be a valid email address.")
	}
	if !oneLine(m.SenderName) || len(m.SenderName) > maxTextLength {
		errs.Add("meta.senderName", "validation_invalid_value", "Must be one line of at most 255 characters.")
	}
	if m.AccentColor != "" && !cssColor(m.AccentColor) {
		errs.Add("meta.accentColor", "validation_invalid_color", `Must be a CSS color such as "#0e7a6d" or "rgb(14, 122, 109)".`)
	}
}

func (st *Settings) validateSMTP(errs core.ValidationErrors) {
	sm := &st.SMTP
	if sm.Enabled && (strings.TrimSpace(sm.Host) == "" || !hostName(sm.Host)) {
		errs.Add("smtp.host", "validation_required", "Give the SMTP server's host name.")
	} else if sm.Host != "" && !hostName(sm.Host) {
		errs.Add("smtp.host", "validation_invalid_host", "Must be a host name or IP address.")
	}
	if sm.Port < 0 || sm.Port > 65535 || sm.Enabled && sm.Port < 1 {
		errs.Add("smtp.port", "validation_invalid_port", "Must be between 1 and 65535.")
	}
	if !oneLine(sm.Username) || !oneLine(sm.Password) {
		errs.Add("smtp.username", "validation_invalid_value", "Must be one line.")
	}
	switch strings.ToUpper(sm.AuthMethod) {
	case "", "PLAIN", "LOGIN":
	default:
		errs.Add("smtp.authMethod", "validation_in_invalid", `Must be "PLAIN" or "LOGIN".`)
	}
	if sm.LocalName != "" && !hostName(sm.LocalName) {
		errs.Add("smtp.localName", "validation_invalid_host", "Must be a host name or IP address.")
	}
}

// validateS3 checks the S3 settings at key ("s3", "backups.s3"): when
// enabled every part must be set, and set parts must be well formed.
func validateS3(errs core.ValidationErrors, key string, c S3Settings, hasSecret bool) {
	if c.Endpoint != "" && !httpURL(c.Endpoint) {
		errs.Add(key+".endpoint", "validation_is_url", "Must be an absolute http(s) URL, such as https://s3.eu-central-1.amazonaws.com.")
	}
	check := func(name, v string, ok bool, msg string) {
		switch {
		case c.Enabled && v == "":
			errs.Add(key+"."+name, "validation_required", "Required while S3 is enabled.")
		case v != "" && !ok:
			errs.Add(key+"."+name, "validation_invalid_value", msg)
		}
	}
	check("endpoint", c.Endpoint, true, "")
	check("bucket", c.Bucket, len(c.Bucket) <= 255 && !strings.ContainsAny(c.Bucket, "/\\ \t\r\n"), "Must be a bucket name: no spaces or slashes.")
	check("region", c.Region, len(c.Region) <= 64 && !strings.ContainsAny(c.Region, " \t\r\n/"), "Must be a region name such as us-east-1.")
	check("accessKey", c.AccessKey, len(c.AccessKey) <= 255 && oneLine(c.AccessKey) && !strings.Contains(c.AccessKey, " "), "Must be one word.")
	if c.Enabled && !hasSecret {
		errs.Add(key+".secret", "validation_required", "Required while S3 is enabled.")
	}
	if !oneLine(c.Secret) {
		errs.Add(key+".secret", "validation_invalid_value", "Must be one line.")
	}
}

func (st *Settings) validateRateLimits(errs core.ValidationErrors) {
	rules := st.RateLimits.Rules
	if len(rules) > maxRules {
		errs.Add("rateLimits.rules", "validation_length_too_long", fmt.Sprintf("At most %d rules.", maxRules))
		return
	}
	type seenKey struct{ label, audience string }
	seen := map[seenKey]bool{}
	for i, r := range rules {
		key := fmt.Sprintf("rateLimits.rules.%d", i)
		if !RuleLabelValid(r.Label) {
			errs.Add(key+".label", "validation_invalid_label",
				`Must be a tag ("auth", "users:create", "*:list"), a path ("/api/batch"), a path prefix ending in "/" ("/api/"), optionally after a method ("POST /api/collections/").`)
		}
		switch r.Audience {
		case AudienceAll, AudienceGuest, AudienceAuth:
		default:
			errs.Add(key+".audience", "validation_in_invalid", `Must be "" (everyone), "@guest" or "@auth".`)
		}
		if r.MaxRequests < 1 {
			errs.Add(key+".maxRequests", "validation_min_number_constraint", "Must be at least 1.")
		}
		if r.Duration < 1 || r.Duration > maxDuration {
			errs.Add(key+".duration", "validation_invalid_duration", "Must be between 1 and 86400 seconds.")
		}
		// One rule per label and audience; a rule for everyone leaves no
		// room for one for guests or authenticated callers only.
		conflict := seen[seenKey{r.Label, r.Audience}]
		if r.Audience == AudienceAll {
			conflict = conflict || seen[seenKey{r.Label, AudienceGuest}] || seen[seenKey{r.Label, AudienceAuth}]
		} else {
			conflict = conflict || seen[seenKey{r.Label, AudienceAll}]
		}
		if conflict {
			errs.Add(key+".label", "validation_conflicting_rate_limit_rule",
				fmt.Sprintf("Another rule has the label %q for the same callers.", r.Label))
		}
		seen[seenKey{r.Label, r.Audience}] = true
	}
}

// RuleLabelValid reports whether label is one a rate limit rule may have:
// a tag (letters, digits, underscores), "collection:tag", "*:tag", a path
// "/…" of letters, digits, "_", "-" and "/", or "METHOD /…".
func RuleLabelValid(label string) bool {
	if method, path, ok := strings.Cut(label, " "); ok {
		return word(method) && validPath(path)
	}
	if strings.HasPrefix(label, "/") {
		return validPath(label)
	}
	if coll, tag, ok := strings.Cut(label, ":"); ok {
		return (coll == "*" || word(coll)) && word(tag)
	}
	return word(label)
}

func word(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validPath(s string) bool {
	if !strings.HasPrefix(s, "/") {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '/' || c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// addresses checks a list of IPs and CIDRs at key.
func addresses(errs core.ValidationErrors, key string, list []string) {
	if len(list) > maxAddresses {
		errs.Add(key, "validation_length_too_long", fmt.Sprintf("At most %d addresses.", maxAddresses))
		return
	}
	for i, a := range list {
		if _, ok := ParseAddress(a); !ok {
			errs.Add(fmt.Sprintf("%s.%d", key, i), "validation_invalid_ip", fmt.Sprintf("%q is not an IP address or CIDR.", a))
		}
	}
}

// ParseAddress parses an entry of an address list of the settings (an IP,
// "203.0.113.7", or a CIDR, "10.0.0.0/8") as a prefix; a plain IP is the
// prefix of that address alone. IPv4-mapped IPv6 entries become IPv4.
func ParseAddress(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, false
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), true
}

func oneLine(s string) bool { return !strings.ContainsAny(s, "\r\n\x00") }

// validPort reports whether the http(s) URL s has no port or one from 1
// to 65535.
func validPort(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		return err == nil && n >= 1 && n <= 65535
	}
	return !strings.HasSuffix(u.Host, ":")
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && oneLine(s)
}

// hostName accepts a DNS name or an IP address (in brackets for IPv6
// too), without a port.
func hostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return true
	}
	for _, c := range []byte(s) {
		if !(c == '.' || c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// headerName reports whether s is an HTTP header field name (an RFC 9110 token).
func headerName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// cssColor accepts what an admin page can put in a style attribute
// without escaping it: a hex color, a color function of numbers, or a
// color name.
func cssColor(s string) bool {
	if len(s) > 64 {
		return false
	}
	if strings.HasPrefix(s, "#") {
		h := s[1:]
		if len(h) != 3 && len(h) != 4 && len(h) != 6 && len(h) != 8 {
			return false
		}
		for _, c := range []byte(h) {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
		return true
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("(),.% /-", c) >= 0) {
			return false
		}
	}
	return true
}
