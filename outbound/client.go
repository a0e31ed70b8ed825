package outbound

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Defaults applied by Options.WithDefaults.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxRedirects = 5
	DefaultUserAgent    = "Tortoise"
)

// Options configure NewClient. The zero value is ready to use.
//
// There is no limit on the response body: the caller reads it and bounds
// what it reads (io.LimitReader, or io.CopyN into a log), since only the
// caller knows how much of it is worth keeping.
type Options struct {
	// Timeout bounds a whole request: connecting, every redirect, and
	// reading the response body. Default 30s (when 0 or negative: a client
	// without a deadline is never made; Validate reports a negative value).
	Timeout time.Duration
	// MaxRedirects is how many redirects one request follows before it
	// fails. Default 5 (when 0); negative follows none and returns the 3xx
	// response itself.
	MaxRedirects int
	// AllowHosts are hosts a superuser allowed to reach refused addresses
	// (see Check), for a webhook receiver inside the private network. Each is
	// an exact host name ("ci.example.lan"), an IP literal ("10.0.0.5",
	// "::1", "[::1]"), or either with a port ("ci.example.lan:8080",
	// "[::1]:8080") to allow that port only. Names match case-insensitively
	// and without wildcards; an address entry matches only URLs that write
	// that address, not names resolving to it. Allowing a name trusts its
	// DNS: every address it resolves to is dialled. A request to any other
	// host, including one reached by a redirect from an allowed host, is
	// checked as usual. Entries Validate rejects are ignored by NewClient, so
	// a malformed entry allows nothing. Default none.
	AllowHosts []string
	// UserAgent is sent when a request sets no User-Agent header. Default
	// "Tortoise".
	UserAgent string
}

// WithDefaults returns o with unset fields (and a negative Timeout) set to
// their defaults.
func (o Options) WithDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	return o
}

// Validate reports a negative Timeout or a malformed AllowHosts entry, so a
// settings form can answer 400 naming it.
func (o Options) Validate() error {
	if o.Timeout < 0 {
		return fmt.Errorf("outbound: timeout %v is negative", o.Timeout)
	}
	for i, h := range o.AllowHosts {
		if _, err := parseAllow(h); err != nil {
			return fmt.Errorf("outbound: allowed host %d (%q) %v", i, h, err)
		}
	}
	return nil
}

// NewClient returns an http.Client that refuses to reach the addresses Check
// refuses, on every connection it opens, unless the request's host is in
// opts.AllowHosts. It never uses a proxy. Refusals are *BlockedError (see
// the package documentation).
//
// The protection lives in the client's Transport and CheckRedirect: do not
// replace them. The client is safe for concurrent use and keeps idle
// connections, so make one and share it.
func NewClient(opts Options) *http.Client {
	return newClient(opts, nil)
}

// newClient is NewClient with the resolver the dialer uses (nil for the
// system's), so tests can serve their own DNS.
func newClient(opts Options, resolver *net.Resolver) *http.Client {
	opts = opts.WithDefaults()
	p := newPolicy(opts.AllowHosts)
	d := &dialer{policy: p, resolver: resolver}
	next := &http.Transport{
		Proxy:                 nil, // a proxy would dial where we cannot check
		DialContext:           d.dialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32, // a webhook's receiver gets many deliveries at once
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     &transport{policy: p, next: next, userAgent: opts.UserAgent},
		CheckRedirect: checkRedirect(opts.MaxRedirects),
		Timeout:       opts.Timeout,
	}
}

func checkRedirect(limit int) func(*http.Request, []*http.Request) error {
	return func(_ *http.Request, via []*http.Request) error {
		if limit < 0 {
			return http.ErrUseLastResponse
		}
		// via holds the requests already sent, the first one included.
		if len(via) > limit {
			return fmt.Errorf("outbound: stopped after %d redirects", limit)
		}
		return nil
	}
}

// transport checks each request's URL (the first and every redirect) before
// handing it to an http.Transport whose dialer checks each address.
type transport struct {
	policy    *policy
	next      *http.Transport
	userAgent string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.policy.checkURL(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close() // RoundTrip must close the body, even on error
		}
		return nil, err
	}
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", t.userAgent)
	}
	return t.next.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the pool.
func (t *transport) CloseIdleConnections() { t.next.CloseIdleConnections() }

// dialer opens the transport's connections. The allow decision is made here
// from the dialled "host:port", the one thing the transport keys its pool
// by, so a pooled connection is only ever reused for the host it was
// checked for.
type dialer struct {
	policy   *policy
	resolver *net.Resolver
}

func (d *dialer) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &BlockedError{Host: addr, Reason: fmt.Sprintf("network %q is not TCP", network)}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("outbound: dial %q: %w", addr, err)
	}
	nd := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Resolver:  d.resolver,
	}
	if !d.policy.allowed(host, port) {
		// Names are checked again here, after the transport has converted
		// an international name to ASCII.
		if err := checkHost(host); err != nil {
			return nil, err
		}
		// Called once per connection attempt, with the resolved address:
		// what the name resolved to at this moment is what is checked.
		nd.ControlContext = func(_ context.Context, _, address string, _ syscall.RawConn) error {
			return checkDialled(host, address)
		}
	}
	return nd.DialContext(ctx, network, addr)
}

// checkDialled checks the "ip:port" about to be connected for host.
func checkDialled(host, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Host: host, Reason: fmt.Sprintf("dialled address %q cannot be checked", address)}
	}
	a := ap.Addr().WithZone("")
	what := classify(a)
	if what == "" {
		return nil
	}
	reason := fmt.Sprintf("%s is %s", a, what)
	if _, err := netip.ParseAddr(host); err != nil {
		reason = fmt.Sprintf("%s resolves to %s, %s", host, a, what)
	}
	return &BlockedError{Host: host, Addr: a, Reason: reason}
}
