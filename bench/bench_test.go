package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	t.Parallel()
	vals := []int64{0, 1, 127, 255, 256, 257, 511, 512, 1000, 1 << 20, 123456789, 1<<62 + 12345, 1<<63 - 1}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		vals = append(vals, rng.Int64N(1<<rng.IntN(63)+1))
	}
	for _, v := range vals {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0,%d)", v, i, numBuckets)
		}
		lo, hi := bucketLow(i), bucketHigh(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d,%d]", v, i, lo, hi)
		}
		// A bucket's width is at most 1/halfCount of its values.
		if width := hi - lo + 1; width > 1 && float64(width) > float64(lo)/halfCount {
			t.Fatalf("bucket %d = [%d,%d] is %d wide, more than 1/%d of %d", i, lo, hi, width, halfCount, lo)
		}
	}
	for i := range numBuckets - 1 {
		if bucketHigh(i)+1 != bucketLow(i+1) {
			t.Fatalf("gap between bucket %d (high %d) and %d (low %d)", i, bucketHigh(i), i+1, bucketLow(i+1))
		}
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	var uniform histogram
	for i := 1; i <= 10000; i++ {
		uniform.record(time.Duration(i) * time.Microsecond)
	}
	var one histogram
	one.record(1234 * time.Microsecond)
	var empty histogram

	tests := []struct {
		name string
		h    *histogram
		q    float64
		want time.Duration
	}{
		{"empty", &empty, 0.5, 0},
		{"single p50", &one, 0.5, 1234 * time.Microsecond},
		{"single p99", &one, 0.99, 1234 * time.Microsecond},
		{"uniform p0", &uniform, 0, 1 * time.Microsecond},
		{"uniform p50", &uniform, 0.5, 5000 * time.Microsecond},
		{"uniform p90", &uniform, 0.9, 9000 * time.Microsecond},
		{"uniform p99", &uniform, 0.99, 9900 * time.Microsecond},
		{"uniform p99.9", &uniform, 0.999, 9990 * time.Microsecond},
		{"uniform max", &uniform, 1, 10000 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.h.quantile(tt.q)
			if diff := got - tt.want; diff < -tt.want/100 || diff > tt.want/100 {
				t.Errorf("quantile(%v) = %v, want %v within 1%%", tt.q, got, tt.want)
			}
		})
	}
	if got, want := uniform.mean(), 5000500*time.Nanosecond; got != want {
		t.Errorf("mean = %v, want %v", got, want)
	}
}

func TestHistogramMerge(t *testing.T) {
	t.Parallel()
	var all, a, b histogram
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		d := time.Duration(rng.Int64N(int64(50 * time.Millisecond)))
		all.record(d)
		if i%3 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	var merged histogram
	merged.merge(&a)
	merged.merge(&b)
	merged.merge(&histogram{}) // empty merges are no-ops
	if merged != all {
		t.Fatalf("merged histogram differs: total %d/%d min %d/%d max %d/%d",
			merged.total, all.total, merged.min, all.min, merged.max, all.max)
	}
}

func TestFmtDur(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0ns"},
		{999, "999ns"},
		{1500, "1.5µs"},
		{123456, "123µs"},
		{1234567, "1.23ms"},
		{2 * time.Second, "2s"},
	}
	for _, tt := range tests {
		if got := fmtDur(tt.d); got != tt.want {
			t.Errorf("fmtDur(%d) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// result makes a loadResult with ok successes and bad failures over one
// second, every latency lat.
func result(ok, bad int64, lat time.Duration) *loadResult {
	r := &loadResult{OK: ok, Status: bad, Elapsed: time.Second}
	for range ok + bad {
		r.Hist.record(lat)
	}
	return r
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	rows := []row{
		{Scenario: scCeiling, Conns: 16, Res: result(10000, 0, 100*time.Microsecond)},
		{Scenario: scCeiling, Conns: 64, Res: result(20000, 0, 200*time.Microsecond)},
		{Scenario: scGet, Conns: 16, Res: result(5000, 0, 300*time.Microsecond)},
		{Scenario: scGet, Conns: 64, Res: result(2000, 0, 2*time.Millisecond)},
		{Scenario: scCreate, Conns: 32, Res: result(990, 10, 5*time.Millisecond)}, // no ceiling at 32
	}
	var sb strings.Builder
	writeTable(&sb, rows)
	lines := strings.Split(strings.TrimRight(sb.String(), "\n"), "\n")
	if len(lines) != 2+len(rows) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), 2+len(rows), sb.String())
	}
	want := [][]string{
		{"ceiling (bare net/http)", "16", "10000", "100µs", "100µs", "0", "1.000"},
		{"ceiling (bare net/http)", "64", "20000", "200µs", "200µs", "0", "1.000"},
		{"get one record", "16", "5000", "300µs", "300µs", "0", "0.500"},
		{"get one record", "64", "2000", "2ms", "2ms", "0", "0.100"},
		{"create record", "32", "990", "5ms", "5ms", "10 (1.00%)", "-"},
	}
	for i, w := range want {
		line := lines[2+i]
		for _, cell := range w {
			if !strings.Contains(line, cell) {
				t.Errorf("line %q lacks %q", line, cell)
			}
		}
	}
	entries := jsonEntries(rows)
	if got := *entries[3].Ratio; got != 0.1 {
		t.Errorf("json ratio of get@64 = %v, want 0.1", got)
	}
	if entries[4].Ratio != nil {
		t.Errorf("json ratio without a ceiling = %v, want null", *entries[4].Ratio)
	}
	if _, err := json.Marshal(entries); err != nil {
		t.Errorf("json entries do not marshal: %v", err)
	}
}

