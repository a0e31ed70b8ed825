package realtime

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxPending caps what may wait for a client whose socket buffer is full:
// beyond it the client is too slow and is dropped.
const maxPending = 256 << 10

// maxClientBytes is how much a client may send on its stream (it should
// send nothing) before it is dropped.
const maxClientBytes = 4 << 10

// conn writes a stream's messages to a connection taken over from the
// HTTP server.
//
// A write is first tried without waiting, directly on the socket (where
// the platform allows it): almost always the kernel takes the whole
// message at once, and the writer goroutine moves on to the next client.
// Whatever the socket cannot take yet waits in pending, and a goroutine
// started for the occasion writes it out (with WriteTimeout) and exits;
// messages arriving meanwhile queue behind it, so order is kept.
type conn struct {
	nc     net.Conn
	fd     int    // the socket, -1 if out of reach: then every write goes through the flusher
	onFail func() // tells the hub the client is gone

	mu       sync.Mutex
	pending  []byte
	flushing bool
	closed   bool

	lastWrite atomic.Int64 // unix nanoseconds, for the idle timeout
	sent      atomic.Int64 // bytes the client sent us
}

func newConn(nc net.Conn, onFail func()) *conn {
	c := &conn{nc: nc, fd: -1, onFail: onFail}
	c.lastWrite.Store(time.Now().UnixNano())
	// The socket is used directly, without net's locks, while the conn is
	// not closed: close marks it closed, under mu, before closing nc, so
	// the number stays this socket's for as long as it is used.
	if sc, ok := nc.(syscall.Conn); ok && canWriteRaw {
		if raw, err := sc.SyscallConn(); err == nil {
			_ = raw.Control(func(fd uintptr) { c.fd = int(fd) })
		}
	}
	if c.fd < 0 {
		// Without the socket at hand, a goroutine reading the connection
		// is how a client that went away is noticed.
		go func() {
			n, _ := io.Copy(io.Discard, io.LimitReader(nc, maxClientBytes+1))
			c.sent.Store(n)
			onFail()
		}()
	}
	return c
}

// write queues b (which the caller may reuse once write returns) and
// reports false if the client is gone or too far behind.
func (c *conn) write(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return false
	case c.flushing:
		if len(c.pending)+len(b) > maxPending {
			return false
		}
		c.pending = append(c.pending, b...)
		return true
	}
	n := 0
	if c.fd >= 0 {
		var err error
		if n, err = tryWrite(c.fd, b); err != nil {
			return false
		}
		if n == len(b) {
			c.lastWrite.Store(time.Now().UnixNano())
			return true
		}
	}
	c.pending = append(c.pending[:0:0], b[n:]...)
	c.flushing = true
	go c.flush()
	return true
}

// flush writes pending out, waiting for the client, until nothing is left.
func (c *conn) flush() {
	for {
		c.mu.Lock()
		p := c.pending
		c.pending = nil
		if len(p) == 0 || c.closed {
			c.flushing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(WriteTimeout))
		_, err := c.nc.Write(p)
		// Writes without waiting fail once a deadline has passed: lift it.
		_ = c.nc.SetWriteDeadline(time.Time{})
		if err != nil {
			c.onFail()
			return
		}
		c.lastWrite.Store(time.Now().UnixNano())
	}
}

// alive reports whether the client is still there as far as can be told
// without waiting: it has not closed or reset the connection, nor sent
// more than a stream's client should.
func (c *conn) alive() bool {
	if c.fd < 0 {
		return c.sent.Load() <= maxClientBytes // the reader goroutine notices the rest
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	n, ok := peek(c.fd)
	c.mu.Unlock()
	if !ok {
		return false
	}
	return c.sent.Add(int64(n)) <= maxClientBytes
}

func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	c.pending = nil
	c.mu.Unlock()
	_ = c.nc.Close()
}
