package tortoise_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/config"
)

// serve boots an app on a free port with cfg (over a fresh SQLite folder)
// the way tortoise serve does, and returns its address.
func serve(t *testing.T, cfg config.Config) string {
	t.Helper()
	cfg.HTTP, cfg.Dir, cfg.LogLevel = "127.0.0.1:0", t.TempDir(), "warn"
	ctx := context.Background()
	app, err := tortoise.New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := app.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return app.Addr()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// health sends GET /api/health on c, keeping it alive, and reads the answer.
func health(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("health: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health: status %d", resp.StatusCode)
	}
}

// closedWithin reports whether the server closes c (the read ends, with
// anything but a timeout) within d, reading whatever it sends first.
func closedWithin(c net.Conn, r io.Reader, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// Issue 6, finding 10: a body trickled in one byte at a time is cut off at
// the read timeout instead of holding a connection and a goroutine forever.
func TestIssue6SlowBodyIsCut(t *testing.T) {
	t.Parallel()
	addr := serve(t, config.Config{ReadTimeout: 500 * time.Millisecond, WriteTimeout: time.Second})
	c := dial(t, addr)
	head := "POST /api/realtime HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	start := time.Now()
	if !closedWithin(c, c, 5*time.Second) {
		t.Fatal("a slow body still holds its connection after 5s (read timeout 500ms)")
	}
	t.Logf("cut after %v", time.Since(start).Round(time.Millisecond))
}

// Issue 6, finding 10: connections that send nothing are closed, both fresh
// ones (the header timeout) and kept-alive ones (the idle timeout).
func TestIssue6IdleConnectionIsClosed(t *testing.T) {
	t.Parallel()
	addr := serve(t, config.Config{ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	fresh := dial(t, addr)
	if !closedWithin(fresh, fresh, 5*time.Second) {
		t.Error("a connection that never sends a request is still open after 5s (header timeout 300ms)")
	}
	kept := dial(t, addr)
	br := bufio.NewReader(kept)
	health(t, kept, br)
	if !closedWithin(kept, br, 5*time.Second) {
		t.Error("an idle keep-alive connection is still open after 5s (idle timeout 300ms)")
	}
}

// Issue 6, finding 10: one address may hold MaxConnsPerIP connections; the
// next is closed unanswered, and a slot freed is usable again.
func TestIssue6ConnsPerIPAreCapped(t *testing.T) {
	t.Parallel()
	const max = 3
	addr := serve(t, config.Config{MaxConnsPerIP: max})
	var open []net.Conn
	for range max {
		c := dial(t, addr)
		health(t, c, bufio.NewReader(c))
		open = append(open, c)
	}
	extra := dial(t, addr)
	io.WriteString(extra, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(extra); len(b) > 0 || err != nil && !isReset(err) {
		t.Fatalf("connection %d from one address: read %q, %v; want it closed unanswered", max+1, b, err)
	}
	open[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err == nil && resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a freed slot is not given back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// Issue 6, finding 10: a realtime stream outlives the server's read and
// write timeouts: messages sent long after both still arrive.
func TestIssue6RealtimeOutlivesTimeouts(t *testing.T) {
	t.Parallel()
	addr := serve(t, config.Config{ReadTimeout: 300 * time.Millisecond, WriteTimeout: 400 * time.Millisecond})
	base := "http://" + addr
	resp, err := http.Get(base + "/api/realtime")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan map[string]string, 4)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		ev := map[string]string{}
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				events <- ev
				ev = map[string]string{}
				continue
			}
			k, v, _ := strings.Cut(line, ":")
			ev[k] = v
		}
	}()
	next := func() map[string]string {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the realtime stream ended")
			}
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no realtime event within 5s")
			return nil
		}
	}
	hello := next()
	var connect struct{ ClientID string }
	if err := json.Unmarshal([]byte(hello["data"]), &connect); err != nil || hello["event"] != "PB_CONNECT" {
		t.Fatalf("first event %v", hello)
	}
	sub, err := http.Post(base+"/api/realtime", "application/json",
		strings.NewReader(fmt.Sprintf(`{"clientId":%q,"subscriptions":["@oauth2"]}`, connect.ClientID)))
	if err != nil || sub.StatusCode != 204 {
		t.Fatalf("subscribe: %v %v", sub, err)
	}
	sub.Body.Close()
	for i := range 2 {
		time.Sleep(time.Second) // past both timeouts
		code := fmt.Sprint("code-", i)
		r, err := http.Get(base + "/api/oauth2-redirect?state=" + connect.ClientID + "&code=" + code)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Fatalf("redirect %d: status %d (the stream is gone)", i, r.StatusCode)
		}
		if ev := next(); ev["event"] != "@oauth2" || !strings.Contains(ev["data"], code) {
			t.Fatalf("event %d: %v", i, ev)
		}
	}
}
