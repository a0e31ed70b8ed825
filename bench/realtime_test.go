package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseRealtimeFlags(t *testing.T) {
	t.Parallel()
	base := []string{"-email", "a@b.c", "-password", "pw"}
	cfg, err := parseFlags(base, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Realtime != nil || cfg.RtEvents != 30 || cfg.RtRate != 10 {
		t.Errorf("defaults: realtime %v, rt-events %d, rt-rate %v; want none, 30, 10", cfg.Realtime, cfg.RtEvents, cfg.RtRate)
	}
	cfg, err = parseFlags(append(base, "-realtime", "1000, 5000,10000", "-rt-events", "10", "-rt-rate", "2.5"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Realtime, []int{1000, 5000, 10000}) || cfg.RtEvents != 10 || cfg.RtRate != 2.5 {
		t.Errorf("-realtime 1000,5000,10000 -rt-events 10 -rt-rate 2.5: %v, %d, %v", cfg.Realtime, cfg.RtEvents, cfg.RtRate)
	}
	bad := map[string][]string{
		"not a number":      {"-realtime", "1000,x"},
		"zero subscribers":  {"-realtime", "0"},
		"too many":          {"-realtime", "50001"},
		"empty entry":       {"-realtime", "10,"},
		"no events":         {"-realtime", "10", "-rt-events", "0"},
		"zero rate":         {"-realtime", "10", "-rt-rate", "0"},
		"negative rate":     {"-realtime", "10", "-rt-rate", "-1"},
		"rate not a number": {"-realtime", "10", "-rt-rate", "NaN"},
	}
	for name, args := range bad {
		if _, err := parseFlags(append(base, args...), io.Discard); err == nil {
			t.Errorf("%s: parseFlags(%q): want an error", name, args)
		}
	}
}

// sseEvent is one event as a test expects it.
type sseEvent struct{ name, data string }

// readEvents reads every event of stream through a buffer of size bytes.
func readEvents(stream string, size int) ([]sseEvent, error) {
	r := newSSEReader(strings.NewReader(stream), size)
	var out []sseEvent
	for {
		name, data, err := r.next()
		if err != nil {
			return out, err
		}
		out = append(out, sseEvent{string(name), string(data)})
	}
}

// sseCases are event streams and the events in them.
var sseCases = []struct {
	name   string
	stream string
	want   []sseEvent
}{
	{"pocketbase frames",
		"id:abc\nevent:PB_CONNECT\ndata:{\"clientId\":\"abc\"}\n\nid:abc\nevent:posts/*\ndata:{\"action\":\"create\"}\n\n",
		[]sseEvent{{"PB_CONNECT", `{"clientId":"abc"}`}, {"posts/*", `{"action":"create"}`}}},
	{"one space after the colon is dropped", "event: a\ndata:  b\n\n", []sseEvent{{"a", " b"}}},
	{"crlf", "event:a\r\ndata:b\r\n\r\n", []sseEvent{{"a", "b"}}},
	{"data lines joined", "data:one\ndata:two\n\n", []sseEvent{{"", "one\ntwo"}}},
	{"empty data is an event", "event:ping\ndata:\n\n", []sseEvent{{"ping", ""}}},
	{"no data is no event", "event:skipped\n\nevent:kept\ndata:x\n\n", []sseEvent{{"kept", "x"}}},
	{"name does not leak into the next event", "event:a\ndata:1\n\ndata:2\n\n", []sseEvent{{"a", "1"}, {"", "2"}}},
	{"comments and unknown fields", ": hello\nretry:100\nevent:a\nfoo\ndata:b\n\n", []sseEvent{{"a", "b"}}},
	{"blank lines between events", "\n\n\ndata:a\n\n\n\ndata:b\n\n", []sseEvent{{"", "a"}, {"", "b"}}},
	{"line longer than the buffer", "event:big\ndata:" + long + "\n\ndata:after\n\n", []sseEvent{{"big", long}, {"", "after"}}},
	{"unfinished event dropped", "data:a\n\nevent:b\ndata:c\n", []sseEvent{{"", "a"}}},
	{"unfinished line dropped", "data:a\n\ndata:c", []sseEvent{{"", "a"}}},
	{"empty stream", "", nil},
}

// long is a line longer than the readers' small buffers.
var long = strings.Repeat("x", 5000)

func TestSSEReader(t *testing.T) {
	t.Parallel()
	tests := sseCases
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, size := range []int{16, 1024} {
				got, err := readEvents(tt.stream, size)
				if !errors.Is(err, io.EOF) {
					t.Errorf("buffer %d: ends with %v, want io.EOF", size, err)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("buffer %d: got %q, want %q", size, got, tt.want)
				}
			}
		})
	}
}

