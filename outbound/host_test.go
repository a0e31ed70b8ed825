package outbound

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url   string
		allow []string
		want  string // substring of the reason; empty means accepted
	}{
		{url: "https://hooks.example.com/in", want: ""},
		{url: "http://8.8.8.8:8080/x", want: ""},
		{url: "http://[2606:4700:4700::1111]/", want: ""},
		{url: "HTTPS://Hooks.Example.COM/", want: ""},
		{url: "http://xn--nxasmq6b.example/", want: ""},
		{url: "http://localhost/", want: ""}, // a name: the dial check decides

		// Schemes and user info.
		{url: "ftp://example.com/", want: `scheme "ftp" is not http or https`},
		{url: "file:///etc/passwd", want: `scheme "file"`},
		{url: "gopher://127.0.0.1:6379/_INFO", want: `scheme "gopher"`},
		{url: "//example.com/", want: `scheme ""`},
		{url: "https://user:pw@example.com/", want: "user info"},
		{url: "https://example.com@127.0.0.1/", want: "user info"},
		{url: "http://@example.com/", want: "user info"},
		{url: "http:opaque", want: "no host"},
		{url: "http:///path", want: "no host"},

		// IP literals.
		{url: "http://127.0.0.1/", want: "127.0.0.1 is a loopback address"},
		{url: "http://0.0.0.0:8080/", want: "unspecified"},
		{url: "http://169.254.169.254/latest/meta-data/", want: "cloud metadata address"},
		{url: "http://100.100.100.200/latest/meta-data/", want: "carrier-grade NAT"},
		{url: "http://[::1]/", want: "loopback"},
		{url: "http://[::]/", want: "unspecified"},
		{url: "http://[::ffff:127.0.0.1]/", want: "IPv4-mapped form of 127.0.0.1"},
		{url: "http://[::ffff:7f00:1]/", want: "IPv4-mapped form of 127.0.0.1"},
		{url: "http://[0:0:0:0:0:ffff:127.0.0.1]/", want: "IPv4-mapped form of 127.0.0.1"},
		{url: "http://[::ffff:a9fe:a9fe]/", want: "169.254.169.254"},
		{url: "http://[::127.0.0.1]/", want: "IPv4-compatible form of 127.0.0.1"},
		{url: "http://[64:ff9b::7f00:1]/", want: "NAT64 form of 127.0.0.1"},
		{url: "http://[2002:7f00:1::]/", want: "6to4 form of 127.0.0.1"},
		{url: "http://[fe80::1%25eth0]/", want: "link-local"},
		{url: "http://[fd00:ec2::254]/", want: "unique local"},

		// Numeric hosts in forms inet_aton reads as an IPv4 address.
		{url: "http://2130706433/", want: "2130706433 is a numeric host"},
		{url: "http://0177.0.0.1/", want: "numeric host"},
		{url: "http://0x7f.0.0.1/", want: "numeric host"},
		{url: "http://0x7f000001/", want: "numeric host"},
		{url: "http://0X7F.1/", want: "numeric host"},
		{url: "http://127.1/", want: "numeric host"},
		{url: "http://127.0.1/", want: "numeric host"},
		{url: "http://017700000001/", want: "numeric host"},
		{url: "http://127.0.0.1./", want: "numeric host"},
		{url: "http://8.8.8.8./", want: "numeric host"}, // refused even when public: ambiguous
		{url: "http://0x/", want: "numeric host"},
		{url: "http://3232235777:80/", want: "numeric host"}, // 192.168.1.1

		// Names.
		{url: "http://metadata.google.internal/computeMetadata/v1/", want: "private-use (.internal)"},
		{url: "http://METADATA.GOOGLE.INTERNAL./", want: "private-use (.internal)"},
		{url: "http://instance-data.ec2.internal/", want: "private-use (.internal)"},
		{url: "http://metadata/", want: "cloud metadata host name"},
		{url: "http://metadata.goog/", want: "cloud metadata host name"},
		{url: "http://instance-data/latest/", want: "cloud metadata host name"},
		{url: "https://metadata.platformequinix.com/metadata", want: "cloud metadata host name"},

		// AllowHosts.
		{url: "http://127.0.0.1/", allow: []string{"127.0.0.1"}, want: ""},
		{url: "http://127.0.0.1:8080/", allow: []string{"127.0.0.1:8080"}, want: ""},
		{url: "http://127.0.0.1:8081/", allow: []string{"127.0.0.1:8080"}, want: "loopback"},
		{url: "http://127.0.0.1/", allow: []string{"127.0.0.1:80"}, want: ""},
		{url: "https://127.0.0.1/", allow: []string{"127.0.0.1:80"}, want: "loopback"},
		{url: "http://127.0.0.2/", allow: []string{"127.0.0.1"}, want: "loopback"},
		{url: "http://[::ffff:127.0.0.1]/", allow: []string{"127.0.0.1"}, want: ""},
		{url: "http://[::1]:9000/", allow: []string{"[::1]:9000"}, want: ""},
		{url: "http://[::1]/", allow: []string{"::1"}, want: ""},
		{url: "http://metadata.google.internal/", allow: []string{"Metadata.Google.Internal."}, want: ""},
		{url: "http://2130706433/", allow: []string{"127.0.0.1"}, want: "numeric host"},
		{url: "http://10.0.0.5/", allow: []string{"ci.example.lan"}, want: "private"},
		{url: "ftp://127.0.0.1/", allow: []string{"127.0.0.1"}, want: "scheme"},
		{url: "http://u@127.0.0.1/", allow: []string{"127.0.0.1"}, want: "user info"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			err = newPolicy(tt.allow).checkURL(u)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("checkURL = %v, want nil", err)
				}
				return
			}
			var be *BlockedError
			if !errors.As(err, &be) {
				t.Fatalf("checkURL = %v, want a *BlockedError", err)
			}
			if !strings.Contains(be.Reason, tt.want) {
				t.Errorf("reason = %q, want it to contain %q", be.Reason, tt.want)
			}
		})
	}
}

