package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The realtime benchmark's fixed parts (see the package comment).
const (
	rtCollection = "bench_rt"
	rtTopic      = rtCollection + "/*"
	rtRule       = "public = true" // list and view rule: guests see public records only

	rtParallel   = 200             // subscribers connecting at once
	rtSettle     = 2 * time.Second // from the last subscription to the first create
	rtGrace      = 5 * time.Second // from the last create's answer until what is missing is lost
	rtPause      = 2 * time.Second // between subscriber counts, after the streams are closed
	rtReadBuffer = 1024            // bytes per stream, in the transport and again in the SSE reader

	rtMaxSubscribers = 50000 // about what one loopback address has ephemeral ports for
)

// rtConnHint is added wherever subscribers failed to connect.
const rtConnHint = "every subscriber connects from 127.0.0.1: start Tortoise with TORTOISE_MAX_CONNS_PER_IP=-1 " +
	"(by default it closes connections beyond 256 per address), and give both processes an open-file limit " +
	"above the subscriber count (ulimit -n)"

// parseSubscribers reads the -realtime list of subscriber counts.
func parseSubscribers(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > rtMaxSubscribers {
			return nil, fmt.Errorf("-realtime: %q is not a subscriber count between 1 and %d", f, rtMaxSubscribers)
		}
		out = append(out, n)
	}
	return out, nil
}

