package guard

import (
	"net/http"
	"net/netip"
	"strings"
)

// Forwarding says which forwarding headers of a trusted proxy hold the
// client address, and which of their addresses is the client's.
type Forwarding struct {
	// Headers are tried in order and the first one present is read, every
	// line of it, as a comma-separated list of addresses
	// ("X-Forwarded-For", "CF-Connecting-IP", "Fly-Client-IP"). Empty:
	// X-Forwarded-For, then X-Real-IP, as ClientIP reads them.
	Headers []string
	// Leftmost takes the leftmost valid address of the header. It suits a
	// proxy that replaces the header; behind one that appends to what the
	// client sent, the leftmost address is the client's own claim.
	// Default false: walk from the right past trusted proxies (ClientIP).
	Leftmost bool
}

// ClientIPWith is ClientIP reading the headers f names. As with
// ClientIP, headers are believed only when the TCP peer is a trusted
// proxy; otherwise, or when no named header holds a valid address, the
// client is the peer.
func (p *Proxies) ClientIPWith(r *http.Request, f Forwarding) netip.Addr {
	if len(f.Headers) == 0 && !f.Leftmost {
		return p.ClientIP(r)
	}
	peer := parseHop(r.RemoteAddr)
	if !peer.IsValid() || p == nil || len(p.prefixes) == 0 || !p.Trusted(peer) {
		return peer
	}
	headers := f.Headers
	if len(headers) == 0 {
		headers = []string{"X-Forwarded-For", "X-Real-IP"}
	}
	for _, h := range headers {
		vals := r.Header.Values(h)
		if !anyNonBlank(vals) {
			continue
		}
		if f.Leftmost {
			for _, v := range vals {
				for hop := range strings.SplitSeq(v, ",") {
					if a := parseHop(hop); a.IsValid() {
						return a
					}
				}
			}
			return peer
		}
		return p.walkLeft(peer, vals)
	}
	return peer
}

func anyNonBlank(vals []string) bool {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}

// walkLeft walks the addresses of vals from the right, the end the
// nearest proxy wrote, skipping trusted proxies: the first untrusted
// address is the client. A malformed entry stops the walk at the last
// address a trusted hop vouched for; when every hop is trusted the
// leftmost is returned (as ClientIP does with X-Forwarded-For).
func (p *Proxies) walkLeft(peer netip.Addr, vals []string) netip.Addr {
	cur := peer
	for i := len(vals) - 1; i >= 0; i-- {
		v := vals[i]
		if strings.TrimSpace(v) == "" {
			continue
		}
		for {
			j := strings.LastIndexByte(v, ',')
			hop := parseHop(v[j+1:])
			if !hop.IsValid() {
				return cur
			}
			cur = hop
			if !p.Trusted(cur) {
				return cur
			}
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return cur
}
