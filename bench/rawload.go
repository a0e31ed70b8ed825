package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"
)

// The raw client (-client raw) speaks HTTP/1.1 on one keep-alive
// connection per worker, writing each request from bytes prepared once and
// reading the answer with a bufio.Reader, without net/http's transport:
// no goroutines per connection, no channels between them, no header maps.
// On a machine where the load generator shares the cores with the server,
// net/http's client costs about as much CPU per request as a cached answer
// does the server, which squeezes every ratio between two servers toward 1;
// the raw client costs a fraction of that. It understands what Go's server
// and Tortoise send: Content-Length or chunked bodies, and Connection:
// close.

// rawConn is one worker's connection.
type rawConn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	buf  []byte // the request being written
}

func (rc *rawConn) close() {
	if rc.c != nil {
		rc.c.Close()
		rc.c = nil
	}
}

// roundTrip sends one request and reads its answer, returning the status
// and, for a status outside 2xx, up to 256 bytes of the body.
func (rc *rawConn) roundTrip(ctx context.Context, req []byte) (status int, errBody []byte, err error) {
	if rc.c == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, "tcp", rc.addr)
		if err != nil {
			return 0, nil, err
		}
		rc.c = c
		if rc.r == nil {
			rc.r = bufio.NewReaderSize(c, 64<<10)
		} else {
			rc.r.Reset(c)
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = rc.c.SetDeadline(dl)
	}
	if _, err := rc.c.Write(req); err != nil {
		rc.close()
		return 0, nil, err
	}
	status, errBody, keep, err := readResponse(rc.r)
	if err != nil || !keep {
		rc.close()
	}
	return status, errBody, err
}

var errBadResponse = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.1 response from r. keep reports whether
// the connection may carry another request.
func readResponse(r *bufio.Reader) (status int, errBody []byte, keep bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	length, chunked, keep := -1, false, true
	for {
		h, err := r.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, nil, false, fmt.Errorf("%w: header %q", errBadResponse, h)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, nil, false, fmt.Errorf("%w: Content-Length %q", errBadResponse, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
	var body bodySink
	body.keep = status < 200 || status > 299
	switch {
	case status == http.StatusNoContent || status == http.StatusNotModified:
	case chunked:
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return 0, nil, false, err
			}
			hex, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
			n, err := strconv.ParseInt(string(hex), 16, 64)
			if err != nil || n < 0 {
				return 0, nil, false, fmt.Errorf("%w: chunk size %q", errBadResponse, line)
			}
			if n == 0 { // trailers, then the blank line
				for {
					t, err := r.ReadSlice('\n')
					if err != nil {
						return 0, nil, false, err
					}
					if len(bytes.TrimRight(t, "\r\n")) == 0 {
						break
					}
				}
				break
			}
			if err := body.read(r, int(n)+2); err != nil { // the chunk and its CRLF
				return 0, nil, false, err
			}
		}
	case length >= 0:
		if err := body.read(r, length); err != nil {
			return 0, nil, false, err
		}
	default: // the body runs to the end of the connection
		if _, err := io.Copy(io.Discard, r); err != nil {
			return 0, nil, false, err
		}
		keep = false
	}
	return status, body.b, keep, nil
}

// bodySink discards a body, keeping its first 256 bytes when keep is set.
type bodySink struct {
	keep bool
	b    []byte
}

func (s *bodySink) read(r *bufio.Reader, n int) error {
	for n > 0 {
		p, err := r.Peek(min(n, r.Size()))
		if len(p) == 0 && err != nil {
			return err
		}
		if s.keep && len(s.b) < 256 {
			s.b = append(s.b, p[:min(len(p), 256-len(s.b))]...)
		}
		d, _ := r.Discard(len(p))
		n -= d
	}
	return nil
}

// rawRequest appends one request to dst: the method and target, the Host,
// the headers of hdr (fixed per run) and the body.
func rawRequest(dst []byte, host, method, path, query string, hdr []byte, body []byte) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, path...)
	if query != "" {
		dst = append(dst, '?')
		dst = append(dst, query...)
	}
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	dst = append(dst, hdr...)
	if body != nil {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// headerBytes renders h as header lines (http.Header.Write sorts them).
func headerBytes(h http.Header) []byte {
	var b bytes.Buffer
	_ = h.Write(&b) // a bytes.Buffer does not fail
	return b.Bytes()
}

// rawWork is work for the raw client.
func (l *load) rawWork(ctx context.Context, rng *rand.Rand, measureFrom, end time.Time, w *workerStats) {
	rc := &rawConn{addr: l.base.Host}
	defer rc.close()
	hdr, bodyHdr := headerBytes(l.header), headerBytes(l.bodyHdr)
	l.drive(ctx, rng, measureFrom, end, w, func(ctx context.Context, method, path, query string, body []byte) (int, []byte, error) {
		h := hdr
		if body != nil {
			h = bodyHdr
		}
		rc.buf = rawRequest(rc.buf[:0], l.base.Host, method, path, query, h, body)
		return rc.roundTrip(ctx, rc.buf)
	})
}
