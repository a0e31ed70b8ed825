package guard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies is the set of reverse proxies whose forwarding headers are
// believed. The zero value and a nil *Proxies trust nobody: the client is
// always the TCP peer and forwarding headers are ignored.
type Proxies struct {
	prefixes []netip.Prefix // masked, IPv4 ones in 4-byte form
}

// ParseProxies parses trusted proxy addresses, each a plain IP ("10.0.0.1",
// "::1") or a CIDR ("10.0.0.0/8", "fd00::/8"). IPv4-mapped IPv6 entries are
// treated as the IPv4 address or range they map. Surrounding spaces are
// ignored; an empty or malformed entry is an error naming it.
func ParseProxies(cidrs []string) (*Proxies, error) {
	p := &Proxies{prefixes: make([]netip.Prefix, 0, len(cidrs))}
	for i, raw := range cidrs {
		s := strings.TrimSpace(raw)
		if s == "" {
			return nil, fmt.Errorf("guard: trusted proxy %d is empty", i)
		}
		var pfx netip.Prefix
		if strings.Contains(s, "/") {
			var err error
			pfx, err = netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("guard: trusted proxy %q is not an IP or CIDR: %w", raw, err)
			}
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("guard: trusted proxy %q is not an IP or CIDR: %w", raw, err)
			}
			a = a.WithZone("")
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		if a := pfx.Addr(); a.Is4In6() {
			if pfx.Bits() < 96 {
				return nil, fmt.Errorf("guard: trusted proxy %q: an IPv4-mapped prefix needs at least 96 bits", raw)
			}
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		p.prefixes = append(p.prefixes, pfx.Masked())
	}
	return p, nil
}

// Trusted reports whether addr belongs to a trusted proxy.
func (p *Proxies) Trusted(addr netip.Addr) bool {
	if p == nil || !addr.IsValid() {
		return false
	}
	addr = normalize(addr)
	for _, pfx := range p.prefixes {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// ClientIP returns the address of the client that sent r.
//
// It is the TCP peer (r.RemoteAddr) unless the peer is a trusted proxy. Then
// X-Forwarded-For is walked from the right, the end the nearest proxy
// appended to, skipping trusted proxies, and the first untrusted address is
// the client: entries to its left were written by the client or by proxies
// nobody vouches for, so they are never believed. If every hop is trusted the
// leftmost is returned. A malformed entry stops the walk at the last address
// a trusted hop vouched for. X-Real-IP is consulted only when the peer is
// trusted and X-Forwarded-For is absent. The Forwarded header (RFC 7239) is
// not read.
//
// Results are normalized: IPv4-mapped IPv6 becomes IPv4 and zones are
// dropped. The zero Addr is returned only when r.RemoteAddr cannot be parsed.
func (p *Proxies) ClientIP(r *http.Request) netip.Addr {
	peer := parseHop(r.RemoteAddr)
	if !peer.IsValid() || p == nil || len(p.prefixes) == 0 || !p.Trusted(peer) {
		return peer
	}
	vals := r.Header.Values("X-Forwarded-For")
	present := false
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			present = true
			break
		}
	}
	if !present {
		if a := parseHop(r.Header.Get("X-Real-IP")); a.IsValid() {
			return a
		}
		return peer
	}
	return p.walkLeft(peer, vals)
}

// parseHop parses one address as found in RemoteAddr or a forwarding header:
// "1.2.3.4", "1.2.3.4:80", "::1", "[::1]:80", optionally with spaces around.
// It returns the zero Addr when s is none of those.
func parseHop(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			// "[::1]" without a port.
			host, _, err3 := net.SplitHostPort(s + ":0")
			if err3 != nil || !strings.HasPrefix(s, "[") {
				return netip.Addr{}
			}
			if a, err = netip.ParseAddr(host); err != nil {
				return netip.Addr{}
			}
		} else {
			a = ap.Addr()
		}
	}
	return normalize(a)
}

// normalize gives one spelling per address so keys cannot be varied.
func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// IPKey is the rate-limit key for a client address under label, e.g.
// "auth:ip:203.0.113.7". IPv6 clients are keyed by their /64, the block one
// subscriber usually holds, so cycling addresses within it does not buy a
// fresh allowance. An invalid addr gets one shared key, so requests whose
// origin is unknown are limited together rather than not at all.
func IPKey(label string, addr netip.Addr) string {
	addr = normalize(addr)
	switch {
	case !addr.IsValid():
		return label + ":ip:unknown"
	case addr.Is6():
		return label + ":ip:" + netip.PrefixFrom(addr, 64).Masked().String()
	default:
		return label + ":ip:" + addr.String()
	}
}
