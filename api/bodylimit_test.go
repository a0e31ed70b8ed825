package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// rawRequest plays a client that does not wait for 100 Continue (Python's
// requests, many mobile stacks): it writes the whole request, headers and
// body, before it reads anything, then reads the answer. A server that
// stops reading and closes resets the connection under the unread bytes,
// and the client sees that reset instead of the answer.
func rawRequest(t *testing.T, base, head string, body []byte) (*http.Response, []byte) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Only so that a broken server fails the test instead of hanging it.
	if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(append([]byte(head), body...)); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer's body: %v", err)
	}
	return resp, b
}

// chunked encodes b in 64 KiB chunks.
func chunked(b []byte) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		n := min(len(b), 64<<10)
		fmt.Fprintf(&out, "%x\r\n", n)
		out.Write(b[:n])
		out.WriteString("\r\n")
		b = b[n:]
	}
	out.WriteString("0\r\n\r\n")
	return out.Bytes()
}

// A body over the limit, sent whole without waiting, gets the 413 and its
// JSON error, not a connection reset; so does a body the route refuses
// before reading it.
func TestBodyLimitAnsweredToEagerClients(t *testing.T) {
	t.Parallel()
	// The limit works above the store: one engine is enough.
	const limit = 1 << 20
	s := testkit.NewServer(t, "sqlite").Restart(func(c *config.Config) { c.MaxBodyBytes = limit })
	s.Super("POST", "/api/collections", map[string]any{"name": "notes", "createRule": "",
		"fields": []map[string]any{{"name": "text", "type": "text"}}}, 200, nil)

	// Over the limit by more than the socket buffers on both ends hold, so
	// the client cannot finish writing unless the server reads on.
	over := []byte(`{"text":"` + strings.Repeat("x", limit+5<<20) + `"}`)
	post := "POST /api/collections/notes/records HTTP/1.1\r\nHost: tortoise\r\nContent-Type: application/json\r\n"
	tests := []struct {
		name   string
		head   string
		body   []byte
		status int
	}{
		{"content-length", post + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(over)), over, 413},
		{"chunked", post + "Transfer-Encoding: chunked\r\n\r\n", chunked(over), 413},
		{"refused unread", "POST /api/collections HTTP/1.1\r\nHost: tortoise\r\nContent-Type: application/json\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n", len(over)), over, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, b := rawRequest(t, s.URL, tt.head, tt.body)
			var e errBody
			if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != tt.status || e.Status != tt.status || e.Message == "" {
				t.Fatalf("answer %d %s (%v), want a %d with a JSON error", resp.StatusCode, b, err, tt.status)
			}
		})
	}

	// Nothing of the refused bodies was stored, and the server still serves.
	var l list
	s.Super("GET", "/api/collections/notes/records", nil, 200, &l)
	if l.TotalItems != 0 {
		t.Errorf("refused bodies stored %d records", l.TotalItems)
	}
}

// A client that waits for 100 Continue is answered without being asked
// for a body the server will not read: one over the limit, or one its
// route refuses first; and one the server wants is asked for and read.
func TestBodyLimitExpectContinue(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	s := testkit.NewServer(t, "sqlite").Restart(func(c *config.Config) { c.MaxBodyBytes = limit })
	s.Super("POST", "/api/collections", map[string]any{"name": "notes", "createRule": "",
		"fields": []map[string]any{{"name": "text", "type": "text"}}}, 200, nil)
	head := func(path string, length int) string {
		return "POST " + path + " HTTP/1.1\r\nHost: tortoise\r\nContent-Type: application/json\r\n" +
			fmt.Sprintf("Expect: 100-continue\r\nContent-Length: %d\r\n\r\n", length)
	}
	for name, tt := range map[string]struct {
		head   string
		status int
	}{
		"over the limit":   {head("/api/collections/notes/records", limit+1), 413},
		"refused by route": {head("/api/collections", 100), 401},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, b := rawRequest(t, s.URL, tt.head, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("answer %d %s, want %d before any body", resp.StatusCode, b, tt.status)
			}
		})
	}

	// The client sends its body once asked for it.
	body := []byte(`{"text":"hello"}`)
	u, _ := url.Parse(s.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := conn.Write([]byte(head("/api/collections/notes/records", len(body)))); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("interim answer %v %v, want 100 Continue", resp, err)
	}
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	if resp, err = http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("answer %v %v, want 200", resp, err)
	}
}
