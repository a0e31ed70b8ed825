package mail

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a minimal SMTP server (RFC 5321: EHLO, STARTTLS, AUTH
// PLAIN, MAIL FROM, RCPT TO, DATA, QUIT) that records what it received.
type testServer struct {
	t    *testing.T
	ln   net.Listener
	opts serverOpts

	mu       sync.Mutex
	received []received
	done     chan struct{}
	once     sync.Once
}

type serverOpts struct {
	tls        *tls.Config // offer STARTTLS with this config when set
	implicit   bool        // wrap every connection in TLS from the start
	auth       bool        // offer AUTH PLAIN
	rejectRcpt int         // reply code to every RCPT TO, e.g. 550 or 450
}

// received is one session as the server saw it.
type received struct {
	ehlo     string
	tls      bool
	authUser string
	authPass string
	from     string
	to       []string
	data     string
	quit     bool
}

func newTestServer(t *testing.T, opts serverOpts) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.implicit {
		ln = tls.NewListener(ln, opts.tls)
	}
	s := &testServer{t: t, ln: ln, opts: opts, done: make(chan struct{})}
	go s.serve()
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// stop closes the listener and waits for open sessions to end.
func (s *testServer) stop() {
	s.once.Do(func() { s.ln.Close() })
	<-s.done
}

// sessions stops the server and returns what it received; the client must
// be done with it.
func (s *testServer) sessions() []received {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

func (s *testServer) serve() {
	defer close(s.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			r := s.session(c)
			s.mu.Lock()
			s.received = append(s.received, r)
			s.mu.Unlock()
		}()
	}
}

func (s *testServer) session(c net.Conn) (r received) {
	_, r.tls = c.(*tls.Conn)
	tp := textproto.NewConn(c)
	reply := func(format string, args ...any) { _ = tp.PrintfLine(format, args...) }
	reply("220 test.local ESMTP ready")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return r
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			r.ehlo = arg
			ext := []string{"250-test.local", "250-8BITMIME"}
			if s.opts.tls != nil && !s.opts.implicit && !r.tls {
				ext = append(ext, "250-STARTTLS")
			}
			if s.opts.auth {
				ext = append(ext, "250-AUTH LOGIN PLAIN")
			}
			ext = append(ext, "250 SIZE 10240000")
			reply("%s", strings.Join(ext, "\r\n"))
		case "STARTTLS":
			if s.opts.tls == nil || r.tls {
				reply("502 not supported")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(c, s.opts.tls)
			if err := tc.Handshake(); err != nil {
				return r
			}
			c, r.tls = tc, true
			tp = textproto.NewConn(c)
			r.ehlo = "" // RFC 3207: the client must EHLO again
		case "AUTH":
			mech, ir, _ := strings.Cut(arg, " ")
			if !s.opts.auth || !strings.EqualFold(mech, "PLAIN") {
				reply("504 unsupported mechanism")
				continue
			}
			dec, err := base64.StdEncoding.DecodeString(ir)
			parts := strings.Split(string(dec), "\x00")
			if err != nil || len(parts) != 3 {
				reply("501 bad credentials encoding")
				continue
			}
			r.authUser, r.authPass = parts[1], parts[2]
			if r.authPass != "secret" {
				reply("535 5.7.8 authentication failed")
				continue
			}
			reply("235 2.7.0 authenticated")
		case "MAIL":
			if s.opts.auth && r.authUser == "" {
				reply("530 authentication required")
				continue
			}
			addr, params, _ := strings.Cut(strings.TrimPrefix(arg, "FROM:<"), ">")
			if params != "" && params != " BODY=8BITMIME" {
				reply("555 unsupported parameters %q", params)
				continue
			}
			r.from = addr
			reply("250 ok")
		case "RCPT":
			if s.opts.rejectRcpt != 0 {
				reply("%d no such user", s.opts.rejectRcpt)
				continue
			}
			r.to = append(r.to, strings.TrimSuffix(strings.TrimPrefix(arg, "TO:<"), ">"))
			reply("250 ok")
		case "DATA":
			if r.from == "" || len(r.to) == 0 {
				reply("503 bad sequence")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			// DotReader undoes dot-stuffing and turns CRLF into LF; put
			// the CRLFs back so the test sees the message as sent.
			b, err := io.ReadAll(tp.DotReader())
			if err != nil {
				return r
			}
			r.data = strings.ReplaceAll(string(b), "\n", "\r\n")
			reply("250 queued")
		case "RSET", "NOOP":
			reply("250 ok")
		case "QUIT":
			r.quit = true
			reply("221 bye")
			return r
		default:
			reply("500 unknown command")
		}
	}
}

// selfSigned returns a server TLS config for 127.0.0.1 and localhost and a
// pool that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}
