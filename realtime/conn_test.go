package realtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// attached is the client end of a connection attached to a hub.
type attached struct {
	id     string
	client *Client
	conn   net.Conn
	r      *bufio.Reader
	head   string
}

// attach connects over loopback TCP, attaches the server end to h, and
// reads the response head and PB_CONNECT. before, if not nil, adjusts the
// server end first.
func attach(t *testing.T, h *Hub, before func(*net.TCPConn)) *attached {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	sc := <-accepted
	if sc == nil {
		t.Fatal("accept failed")
	}
	if before != nil {
		before(sc.(*net.TCPConn))
	}
	id := h.Attach(sc, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"), "")
	a := &attached{id: id, conn: cc, r: bufio.NewReader(cc)}
	h.mu.RLock()
	a.client = h.clients[id]
	h.mu.RUnlock()
	_ = cc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var head strings.Builder
	for {
		line, err := a.r.ReadString('\n')
		if err != nil {
			t.Fatalf("read head: %v", err)
		}
		if line == "\r\n" {
			break
		}
		head.WriteString(line)
	}
	a.head = head.String()
	ev, data, err := a.next()
	if err != nil || ev != "PB_CONNECT" || data != `{"clientId":"`+id+`"}` {
		t.Fatalf("first event %q %q %v", ev, data, err)
	}
	return a
}

// next reads one event.
func (a *attached) next() (event, data string, err error) {
	for {
		line, err := a.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			return event, data, nil
		case strings.HasPrefix(line, "event:"):
			event = line[len("event:"):]
		case strings.HasPrefix(line, "data:"):
			data = line[len("data:"):]
		}
	}
}

// gone waits until the hub no longer knows the client and its connection
// is closed (the client reads to its end).
func (a *attached) gone(t *testing.T, h *Hub) {
	t.Helper()
	_ = a.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, a.r); err != nil {
		t.Fatalf("the connection was not closed: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.RLock()
		_, known := h.clients[a.id]
		h.mu.RUnlock()
		if !known {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the hub still has the client")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func payload(i, size int) []byte {
	b := bytes.Repeat([]byte("x"), size)
	copy(b, fmt.Sprintf("%08d", i))
	return b
}

// An attached stream gets the response head, PB_CONNECT and then every
// message delivered to it, in order.
func TestAttachedStream(t *testing.T) {
	t.Parallel()
	h := NewHub()
	defer h.Close()
	a := attach(t, h, nil)
	if !strings.HasPrefix(a.head, "HTTP/1.1 200 OK\r\n") || !strings.Contains(a.head, "text/event-stream") {
		t.Fatalf("head %q", a.head)
	}
	for i := range 500 {
		h.Deliver([]Delivery{{Client: a.client, Msg: Message{Topic: "posts/*", Data: payload(i, 100)}}})
	}
	for i := range 500 {
		ev, data, err := a.next()
		if err != nil || ev != "posts/*" || data != string(payload(i, 100)) {
			t.Fatalf("message %d: %q %.12q %v", i, ev, data, err)
		}
	}
	// SendTo reaches an attached client through its writer, and only on
	// a topic it subscribed to.
	if h.SendTo(a.id, Message{Topic: "@oauth2", Data: []byte("{}")}) {
		t.Fatal("sent without a subscription")
	}
	if err := h.Subscribe(a.id, []string{"@oauth2"}, nil); err != nil {
		t.Fatal(err)
	}
	if !h.SendTo(a.id, Message{Topic: "@oauth2", Data: []byte(`{"code":"c"}`)}) {
		t.Fatal("not sent")
	}
	if ev, data, err := a.next(); err != nil || ev != "@oauth2" || data != `{"code":"c"}` {
		t.Fatalf("%q %q %v", ev, data, err)
	}
}

// When the socket cannot take a message at once, what is left waits and
// goes out in order once the client reads again.
func TestAttachedBackpressureKeepsOrder(t *testing.T) {
	t.Parallel()
	h := NewHub()
	defer h.Close()
	a := attach(t, h, func(c *net.TCPConn) { _ = c.SetWriteBuffer(4096) })
	_ = a.conn.(*net.TCPConn).SetReadBuffer(4096)
	const n, size = 150, 1024 // well past both socket buffers, under maxPending
	for i := range n {
		h.Deliver([]Delivery{{Client: a.client, Msg: Message{Topic: "t", Data: payload(i, size)}}})
	}
	// The socket buffers are far smaller than all that: some of it must
	// wait for the client, in the flusher's hands.
	deadline := time.Now().Add(5 * time.Second)
	for {
		a.client.conn.mu.Lock()
		waiting := a.client.conn.flushing
		a.client.conn.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing ever waited: the socket took it all")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range n {
		if _, data, err := a.next(); err != nil || data != string(payload(i, size)) {
			t.Fatalf("message %d: %.12q %v", i, data, err)
		}
	}
	if h.Count() != 1 {
		t.Fatal("a client that caught up was dropped")
	}
}

// A client that stops reading is dropped once too much waits for it;
// others keep getting their messages, and delivering never waits for it.
func TestAttachedSlowClientDropped(t *testing.T) {
	t.Parallel()
	h := NewHub()
	defer h.Close()
	slow := attach(t, h, nil)
	fast := attach(t, h, nil)
	const n, size = 400, 64 << 10 // 25 MiB: more than socket buffers and maxPending
	deadline := time.Now().Add(30 * time.Second)
	for i := range n {
		m := Message{Topic: "t", Data: payload(i, size)}
		h.Deliver([]Delivery{{Client: slow.client, Msg: m}, {Client: fast.client, Msg: m}})
		// The fast client reads each message as it comes: were the writer
		// waiting on the slow one, this would stall.
		_ = fast.conn.SetReadDeadline(deadline)
		if _, data, err := fast.next(); err != nil || data != string(payload(i, size)) {
			t.Fatalf("message %d: %.12q %v", i, data, err)
		}
	}
	slow.gone(t, h)
	if h.Count() != 1 {
		t.Errorf("%d clients, want the fast one", h.Count())
	}
}

// The sweeper closes streams whose client went away, that stayed idle,
// or whose client sends what a stream's client never should.
func TestSweeperClosesStreams(t *testing.T) {
	t.Parallel()
	h := newHub(20*time.Millisecond, time.Hour)
	defer h.Close()
	left := attach(t, h, nil)
	chatty := attach(t, h, nil)
	stays := attach(t, h, nil)
	left.conn.Close()
	if _, err := chatty.conn.Write(make([]byte, maxClientBytes+1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Count() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients left, want 1", h.Count())
		}
		time.Sleep(10 * time.Millisecond)
	}
	chatty.gone(t, h)
	h.Deliver([]Delivery{{Client: stays.client, Msg: Message{Topic: "t", Data: []byte("1")}}})
	if _, data, err := stays.next(); err != nil || data != "1" {
		t.Fatalf("%q %v", data, err)
	}

	idle := newHub(20*time.Millisecond, 100*time.Millisecond)
	defer idle.Close()
	a := attach(t, idle, nil)
	a.gone(t, idle)
}

// Closing the hub ends every attached stream.
func TestCloseEndsAttachedStreams(t *testing.T) {
	t.Parallel()
	h := NewHub()
	a := attach(t, h, nil)
	b := attach(t, h, nil)
	h.Close()
	a.gone(t, h)
	b.gone(t, h)
	// Nothing is written after the close.
	h.Deliver([]Delivery{{Client: a.client, Msg: Message{Topic: "t"}}})
	if _, err := a.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("read after close: %v", err)
	}
}
