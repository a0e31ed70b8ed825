package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
)

// SMTPConfig configures delivery through an SMTP server.
type SMTPConfig struct {
	// Host is the mail server's name or IP address. Required.
	Host string
	// Port is the server's port. Default 465 when TLS is set, else 587.
	Port int
	// TLS connects with implicit TLS (SMTPS, usually port 465).
	TLS bool
	// StartTLS upgrades the plaintext connection with STARTTLS and fails if
	// the server does not offer it. Default true unless TLS or Insecure is
	// set.
	StartTLS bool
	// Insecure allows an unencrypted session (no TLS, no STARTTLS), for a
	// mail catcher on a private network. Even then the password is only sent
	// to a loopback host. Default false.
	Insecure bool
	// Username and Password authenticate with AUTH PLAIN when Username is
	// set. Default: no authentication.
	Username string
	Password string
	// LocalName is the name sent with EHLO. Default "localhost".
	LocalName string
	// Timeout bounds a whole delivery, from dialing to QUIT. Default 10s.
	Timeout time.Duration
}

// WithDefaults fills every unset field with its default.
func (c SMTPConfig) WithDefaults() SMTPConfig {
	if c.Port == 0 {
		if c.TLS {
			c.Port = 465
		} else {
			c.Port = 587
		}
	}
	if !c.TLS && !c.Insecure {
		c.StartTLS = true
	}
	if c.LocalName == "" {
		c.LocalName = "localhost"
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	return c
}

// Validate reports the first setting that cannot work, including a
// password that would cross the network unencrypted.
func (c SMTPConfig) Validate() error {
	if c.Host == "" {
		return fmt.Errorf("smtp host must be set")
	}
	if headerProblem(c.Host) != "" || strings.ContainsAny(c.Host, " /") {
		return fmt.Errorf("smtp host %q is not a host name", c.Host)
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("smtp port %d: want 1 to 65535", c.Port)
	}
	if c.TLS && c.StartTLS {
		return fmt.Errorf("smtp: set TLS (implicit, port 465) or StartTLS, not both")
	}
	if c.Insecure && (c.TLS || c.StartTLS) {
		return fmt.Errorf("smtp: Insecure cannot be combined with TLS or StartTLS")
	}
	if c.Password != "" && c.Username == "" {
		return fmt.Errorf("smtp password set without a username")
	}
	if c.Username != "" && !c.TLS && !c.StartTLS && !isLoopback(c.Host) {
		return fmt.Errorf("smtp: refusing to send credentials to %s without TLS or StartTLS", c.Host)
	}
	if c.LocalName == "" || headerProblem(c.LocalName) != "" || strings.ContainsAny(c.LocalName, " \t") {
		return fmt.Errorf("smtp local name %q is not a host name", c.LocalName)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("smtp timeout must be positive")
	}
	return nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// SMTP sends mail through an SMTP server, one connection per message.
type SMTP struct {
	cfg SMTPConfig
	// rootCAs replaces the system roots when set; tests use it to trust
	// their own server's certificate.
	rootCAs *x509.CertPool
}

var _ Mailer = (*SMTP)(nil)

// NewSMTP returns a mailer for cfg after applying its defaults and
// validating it.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &SMTP{cfg: cfg}, nil
}

// Config returns the configuration in use, defaults applied.
func (s *SMTP) Config() SMTPConfig { return s.cfg }

// Send delivers m with EHLO, optional STARTTLS and AUTH PLAIN, MAIL FROM,
// one RCPT TO per recipient, DATA and QUIT. Errors are those listed on
// Mailer.Send.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	env, err := m.envelope()
	if err != nil {
		return err
	}
	raw, err := buildMIME(m, env, time.Now())
	if err != nil {
		return core.Internal(err, "Failed to build the email.")
	}
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	tlsConfig := &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12, RootCAs: s.rootCAs}
	var conn net.Conn
	if s.cfg.TLS {
		d := &tls.Dialer{Config: tlsConfig}
		conn, err = d.DialContext(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		var certErr *tls.CertificateVerificationError
		if errors.As(err, &certErr) {
			return core.Internal(fmt.Errorf("dial %s: %w", addr, err), "Failed to send the email.")
		}
		return unavailable(fmt.Errorf("dial %s: %w", addr, err))
	}
	// net/smtp has no contexts: a deadline bounds every read and write, and
	// closing the connection when ctx ends unblocks them early.
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	if err := s.session(conn, tlsConfig, env, raw); err != nil {
		if ctx.Err() != nil {
			return unavailable(fmt.Errorf("smtp %s: %w", addr, ctx.Err()))
		}
		return classify(fmt.Errorf("smtp %s: %w", addr, err))
	}
	return nil
}