// pushEvents feeds stream to an ssePush in pieces of the given sizes, in
// turn, and returns the events it finds.
func pushEvents(stream []byte, sizes ...int) ([]sseEvent, error) {
	var p ssePush
	var out []sseEvent
	emit := func(event, data []byte) { out = append(out, sseEvent{string(event), string(data)}) }
	for i := 0; len(stream) > 0; i++ {
		n := min(max(sizes[i%len(sizes)], 1), len(stream))
		if err := p.feed(stream[:n], emit); err != nil {
			return out, err
		}
		stream = stream[n:]
	}
	return out, nil
}

// The poller's parser, fed a stream in pieces of any size, finds what the
// reader finds.
func TestSSEPush(t *testing.T) {
	t.Parallel()
	for _, tt := range sseCases {
		for _, sizes := range [][]int{{1}, {3, 7}, {1 << 20}} {
			got, err := pushEvents([]byte(tt.stream), sizes...)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("%s, pieces of %v: got %q (%v), want %q", tt.name, sizes, got, err, tt.want)
			}
		}
	}
	if _, err := pushEvents([]byte("data:"+strings.Repeat("x", maxSSELine+100)+"\n\n"), 4096); !errors.Is(err, errLongLine) {
		t.Errorf("a line over %d bytes: err = %v, want errLongLine", maxSSELine, err)
	}
}

// chunked encodes payload in HTTP/1.1 chunked coding, the given sizes of
// chunks in turn.
func chunked(payload []byte, sizes ...int) []byte {
	var b bytes.Buffer
	w := httputil.NewChunkedWriter(&b)
	for i := 0; len(payload) > 0; i++ {
		n := min(max(sizes[i%len(sizes)], 1), len(payload))
		_, _ = w.Write(payload[:n])
		payload = payload[n:]
	}
	_ = w.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}

// decodeChunks feeds body to a chunkDecoder in pieces of the given size.
func decodeChunks(body []byte, size int) ([]byte, bool, error) {
	var d chunkDecoder
	var out []byte
	for len(body) > 0 {
		n := min(size, len(body))
		if err := d.decode(body[:n], func(p []byte) error { out = append(out, p...); return nil }); err != nil {
			return out, d.done, err
		}
		body = body[n:]
	}
	return out, d.done, nil
}

func TestChunkDecoder(t *testing.T) {
	t.Parallel()
	payload := []byte("id:a\nevent:posts/*\ndata:{\"action\":\"create\"}\n\n" + long)
	for _, chunks := range [][]int{{1}, {5, 300}, {1 << 20}} {
		body := chunked(payload, chunks...)
		for _, size := range []int{1, 2, 7, len(body)} {
			got, done, err := decodeChunks(body, size)
			if err != nil || !done || !bytes.Equal(got, payload) {
				t.Errorf("chunks %v read %d at a time: %d bytes, done %t, %v; want the %d of the payload", chunks, size, len(got), done, err, len(payload))
			}
		}
	}
	for _, bad := range []string{"zz\r\nabc\r\n", "-1\r\n", strings.Repeat("1", 2000)} {
		if _, _, err := decodeChunks([]byte(bad), 3); !errors.Is(err, errBadChunk) {
			t.Errorf("%.20q: err = %v, want errBadChunk", bad, err)
		}
	}
	// Chunk extensions are ignored; what follows the last chunk is not
	// payload.
	got, done, err := decodeChunks([]byte("3;ext=1\r\nabc\r\n0\r\n\r\nxyz"), 4)
	if err != nil || !done || string(got) != "abc" {
		t.Errorf("got %q, done %t, %v", got, done, err)
	}
}