// runRealtime is the realtime benchmark at each subscriber count of
// cfg.Realtime: results to out, progress to log.
func runRealtime(ctx context.Context, cfg *config, out, log io.Writer) error {
	target, err := checkLoopback(cfg.URL)
	if err != nil {
		return err
	}
	// Go raises the soft limit itself at start-up; doing it here as well
	// makes the check below about the limit actually in force.
	if limit, err := raiseNoFile(); err != nil {
		fmt.Fprintf(log, "cannot raise the open-file limit: %v\n", err)
	} else if need := slices.Max(cfg.Realtime) + rtParallel + 64; limit < uint64(need) {
		fmt.Fprintf(log, "warning: the open-file limit is %d, below the %d this run needs: raise the hard limit (ulimit -Hn)\n", limit, need)
	}
	api := newAPIClient(cfg.URL, 8)
	if err := api.health(ctx); err != nil {
		return fmt.Errorf("server not answering /api/health: %w", err)
	}
	pid, err := resolvePID(cfg.MemoryPID, port(target))
	if err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	if err := api.authSuperuser(ctx, cfg.Email, cfg.Password); err != nil {
		return err
	}

	name := cfg.URL
	if cfg.Label != "" {
		name = cfg.Label + " at " + cfg.URL
	}
	fmt.Fprintf(out, "target %s: realtime, %d CPUs, %s\n", name, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(out, "each count: guests subscribe to %q (listRule %q), then %d creates at %g/s, public and private alternating\n",
		rtTopic, rtRule, cfg.RtEvents, cfg.RtRate)
	b := &rtBench{
		api: api, base: strings.TrimRight(cfg.URL, "/"), events: cfg.RtEvents, rate: cfg.RtRate,
		parallel: rtParallel, settle: rtSettle, grace: rtGrace, pid: pid, log: log,
	}
	var results []*rtResult
	for i, n := range cfg.Realtime {
		if i > 0 {
			// Let the server notice the closed streams and tidy up before
			// the next count.
			if sleep(ctx, rtPause) != nil {
				break
			}
		}
		res, err := b.measure(ctx, n)
		if err != nil {
			return err
		}
		results = append(results, res)
		if ctx.Err() != nil {
			break // interrupted: report what was measured
		}
	}

	fmt.Fprintln(out)
	writeRealtimeTable(out, results)
	writeRealtimeNotes(out, results)
	if cfg.JSON != "" {
		rep := &jsonRealtimeReport{
			Mode: "realtime", Label: cfg.Label, URL: cfg.URL, Time: time.Now().UTC(),
			GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(),
			Collection: rtCollection, Topic: rtTopic, ListRule: rtRule,
			Events: cfg.RtEvents, Rate: cfg.RtRate, Grace: rtGrace.String(),
			Results: jsonRealtimeEntries(results),
		}
		if err := writeJSON(cfg.JSON, rep); err != nil {
			return fmt.Errorf("write -json: %w", err)
		}
		fmt.Fprintf(out, "wrote %s\n", cfg.JSON)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return checkRealtime(results)
}

// rtBench is what measuring one subscriber count needs.
type rtBench struct {
	api      *apiClient // the superuser: setup and the writer
	base     string     // server base URL, no trailing slash
	events   int        // creates per count
	rate     float64    // creates per second
	parallel int        // subscribers connecting at once
	settle   time.Duration
	grace    time.Duration
	pid      int // server pid whose memory to read; 0 for none
	log      io.Writer
}

// measure runs one subscriber count: a fresh collection, n subscribers,
// the writer, the grace period, and the tally. An error means the setup
// failed; what went wrong during the measurement is in the result.
func (b *rtBench) measure(ctx context.Context, n int) (*rtResult, error) {
	if err := b.api.recreateRealtimeCollection(ctx, rtCollection); err != nil {
		return nil, err
	}
	res := &rtResult{Subscribers: n}
	fmt.Fprintf(b.log, "realtime %6d subscribers: connecting ...", n)
	epoch := time.Now()
	pool := newRTPool(b.base, b.parallel, epoch)
	streamCtx, cancel := context.WithCancel(ctx)
	pool.open(streamCtx, n, func(done int) {
		if done%1000 == 0 && done < n {
			fmt.Fprintf(b.log, " %d", done)
		}
	})
	res.ConnectTime = time.Since(epoch)
	connected, failed, first := pool.counts()
	res.ConnectFailed, res.ConnectErr = failed, first
	fmt.Fprintf(b.log, " %d subscribed in %s", connected, res.ConnectTime.Round(time.Millisecond))
	if failed > 0 {
		fmt.Fprintf(b.log, ", %d failed (%s)", failed, first)
	}

	var events []rtEvent
	if connected > 0 && sleep(ctx, b.settle) == nil {
		if b.pid != 0 {
			if m, err := readMem(b.pid); err == nil {
				res.MemSubscribed = &m
				fmt.Fprintf(b.log, "; server RSS %s", fmtMB(&m))
			}
		}
		events = writeEvents(ctx, b.api, rtCollection, b.events, b.rate, epoch)
		_ = sleep(ctx, b.grace)
		if b.pid != 0 {
			if m, err := readMem(b.pid); err == nil {
				res.MemEnd = &m
			}
		}
	}
	cancel()
	pool.close()
	tally(res, events, pool.subs)
	fmt.Fprintf(b.log, "; delivered %d of %d, p99 %s\n", res.Delivered, res.Expected, fmtQuantile(&res.Latency, 0.99))
	return res, nil
}

// sleep waits for d or until ctx ends, whose error it then returns.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// recreateRealtimeCollection (re)creates the realtime benchmark's
// collection: guests may list and view its public records; only a
// superuser (the writer) may create, change or delete.
func (c *apiClient) recreateRealtimeCollection(ctx context.Context, name string) error {
	exists, err := c.collectionExists(ctx, name)
	if err != nil {
		return fmt.Errorf("look up collection %q: %w", name, err)
	}
	if exists {
		if err := c.deleteCollection(ctx, name); err != nil {
			return fmt.Errorf("delete collection %q: %w", name, err)
		}
	}
	in, _ := json.Marshal(map[string]any{
		"name": name,
		"type": "base",
		"fields": []map[string]string{
			{"name": "title", "type": "text"},
			{"name": "public", "type": "bool"},
			{"name": "n", "type": "number"},
		},
		"listRule":   rtRule,
		"viewRule":   rtRule,
		"createRule": nil,
		"updateRule": nil,
		"deleteRule": nil,
	})
	if err := c.do(ctx, http.MethodPost, "/api/collections", in, nil); err != nil {
		return fmt.Errorf("create collection %q: %w", name, err)
	}
	return nil
}

// subscriber is one event stream. Only its own goroutine touches it until
// the pool is closed, which waits for that goroutine to end.
type subscriber struct {
	subscribed bool       // connected and subscribed
	got        []delivery // the record events it read, in order
	ended      error      // why the stream ended before the pool closed it
}

// delivery is one record event as a subscriber read it.
type delivery struct {
	id string        // the record's id, "" if the data had none
	at time.Duration // when it was read, since the run's epoch
}

// rtPool is the subscribers of one count: one HTTP/1.1 connection per
// stream, read by the poller where there is one (Linux) and otherwise by a
// goroutine per stream, plus a transport of a few connections for the
// subscription requests.
type rtPool struct {
	base     string
	parallel int // subscribers connecting at once
	tr       *http.Transport
	guest    *apiClient // sends the subscriptions, without a token, over tr
	poller   *rtPoller  // nil: each stream's goroutine reads it
	epoch    time.Time
	subs     []*subscriber
	wg       sync.WaitGroup // the streams' goroutines

	mu        sync.Mutex
	connected int
	failed    int
	firstErr  error
}

func newRTPool(base string, parallel int, epoch time.Time) *rtPool {
	tr := &http.Transport{
		Proxy:                 nil, // loopback only
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:       parallel,
		MaxIdleConns:          parallel,
		MaxIdleConnsPerHost:   parallel,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
	}
	poller, _ := newPoller(epoch) // none: goroutines read the streams
	return &rtPool{
		base:     base,
		parallel: parallel,
		tr:       tr,
		guest:    &apiClient{base: base, http: &http.Client{Transport: tr, Timeout: time.Minute}},
		poller:   poller,
		epoch:    epoch,
	}
}

// open starts n subscribers, at most parallel of them connecting at a
// time, and returns when each has subscribed or failed. progress, if not
// nil, is called with the number done so far after each.
func (p *rtPool) open(ctx context.Context, n int, progress func(done int)) {
	sem := make(chan struct{}, p.parallel)
	var pending sync.WaitGroup
	for range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			pending.Wait()
			return
		}
		s := &subscriber{}
		p.subs = append(p.subs, s)
		pending.Add(1)
		p.wg.Go(func() {
			waiting := true
			ready := func(err error) {
				if !waiting {
					return
				}
				waiting = false
				p.mu.Lock()
				if err == nil {
					p.connected++
				} else {
					p.failed++
					if p.firstErr == nil {
						p.firstErr = err
					}
				}
				done := p.connected + p.failed
				p.mu.Unlock()
				if progress != nil {
					progress(done)
				}
				<-sem
				pending.Done()
			}
			defer ready(errors.New("the stream ended before it subscribed"))
			p.stream(ctx, s, ready)
		})
	}
	pending.Wait()
}

