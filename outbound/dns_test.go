package outbound

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// dnsServer is a real DNS server on 127.0.0.1 (UDP) that answers every A
// query with the next of its addresses, repeating the last, and every other
// query with no records. It is just enough DNS for Go's resolver.
type dnsServer struct {
	conn    net.PacketConn
	answers []netip.Addr
	queries atomic.Int64 // A queries answered
}

func newDNSServer(t *testing.T, answers ...string) *dnsServer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: conn}
	for _, a := range answers {
		s.answers = append(s.answers, netip.MustParseAddr(a))
	}
	t.Cleanup(func() { conn.Close() })
	go s.serve()
	return s
}

// resolver returns a pure-Go resolver that sends every query to s.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
		},
	}
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.answer(buf[:n]); resp != nil {
			s.conn.WriteTo(resp, from)
		}
	}
}

// answer builds the reply to one query, or nil for a malformed one.
func (s *dnsServer) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	// The question: labels up to a zero byte, then type and class.
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1:])

	resp := make([]byte, 12, 64)
	copy(resp, q[:2])                            // ID
	binary.BigEndian.PutUint16(resp[2:], 0x8580) // response, authoritative, recursion desired and available
	binary.BigEndian.PutUint16(resp[4:], 1)      // one question
	resp = append(resp, question...)
	if qtype != 1 { // not A: no records
		return resp
	}
	k := int(s.queries.Add(1)) - 1
	a := s.answers[min(k, len(s.answers)-1)].As4()
	binary.BigEndian.PutUint16(resp[6:], 1)           // one answer
	resp = append(resp, 0xc0, 12)                     // name: pointer to the question's
	resp = append(resp, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4) // A, IN, TTL 0, 4 bytes
	resp = append(resp, a[:]...)
	return resp
}

// DNS rebinding: the name resolves to a public address when a validator
// looks it up, and to 127.0.0.1 when the client connects. The client checks
// the address it dials, so it is refused.
func TestDNSRebinding(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	dns := newDNSServer(t, "8.8.8.8", "127.0.0.1")
	r := dns.resolver()

	// What a check before the request would see.
	addrs, err := r.LookupNetIP(context.Background(), "ip4", "rebind.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0] != netip.MustParseAddr("8.8.8.8") || Check(addrs[0]) != nil {
		t.Fatalf("first lookup = %v, want 8.8.8.8 and allowed", addrs)
	}

	c := newClient(Options{}, r)
	_, err = get(t, c, "http://rebind.test:"+srv.port+"/")
	be := wantBlocked(t, err, "refused: rebind.test resolves to 127.0.0.1, a loopback address")
	if be.Host != "rebind.test" || be.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("Host, Addr = %q, %v", be.Host, be.Addr)
	}
	if dns.queries.Load() < 2 {
		t.Errorf("the dial did not resolve the name again (%d A queries)", dns.queries.Load())
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("server hit %d times", n)
	}
}

// A name resolving to the metadata address, and one to a private address,
// are refused at dial time with the resolved address in the error.
func TestResolvedAddressesRefused(t *testing.T) {
	t.Parallel()
	for _, a := range []string{"169.254.169.254", "10.0.0.1", "100.100.100.200", "0.0.0.0"} {
		t.Run(a, func(t *testing.T) {
			t.Parallel()
			dns := newDNSServer(t, a)
			c := newClient(Options{}, dns.resolver())
			// Port 9 (discard): nothing is reached even if the check failed
			// open, and refusal comes before any connection attempt.
			_, err := get(t, c, "http://evil.test:9/")
			be := wantBlocked(t, err, "evil.test resolves to "+a)
			if be.Addr != netip.MustParseAddr(a) {
				t.Errorf("Addr = %v", be.Addr)
			}
		})
	}
}

// An allowed name may resolve to a private address; the same resolver
// answer for another name is refused.
func TestAllowedNameResolvingPrivate(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	dns := newDNSServer(t, "127.0.0.1")
	c := newClient(Options{AllowHosts: []string{"hooks.corp.test"}}, dns.resolver())
	if body, err := get(t, c, "http://hooks.corp.test:"+srv.port+"/"); err != nil || body != "ok" {
		t.Fatalf("allowed name: body, err = %q, %v", body, err)
	}
	_, err := get(t, c, "http://other.corp.test:"+srv.port+"/")
	if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "other.corp.test resolves to 127.0.0.1") {
		t.Fatalf("other name: err = %v", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("server hit %d times, want 1", n)
	}
}
