package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// requestFunc returns the next request a worker sends. body is nil for a
// request without one. It is called from one worker goroutine with that
// worker's own random source, so it must not share mutable state unless
// that state is synchronised.
type requestFunc func(rng *rand.Rand) (method, path, rawQuery string, body []byte)

// load describes one measured run: conns workers, each with one request in
// flight, send requests for warmup+duration; only requests that start after
// the warm-up are counted.
type load struct {
	base     *url.URL    // scheme and host of the target
	header   http.Header // sent with requests without a body; read-only
	bodyHdr  http.Header // sent with requests with a body; read-only
	conns    int
	warmup   time.Duration
	duration time.Duration
	next     requestFunc
	raw      bool // the raw client (rawload.go) instead of net/http's
}

// loadResult is what one run measured.
type loadResult struct {
	OK         int64         // responses with a 2xx status
	Status     int64         // responses with any other status
	Transport  int64         // requests that got no response (refused, reset, timeout)
	Elapsed    time.Duration // from the end of the warm-up to the last counted response
	Hist       histogram     // latency of every counted response, 2xx or not
	FirstError string        // the first failure, for diagnosis
}

func (r *loadResult) errors() int64 { return r.Status + r.Transport }

func (r *loadResult) total() int64 { return r.OK + r.errors() }

// errorRate is the fraction of counted requests that failed.
func (r *loadResult) errorRate() float64 {
	if r.total() == 0 {
		return 0
	}
	return float64(r.errors()) / float64(r.total())
}

// rps is successful responses per second.
func (r *loadResult) rps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// newTransport returns a keep-alive transport that holds exactly conns
// connections to one loopback host, so a run never pays for dials after
// the warm-up and never runs out of ephemeral ports.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // loopback only; never route through $HTTP_PROXY
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true, // measure the server's work, not gzip's
	}
}

// workerStats is one worker's share of a result; merged at the end.
type workerStats struct {
	res      loadResult
	lastDone time.Time
}

// run drives the load and returns what it measured. It returns early with
// what it has if ctx is cancelled.
func (l *load) run(ctx context.Context) *loadResult {
	tr := newTransport(l.conns)
	defer tr.CloseIdleConnections()

	start := time.Now()
	measureFrom := start.Add(l.warmup)
	end := measureFrom.Add(l.duration)
	// A request in flight when the time is up may finish; one that hangs
	// is cut off so the run stays bounded.
	ctx, cancel := context.WithDeadline(ctx, end.Add(30*time.Second))
	defer cancel()

	stats := make([]*workerStats, l.conns)
	var wg sync.WaitGroup
	for i := range l.conns {
		w := &workerStats{}
		stats[i] = w
		rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i)))
		if l.raw {
			wg.Go(func() { l.rawWork(ctx, rng, measureFrom, end, w) })
		} else {
			wg.Go(func() { l.work(ctx, tr, rng, measureFrom, end, w) })
		}
	}
	wg.Wait()
	return mergeStats(stats, measureFrom)
}

// mergeStats adds up the workers' shares of a run whose measurement
// started at measureFrom.
func mergeStats(stats []*workerStats, measureFrom time.Time) *loadResult {
	res := &loadResult{}
	var lastDone time.Time
	for _, w := range stats {
		res.OK += w.res.OK
		res.Status += w.res.Status
		res.Transport += w.res.Transport
		res.Hist.merge(&w.res.Hist)
		if res.FirstError == "" {
			res.FirstError = w.res.FirstError
		}
		if w.lastDone.After(lastDone) {
			lastDone = w.lastDone
		}
	}
	if lastDone.After(measureFrom) {
		res.Elapsed = lastDone.Sub(measureFrom)
	}
	return res
}

// exchange sends one request and returns the answer's status and, for a
// status outside 2xx, up to 256 bytes of its body.
type exchange func(ctx context.Context, method, path, query string, body []byte) (status int, errBody []byte, err error)

// drive sends l's requests through send until end, counting those that
// start from measureFrom into w.
func (l *load) drive(ctx context.Context, rng *rand.Rand, measureFrom, end time.Time, w *workerStats, send exchange) {
	for {
		t0 := time.Now()
		if !t0.Before(end) || ctx.Err() != nil {
			return
		}
		counted := !t0.Before(measureFrom)
		method, path, query, body := l.next(rng)
		status, errBody, err := send(ctx, method, path, query, body)
		t1 := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if counted {
				w.res.Transport++
				w.lastDone = t1
				if w.res.FirstError == "" {
					w.res.FirstError = method + " " + requestURI(path, query) + ": " + err.Error()
				}
			}
			// Do not spin on a refusing server.
			time.Sleep(time.Millisecond)
			continue
		}
		if !counted {
			continue
		}
		w.res.Hist.record(t1.Sub(t0))
		w.lastDone = t1
		if status >= 200 && status < 300 {
			w.res.OK++
			continue
		}
		w.res.Status++
		if w.res.FirstError == "" {
			w.res.FirstError = fmt.Sprintf("%s %s: %d %s: %s", method, requestURI(path, query), status, http.StatusText(status), bytes.TrimSpace(errBody))
		}
	}
}

func requestURI(path, query string) string {
	if query == "" {
		return path
	}
	return path + "?" + query
}

// work drives the load through net/http's transport tr.
func (l *load) work(ctx context.Context, tr *http.Transport, rng *rand.Rand, measureFrom, end time.Time, w *workerStats) {
	// One template request per worker: each request is a shallow copy
	// with its own URL, which skips URL parsing and header copying.
	tmpl, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base.String(), nil)
	if err != nil {
		w.res.FirstError = err.Error()
		return
	}
	var errBody [256]byte
	l.drive(ctx, rng, measureFrom, end, w, func(_ context.Context, method, path, query string, body []byte) (int, []byte, error) {
		req := new(http.Request)
		*req = *tmpl
		u := *tmpl.URL
		u.Path, u.RawQuery = path, query
		req.URL = &u
		req.Method = method
		req.Header = l.header
		if body != nil {
			req.Header = l.bodyHdr
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = int64(len(body))
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return 0, nil, err
		}
		var n int
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			n, _ = io.ReadFull(resp.Body, errBody[:])
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, errBody[:n], nil
	})
}