func TestParseAllow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    allowEntry
		wantErr string
	}{
		{in: "ci.example.lan", want: allowEntry{name: "ci.example.lan"}},
		{in: " CI.Example.LAN. ", want: allowEntry{name: "ci.example.lan"}},
		{in: "ci.example.lan:8080", want: allowEntry{name: "ci.example.lan", port: "8080"}},
		{in: "localhost", want: allowEntry{name: "localhost"}},
		{in: "10.0.0.5", want: allowEntry{addr: netip.MustParseAddr("10.0.0.5")}},
		{in: "10.0.0.5:443", want: allowEntry{addr: netip.MustParseAddr("10.0.0.5"), port: "443"}},
		{in: "::1", want: allowEntry{addr: netip.MustParseAddr("::1")}},
		{in: "[::1]", want: allowEntry{addr: netip.MustParseAddr("::1")}},
		{in: "[::1]:8080", want: allowEntry{addr: netip.MustParseAddr("::1"), port: "8080"}},
		{in: "::ffff:10.0.0.5", want: allowEntry{addr: netip.MustParseAddr("10.0.0.5")}},
		{in: "fe80::1%eth0", want: allowEntry{addr: netip.MustParseAddr("fe80::1")}},
		{in: "", wantErr: "empty"},
		{in: "  ", wantErr: "empty"},
		{in: "http://ci.example.lan", wantErr: "no scheme or path"},
		{in: "ci.example.lan/hook", wantErr: "no scheme or path"},
		{in: "user@ci.example.lan", wantErr: "no scheme or path"},
		{in: "*.example.lan", wantErr: "wildcard"},
		{in: "ci.example.lan:0", wantErr: "bad port"},
		{in: "ci.example.lan:65536", wantErr: "bad port"},
		{in: "ci.example.lan:080", wantErr: "bad port"},
		{in: "ci.example.lan:", wantErr: "bad port"},
		{in: "[ci.example.lan]", wantErr: "brackets"},
		{in: "2130706433", wantErr: "numeric"},
		{in: "127.1", wantErr: "numeric"},
		{in: "bücher.example", wantErr: "xn--"},
		{in: "a b", wantErr: "not a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseAllow(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseAllow(%q) = %+v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("parseAllow(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
	if err := (Options{AllowHosts: []string{"ci.lan", "10.0.0.5:8080", "[::1]"}}).Validate(); err != nil {
		t.Errorf("good hosts: %v", err)
	}
	err := (Options{AllowHosts: []string{"ci.lan", "http://x/"}}).Validate()
	if err == nil || !strings.Contains(err.Error(), `allowed host 1 ("http://x/")`) {
		t.Errorf("bad host: %v", err)
	}
	if err := (Options{Timeout: -1}).Validate(); err == nil {
		t.Error("negative timeout accepted")
	}
	d := Options{Timeout: -1}.WithDefaults()
	if d.Timeout != DefaultTimeout || d.MaxRedirects != DefaultMaxRedirects || d.UserAgent != DefaultUserAgent {
		t.Errorf("WithDefaults = %+v", d)
	}
	if d := (Options{MaxRedirects: -1}).WithDefaults(); d.MaxRedirects != -1 {
		t.Errorf("negative MaxRedirects became %d", d.MaxRedirects)
	}
}

// inetAton parses s as BSD and glibc inet_aton do: one to four parts,
// each decimal, octal (leading 0) or hex (0x), the last filling the bytes
// left. It is the reference for what a resolver might take for an address.
func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := uint64(10)
		switch {
		case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
			base, p = 16, p[2:]
		case len(p) >= 1 && p[0] == '0':
			base = 8
		case p == "":
			return netip.Addr{}, false
		}
		var v uint64
		for _, c := range []byte(p) {
			var d uint64
			switch {
			case c >= '0' && c <= '9':
				d = uint64(c - '0')
			case c >= 'a' && c <= 'f':
				d = uint64(c-'a') + 10
			case c >= 'A' && c <= 'F':
				d = uint64(c-'A') + 10
			default:
				return netip.Addr{}, false
			}
			if d >= base {
				return netip.Addr{}, false
			}
			if v = v*base + d; v > 0xffffffff {
				return netip.Addr{}, false
			}
		}
		vals[i] = v
	}
	n := len(parts)
	var ip uint32
	for i := 0; i < n-1; i++ {
		if vals[i] > 0xff {
			return netip.Addr{}, false
		}
		ip |= uint32(vals[i]) << (24 - 8*i)
	}
	if vals[n-1] > 0xffffffff>>(8*(n-1)) {
		return netip.Addr{}, false
	}
	ip |= uint32(vals[n-1])
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
}

