package outbound

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// metadataNames are cloud metadata host names that do not end in
// ".internal" (refused as a whole, see checkHost). Most resolve to a
// link-local address the dial check refuses anyway; naming them gives a
// clearer error and covers the ones that resolve to a public address which
// answers only the instance itself (Equinix Metal).
var metadataNames = map[string]bool{
	"metadata":                     true, // GCE and others, through the search domain
	"metadata.goog":                true, // GCE
	"instance-data":                true, // EC2, through the search domain
	"metadata.tencentyun.com":      true,
	"metadata.platformequinix.com": true,
	"metadata.packet.net":          true,
}

// checkHost refuses a request's host (from a URL or a dialled "host:port")
// before it is resolved: an IP literal of a refused range, a numeric host a
// resolver could read as an IPv4 address other than in dotted-decimal form,
// something that is neither an IP literal nor a host name, and cloud
// metadata or private-use (".internal") names. It returns nil for names the
// dial check must decide on.
func checkHost(host string) error {
	if a, err := netip.ParseAddr(host); err == nil {
		if what := classify(a); what != "" {
			return &BlockedError{Host: host, Addr: a.WithZone(""), Reason: fmt.Sprintf("%s is %s", host, what)}
		}
		return nil
	}
	name := normName(host)
	refuse := func(format string) error {
		return &BlockedError{Host: host, Reason: fmt.Sprintf(format, host)}
	}
	switch {
	case name == "":
		return &BlockedError{Host: host, Reason: "the URL has no host"}
	case strings.ContainsAny(name, ":%[]/\\@ \t\r\n\x00"):
		return refuse("%q is neither an IP address nor a host name")
	case numeric(name):
		return refuse("%s is a numeric host not written as a dotted-decimal IPv4 address")
	case metadataNames[name]:
		return refuse("%s is a cloud metadata host name")
	case name == "internal" || strings.HasSuffix(name, ".internal"):
		return refuse("%s is a private-use (.internal) host name")
	}
	return nil
}

// normName lowercases a host name and drops trailing dots, so that
// "Metadata.Google.Internal." compares equal to its plain spelling.
func normName(host string) string {
	return strings.TrimRight(strings.ToLower(host), ".")
}

// numeric reports whether the last label of name is a number as inet_aton
// reads one (decimal, octal with a leading 0, or hex with 0x). No real host
// name ends so, since top-level domains are never numeric, but resolvers
// built on inet_aton take "2130706433", "0177.0.0.1", "0x7f.1" and "127.1"
// for 127.0.0.1. Canonical dotted-decimal addresses never get here: they
// parse as IP literals first.
func numeric(name string) bool {
	label := name[strings.LastIndexByte(name, '.')+1:]
	digits := "0123456789"
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		label = label[2:]
		digits = "0123456789abcdefABCDEF"
		if label == "" {
			return true // "0x" alone is 0 to some parsers
		}
	}
	if label == "" {
		return false
	}
	for i := 0; i < len(label); i++ {
		if !strings.ContainsRune(digits, rune(label[i])) {
			return false
		}
	}
	return true
}

// allowEntry is one parsed Options.AllowHosts entry: a name or an address,
// with a port or "" for any.
type allowEntry struct {
	name string
	addr netip.Addr // valid for an IP entry, unmapped and without zone
	port string
}

// parseAllow parses an AllowHosts entry: "ci.example.lan", "10.0.0.5",
// "::1", "[::1]", or any of these with ":port" (IPv6 in brackets).
func parseAllow(s string) (allowEntry, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return allowEntry{}, fmt.Errorf("is empty")
	}
	if strings.ContainsAny(s, "/?#@") {
		return allowEntry{}, fmt.Errorf("is not a host name, IP address or host:port (no scheme or path)")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return allowEntry{addr: a.Unmap().WithZone("")}, nil
	}
	var e allowEntry
	host := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	} else if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
			return allowEntry{}, fmt.Errorf("has a bad port %q", p)
		}
		host, e.port = h, p
	}
	if a, err := netip.ParseAddr(host); err == nil {
		e.addr = a.Unmap().WithZone("")
		return e, nil
	}
	if strings.HasPrefix(s, "[") {
		return allowEntry{}, fmt.Errorf("has a bad IPv6 address in brackets")
	}
	name := normName(host)
	switch {
	case name == "":
		return allowEntry{}, fmt.Errorf("has no host")
	case strings.Contains(name, "*"):
		return allowEntry{}, fmt.Errorf("has a wildcard; list each host")
	case strings.ContainsAny(name, ":%[] \t\r\n\x00"):
		return allowEntry{}, fmt.Errorf("is not a host name, IP address or host:port (no scheme or path)")
	case numeric(name):
		return allowEntry{}, fmt.Errorf("is a numeric host; write the address in dotted-decimal form")
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return allowEntry{}, fmt.Errorf("is not ASCII; write an international name in its xn-- form")
		}
	}
	e.name = name
	return e, nil
}

// policy holds the parsed AllowHosts; it is read-only once built.
type policy struct {
	allow []allowEntry
}

// newPolicy parses hosts, skipping entries parseAllow rejects: a bad entry
// allows nothing (Options.Validate reports it).
func newPolicy(hosts []string) *policy {
	p := &policy{}
	for _, h := range hosts {
		if e, err := parseAllow(h); err == nil {
			p.allow = append(p.allow, e)
		}
	}
	return p
}

// allowed reports whether a superuser allowed host (a name or an IP
// literal, as in a URL or a dialled address) on port.
func (p *policy) allowed(host, port string) bool {
	if len(p.allow) == 0 {
		return false
	}
	a, err := netip.ParseAddr(host)
	isAddr := err == nil
	a = a.Unmap().WithZone("")
	name := normName(host)
	for _, e := range p.allow {
		if e.port != "" && e.port != port {
			continue
		}
		if isAddr && e.addr.IsValid() && e.addr == a {
			return true
		}
		if !isAddr && e.name != "" && e.name == name {
			return true
		}
	}
	return false
}

// checkURL refuses a URL before it is sent: a scheme other than http and
// https, user info, and what checkHost refuses unless the host is allowed.
func (p *policy) checkURL(u *url.URL) error {
	if u == nil {
		return &BlockedError{Reason: "the request has no URL"}
	}
	switch u.Scheme {
	case "http", "https":
	default:
		return &BlockedError{Host: u.Host, Reason: fmt.Sprintf("scheme %q is not http or https", u.Scheme)}
	}
	if u.User != nil {
		// Credentials in a URL end up in logs, and "https://trusted@evil/"
		// reads as the wrong host to a person.
		return &BlockedError{Host: u.Host, Reason: "URLs with user info (user:password@) are not accepted; send credentials in a header"}
	}
	host := u.Hostname()
	if host == "" {
		return &BlockedError{Reason: "the URL has no host"}
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if p.allowed(host, port) {
		return nil
	}
	return checkHost(host)
}
