package api

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
)

// Bounds on reading the rest of a body the server has already refused
// (see cappedBody.drain): at most drainBytes more, for at most drainTime.
const (
	drainBytes = 8 << 20
	drainTime  = 2 * time.Second
)

// cappedBody is a request body under the size limit, which remembers how
// far it was read so that the server can tell, once the handler has
// answered, whether the client may still be sending.
type cappedBody struct {
	raw     io.ReadCloser // the body as the server received it
	limited io.ReadCloser // raw under http.MaxBytesReader
	read    int64         // bytes the handler got
	done    bool          // the body ended or broke: nothing to drain
}

// capBody puts the body of r under the size limit. A client that waits for
// 100 Continue and announces a body over the limit is answered 413 at once,
// before it sends anything (refused is then true). A body of known length
// within the limit that comes after 100 Continue is left as it is: it
// cannot outgrow its length, and the server's own handling of such
// requests (closing rather than reading a body the handler left) relies on
// its type. Otherwise the returned body, which r now reads, must be
// drained once the handler has answered.
func (s *Server) capBody(w http.ResponseWriter, r *http.Request) (body *cappedBody, refused bool) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, false
	}
	expects := strings.EqualFold(r.Header.Get("Expect"), "100-continue")
	switch {
	case expects && r.ContentLength > s.opts.MaxBody:
		s.writeError(w, r, tooLarge(s.opts.MaxBody))
		return nil, true
	case expects && r.ContentLength > 0:
		return nil, false
	case expects:
		// Of unknown length: wrapped below, which hides the request's
		// waiting for 100 Continue from the server; should the handler
		// answer without reading, closing is the only way not to hang on
		// a body that is not coming.
		w.Header().Set("Connection", "close")
	}
	body = &cappedBody{raw: r.Body, limited: http.MaxBytesReader(w, r.Body, s.opts.MaxBody)}
	r.Body = body
	return body, false
}

func (b *cappedBody) Read(p []byte) (int, error) {
	n, err := b.limited.Read(p)
	b.read += int64(n)
	var mbe *http.MaxBytesError
	if err != nil && !errors.As(err, &mbe) {
		b.done = true
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.limited.Close() }

// drain reads and discards what is left of a body the handler did not
// read to its end: over the limit, or refused before reading. A client
// that sends its whole body before reading the answer (Python's requests,
// many mobile HTTP stacks) would otherwise have its connection reset under
// the unread bytes, and lose the answer with it. The answer is flushed
// first for clients that read while they send. The reading is bounded
// (drainBytes, drainTime); a body announcing more than that is not read
// at all, since the reset could not be avoided. HTTP/2 needs none of
// this: it refuses a stream, not the connection.
func (b *cappedBody) drain(w http.ResponseWriter, r *http.Request) {
	if b == nil || b.done || r.ProtoMajor != 1 {
		return
	}
	if r.ContentLength > 0 && r.ContentLength-b.read > drainBytes {
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	if rc.SetReadDeadline(time.Now().Add(drainTime)) != nil {
		return
	}
	_, _ = io.CopyN(io.Discard, b.raw, drainBytes)
	_ = rc.SetReadDeadline(time.Time{})
}

// tooLarge is the refusal of a body over limit bytes.
func tooLarge(limit int64) error {
	return core.Errorf(core.KindTooLarge, "The request body is too large (limit %d bytes).", limit)
}