// FuzzChunkDecoder checks the decoder against net/http's chunked writer
// for any payload and any way of cutting it.
func FuzzChunkDecoder(f *testing.F) {
	f.Add([]byte("data:x\n\n"), 3, 2)
	f.Fuzz(func(t *testing.T, payload []byte, chunk, read int) {
		chunk, read = max(chunk%64, 1), max(read%64, 1)
		got, done, err := decodeChunks(chunked(payload, chunk), read)
		if err != nil || !done || !bytes.Equal(got, payload) {
			t.Fatalf("got %q, done %t, %v; want %q", got, done, err, payload)
		}
	})
}

// FuzzSSEPush checks that the poller's parser finds what the reader finds,
// however the stream is cut.
func FuzzSSEPush(f *testing.F) {
	f.Add("id:abc\nevent:PB_CONNECT\ndata:{\"clientId\":\"abc\"}\n\n", 3)
	f.Fuzz(func(t *testing.T, stream string, size int) {
		want, _ := readEvents(stream, 4096)
		got, err := pushEvents([]byte(stream), size%97)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("push read %q (%v), reader %q", got, err, want)
		}
	})
}

func TestSSEReaderLineLimit(t *testing.T) {
	t.Parallel()
	stream := "data:" + strings.Repeat("x", maxSSELine+100) + "\n\n"
	if _, err := readEvents(stream, 1024); !errors.Is(err, errLongLine) {
		t.Errorf("a line over %d bytes: err = %v, want errLongLine", maxSSELine, err)
	}
}

// FuzzSSEReader checks that the reader never panics and that events do not
// depend on the buffer size.
func FuzzSSEReader(f *testing.F) {
	f.Add("id:abc\nevent:PB_CONNECT\ndata:{\"clientId\":\"abc\"}\n\n")
	f.Add("event: a\r\ndata:b\r\ndata:c\r\n\r\n: comment\n\ndata\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		small, errSmall := readEvents(stream, 16)
		big, errBig := readEvents(stream, 4096)
		if !errors.Is(errSmall, io.EOF) || !errors.Is(errBig, io.EOF) {
			t.Fatalf("errors %v and %v, want io.EOF", errSmall, errBig)
		}
		if !slices.Equal(small, big) {
			t.Fatalf("buffer 16 read %q, buffer 4096 read %q", small, big)
		}
	})
}

func TestRecordID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data string
		want       string // "" for none
	}{
		{"tortoise", `{"action":"create","record":{"collectionId":"pbc_1","collectionName":"bench_rt","id":"r1x2","n":3}}`, "r1x2"},
		{"id before other fields", `{"action":"create","record":{"id":"abc","collectionId":"x"}}`, "abc"},
		{"spaces", `{"action": "create", "record": {"collectionId": "c", "id": "abc"}}`, "abc"},
		{"escaped quotes in a title are not a key", `{"record":{"title":"a \"id\":\"evil\"","id":"good"}}`, "good"},
		{"collectionId is not id", `{"record":{"collectionId":"c"}}`, ""},
		{"no record", `{"clientId":"abc","id":"x"}`, ""},
		{"id not a string", `{"record":{"id":12}}`, ""},
		{"empty id", `{"record":{"id":""}}`, ""},
		{"unterminated", `{"record":{"id":"abc`, ""},
	}
	for _, tt := range tests {
		id, ok := recordID([]byte(tt.data))
		if ok != (tt.want != "") || string(id) != tt.want {
			t.Errorf("%s: recordID = %q, %v; want %q", tt.name, id, ok, tt.want)
		}
	}
}

func FuzzRecordID(f *testing.F) {
	f.Add(`{"action":"create","record":{"collectionId":"c","id":"abc"}}`)
	f.Fuzz(func(t *testing.T, data string) {
		id, ok := recordID([]byte(data))
		if ok && (len(id) == 0 || strings.ContainsRune(string(id), '"') || !strings.Contains(data, string(id))) {
			t.Fatalf("recordID(%q) = %q", data, id)
		}
	})
}