// counts returns how many subscribers subscribed and how many failed to,
// with the first failure.
func (p *rtPool) counts() (connected, failed int, first string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.firstErr != nil {
		first = p.firstErr.Error()
	}
	return p.connected, p.failed, first
}

// close ends every stream (their context must already be cancelled) and
// the transport's idle connections.
func (p *rtPool) close() {
	p.wg.Wait()
	if p.poller != nil {
		p.poller.close()
	}
	p.tr.CloseIdleConnections()
}

// stream is one subscriber: it opens the event stream, reads PB_CONNECT,
// subscribes, calls ready (with nil, or with why it could not), and then
// records each record event until ctx ends or the server ends the stream:
// itself, or by handing the stream to the pool's poller.
func (p *rtPool) stream(ctx context.Context, s *subscriber, ready func(error)) {
	const path = "/api/realtime"
	conn, br, resp, err := p.dial(ctx, path)
	if err != nil {
		ready(fmt.Errorf("GET %s: %w", path, err))
		return
	}
	defer conn.Close() // harmless after a handover: the poller holds a duplicate
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		ready(&apiError{Method: http.MethodGet, Path: path, Status: resp.StatusCode, Body: snippet(body)})
		return
	}
	r := newSSEReader(resp.Body, rtReadBuffer)
	event, data, err := r.next()
	if err != nil {
		ready(fmt.Errorf("GET %s: read PB_CONNECT: %w", path, err))
		return
	}
	_ = conn.SetDeadline(time.Time{})
	var hello struct {
		ClientID string `json:"clientId"`
	}
	if string(event) != "PB_CONNECT" || json.Unmarshal(data, &hello) != nil || hello.ClientID == "" {
		ready(fmt.Errorf("GET %s: first event %q with data %q, want PB_CONNECT with a clientId", path, event, snippet(data)))
		return
	}
	sub, _ := json.Marshal(map[string]any{"clientId": hello.ClientID, "subscriptions": []string{rtTopic}})
	if err := p.guest.do(ctx, http.MethodPost, path, sub, nil); err != nil {
		ready(err)
		return
	}
	if p.poller != nil {
		if !stop() {
			ready(ctx.Err())
			return
		}
		raw, _ := br.Peek(br.Buffered())
		if err := p.poller.add(s, conn, r.buffered(), raw, slices.Contains(resp.TransferEncoding, "chunked")); err != nil {
			ready(fmt.Errorf("GET %s: poll the stream: %w", path, err))
			return
		}
		s.subscribed = true
		ready(nil)
		return
	}
	s.subscribed = true
	ready(nil)
	for {
		event, data, err := r.next()
		if err != nil {
			if ctx.Err() == nil {
				if errors.Is(err, io.EOF) {
					err = errors.New("the server ended the stream")
				}
				s.ended = err
			}
			return
		}
		at := time.Since(p.epoch)
		if string(event) != rtTopic {
			continue
		}
		id, _ := recordID(data)
		s.got = append(s.got, delivery{id: string(id), at: at})
	}
}

