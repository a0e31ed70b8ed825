package guard

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// LimitConnsPerIP wraps ln so that at most max connections from one peer
// are open at once. A connection over the cap is closed as soon as it is
// accepted, before anything is read from it, and refused (when not nil) is
// called with the peer; Accept then waits for the next one. It counts the
// TCP peer, not the client a proxy forwards for: behind a reverse proxy
// every connection comes from the proxy, so size max for the proxy's pool.
// IPv6 peers are counted per /64, the block one host is usually given, so
// one host cannot escape the cap by rotating addresses. Peers that are not
// IP addresses (Unix sockets) are not limited.
//
// Memory is bounded by the open connections: a peer is tracked only while
// it has one open, in about 50 bytes.
func LimitConnsPerIP(ln net.Listener, max int, refused func(peer netip.Addr)) net.Listener {
	return &connLimiter{Listener: ln, max: max, refused: refused, open: map[netip.Addr]int{}}
}

type connLimiter struct {
	net.Listener
	max     int
	refused func(netip.Addr)

	mu   sync.Mutex
	open map[netip.Addr]int // peer key → open connections, entries > 0 only
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := peerKey(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		if l.acquire(key) {
			return &countedConn{Conn: c, release: func() { l.release(key) }}, nil
		}
		c.Close()
		if l.refused != nil {
			l.refused(key)
		}
	}
}

func (l *connLimiter) acquire(key netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.max {
		return false
	}
	l.open[key]++
	return true
}

func (l *connLimiter) release(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// peerKey is what a peer is counted by: its IPv4 address, or its IPv6 /64.
func peerKey(a net.Addr) (netip.Addr, bool) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, true
}

// countedConn gives its slot back when closed, once however often Close
// is called.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// SyscallConn reaches the socket under the count, for code that writes to
// it directly (realtime streams); see syscall.Conn.
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}
