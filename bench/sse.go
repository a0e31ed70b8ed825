package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
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
	r     *bufio.Reader
	event []byte // the current event's name
	data  []byte // its data lines, joined with "\n"
	long  []byte // a line longer than r's buffer, put together
}

// newSSEReader reads events from r through a buffer of size bytes; a line
// longer than that still works, at the cost of a copy.
func newSSEReader(r io.Reader, size int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, size)}
}

// next returns the next event's name and data. Both are valid only until
// the next call. As the specification says, an event without a data line
// is not an event (its fields are dropped at the blank line), comments
// (lines starting with ":") are ignored, one space after a field's colon
// is not part of its value, and a stream that ends in the middle of an
// event drops that event. At the end of the stream it returns io.EOF.
func (s *sseReader) next() (event, data []byte, err error) {
	s.event, s.data = s.event[:0], s.data[:0]
	hasData := false
	for {
		line, err := s.readLine()
		if err != nil {
			return nil, nil, err
		}
		if len(line) == 0 {
			if hasData {
				return s.event, s.data, nil
			}
			s.event = s.event[:0]
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "event":
			s.event = append(s.event[:0], value...)
		case "data":
			if hasData {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
			hasData = true
		}
	}
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