// TestTally checks the counting: every kind of delivery, and latency from
// the start of each create.
func TestTally(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	events := []rtEvent{
		{started: true, public: true, sent: 100 * ms, took: 5 * ms, id: "p0"},
		{started: true, public: false, sent: 200 * ms, took: 5 * ms, id: "q1"},
		{started: true, public: true, sent: 300 * ms, took: 7 * ms, id: "p2"},
		{started: true, public: false, err: errors.New("boom")},
		{started: true, public: true, sent: 500 * ms, err: errors.New("bang")},
		{}, // never started: interrupted
	}
	subs := []*subscriber{
		{subscribed: true, got: []delivery{{"p0", 110 * ms}, {"p2", 320 * ms}}},
		{subscribed: true, got: []delivery{{"p0", 130 * ms}, {"q1", 210 * ms}, {"p0", 140 * ms}, {"zz", 400 * ms}, {"", 401 * ms}}},
		{subscribed: true, ended: errors.New("the server ended the stream")},
		{subscribed: false}, // failed to connect: expects nothing
	}
	var res rtResult
	tally(&res, events, subs)
	want := rtResult{
		Connected: 3, Public: 2, Private: 1, WriteFailed: 2, WriteErr: "boom",
		Expected: 6, Delivered: 3, Lost: 3, PrivateDelivered: 1, Duplicates: 1, Unknown: 2,
		EndedEarly: 1, EndedErr: "the server ended the stream",
	}
	got := res
	got.Latency, got.Creates = histogram{}, histogram{}
	if got != want {
		t.Errorf("tally:\n got %+v\nwant %+v", got, want)
	}
	if res.Latency.total != 3 || res.Latency.min != int64(10*ms) || res.Latency.max != int64(30*ms) {
		t.Errorf("latency: %d values, min %v, max %v; want 3, 10ms, 30ms",
			res.Latency.total, time.Duration(res.Latency.min), time.Duration(res.Latency.max))
	}
	if res.Creates.total != 3 || res.Creates.max != int64(7*ms) {
		t.Errorf("creates: %d values, max %v; want 3, 7ms", res.Creates.total, time.Duration(res.Creates.max))
	}
}

func TestRealtimeReport(t *testing.T) {
	t.Parallel()
	clean := &rtResult{
		Subscribers: 1000, Connected: 1000, Public: 15, Private: 15, Expected: 15000, Delivered: 15000,
		MemSubscribed: &memInfo{RSS: 120e6, Peak: 125e6}, MemEnd: &memInfo{RSS: 130e6, Peak: 140e6},
	}
	for range 15000 {
		clean.Latency.record(20 * time.Millisecond)
	}
	broken := &rtResult{
		Subscribers: 5000, Connected: 4744, ConnectFailed: 256, ConnectErr: "GET /api/realtime: EOF",
		Public: 15, Private: 15, Expected: 4744 * 15, Delivered: 4744*15 - 7, Lost: 7, PrivateDelivered: 2,
	}
	results := []*rtResult{clean, broken}

	var sb strings.Builder
	writeRealtimeTable(&sb, results)
	lines := strings.Split(strings.TrimRight(sb.String(), "\n"), "\n")
	if len(lines) != 2+len(results) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), 2+len(results), sb.String())
	}
	for i, w := range [][]string{
		{"1000", "15/30", "15000", "20ms", "120.0 MB", "140.0 MB"},
		{"5000", "4744", "71160", "71153", " 7 ", " 2 ", "-"},
	} {
		for _, cell := range w {
			if !strings.Contains(lines[2+i], cell) {
				t.Errorf("line %q lacks %q", lines[2+i], cell)
			}
		}
	}

	sb.Reset()
	writeRealtimeNotes(&sb, results)
	notes := sb.String()
	for _, want := range []string{"p99 <= 100ms", "5000 subscribers: 256 of 5000 subscribers failed to connect; first: GET /api/realtime: EOF",
		"7 of 71160 deliveries lost", "2 deliveries of private records", "TORTOISE_MAX_CONNS_PER_IP=-1"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "1000 subscribers:") {
		t.Errorf("notes report a problem for the clean count:\n%s", notes)
	}

	if err := checkRealtime(results[:1]); err != nil {
		t.Errorf("clean result: %v", err)
	}
	err := checkRealtime(results)
	if err == nil || !strings.Contains(err.Error(), "TORTOISE_MAX_CONNS_PER_IP") || !strings.Contains(err.Error(), "lost") {
		t.Errorf("broken result: err = %v, want the losses and the connection hint", err)
	}
	for name, r := range map[string]*rtResult{
		"nothing connected": {Subscribers: 10},
		"duplicates":        {Subscribers: 10, Connected: 10, Duplicates: 1},
		"unknown":           {Subscribers: 10, Connected: 10, Unknown: 1},
		"write failed":      {Subscribers: 10, Connected: 10, WriteFailed: 1, WriteErr: "x"},
		"ended early":       {Subscribers: 10, Connected: 10, EndedEarly: 1, EndedErr: "x"},
	} {
		if err := checkRealtime([]*rtResult{r}); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if err := checkRealtime(nil); err == nil {
		t.Error("nothing measured: want an error")
	}

	entries := jsonRealtimeEntries(results)
	if e := entries[0]; e.Subscribers != 1000 || e.Delivered != 15000 || e.P99Micros < 19800 || e.P99Micros > 20200 ||
		e.MemSubscribed == nil || e.MemEnd.Peak != 140e6 {
		t.Errorf("json of the clean count: %+v", e)
	}
	if e := entries[1]; e.ConnectFailed != 256 || e.Lost != 7 || e.PrivateDelivered != 2 || e.MemSubscribed != nil {
		t.Errorf("json of the broken count: %+v", e)
	}
	if _, err := json.Marshal(&jsonRealtimeReport{Mode: "realtime", Results: entries}); err != nil {
		t.Errorf("json report does not marshal: %v", err)
	}
}

