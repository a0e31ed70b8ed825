// Package outbound is the HTTP client for requests Tortoise makes to URLs
// that users configure: outgoing webhooks and `http` background jobs. It
// refuses to reach the server's own network, so a configured URL cannot be
// used for server-side request forgery (SSRF).
//
// # Threat model
//
// Whoever sets the URL is assumed hostile. They choose the URL, run the DNS
// of its host (and may answer differently from one lookup to the next), and
// run any server the request reaches, which may answer with redirects. They
// want Tortoise to connect, on their behalf, to something only Tortoise can
// reach: its own loopback services, the private network it sits in, the
// cloud metadata endpoint that hands out instance credentials
// (169.254.169.254, metadata.google.internal), and to read the answer back
// through a delivery log.
//
// The defence is a check on every address actually dialled, made in the
// dialer's Control hook after DNS resolution, for the first request and for
// every redirect. Checking a name or a URL before the request is not enough:
// a name can resolve to a public address when it is checked and to
// 127.0.0.1 when it is dialled (DNS rebinding), a redirect can point
// anywhere, and resolvers accept spellings of 127.0.0.1 that URL checks miss
// (2130706433, 0177.0.0.1, 0x7f.0.0.1, 127.1). Proxies from the environment
// are never used, since a proxy would dial on our behalf where we cannot
// check. As a second line, and for clearer errors, each request's URL is
// checked before it is sent: only http and https, no user info, no IP
// literal of a refused range, no numeric host in a form other than
// dotted-decimal, no cloud metadata or private-use (".internal") host name.
//
// The refused ranges are listed beside Check. A host a superuser names in
// Options.AllowHosts may reach them; the decision follows the host of each
// request, so a redirect from an allowed host to another host is checked
// like any other.
//
// Out of scope: internal services that listen on public addresses (keep an
// egress firewall for those), the size of a response (the caller limits what
// it reads, e.g. with io.LimitReader), the DNS queries themselves (a hostile
// URL can make Tortoise look up any name), and reaching public hosts, which
// is the point of the package.
//
// A refusal is a *BlockedError, which matches ErrBlocked with errors.Is; its
// message ("refused: 127.0.0.1 is a loopback address") is written for a
// delivery log. The client's errors wrap it in *url.Error and *net.OpError,
// so look for it with errors.As rather than comparing messages.
package outbound