func TestInetAton(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "127.0.1", "017700000001", "0x7f.0x0.0.01"} {
		if a, ok := inetAton(s); !ok || a != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("inetAton(%q) = %v, %v", s, a, ok)
		}
	}
	for _, s := range []string{"", "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "08", "1..2", "4294967296", "x"} {
		if a, ok := inetAton(s); ok {
			t.Errorf("inetAton(%q) = %v, want failure", s, a)
		}
	}
}

// FuzzCheckURL checks that an accepted URL is http or https without user
// info, and that its host is never an address Check refuses, however
// inet_aton would read it.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"http://example.com/", "https://8.8.8.8/", "http://127.0.0.1/", "http://2130706433/",
		"http://0x7f.1/", "http://[::ffff:127.0.0.1]:80/", "https://8.8.8.8./",
		"http://metadata.google.internal./", "ftp://x/", "http://u@x/",
	} {
		f.Add(s)
	}
	p := newPolicy(nil)
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		if err := p.checkURL(u); err != nil {
			var be *BlockedError
			if !errors.As(err, &be) || be.Reason == "" {
				t.Fatalf("checkURL(%q) = %v, not a *BlockedError with a reason", raw, err)
			}
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.User != nil || u.Hostname() == "" {
			t.Fatalf("checkURL accepted %q", raw)
		}
		host := u.Hostname()
		if a, err := netip.ParseAddr(host); err == nil && Check(a) != nil {
			t.Fatalf("checkURL accepted %q, a refused address", raw)
		}
		for _, h := range []string{host, normName(host)} {
			a, ok := inetAton(h)
			if !ok {
				continue
			}
			if c, err := netip.ParseAddr(host); err != nil || c != a {
				t.Fatalf("checkURL accepted %q whose host inet_aton reads as %v", raw, a)
			}
			if Check(a) != nil {
				t.Fatalf("checkURL accepted %q, %v to inet_aton", raw, a)
			}
		}
	})
}