// session speaks SMTP over conn; the caller closes conn.
func (s *SMTP) session(conn net.Conn, tlsConfig *tls.Config, env envelope, raw []byte) error {
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	if err := c.Hello(s.cfg.LocalName); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if s.cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errNoStartTLS
		}
		if err := c.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if s.cfg.Username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
			return errNoAuthPlain
		}
		if err := c.Auth(plainAuth{username: s.cfg.Username, password: s.cfg.Password, host: s.cfg.Host}); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(env.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, a := range env.to {
		if err := c.Rcpt(a.Address); err != nil {
			return &rcptError{addr: a.Address, err: err}
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The message is accepted once DATA ends with 250; a failed QUIT does
	// not undo that.
	_ = c.Quit()
	return nil
}

var (
	errNoStartTLS  = errors.New("server does not offer STARTTLS")
	errNoAuthPlain = errors.New("server does not offer AUTH PLAIN")
)

// rcptError is a refused RCPT TO.
type rcptError struct {
	addr string
	err  error
}

func (e *rcptError) Error() string { return fmt.Sprintf("rcpt to %s: %v", e.addr, e.err) }
func (e *rcptError) Unwrap() error { return e.err }

func unavailable(err error) error {
	return &core.Error{Kind: core.KindUnavailable, Message: "The mail server is unavailable.", Err: err}
}

// classify gives a failed session its kind: temporary (4xx) replies and
// network failures are KindUnavailable, a permanently refused recipient is
// KindInvalid, and anything else (refused credentials, an untrusted
// certificate, a server lacking STARTTLS) is a configuration problem,
// KindInternal.
func classify(err error) error {
	var tpErr *textproto.Error
	if errors.As(err, &tpErr) {
		switch {
		case tpErr.Code >= 400 && tpErr.Code < 500:
			return unavailable(err)
		case tpErr.Code >= 500:
			var re *rcptError
			if errors.As(err, &re) {
				return &core.Error{Kind: core.KindInvalid, Message: "The mail server refused the recipient.",
					Fields: map[string]core.FieldError{"to": {Code: "validation_invalid_email", Message: "The mail server refused the recipient."}},
					Err:    err}
			}
			return core.Internal(err, "Failed to send the email.")
		}
	}
	var netErr net.Error
	var opErr *net.OpError
	var tpProto textproto.ProtocolError
	if errors.As(err, &netErr) || errors.As(err, &opErr) || errors.As(err, &tpProto) ||
		errors.Is(err, net.ErrClosed) || isEOF(err) {
		return unavailable(err)
	}
	return core.Internal(err, "Failed to send the email.")
}

// plainAuth is AUTH PLAIN (RFC 4616) that refuses to send the password
// over an unencrypted connection unless the server is on this machine.
// net/smtp's PlainAuth has the same rule but knows loopback only as
// "localhost", "127.0.0.1" and "::1".
type plainAuth struct {
	username, password, host string
}

func (a plainAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLoopback(a.host) {
		return "", nil, errors.New("refusing to authenticate over an unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
}

func (a plainAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