// TestPasswordLoadReport checks how create-pwload's background load and
// its p99 against create alone appear in the table, the JSON and the
// error check.
func TestPasswordLoadReport(t *testing.T) {
	t.Parallel()
	bg := result(200, 0, 80*time.Millisecond)
	rows := []row{
		{Scenario: scCreate, Conns: 64, Res: result(5000, 0, 5*time.Millisecond)},
		{Scenario: scCreatePw, Conns: 64, Res: result(4000, 0, 8*time.Millisecond),
			Background: &background{Name: pwChange, Clients: 20, Res: bg}},
		{Scenario: scCreatePw, Conns: 16, Res: result(4000, 0, 8*time.Millisecond)}, // no create at 16
	}
	var sb strings.Builder
	writeTable(&sb, rows)
	lines := strings.Split(strings.TrimRight(sb.String(), "\n"), "\n")
	if len(lines) != 2+len(rows)+1 {
		t.Fatalf("got %d lines, want %d (one more for the background):\n%s", len(lines), 2+len(rows)+1, sb.String())
	}
	for _, cell := range []string{"+ " + pwChange, " 20 ", "200", "80ms"} {
		if !strings.Contains(lines[4], cell) {
			t.Errorf("background line %q lacks %q", lines[4], cell)
		}
	}

	sb.Reset()
	writeP99Comparison(&sb, rows)
	if out := sb.String(); !strings.Contains(out, "64 conns: 8ms against 5ms = 1.60x") ||
		!strings.Contains(out, "200 password changes by 20 clients") || strings.Contains(out, "16 conns") {
		t.Errorf("p99 comparison:\n%s", out)
	}
	sb.Reset()
	writeP99Comparison(&sb, rows[:1])
	if sb.Len() != 0 {
		t.Errorf("p99 comparison without create-pwload: %q, want nothing", sb.String())
	}

	entries := jsonEntries(rows)
	if e := entries[1]; e.Background == nil || e.Background.Scenario != pwChange || e.Background.Conns != 20 ||
		e.Background.OK != 200 || e.P99VsCreate == nil || *e.P99VsCreate != 1.6 {
		t.Errorf("json create-pwload@64: %+v", e)
	}
	if e := entries[0]; e.Background != nil || e.P99VsCreate != nil {
		t.Errorf("json create@64 has create-pwload's fields: %+v", e)
	}
	if e := entries[2]; e.P99VsCreate != nil {
		t.Errorf("json create-pwload@16 without create@16: p99_vs_create = %v, want none", *e.P99VsCreate)
	}

	if err := checkErrors(rows, 0.01); err != nil {
		t.Errorf("clean rows: %v", err)
	}
	rows[1].Background.Res = result(90, 10, 80*time.Millisecond)
	if err := checkErrors(rows, 0.01); err == nil || !strings.Contains(err.Error(), pwChange) {
		t.Errorf("10%% failed password changes: err = %v, want one naming %s", err, pwChange)
	}
}

func TestCheckErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		res     *loadResult
		wantErr bool
	}{
		{"clean", result(1000, 0, time.Millisecond), false},
		{"at 1%", result(990, 10, time.Millisecond), false},
		{"above 1%", result(980, 20, time.Millisecond), true},
		{"transport errors count", &loadResult{OK: 90, Transport: 10, Elapsed: time.Second}, true},
		{"nothing completed", &loadResult{FirstError: "refused"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkErrors([]row{{Scenario: scGet, Conns: 16, Res: tt.res}}, 0.01)
			if (err != nil) != tt.wantErr {
				t.Errorf("checkErrors = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestAppendRecord(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	var buf []byte
	total := 0
	const n = 1000
	for i := range n {
		buf = appendRecord(buf[:0], rng, uint64(i))
		var rec struct {
			Title  *string  `json:"title"`
			Body   *string  `json:"body"`
			Score  *float64 `json:"score"`
			Active *bool    `json:"active"`
		}
		if err := json.Unmarshal(buf, &rec); err != nil {
			t.Fatalf("record %d is not JSON: %v\n%s", i, err, buf)
		}
		if rec.Title == nil || rec.Body == nil || rec.Score == nil || rec.Active == nil {
			t.Fatalf("record %d lacks a field: %s", i, buf)
		}
		if !strings.HasSuffix(*rec.Title, fmt.Sprintf(" #%d", i)) {
			t.Fatalf("record %d title %q lacks its tag", i, *rec.Title)
		}
		if len(buf) < 160 || len(buf) > 240 {
			t.Fatalf("record %d is %d bytes, want about 200: %s", i, len(buf), buf)
		}
		total += len(buf)
	}
	if avg := total / n; avg < 185 || avg > 215 {
		t.Errorf("average record is %d bytes, want about 200", avg)
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	status := "Name:\ttortoise\nVmPeak:\t  900000 kB\nVmHWM:\t   140000 kB\nVmRSS:\t   120000 kB\nThreads:\t9\n"
	m, err := parseStatus(status)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 120000*1024 || m.Peak != 140000*1024 {
		t.Errorf("parseStatus = %+v, want RSS 120000 kB, peak 140000 kB", m)
	}
	if _, err := parseStatus("Name:\tkthreadd\n"); err == nil {
		t.Error("parseStatus without VmRSS: want an error")
	}
	if _, err := parseStatus("VmRSS:\t12 MB\n"); err == nil {
		t.Error("parseStatus with an odd unit: want an error")
	}
}

func TestListenInodes(t *testing.T) {
	t.Parallel()
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F9A 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F9A 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0
`
	got := listenInodes(table, 8090) // 0x1F9A
	if len(got) != 1 || got[0] != "4242" {
		t.Errorf("listenInodes(8090) = %q, want [4242] (the listener, not the established connection)", got)
	}
	if got := listenInodes(table, 8091); len(got) != 0 {
		t.Errorf("listenInodes(8091) = %q, want none", got)
	}
}

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8090", true},
		{"http://localhost:8090/", true},
		{"http://[::1]:8090", true},
		{"http://127.1.2.3:80", true},
		{"http://10.0.0.1:8090", false},
		{"http://example.com", false},
		{"https://127.0.0.1:8090", false},
	}
	for _, tt := range tests {
		if _, err := checkLoopback(tt.url); (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
	}
}

func TestListQueries(t *testing.T) {
	t.Parallel()
	if got := listQueries(10000, 0, ""); len(got) != 50 || got[0] != "page=1&perPage=20" || got[49] != "page=50&perPage=20" {
		t.Errorf("random pages over 10000 records: %d queries, first %q, last %q", len(got), got[0], got[len(got)-1])
	}
	if got := listQueries(45, 0, "&skipTotal=1"); len(got) != 3 || got[2] != "page=3&perPage=20&skipTotal=1" {
		t.Errorf("random pages over 45 records: %q, want pages 1..3", got)
	}
	if got := listQueries(10000, 7, ""); len(got) != 1 || got[0] != "page=7&perPage=20" {
		t.Errorf("fixed page 7: %q", got)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags([]string{"-email", "a@b.c", "-password", "pw"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "http://127.0.0.1:8090" || cfg.Records != 10000 || len(cfg.Conns) != 2 ||
		cfg.Conns[0] != 16 || cfg.Conns[1] != 64 || cfg.Duration != 10*time.Second ||
		cfg.Collection != "bench_items" || cfg.Page != 0 || len(cfg.Scenarios) != 4 || cfg.PwClients != 20 {
		t.Errorf("defaults: %+v", cfg)
	}
	if slices.Contains(cfg.Scenarios, scCreatePw) {
		t.Errorf("default scenarios %q include %s, which only runs when asked for", cfg.Scenarios, scCreatePw)
	}
	cfg, err = parseFlags([]string{"-email", "a@b.c", "-password", "pw", "-scenarios", "create, create-pwload", "-pw-clients", "4"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Scenarios, []string{scCreate, scCreatePw}) || cfg.PwClients != 4 {
		t.Errorf("-scenarios create,create-pwload -pw-clients 4: scenarios %q, pw-clients %d", cfg.Scenarios, cfg.PwClients)
	}
	bad := [][]string{
		{},
		{"-email", "a@b.c", "-password", "pw", "-conns", "16,x"},
		{"-email", "a@b.c", "-password", "pw", "-conns", "0"},
		{"-email", "a@b.c", "-password", "pw", "-records", "0"},
		{"-email", "a@b.c", "-password", "pw", "-scenarios", "get,delete"},
		{"-email", "a@b.c", "-password", "pw", "extra"},
		{"-email", "a@b.c", "-password", "pw", "-pw-clients", "0"},
		{"-email", "a@b.c", "-password", "pw", "-pw-clients", "x"},
	}
	for _, args := range bad {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): want an error", args)
		}
	}
}

// TestLoadCounts drives a tiny httptest server that fails every fifth
// request and checks that the generator, with either client, counts exactly
// what the server saw. It proves the counting, not anything about
// performance.
func TestLoadCounts(t *testing.T) {
	t.Parallel()
	for _, raw := range []bool{false, true} {
		t.Run(fmt.Sprintf("raw=%v", raw), func(t *testing.T) { t.Parallel(); testLoadCounts(t, raw) })
	}
}

func testLoadCounts(t *testing.T, raw bool) {
	var seen, failed, badBody atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := seen.Add(1)
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			if r.Header.Get("Content-Type") != "application/json" || !json.Valid(body) {
				badBody.Add(1)
			}
		}
		if n%5 == 0 {
			failed.Add(1)
			http.Error(w, `{"status":500,"message":"boom"}`, http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, `{"id":"abc"}`)
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)

	bodyHdr := http.Header{"Content-Type": {"application/json"}}
	l := &load{
		base: base, header: http.Header{}, bodyHdr: bodyHdr, conns: 4,
		duration: 200 * time.Millisecond, raw: raw,
		next: func(rng *rand.Rand) (string, string, string, []byte) {
			if rng.IntN(2) == 0 {
				return http.MethodPost, "/api/collections/x/records", "", appendRecord(nil, rng, 1)
			}
			return http.MethodGet, "/api/collections/x/records/abc", "", nil
		},
	}
	res := l.run(t.Context())
	if res.total() == 0 {
		t.Fatal("no requests")
	}
	if res.total() != seen.Load() || res.Status != failed.Load() || res.OK != seen.Load()-failed.Load() {
		t.Errorf("counted %d ok + %d failed, server saw %d with %d failed", res.OK, res.Status, seen.Load(), failed.Load())
	}
	if res.Transport != 0 {
		t.Errorf("transport errors: %d (%s)", res.Transport, res.FirstError)
	}
	if res.Hist.total != uint64(res.total()) {
		t.Errorf("histogram holds %d latencies for %d requests", res.Hist.total, res.total())
	}
	if badBody.Load() != 0 {
		t.Errorf("%d POST bodies arrived without JSON content", badBody.Load())
	}
	if !strings.Contains(res.FirstError, "500") || !strings.Contains(res.FirstError, "boom") {
		t.Errorf("FirstError = %q, want the status and the body", res.FirstError)
	}
	if res.Elapsed < l.duration/2 || res.Elapsed > l.duration+time.Second {
		t.Errorf("elapsed %v for a %v run", res.Elapsed, l.duration)
	}
	if err := checkErrors([]row{{Scenario: scGet, Conns: 4, Res: res}}, 0.01); err == nil {
		t.Error("20% errors passed the 1% check")
	}
}

// The raw client reads every body framing a server may use, keeps the
// connection when it may and opens another when the server closes it, and
// sends the run's headers.
func TestRawClientFraming(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 10000) // past net/http's buffer: sent chunked
	var conns atomic.Int64
	var noAuth atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "tok" {
			noAuth.Add(1)
		}
		switch r.URL.Path {
		case "/chunked":
			_, _ = io.WriteString(w, big[:5000])
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, big[5000:])
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		case "/none":
			w.WriteHeader(http.StatusNoContent)
		case "/missing":
			http.Error(w, "no such thing", http.StatusNotFound)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	paths := []string{"/plain", "/chunked", "/none", "/chunked", "/plain"}
	l := &load{base: base, header: http.Header{"Authorization": {"tok"}}, conns: 1, duration: 100 * time.Millisecond, raw: true,
		next: func(rng *rand.Rand) (string, string, string, []byte) {
			return http.MethodGet, paths[rng.IntN(len(paths))], "a=1", nil
		}}
	res := l.run(t.Context())
	if res.OK == 0 || res.errors() != 0 {
		t.Fatalf("%d ok, %d errors (%s)", res.OK, res.errors(), res.FirstError)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for keep-alive answers, want 1", n)
	}
	if n := noAuth.Load(); n != 0 {
		t.Errorf("%d requests without the run's header", n)
	}

	conns.Store(0)
	l.next = func(*rand.Rand) (string, string, string, []byte) { return http.MethodGet, "/close", "", nil }
	res = l.run(t.Context())
	if res.OK < 2 || res.errors() != 0 {
		t.Fatalf("Connection: close: %d ok, %d errors (%s)", res.OK, res.errors(), res.FirstError)
	}
	if n := conns.Load(); n < res.OK {
		t.Errorf("%d connections for %d answers that closed theirs", n, res.OK)
	}

	l.next = func(*rand.Rand) (string, string, string, []byte) { return http.MethodGet, "/missing", "", nil }
	res = l.run(t.Context())
	if res.OK != 0 || res.Status == 0 || !strings.Contains(res.FirstError, "404") || !strings.Contains(res.FirstError, "no such thing") {
		t.Errorf("404s: %d ok, %d failed, first error %q", res.OK, res.Status, res.FirstError)
	}
}

// TestLoadWarmup checks that requests sent during the warm-up are not counted.
func TestLoadWarmup(t *testing.T) {
	t.Parallel()
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	l := &load{
		base: base, header: http.Header{}, conns: 2,
		warmup: 100 * time.Millisecond, duration: 100 * time.Millisecond,
		next: func(*rand.Rand) (string, string, string, []byte) { return http.MethodGet, "/", "", nil },
	}
	res := l.run(t.Context())
	if res.OK == 0 || res.OK >= seen.Load() {
		t.Errorf("counted %d of the %d requests the server saw; want some but not the warm-up's", res.OK, seen.Load())
	}
}

// TestSeed checks the seeding protocol: n POSTs with the token, ids kept
// in order, and a stop at the first failure.
func TestSeed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	titles := map[string]bool{}
	var failAt atomic.Int64
	failAt.Store(-1)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/collections/items/records" || r.Header.Get("Authorization") != "tok" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		var rec struct{ Title string }
		if err := json.NewDecoder(r.Body).Decode(&rec); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		i := n.Add(1)
		if i == failAt.Load() {
			http.Error(w, `{"message":"disk full"}`, http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		titles[rec.Title] = true
		mu.Unlock()
		fmt.Fprintf(w, `{"id":"r%d"}`, i)
	}))
	defer srv.Close()

	c := newAPIClient(srv.URL, 4)
	c.token = "tok"
	res, err := c.seed(t.Context(), "items", 100, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.IDs) != 100 || len(titles) != 100 || res.Hist.total != 100 {
		t.Fatalf("seeded %d ids, %d distinct titles, %d latencies; want 100 each", len(res.IDs), len(titles), res.Hist.total)
	}
	for i, id := range res.IDs {
		if id == "" {
			t.Fatalf("id %d is empty", i)
		}
	}

	n.Store(0)
	failAt.Store(10)
	if _, err := c.seed(t.Context(), "items", 100, 4, nil); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("seed with a failing server: err = %v, want the server's message", err)
	}
}

// fakeAuth is a minimal auth collection server for TestPasswordLoad: it
// keeps each user's password and token generation, checks a user's own
// change the way PocketBase does (its own token, the old password, the
// confirmation), and kills the user's tokens on every change.
type fakeAuth struct {
	mu        sync.Mutex
	pw        map[string]string // id -> password
	gen       map[string]int    // id -> token generation
	changes   int               // users' own PATCHes seen
	tokens    int               // impersonations
	failEvery int               // answer 500 after applying every failEvery-th change
	failed    int
}

func (f *fakeAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const coll = "/api/collections/" + pwCollection
	superuser := r.Header.Get("Authorization") == "su"
	var body map[string]string
	_ = json.NewDecoder(r.Body).Decode(&body)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == coll && superuser:
		http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
	case r.Method == http.MethodPost && r.URL.Path == "/api/collections" && superuser:
		fmt.Fprint(w, `{}`)
	case r.Method == http.MethodPost && r.URL.Path == coll+"/records" && superuser:
		if body["password"] == "" || body["password"] != body["passwordConfirm"] || body["email"] == "" {
			http.Error(w, "bad user", http.StatusBadRequest)
			return
		}
		id := fmt.Sprintf("u%d", len(f.pw))
		f.pw[id] = body["password"]
		fmt.Fprintf(w, `{"id":%q}`, id)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, coll+"/impersonate/") && superuser:
		id := strings.TrimPrefix(r.URL.Path, coll+"/impersonate/")
		f.tokens++
		fmt.Fprintf(w, `{"token":"%s.%d"}`, id, f.gen[id])
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, coll+"/records/"):
		id := strings.TrimPrefix(r.URL.Path, coll+"/records/")
		if _, ok := f.pw[id]; !ok || body["password"] == "" || body["password"] != body["passwordConfirm"] {
			http.Error(w, "bad change", http.StatusBadRequest)
			return
		}
		if !superuser {
			f.changes++
			if r.Header.Get("Authorization") != fmt.Sprintf("%s.%d", id, f.gen[id]) {
				http.Error(w, "stale token", http.StatusUnauthorized)
				return
			}
			if body["oldPassword"] != f.pw[id] {
				http.Error(w, "wrong old password", http.StatusBadRequest)
				return
			}
		}
		f.pw[id] = body["password"]
		f.gen[id]++
		if !superuser && f.failEvery > 0 && f.changes%f.failEvery == 0 {
			f.failed++
			http.Error(w, "applied, then failed", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, `{}`)
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
	}
}

// TestPasswordLoad runs the create-pwload background against fakeAuth: each
// user changes its own password under its own token with the right old
// password, only those changes are timed, and a change whose answer is
// lost after it was applied is repaired, so it costs exactly one error.
func TestPasswordLoad(t *testing.T) {
	t.Parallel()
	f := &fakeAuth{pw: map[string]string{}, gen: map[string]int{}, failEvery: 7}
	srv := httptest.NewServer(f)
	defer srv.Close()
	admin := newAPIClient(srv.URL, 4)
	admin.token = "su"

	p, err := setupPasswordLoad(t.Context(), admin, pwCollection, 3, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if p.clients() != 3 || len(f.pw) != 3 {
		t.Fatalf("%d clients, %d users on the server; want 3", p.clients(), len(f.pw))
	}
	for run := range 2 { // the second run starts from the state the first left
		f.mu.Lock()
		changesBefore, failedBefore := f.changes, f.failed
		f.mu.Unlock()
		res := p.start(t.Context(), 0, 150*time.Millisecond)()

		f.mu.Lock()
		changes, failed := f.changes-changesBefore, f.failed-failedBefore
		f.mu.Unlock()
		if res.OK == 0 || failed == 0 {
			t.Fatalf("run %d: %d changes ok, %d failed by the server; want some of each", run, res.OK, failed)
		}
		if res.total() != int64(changes) || res.Hist.total != uint64(changes) {
			t.Errorf("run %d: counted %d changes, %d latencies; the server saw %d (impersonations must not count)",
				run, res.total(), res.Hist.total, changes)
		}
		if res.Status != int64(failed) || res.Transport != 0 {
			t.Errorf("run %d: %d status and %d transport errors for %d failed changes; a repair left the state wrong (first: %s)",
				run, res.Status, res.Transport, failed, res.FirstError)
		}
		if !strings.Contains(res.FirstError, "applied, then failed") {
			t.Errorf("run %d: FirstError = %q", run, res.FirstError)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range p.list {
		if f.pw[u.id] != u.pw[u.cur] {
			t.Errorf("user %s: server has %q, client believes %q", u.id, f.pw[u.id], u.pw[u.cur])
		}
	}
	if f.tokens == 0 {
		t.Error("no impersonation: where did the fresh tokens come from?")
	}
}
