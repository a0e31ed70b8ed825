package outbound

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// server is an httptest server on 127.0.0.1 that counts the requests it
// receives, so a test can tell a refusal from a failure after connecting.
type server struct {
	*httptest.Server
	hits atomic.Int64
	host string // "127.0.0.1:port"
	port string
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.host, s.port = u.Host, u.Port()
	return s
}

// get fetches raw and returns the body, or the error.
func get(t *testing.T, c *http.Client, raw string) (string, error) {
	t.Helper()
	resp, err := c.Get(raw)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), err
}

// wantBlocked fails unless err is a refusal whose message contains want.
func wantBlocked(t *testing.T, err error, want string) *BlockedError {
	t.Helper()
	var be *BlockedError
	if !errors.Is(err, ErrBlocked) || !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *BlockedError", err)
	}
	if !strings.Contains(be.Error(), want) {
		t.Fatalf("refusal %q does not contain %q", be.Error(), want)
	}
	return be
}

func TestLoopbackServerRefusedByDefault(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	c := NewClient(Options{})
	_, err := get(t, c, srv.URL)
	be := wantBlocked(t, err, "refused: 127.0.0.1 is a loopback address")
	if be.Addr != netip.MustParseAddr("127.0.0.1") || be.Host != "127.0.0.1" {
		t.Errorf("Addr, Host = %v, %q", be.Addr, be.Host)
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("server hit %d times", n)
	}
}

func TestAllowHosts(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	tests := []struct {
		name  string
		allow []string
		url   string
		want  string // refusal substring; empty means reached
	}{
		{name: "ip", allow: []string{"127.0.0.1"}, url: srv.URL},
		{name: "ip and port", allow: []string{srv.host}, url: srv.URL},
		{name: "other port", allow: []string{"127.0.0.1:1"}, url: srv.URL, want: "loopback"},
		{name: "name", allow: []string{"localhost"}, url: "http://localhost:" + srv.port + "/"},
		{name: "name and port", allow: []string{"LocalHost:" + srv.port}, url: "http://localhost:" + srv.port + "/"},
		// An address entry allows URLs that write the address, not names
		// that resolve to it, and the other way round.
		{name: "ip allowed, name used", allow: []string{"127.0.0.1"}, url: "http://localhost:" + srv.port + "/", want: "localhost resolves to 127.0.0.1, a loopback address"},
		{name: "name allowed, ip used", allow: []string{"localhost"}, url: srv.URL, want: "127.0.0.1 is a loopback address"},
		{name: "malformed entry allows nothing", allow: []string{"http://127.0.0.1/"}, url: srv.URL, want: "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := srv.hits.Load()
			body, err := get(t, NewClient(Options{AllowHosts: tt.allow}), tt.url)
			if tt.want != "" {
				wantBlocked(t, err, tt.want)
				return
			}
			if err != nil || body != "ok" {
				t.Fatalf("body, err = %q, %v", body, err)
			}
			if srv.hits.Load() == before {
				t.Error("server not hit")
			}
		})
	}
}

// Every spelling of a loopback or metadata destination is refused before
// the test server sees a request, whether the check on the URL, on the
// host at dial time, or on the dialled address catches it.
func TestAddressFormsRefused(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	c := NewClient(Options{Timeout: 10 * time.Second})
	p := srv.port
	tests := []struct{ url, want string }{
		{"http://127.0.0.1:" + p + "/", "127.0.0.1 is a loopback address"},
		{"http://localhost:" + p + "/", "localhost resolves to 127.0.0.1, a loopback address"},
		{"http://LOCALHOST:" + p + "/", "resolves to 127.0.0.1"},
		{"http://0.0.0.0:" + p + "/", "unspecified"}, // reaches the local host on Linux
		{"http://127.0.0.2:" + p + "/", "loopback"},
		{"http://[::1]:" + p + "/", "loopback"},
		{"http://[::]:" + p + "/", "unspecified"},
		{"http://[::ffff:127.0.0.1]:" + p + "/", "IPv4-mapped form of 127.0.0.1"},
		{"http://[::ffff:7f00:1]:" + p + "/", "IPv4-mapped form of 127.0.0.1"},
		{"http://[::127.0.0.1]:" + p + "/", "IPv4-compatible form of 127.0.0.1"},
		{"http://[64:ff9b::7f00:1]:" + p + "/", "NAT64 form of 127.0.0.1"},
		{"http://[2002:7f00:1::1]:" + p + "/", "6to4 form of 127.0.0.1"},
		{"http://2130706433:" + p + "/", "numeric host"},
		{"http://0177.0.0.1:" + p + "/", "numeric host"},
		{"http://0x7f.0.0.1:" + p + "/", "numeric host"},
		{"http://0x7f000001:" + p + "/", "numeric host"},
		{"http://127.1:" + p + "/", "numeric host"},
		{"http://127.0.0.1.:" + p + "/", "numeric host"},
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254 is the cloud metadata address"},
		{"http://[fd00:ec2::254]/latest/meta-data/", "unique local"},
		{"http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal is a private-use (.internal) host name"},
		// The transport converts the fullwidth ｍ to ASCII before dialling;
		// the dial-time name check sees the converted name.
		{"http://\uff4detadata.google.internal/", ".internal"},
		{"ftp://127.0.0.1:" + p + "/", "not http or https"},
		{"http://user:pw@127.0.0.1:" + p + "/", "user info"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			_, err := get(t, c, tt.url)
			wantBlocked(t, err, tt.want)
		})
	}
	t.Cleanup(func() {
		if n := srv.hits.Load(); n != 0 {
			t.Errorf("server hit %d times", n)
		}
	})
}