// fakeRealtime speaks just enough of PocketBase's realtime protocol for
// TestRealtimeMeasure: the collection calls, GET and POST /api/realtime,
// and record creates that it sends to subscribed clients, with knobs to
// misbehave.
type fakeRealtime struct {
	t          *testing.T
	maxStreams int // close streams beyond this many, as a per-address cap does
	skip       int // the first this many clients miss every public record
	leak       int // the first this many clients get every private record
	// closeDelimited serves streams as Tortoise does: the connection is
	// taken over and the body, not chunked, ends with it.
	closeDelimited bool
	done           chan struct{} // closed at the end of the test

	mu         sync.Mutex
	collection map[string]any // the bench_rt definition, nil if absent
	streams    int
	clients    []*fakeClient
}

type fakeClient struct {
	id         string
	subscribed bool
	ch         chan string
}

func (f *fakeRealtime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const coll = "/api/collections/" + rtCollection
	superuser := r.Header.Get("Authorization") == "su"
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == coll && superuser:
		if f.collection == nil {
			http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
		}
	case r.Method == http.MethodDelete && r.URL.Path == coll && superuser:
		f.collection = nil
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && r.URL.Path == "/api/collections" && superuser:
		if err := json.NewDecoder(r.Body).Decode(&f.collection); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	case r.Method == http.MethodGet && r.URL.Path == "/api/realtime":
		f.streams++
		if f.streams > f.maxStreams {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		c := &fakeClient{id: fmt.Sprintf("c%d", len(f.clients)), ch: make(chan string, 64)}
		f.clients = append(f.clients, c)
		f.mu.Unlock()
		defer f.mu.Lock()
		f.serveStream(w, r, c)
	case r.Method == http.MethodPost && r.URL.Path == "/api/realtime" && r.Header.Get("Authorization") == "":
		var in struct {
			ClientID      string
			Subscriptions []string
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		for _, c := range f.clients {
			if c.id == in.ClientID && slices.Equal(in.Subscriptions, []string{rtTopic}) {
				c.subscribed = true
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		http.Error(w, "bad subscription", http.StatusBadRequest)
	case r.Method == http.MethodPost && r.URL.Path == coll+"/records" && superuser && f.collection != nil:
		var in struct {
			Public bool
			N      int
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := fmt.Sprintf("rec%03d", in.N)
		frame := fmt.Sprintf("id:x\nevent:%s\ndata:{\"action\":\"create\",\"record\":{\"collectionId\":\"pbc_1\",\"id\":%q,\"public\":%t}}\n\n", rtTopic, id, in.Public)
		for i, c := range f.clients {
			if c.subscribed && ((in.Public && i >= f.skip) || (!in.Public && i < f.leak)) {
				c.ch <- frame
			}
		}
		fmt.Fprintf(w, `{"id":%q}`, id)
	default:
		f.t.Errorf("unexpected %s %s (auth %q)", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		http.Error(w, "unexpected", http.StatusBadRequest)
	}
}

func (f *fakeRealtime) serveStream(w http.ResponseWriter, r *http.Request, c *fakeClient) {
	if f.closeDelimited {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			f.t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\nid:%s\nevent:PB_CONNECT\ndata:{\"clientId\":%q}\n\n", c.id, c.id)
		for {
			select {
			case <-f.done:
				return
			case frame := <-c.ch:
				if _, err := io.WriteString(conn, frame); err != nil {
					return
				}
			}
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprintf(w, "id:%s\nevent:PB_CONNECT\ndata:{\"clientId\":%q}\n\n", c.id, c.id)
	w.(http.Flusher).Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case frame := <-c.ch:
			_, _ = io.WriteString(w, frame)
			w.(http.Flusher).Flush()
		}
	}
}

// TestRealtimeMeasure runs one subscriber count against fakeRealtime: the
// collection is set up with the rules, the subscribers connect as guests
// and subscribe, and what the server got wrong is counted exactly.
func TestRealtimeMeasure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		maxStreams, skip, leak int // fakeRealtime's knobs
		closeDelimited         bool
		want                   rtResult
	}{
		{"clean", 100, 0, 0, false,
			rtResult{Connected: 5, Expected: 15, Delivered: 15}},
		{"body ends with the connection", 100, 0, 0, true,
			rtResult{Connected: 5, Expected: 15, Delivered: 15}},
		{"lost and leaked", 100, 1, 2, false,
			rtResult{Connected: 5, Expected: 15, Delivered: 12, Lost: 3, PrivateDelivered: 6}},
		{"per-address cap", 3, 0, 0, false,
			rtResult{Connected: 3, ConnectFailed: 2, Expected: 9, Delivered: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeRealtime{t: t, maxStreams: tt.maxStreams, skip: tt.skip, leak: tt.leak,
				closeDelimited: tt.closeDelimited, done: make(chan struct{})}
			srv := httptest.NewServer(f)
			defer srv.Close()
			defer close(f.done)
			api := newAPIClient(srv.URL, 4)
			api.token = "su"
			b := &rtBench{api: api, base: srv.URL, events: 6, rate: 200, parallel: 2,
				settle: 10 * time.Millisecond, grace: 300 * time.Millisecond, log: io.Discard}
			res, err := b.measure(t.Context(), 5)
			if err != nil {
				t.Fatal(err)
			}
			if res.Subscribers != 5 || res.Public != 3 || res.Private != 3 || res.WriteFailed != 0 {
				t.Errorf("%d subscribers, %d public and %d private creates, %d failed (%s); want 5, 3, 3, 0",
					res.Subscribers, res.Public, res.Private, res.WriteFailed, res.WriteErr)
			}
			got := [...]int64{int64(res.Connected), int64(res.ConnectFailed), res.Expected, res.Delivered, res.Lost, res.PrivateDelivered, res.Duplicates, res.Unknown}
			want := [...]int64{int64(tt.want.Connected), int64(tt.want.ConnectFailed), tt.want.Expected, tt.want.Delivered, tt.want.Lost, tt.want.PrivateDelivered, 0, 0}
			if got != want {
				t.Errorf("connected, failed, expected, delivered, lost, private, duplicates, unknown = %v, want %v (first connect error %q)", got, want, res.ConnectErr)
			}
			if res.Latency.total != uint64(res.Delivered) {
				t.Errorf("%d latencies for %d deliveries", res.Latency.total, res.Delivered)
			}
			if res.EndedEarly != 0 {
				t.Errorf("%d streams ended early: %s", res.EndedEarly, res.EndedErr)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			c := f.collection
			if c["listRule"] != rtRule || c["viewRule"] != rtRule || c["createRule"] != nil || len(c["fields"].([]any)) != 3 {
				t.Errorf("collection: %v", c)
			}
		})
	}
}
