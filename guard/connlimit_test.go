package guard

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

func TestLimitConnsPerIP(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan netip.Addr, 10)
	ln := LimitConnsPerIP(inner, 2, func(p netip.Addr) { refused <- p })
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	serverSide := func() net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("connection not accepted")
			return nil
		}
	}
	closedByServer := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !isTimeout(err)
	}

	dial()
	a := serverSide()
	dial()
	serverSide()
	third := dial()
	if !closedByServer(third) {
		t.Fatal("the third connection from one address was not closed")
	}
	if p := <-refused; p != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("refused peer %v", p)
	}
	select {
	case <-accepted:
		t.Fatal("the refused connection reached the server")
	default:
	}
	// Closing one (twice: the slot is given back once) makes room for one.
	a.Close()
	a.Close()
	dial()
	serverSide()
	if !closedByServer(dial()) {
		t.Fatal("a closed connection gave back more than its slot")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestPeerKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 1}, "203.0.113.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:203.0.113.7"), Port: 1}, "203.0.113.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 1}, "2001:db8:1:2::"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::9"), Port: 1}, "2001:db8:1:2::"},
		{&net.UnixAddr{Name: "/tmp/s", Net: "unix"}, ""},
	} {
		got, ok := peerKey(c.addr)
		if (c.want == "") == ok || ok && got.String() != c.want {
			t.Errorf("peerKey(%v) = %v %v, want %q", c.addr, got, ok, c.want)
		}
	}
}

// A counted connection still reaches its socket, for the realtime streams
// that write to it directly; closing it gives its slot back.
func TestCountedConnSyscallConn(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitConnsPerIP(inner, 1, nil)
	defer ln.Close()
	for range 2 { // the second fits only if the first gave its slot back
		client, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		sc, ok := c.(syscall.Conn)
		if !ok {
			t.Fatal("the counted conn hides its socket")
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		fd := -1
		if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil || fd < 0 {
			t.Fatalf("control: fd %d, %v", fd, err)
		}
		c.Close()
		client.Close()
	}
}