// The dialer refuses on its own, without the URL check in front of it, so
// a request that reaches the transport some other way is still checked.
func TestDialerRefusesWithoutURLCheck(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	inner := &http.Client{Transport: NewClient(Options{}).Transport.(*transport).next}
	for _, raw := range []string{
		srv.URL,
		"http://localhost:" + srv.port + "/",
		"http://0.0.0.0:" + srv.port + "/",
		"http://[::ffff:127.0.0.1]:" + srv.port + "/",
		"http://2130706433:" + srv.port + "/",
		"http://metadata.google.internal/",
	} {
		_, err := get(t, inner, raw)
		wantBlocked(t, err, "refused")
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("server hit %d times", n)
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	target := newServer(t, nil) // a second loopback host nobody allowed
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/to":
			http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/chain/"):
			var n int
			fmt.Sscanf(r.URL.Path, "/chain/%d", &n)
			if n == 0 {
				io.WriteString(w, "end")
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), http.StatusFound)
		default:
			io.WriteString(w, "ok")
		}
	})
	to := func(u string) string { return srv.URL + "/to?u=" + url.QueryEscape(u) }
	allowSrv := Options{AllowHosts: []string{srv.host}}

	refused := []struct{ name, to, want string }{
		{"other port of the allowed ip", target.URL + "/", "127.0.0.1 is a loopback address"},
		{"localhost", "http://localhost:" + target.port + "/", "localhost resolves to 127.0.0.1"},
		{"127.0.0.2", "http://127.0.0.2:" + target.port + "/", "127.0.0.2 is a loopback address"},
		{"metadata", "http://169.254.169.254/latest/meta-data", "cloud metadata address"},
		{"metadata name", "http://metadata.google.internal/computeMetadata/v1/", ".internal"},
		{"decimal", "http://2130706433:" + target.port + "/", "numeric host"},
		{"mapped", "http://[::ffff:127.0.0.1]:" + target.port + "/", "IPv4-mapped"},
		{"file", "file:///etc/passwd", "not http or https"},
		{"user info", "http://a:b@127.0.0.1:" + target.port + "/", "user info"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := get(t, NewClient(allowSrv), to(tt.to))
			wantBlocked(t, err, tt.want)
		})
	}

	t.Run("same host followed", func(t *testing.T) {
		t.Parallel()
		body, err := get(t, NewClient(allowSrv), to(srv.URL+"/done"))
		if err != nil || body != "ok" {
			t.Fatalf("body, err = %q, %v", body, err)
		}
	})
	t.Run("max redirects", func(t *testing.T) {
		t.Parallel()
		c := NewClient(Options{AllowHosts: allowSrv.AllowHosts, MaxRedirects: 2})
		if body, err := get(t, c, srv.URL+"/chain/2"); err != nil || body != "end" {
			t.Fatalf("2 redirects: body, err = %q, %v", body, err)
		}
		if _, err := get(t, c, srv.URL+"/chain/3"); err == nil || !strings.Contains(err.Error(), "stopped after 2 redirects") {
			t.Fatalf("3 redirects: err = %v", err)
		}
		if _, err := get(t, NewClient(allowSrv), srv.URL+"/chain/6"); err == nil || !strings.Contains(err.Error(), "stopped after 5 redirects") {
			t.Fatalf("6 redirects with the default: err = %v", err)
		}
	})
	t.Run("no redirects", func(t *testing.T) {
		t.Parallel()
		c := NewClient(Options{AllowHosts: allowSrv.AllowHosts, MaxRedirects: -1})
		resp, err := c.Get(to("http://169.254.169.254/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("status = %d, want the 302 itself", resp.StatusCode)
		}
	})

	t.Cleanup(func() {
		if n := target.hits.Load(); n != 0 {
			t.Errorf("redirect target hit %d times", n)
		}
	})
}

func TestUserAgent(t *testing.T) {
	t.Parallel()
	got := make(chan string, 2)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { got <- r.UserAgent() })
	c := NewClient(Options{AllowHosts: []string{srv.host}})
	if _, err := get(t, c, srv.URL); err != nil {
		t.Fatal(err)
	}
	if ua := <-got; ua != DefaultUserAgent {
		t.Errorf("default User-Agent = %q", ua)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("User-Agent", "Tortoise-Webhook/1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ua := <-got; ua != "Tortoise-Webhook/1" {
		t.Errorf("caller's User-Agent = %q", ua)
	}
	if ua := NewClient(Options{UserAgent: "x"}).Transport.(*transport).userAgent; ua != "x" {
		t.Errorf("Options.UserAgent ignored: %q", ua)
	}
}

// A request refused before sending still has its body closed, as the
// RoundTripper contract asks.
func TestRefusedRequestBodyClosed(t *testing.T) {
	t.Parallel()
	body := &closeRecorder{Reader: strings.NewReader("{}")}
	req, _ := http.NewRequest(http.MethodPost, "http://169.254.169.254/", body)
	_, err := NewClient(Options{}).Do(req)
	wantBlocked(t, err, "metadata")
	if !body.closed.Load() {
		t.Error("body not closed")
	}
}

type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestNoProxyAndTimeout(t *testing.T) {
	t.Parallel()
	c := NewClient(Options{})
	if c.Transport.(*transport).next.Proxy != nil {
		t.Error("the transport uses a proxy")
	}
	if c.Timeout != DefaultTimeout {
		t.Errorf("Timeout = %v", c.Timeout)
	}
	if c := NewClient(Options{Timeout: time.Second}); c.Timeout != time.Second {
		t.Errorf("Timeout = %v", c.Timeout)
	}
}
