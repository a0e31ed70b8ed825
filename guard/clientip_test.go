package guard

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func mustProxies(t *testing.T, cidrs ...string) *Proxies {
	t.Helper()
	p, err := ParseProxies(cidrs)
	if err != nil {
		t.Fatalf("ParseProxies(%q): %v", cidrs, err)
	}
	return p
}

func TestParseProxies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      []string
		trusted []string
		not     []string
		wantErr string // substring; empty means success
	}{
		{name: "empty list", in: nil, not: []string{"10.0.0.1", "::1"}},
		{name: "plain v4", in: []string{"10.0.0.1"}, trusted: []string{"10.0.0.1", "::ffff:10.0.0.1"}, not: []string{"10.0.0.2"}},
		{name: "v4 cidr", in: []string{"10.0.0.0/8"}, trusted: []string{"10.255.1.2"}, not: []string{"11.0.0.1"}},
		{name: "unmasked cidr", in: []string{"192.168.1.77/24"}, trusted: []string{"192.168.1.1"}, not: []string{"192.168.2.1"}},
		{name: "plain v6", in: []string{"::1"}, trusted: []string{"::1"}, not: []string{"::2", "127.0.0.1"}},
		{name: "v6 cidr", in: []string{"fd00::/8"}, trusted: []string{"fd12::1"}, not: []string{"fe80::1"}},
		{name: "v4-mapped entry", in: []string{"::ffff:10.0.0.0/104"}, trusted: []string{"10.1.2.3"}, not: []string{"11.0.0.1"}},
		{name: "v4-mapped plain", in: []string{"::ffff:10.0.0.1"}, trusted: []string{"10.0.0.1"}},
		{name: "zone dropped", in: []string{"fe80::1%eth0"}, trusted: []string{"fe80::1"}},
		{name: "spaces", in: []string{" 10.0.0.1 ", "\t172.16.0.0/12"}, trusted: []string{"10.0.0.1", "172.20.0.1"}},
		{name: "empty entry", in: []string{"10.0.0.1", " "}, wantErr: "trusted proxy 1 is empty"},
		{name: "hostname", in: []string{"proxy.local"}, wantErr: `"proxy.local"`},
		{name: "bad cidr", in: []string{"10.0.0.0/33"}, wantErr: `"10.0.0.0/33"`},
		{name: "bad ip", in: []string{"10.0.0.256"}, wantErr: `"10.0.0.256"`},
		{name: "ip with port", in: []string{"10.0.0.1:80"}, wantErr: `"10.0.0.1:80"`},
		{name: "short mapped prefix", in: []string{"::ffff:0:0/80"}, wantErr: "96 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := ParseProxies(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.trusted {
				if !p.Trusted(netip.MustParseAddr(s)) {
					t.Errorf("Trusted(%s) = false, want true", s)
				}
			}
			for _, s := range tt.not {
				if p.Trusted(netip.MustParseAddr(s)) {
					t.Errorf("Trusted(%s) = true, want false", s)
				}
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	proxies := []string{"10.0.0.0/8", "fd00::/8"}
	tests := []struct {
		name    string
		proxies []string // nil means the default set above
		none    bool     // trust no proxies at all
		remote  string
		xff     []string // one entry per header line
		realIP  string
		want    string // "" means the zero Addr
	}{
		// Untrusted peers: headers never matter.
		{name: "direct v4", remote: "203.0.113.7:5555", want: "203.0.113.7"},
		{name: "direct v6", remote: "[2001:db8::1]:5555", want: "2001:db8::1"},
		{name: "direct mapped", remote: "[::ffff:203.0.113.7]:5555", want: "203.0.113.7"},
		{name: "direct zone", remote: "[fe80::1%eth0]:5555", want: "fe80::1"},
		{name: "remote without port", remote: "203.0.113.7", want: "203.0.113.7"},
		{name: "bad remote", remote: "pipe", want: ""},
		{name: "empty remote", remote: "", xff: []string{"1.2.3.4"}, want: ""},
		{name: "spoof xff from untrusted peer", remote: "203.0.113.7:1", xff: []string{"1.2.3.4"}, want: "203.0.113.7"},
		{name: "spoof real-ip from untrusted peer", remote: "203.0.113.7:1", realIP: "1.2.3.4", want: "203.0.113.7"},
		{name: "spoof trusted-looking xff from untrusted peer", remote: "203.0.113.7:1", xff: []string{"10.0.0.5"}, want: "203.0.113.7"},
		{name: "no proxies configured ignores headers", none: true, remote: "10.0.0.1:1", xff: []string{"1.2.3.4"}, realIP: "5.6.7.8", want: "10.0.0.1"},

		// Trusted peers.
		{name: "one proxy", remote: "10.0.0.1:1", xff: []string{"198.51.100.9"}, want: "198.51.100.9"},
		{name: "client-prepended spoof is skipped", remote: "10.0.0.1:1", xff: []string{"1.1.1.1, 198.51.100.9"}, want: "198.51.100.9"},
		{name: "chain of proxies", remote: "10.0.0.1:1", xff: []string{"1.1.1.1, 198.51.100.9, 10.0.0.3, 10.0.0.2"}, want: "198.51.100.9"},
		{name: "multiple header lines", remote: "10.0.0.1:1", xff: []string{"1.1.1.1", "198.51.100.9, 10.0.0.2"}, want: "198.51.100.9"},
		{name: "multiple lines, last untrusted", remote: "10.0.0.1:1", xff: []string{"198.51.100.9", "1.1.1.1"}, want: "1.1.1.1"},
		{name: "blank header line skipped", remote: "10.0.0.1:1", xff: []string{"198.51.100.9", " "}, want: "198.51.100.9"},
		{name: "all hops trusted", remote: "10.0.0.1:1", xff: []string{"10.0.0.9, 10.0.0.2"}, want: "10.0.0.9"},
		{name: "hop with port", remote: "10.0.0.1:1", xff: []string{"198.51.100.9:4711"}, want: "198.51.100.9"},
		{name: "v6 hop bracketed with port", remote: "10.0.0.1:1", xff: []string{"[2001:db8::9]:4711"}, want: "2001:db8::9"},
		{name: "v6 hop bracketed", remote: "10.0.0.1:1", xff: []string{"[2001:db8::9]"}, want: "2001:db8::9"},
		{name: "v6 proxy", remote: "[fd00::1]:1", xff: []string{"2001:db8::9"}, want: "2001:db8::9"},
		{name: "mapped proxy and hop", remote: "[::ffff:10.0.0.1]:1", xff: []string{"::ffff:198.51.100.9"}, want: "198.51.100.9"},
		{name: "malformed rightmost stops at peer", remote: "10.0.0.1:1", xff: []string{"198.51.100.9, unknown"}, want: "10.0.0.1"},
		{name: "malformed behind trusted hop stops there", remote: "10.0.0.1:1", xff: []string{"garbage, 10.0.0.7"}, want: "10.0.0.7"},
		{name: "malformed left of client ignored", remote: "10.0.0.1:1", xff: []string{"garbage, 198.51.100.9"}, want: "198.51.100.9"},
		{name: "empty entry stops", remote: "10.0.0.1:1", xff: []string{"198.51.100.9,,10.0.0.2"}, want: "10.0.0.2"},
		{name: "hostname entry stops", remote: "10.0.0.1:1", xff: []string{"evil.example"}, want: "10.0.0.1"},
		{name: "trailing comma stops", remote: "10.0.0.1:1", xff: []string{"198.51.100.9,"}, want: "10.0.0.1"},
		{name: "real-ip without xff", remote: "10.0.0.1:1", realIP: "198.51.100.9", want: "198.51.100.9"},
		{name: "real-ip ignored when xff present", remote: "10.0.0.1:1", xff: []string{"198.51.100.9"}, realIP: "1.2.3.4", want: "198.51.100.9"},
		{name: "real-ip with blank xff", remote: "10.0.0.1:1", xff: []string{""}, realIP: "198.51.100.9", want: "198.51.100.9"},
		{name: "malformed real-ip", remote: "10.0.0.1:1", realIP: "nope", want: "10.0.0.1"},
		{name: "trusted peer no headers", remote: "10.0.0.1:1", want: "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p *Proxies
			switch {
			case tt.none:
				p = mustProxies(t)
			case tt.proxies != nil:
				p = mustProxies(t, tt.proxies...)
			default:
				p = mustProxies(t, proxies...)
			}
			r := httptest.NewRequest(http.MethodPost, "/api/collections/users/auth-with-password", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.realIP != "" {
				r.Header.Set("X-Real-IP", tt.realIP)
			}
			got := p.ClientIP(r)
			var want netip.Addr
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got != want {
				t.Fatalf("ClientIP = %v, want %v", got, want)
			}
		})
	}
}

func TestClientIPNilProxies(t *testing.T) {
	t.Parallel()
	var p *Proxies
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := p.ClientIP(r); got != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("ClientIP = %v, want the peer", got)
	}
}

func TestIPKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		addr netip.Addr
		want string
	}{
		{"v4", netip.MustParseAddr("203.0.113.7"), "auth:ip:203.0.113.7"},
		{"mapped", netip.MustParseAddr("::ffff:203.0.113.7"), "auth:ip:203.0.113.7"},
		{"v6 keyed by /64", netip.MustParseAddr("2001:db8:1:2:aaaa::1"), "auth:ip:2001:db8:1:2::/64"},
		{"v6 same /64", netip.MustParseAddr("2001:db8:1:2:ffff::9"), "auth:ip:2001:db8:1:2::/64"},
		{"v6 zone", netip.MustParseAddr("fe80::1%eth0"), "auth:ip:fe80::/64"},
		{"invalid", netip.Addr{}, "auth:ip:unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := IPKey("auth", tt.addr); got != tt.want {
				t.Fatalf("IPKey = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzClientIP checks that no header content makes ClientIP panic, return a
// non-normalized address, or name an address that is neither the peer nor
// in the headers.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:1", "1.1.1.1, 198.51.100.9, 10.0.0.2", "")
	f.Add("10.0.0.1:1", "", "198.51.100.9")
	f.Add("203.0.113.7:1", "1.2.3.4", "5.6.7.8")
	f.Add("[fd00::1]:1", "[2001:db8::9]:80,,unknown", "")
	f.Add("[::ffff:10.0.0.1]:1", "::ffff:1.2.3.4%x", "[::1]")
	p, err := ParseProxies([]string{"10.0.0.0/8", "fd00::/8"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff, realIP string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		if realIP != "" {
			r.Header.Set("X-Real-IP", realIP)
		}
		got := p.ClientIP(r)
		if !got.IsValid() {
			return
		}
		if got.Is4In6() || got.Zone() != "" {
			t.Fatalf("ClientIP = %v, not normalized", got)
		}
		peer := parseHop(remote)
		if !p.Trusted(peer) && got != peer {
			t.Fatalf("untrusted peer %v, ClientIP = %v", peer, got)
		}
	})
}