// dial opens one event stream as a browser's EventSource does: its own
// HTTP/1.1 connection, which the stream then holds. The connection has a
// deadline for the handshake, which the caller lifts.
func (p *rtPool) dial(ctx context.Context, path string) (net.Conn, *bufio.Reader, *http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, p.base+path, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	host := req.URL.Host
	if req.URL.Port() == "" {
		host = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, nil, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReaderSize(conn, rtReadBuffer)
	var resp *http.Response
	if err = req.Write(conn); err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	return conn, br, resp, nil
}

// rtEvent is one create of the writer.
type rtEvent struct {
	started bool
	public  bool
	sent    time.Duration // when the request started, since the epoch
	took    time.Duration // until its answer
	id      string        // the created record's id
	err     error
}

// writeEvents creates n records in coll at rate per second, public and
// private alternating (the first public), each request in its own
// goroutine so that a slow answer does not delay the next one. It returns
// when every create has been answered.
func writeEvents(ctx context.Context, api *apiClient, coll string, n int, rate float64, epoch time.Time) []rtEvent {
	events := make([]rtEvent, n)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range events {
		if sleep(ctx, time.Until(start.Add(time.Duration(i)*interval))) != nil {
			break
		}
		e := &events[i]
		e.started, e.public = true, i%2 == 0
		wg.Go(func() {
			body := fmt.Appendf(nil, `{"title":"realtime %d","public":%t,"n":%d}`, i, e.public, i)
			var out struct {
				ID string `json:"id"`
			}
			e.sent = time.Since(epoch)
			e.err = api.do(ctx, http.MethodPost, recordsPath(coll), body, &out)
			e.took = time.Since(epoch) - e.sent
			if e.err == nil && out.ID == "" {
				e.err = fmt.Errorf("create record %d: answer has no id", i)
			}
			e.id = out.ID
		})
	}
	wg.Wait()
	return events
}

// tally counts what the subscribers read against what the writer created.
func tally(res *rtResult, events []rtEvent, subs []*subscriber) {
	index := make(map[string]int, len(events))
	for i, e := range events {
		switch {
		case !e.started:
		case e.err != nil:
			res.WriteFailed++
			if res.WriteErr == "" {
				res.WriteErr = e.err.Error()
			}
		default:
			index[e.id] = i
			res.Creates.record(e.took)
			if e.public {
				res.Public++
			} else {
				res.Private++
			}
		}
	}
	seen := make([]bool, len(events))
	for _, s := range subs {
		if !s.subscribed {
			continue
		}
		res.Connected++
		if s.ended != nil {
			res.EndedEarly++
			if res.EndedErr == "" {
				res.EndedErr = s.ended.Error()
			}
		}
		clear(seen)
		for _, d := range s.got {
			i, ok := index[d.id]
			switch {
			case !ok:
				res.Unknown++
			case !events[i].public:
				res.PrivateDelivered++
			case seen[i]:
				res.Duplicates++
			default:
				seen[i] = true
				res.Delivered++
				res.Latency.record(max(d.at-events[i].sent, 0))
			}
		}
	}
	res.Expected = int64(res.Public) * int64(res.Connected)
	res.Lost = res.Expected - res.Delivered
}
