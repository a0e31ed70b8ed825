package outbound

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want string // substring of the reason; empty means allowed
	}{
		// Public addresses pass.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.215.14", ""},
		{"100.63.255.255", ""}, // just below CGNAT
		{"100.128.0.0", ""},    // just above CGNAT
		{"172.15.255.255", ""}, // just below 172.16/12
		{"172.32.0.0", ""},     // just above
		{"169.253.255.255", ""},
		{"223.255.255.255", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001:81c::200e", ""},
		{"::ffff:8.8.8.8", ""},   // IPv4-mapped public
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", ""},  // 6to4 of 8.8.8.8

		// IPv4 ranges.
		{"0.0.0.0", "0.0.0.0 is the unspecified address"},
		{"0.1.2.3", `"this network"`},
		{"127.0.0.1", "127.0.0.1 is a loopback address"},
		{"127.255.255.254", "loopback"},
		{"10.0.0.1", "10.0.0.1 is a private address"},
		{"10.255.255.255", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.100.100.200", "carrier-grade NAT"}, // Alibaba Cloud metadata
		{"100.127.255.255", "carrier-grade NAT"},
		{"169.254.169.254", "169.254.169.254 is the cloud metadata address"},
		{"169.254.0.1", "link-local"},
		{"192.0.0.170", "IETF protocol assignment"},
		{"192.0.2.1", "documentation"},
		{"192.88.99.1", "6to4 relay"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.254", "reserved"},
		{"255.255.255.255", "the broadcast address"},

		// IPv6 ranges.
		{"::", ":: is the unspecified address"},
		{"::1", "::1 is a loopback address"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "fe80::1 is a link-local address"},
		{"febf:ffff::1", "link-local"},
		{"fec0::1", "site-local"},
		{"fc00::1", "unique local"},
		{"fd00:ec2::254", "unique local"}, // AWS metadata over IPv6
		{"ff02::1", "multicast"},
		{"100::1", "discard-only"},
		{"2001::1", "IETF protocol assignment"}, // Teredo
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"5f00::1", "SRv6"},
		{"64:ff9b:1::1", "local-use NAT64"},
		{"4000::1", "outside the IPv6 global unicast range"},
		{"1::1", "a reserved address"},
		{"::1:0:0:1", "reserved"},

		// IPv4 forms inside IPv6.
		{"::ffff:127.0.0.1", "::ffff:127.0.0.1 is an IPv4-mapped form of 127.0.0.1, a loopback address"},
		{"::ffff:7f00:1", "IPv4-mapped form of 127.0.0.1"},
		{"::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254, the cloud metadata address"},
		{"::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1, a private address"},
		{"::ffff:0.0.0.0", "IPv4-mapped form of 0.0.0.0, the unspecified address"},
		{"::127.0.0.1", "::7f00:1 is an IPv4-compatible form of 127.0.0.1, a loopback address"},
		{"::7f00:1", "IPv4-compatible form of 127.0.0.1"},
		{"::a9fe:a9fe", "IPv4-compatible form of 169.254.169.254"},
		{"::8.8.8.8", "deprecated IPv4-compatible"},
		{"64:ff9b::127.0.0.1", "NAT64 form of 127.0.0.1, a loopback address"},
		{"64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"},
		{"64:ff9b::c0a8:101", "NAT64 form of 192.168.1.1, a private address"},
		{"2002:7f00:1::", "6to4 form of 127.0.0.1, a loopback address"},
		{"2002:a9fe:a9fe::1", "6to4 form of 169.254.169.254"},
		{"2002:a00:1::1", "6to4 form of 10.0.0.1"},
		{"2002:c0a8:101:1::1", "6to4 form of 192.168.1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			err := Check(netip.MustParseAddr(tt.addr))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want nil", tt.addr, err)
				}
				return
			}
			var be *BlockedError
			if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) {
				t.Fatalf("Check(%s) = %v, want a *BlockedError", tt.addr, err)
			}
			if !strings.Contains(be.Reason, tt.want) {
				t.Errorf("reason = %q, want it to contain %q", be.Reason, tt.want)
			}
			if be.Addr != netip.MustParseAddr(tt.addr).WithZone("") {
				t.Errorf("Addr = %v, want %v", be.Addr, tt.addr)
			}
			if got := be.Error(); got != "refused: "+be.Reason {
				t.Errorf("Error() = %q", got)
			}
		})
	}
}

func TestCheckInvalid(t *testing.T) {
	t.Parallel()
	if err := Check(netip.Addr{}); !errors.Is(err, ErrBlocked) {
		t.Fatalf("Check(zero Addr) = %v, want ErrBlocked", err)
	}
}

// FuzzCheck checks that every IPv6 form carrying an IPv4 address is refused
// exactly when the IPv4 address is (IPv4-compatible ones always), so no
// spelling of a refused address slips through.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "8.8.8.8", "169.254.169.254", "10.1.2.3", "0.0.0.0", "255.255.255.255", "100.64.0.1"} {
		f.Add(netip.MustParseAddr(s).AsSlice())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 {
			return
		}
		v4 := netip.AddrFrom4([4]byte(b[:4]))
		blocked := Check(v4) != nil
		var mapped, compat, nat, six [16]byte
		mapped[10], mapped[11] = 0xff, 0xff
		copy(mapped[12:], b[:4])
		copy(compat[12:], b[:4])
		copy(nat[:], netip.MustParseAddr("64:ff9b::").AsSlice())
		copy(nat[12:], b[:4])
		six[0], six[1] = 0x20, 0x02
		copy(six[2:6], b[:4])
		six[15] = 1
		for name, a := range map[string][16]byte{"mapped": mapped, "nat64": nat, "6to4": six} {
			if got := Check(netip.AddrFrom16(a)) != nil; got != blocked {
				t.Errorf("%v blocked = %v but its %s form %v blocked = %v", v4, blocked, name, netip.AddrFrom16(a), got)
			}
		}
		if Check(netip.AddrFrom16(compat)) == nil {
			t.Errorf("IPv4-compatible %v allowed", netip.AddrFrom16(compat))
		}
		if len(b) >= 16 {
			a := netip.AddrFrom16([16]byte(b[:16]))
			// Check is total: it never panics, and refuses with a reason.
			if err := Check(a); err != nil && err.(*BlockedError).Reason == "" {
				t.Errorf("Check(%v) has no reason", a)
			}
		}
	})
}
