package outbound

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrBlocked matches every *BlockedError with errors.Is.
var ErrBlocked = errors.New("outbound: destination refused")

// BlockedError reports a request refused because of where it would go.
type BlockedError struct {
	// Host is the host of the request as written in its URL or dialled
	// address (a name or an IP literal); empty when the error comes from
	// Check, which sees only an address.
	Host string
	// Addr is the refused address; the zero Addr when the request was
	// refused before any address was known (by scheme, user info or name).
	Addr netip.Addr
	// Reason says why in a sentence, e.g. "127.0.0.1 is a loopback address"
	// or "localhost resolves to 127.0.0.1, a loopback address".
	Reason string
}

// Error returns "refused: " and the reason, fit for a delivery log.
func (e *BlockedError) Error() string { return "refused: " + e.Reason }

// Is reports whether target is ErrBlocked.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Check returns a *BlockedError when addr may not be dialled, and nil when it
// is an ordinary public unicast address. The zone of an IPv6 address is
// ignored. Refused, first match wins:
//
// IPv4 (RFC 6890 and the IANA special-purpose registry):
//   - 0.0.0.0 (unspecified, reaches the local host on Linux) and 0.0.0.0/8
//   - 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (private, RFC 1918)
//   - 100.64.0.0/10 (shared address space, carrier-grade NAT; also the
//     Alibaba Cloud metadata address 100.100.100.200)
//   - 127.0.0.0/8 (loopback)
//   - 169.254.0.0/16 (link-local, holding the cloud metadata address
//     169.254.169.254)
//   - 192.0.0.0/24 (IETF protocol assignments), 192.88.99.0/24 (6to4 relay)
//   - 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (documentation)
//   - 198.18.0.0/15 (benchmarking)
//   - 224.0.0.0/4 (multicast), 255.255.255.255 (broadcast), 240.0.0.0/4
//     (reserved)
//
// IPv6:
//   - :: (unspecified), ::1 (loopback)
//   - ::ffff:0:0/96 (IPv4-mapped) when the IPv4 address it maps is refused
//   - ::/96 (IPv4-compatible, deprecated) always, naming the IPv4 address
//     when that is refused too; the rest of ::/8 (reserved)
//   - 64:ff9b::/96 (NAT64) when the embedded IPv4 address is refused;
//     64:ff9b:1::/48 (local-use NAT64) always
//   - 2002::/16 (6to4) when the embedded IPv4 address is refused
//   - 100::/64 (discard), 2001::/23 (IETF protocol assignments, including
//     Teredo 2001::/32), 2001:db8::/32 and 3fff::/20 (documentation),
//     5f00::/16 (SRv6)
//   - fc00::/7 (unique local, private; includes AWS's metadata address
//     fd00:ec2::254), fe80::/10 (link-local), fec0::/10 (site-local),
//     ff00::/8 (multicast)
//   - anything else outside 2000::/3, the global unicast space
//
// Check does not know Options.AllowHosts: allowing is decided per request
// by the client, which then skips Check.
func Check(addr netip.Addr) error {
	if what := classify(addr); what != "" {
		a := addr.WithZone("")
		return &BlockedError{Addr: a, Reason: fmt.Sprintf("%s is %s", a, what)}
	}
	return nil
}

// rule names a refused range. what completes "<address> is ...".
type rule struct {
	prefix netip.Prefix
	what   string
}

const (
	private   = "a private address"
	loopback  = "a loopback address"
	linkLocal = "a link-local address"
	docs      = "a documentation address"
	multicast = "a multicast address"
)

var v4Rules = []rule{
	{netip.MustParsePrefix("0.0.0.0/32"), "the unspecified address"},
	{netip.MustParsePrefix("0.0.0.0/8"), `a "this network" address`},
	{netip.MustParsePrefix("10.0.0.0/8"), private},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("127.0.0.0/8"), loopback},
	{netip.MustParsePrefix("169.254.169.254/32"), "the cloud metadata address"},
	{netip.MustParsePrefix("169.254.0.0/16"), linkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), private},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), docs},
	{netip.MustParsePrefix("192.88.99.0/24"), "a 6to4 relay anycast address"},
	{netip.MustParsePrefix("192.168.0.0/16"), private},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), docs},
	{netip.MustParsePrefix("203.0.113.0/24"), docs},
	{netip.MustParsePrefix("224.0.0.0/4"), multicast},
	{netip.MustParsePrefix("255.255.255.255/32"), "the broadcast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
}

// v6Rules apply after the IPv4-embedding forms have been looked at.
var v6Rules = []rule{
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use NAT64 address"},
	{netip.MustParsePrefix("::/8"), "a reserved address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("2001:db8::/32"), docs},
	{netip.MustParsePrefix("2001::/23"), "an IETF protocol assignment (such as Teredo)"},
	{netip.MustParsePrefix("3fff::/20"), docs},
	{netip.MustParsePrefix("5f00::/16"), "a segment routing (SRv6) address"},
	{netip.MustParsePrefix("fc00::/7"), "a unique local (private) address"},
	{netip.MustParsePrefix("fe80::/10"), linkLocal},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), multicast},
}

var (
	unspecified6 = netip.IPv6Unspecified()
	loopback6    = netip.IPv6Loopback()
	compat       = netip.MustParsePrefix("::/96")
	nat64        = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	global6      = netip.MustParsePrefix("2000::/3")
)

// classify returns what completes "<addr> is ..." when addr is refused, and
// "" when it may be dialled.
func classify(addr netip.Addr) string {
	if !addr.IsValid() {
		return "not a valid address"
	}
	addr = addr.WithZone("")
	if addr.Is4() {
		return match(v4Rules, addr)
	}
	if addr.Is4In6() {
		return embeds("an IPv4-mapped form", addr.Unmap())
	}
	switch {
	case addr == unspecified6:
		return "the unspecified address"
	case addr == loopback6:
		return loopback
	}
	b := addr.As16()
	switch {
	case compat.Contains(addr):
		if what := embeds("an IPv4-compatible form", netip.AddrFrom4([4]byte(b[12:16]))); what != "" {
			return what
		}
		return "a deprecated IPv4-compatible address"
	case nat64.Contains(addr):
		return embeds("a NAT64 form", netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(addr):
		return embeds("a 6to4 form", netip.AddrFrom4([4]byte(b[2:6])))
	}
	if what := match(v6Rules, addr); what != "" {
		return what
	}
	if !global6.Contains(addr) {
		return "outside the IPv6 global unicast range 2000::/3"
	}
	return ""
}

// embeds describes an IPv6 address that carries the IPv4 address v4, or
// returns "" when v4 is allowed.
func embeds(form string, v4 netip.Addr) string {
	what := match(v4Rules, v4)
	if what == "" {
		return ""
	}
	return fmt.Sprintf("%s of %s, %s", form, v4, what)
}

func match(rules []rule, addr netip.Addr) string {
	for _, r := range rules {
		if r.prefix.Contains(addr) {
			return r.what
		}
	}
	return ""
}
