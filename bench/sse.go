package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// maxSSELine bounds one line of an event stream: a longer one ends the
// stream rather than growing a subscriber's memory without limit.
const maxSSELine = 1 << 20

// errLongLine is returned for a line longer than maxSSELine.
var errLongLine = errors.New("event stream line longer than 1 MiB")

// sseReader reads a stream of server-sent events and keeps of each only
// what the benchmark needs: its name (the "event" field) and its data.
// Thousands of them run at once, so it holds one small buffer and reuses
// its slices from one event to the next.
//
// Lines end with "\n", optionally preceded by "\r"; a lone "\r" as a line
// ending, which the specification also allows, is not recognised, as
// neither PocketBase nor Tortoise sends it.
type sseReader struct {
	r    *bufio.Reader
	f    sseFields
	long []byte // a line longer than r's buffer, put together
}

// newSSEReader reads events from r through a buffer of size bytes; a line
// longer than that still works, at the cost of a copy.
func newSSEReader(r io.Reader, size int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, size)}
}

// next returns the next event's name and data. Both are valid only until
// the next call. At the end of the stream it returns io.EOF.
func (s *sseReader) next() (event, data []byte, err error) {
	for {
		line, err := s.readLine()
		if err != nil {
			return nil, nil, err
		}
		if event, data, ok := s.f.line(line); ok {
			return event, data, nil
		}
	}
}

// buffered returns what the reader read from its source but did not
// return yet.
func (s *sseReader) buffered() []byte {
	b, _ := s.r.Peek(s.r.Buffered())
	return b
}

// sseFields puts events together from their lines (without line endings),
// as the specification says: an event without a data line is not an event
// (its fields are dropped at the blank line), comments (lines starting
// with ":") are ignored, one space after a field's colon is not part of
// its value, and a stream that ends in the middle of an event drops that
// event.
type sseFields struct {
	event, data []byte
	hasData     bool
	emitted     bool // event and data were returned: start afresh
}

// line takes the next line and returns an event when the line ends one.
// The event's slices are valid until the next call.
func (f *sseFields) line(line []byte) (event, data []byte, ok bool) {
	if f.emitted {
		f.event, f.data, f.hasData, f.emitted = f.event[:0], f.data[:0], false, false
	}
	if len(line) == 0 {
		if f.hasData {
			f.emitted = true
			return f.event, f.data, true
		}
		f.event = f.event[:0]
		return nil, nil, false
	}
	if line[0] == ':' {
		return nil, nil, false
	}
	field, value, _ := bytes.Cut(line, []byte(":"))
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	switch string(field) {
	case "event":
		f.event = append(f.event[:0], value...)
	case "data":
		if f.hasData {
			f.data = append(f.data, '\n')
		}
		f.data = append(f.data, value...)
		f.hasData = true
	}
	return nil, nil, false
}

// ssePush reads an event stream handed to it in pieces of any size, for
// streams read by a poller rather than by a goroutine of their own. It
// finds the same events as sseReader.
type ssePush struct {
	f       sseFields
	partial []byte // the start of a line not finished yet
}

// feed reads the next piece of the stream and calls emit with each event
// it completes (valid only during the call).
func (p *ssePush) feed(b []byte, emit func(event, data []byte)) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(p.partial)+len(b) > maxSSELine {
				return errLongLine
			}
			p.partial = append(p.partial, b...)
			return nil
		}
		line := b[:i]
		b = b[i+1:]
		if len(p.partial) > 0 {
			p.partial = append(p.partial, line...)
			line = p.partial
		}
		if len(line) > maxSSELine {
			return errLongLine
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if event, data, ok := p.f.line(line); ok {
			emit(event, data)
		}
		p.partial = p.partial[:0]
	}
	return nil
}

// errBadChunk is returned for a chunked body that is not.
var errBadChunk = errors.New("malformed chunked encoding")

// chunkDecoder undoes HTTP/1.1 chunked transfer coding for a body handed
// to it in pieces of any size (net/http's reader wants to pull). It is
// lenient where a benchmark can be: blank lines before a chunk size (the
// line end after each chunk's data) are skipped, trailers are ignored.
type chunkDecoder struct {
	size []byte // a chunk-size line not finished yet
	left int64  // data bytes left in the current chunk
	done bool   // the last chunk was read
}

// decode reads the next piece of the body and calls out with its payload,
// in order.
func (d *chunkDecoder) decode(b []byte, out func([]byte) error) error {
	for len(b) > 0 && !d.done {
		if d.left > 0 {
			n := int(min(int64(len(b)), d.left))
			d.left -= int64(n)
			if err := out(b[:n]); err != nil {
				return err
			}
			b = b[n:]
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(d.size)+len(b) > 1024 {
				return errBadChunk
			}
			d.size = append(d.size, b...)
			return nil
		}
		line := append(d.size, b[:i]...)
		d.size = line[:0]
		b = b[i+1:]
		line, _, _ = bytes.Cut(line, []byte(";"))
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		n, err := strconv.ParseInt(string(line), 16, 64)
		if err != nil || n < 0 {
			return errBadChunk
		}
		d.left, d.done = n, n == 0
	}
	return nil
}

// readLine returns the next line without its ending. It is valid until the
// next read.
func (s *sseReader) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s.long = append(s.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = s.r.ReadSlice('\n')
			s.long = append(s.long, line...)
			if len(s.long) > maxSSELine {
				return nil, errLongLine
			}
		}
		line = s.long
	}
	if err != nil {
		return nil, err // an unfinished last line belongs to no event
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// recordID finds the record's id in the data of a record event,
// {"action":"create","record":{...,"id":"ID",...}}, without decoding the
// JSON: thousands of subscribers share the client's cores with the server,
// so each event must cost them little. It takes the first "id" key after
// "record": right for the benchmark's flat records (text, bool and number
// fields, no expand), whose values cannot contain an unescaped quote.
func recordID(data []byte) ([]byte, bool) {
	i := bytes.Index(data, []byte(`"record":`))
	if i < 0 {
		return nil, false
	}
	rest := data[i:]
	key := []byte(`"id":`)
	j := bytes.Index(rest, key)
	if j < 0 {
		return nil, false
	}
	rest = bytes.TrimLeft(rest[j+len(key):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return nil, false
	}
	rest = rest[1:]
	k := bytes.IndexByte(rest, '"')
	if k <= 0 {
		return nil, false
	}
	return rest[:k], true
}
