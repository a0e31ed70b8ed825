// Command bench is a load generator for any server that speaks
// PocketBase's REST API, so Tortoise and PocketBase can be measured side by
// side on the same machine with the same client.
//
// It authenticates as a superuser, (re)creates a base collection with public
// rules, seeds it with -records records of about 200 bytes over -seed-conns
// connections (and prints how fast that went), then runs each scenario at
// each connection count in -conns for -warmup plus -duration:
//
//	get             GET  /api/collections/{c}/records/{id}, random seeded ids
//	list            GET  /api/collections/{c}/records?page=P&perPage=20
//	list-skiptotal  the same with &skipTotal=1
//	create          POST /api/collections/{c}/records, a fresh record each time
//	create-pwload   create, while -pw-clients users change their passwords
//
// create-pwload runs only when -scenarios names it. Before the scenarios it
// (re)creates the auth collection bench_users (create rule public, view
// and update rules "id = @request.auth.id") and, as the superuser, which
// skips the sign-up rate limits, -pw-clients users (default 20). During
// each create-pwload run each user, under its own token, changes its own
// password in a loop:
//
//	PATCH /api/collections/bench_users/records/{id}
//	{"password": new, "passwordConfirm": new, "oldPassword": old}
//
// alternating between two passwords. A change rotates the record's token
// key; rather than logging in again, which the server rate-limits per
// address, the superuser impersonates the user for a fresh token
// (POST /api/collections/bench_users/impersonate/{id}, no bcrypt). Only
// the PATCHes are timed, over the same window as the creates, and are
// reported on their own line under the create-pwload row. Run it after
// create, as in -scenarios create,create-pwload, and the report compares
// the two p99s at each connection count: creates should not queue behind
// password hashing, so the target is at most 2x.
//
// In the same run it starts a bare net/http server on 127.0.0.1:0 that
// answers every request with the bytes of one real record response, and
// measures "get" against it: that is the ceiling, what this machine and this
// client can do when the server does no work. Every scenario is reported as
// a ratio to the ceiling at the same connection count, which makes numbers
// from different machines comparable. The client, the ceiling and the
// server share the machine's cores, so run nothing else meanwhile.
//
// The ceiling's server lives in the load generator's process, so client
// and server hand requests over without the kernel switching processes,
// which no real server is spared. The ceiling-proc scenario (run only
// when -scenarios names it) serves the same bytes from a process of its
// own: what any net/http server answering from memory, the record cache
// at its best, can do on this machine.
//
// Measured requests carry no Authorization header (the collection's rules
// are public) unless -auth-load is set. A run fails, after printing its
// table, if any scenario has more than 1% errors (non-2xx answers or
// transport failures).
//
// # Running against Tortoise
//
// In one terminal:
//
//	go run ./cmd/tortoise superuser upsert admin@example.com 'a-long-password'
//	go run ./cmd/tortoise serve
//
// In another:
//
//	go run ./bench -email admin@example.com -password 'a-long-password' -memory-pid auto
//
// # Running against PocketBase
//
//	./pocketbase superuser upsert admin@example.com 'a-long-password'
//	./pocketbase serve
//	go run ./bench -email admin@example.com -password 'a-long-password' -memory-pid auto -label pocketbase
//
// -memory-pid auto finds the process listening on -url's port and prints its
// resident memory (VmRSS, and the peak VmHWM) after seeding and after the
// load; give a pid instead if auto cannot see the process. -reuse keeps an
// existing collection that already holds at least -records records, which
// saves the seeding time when repeating runs. -json FILE writes every number,
// with more percentiles, for docs/benchmarks.md.
//
// # Realtime
//
// -realtime 1000,5000,10000 runs the realtime benchmark instead of the
// scenarios above: at each subscriber count N it (re)creates the base
// collection bench_rt (title text, public bool, n number; list and view
// rules "public = true", other rules superuser-only), opens N server-sent
// event streams as guests (GET /api/realtime, then POST /api/realtime to
// subscribe to "bench_rt/*"), at most 200 connecting at once, waits 2 s
// and reads the server's memory, then creates -rt-events records
// (default 30) at -rt-rate per second (default 10) as the superuser,
// public and private alternating. Only the public records pass the list
// rule, so each of them should reach every subscriber and no private one
// any. A delivery's latency runs from the start of its create request to
// the moment a subscriber has read the event; after the last create the
// subscribers get 5 s more, and what has not arrived by then is lost. Each
// count prints one table row (subscribers connected, events, deliveries
// expected and delivered, lost, private deliveries, latency p50/p99/max,
// server RSS after subscribing and its peak) and -json writes the same
// with more detail. The run fails, after the table, if any subscriber
// could not connect, any create failed, any stream ended early, or any
// delivery was lost, duplicated, unknown or private.
//
// Every subscriber comes from 127.0.0.1, and Tortoise caps open
// connections per address (TORTOISE_MAX_CONNS_PER_IP, default 256), so
// start the server with the cap off:
//
//	TORTOISE_MAX_CONNS_PER_IP=-1 go run ./cmd/tortoise serve
//	go run ./bench -email admin@example.com -password 'a-long-password' \
//	    -realtime 1000,5000,10000 -memory-pid auto -label tortoise
//
// Both processes need an open-file limit above N (ulimit -n); Go raises
// the soft limit to the hard one by itself, and bench does so explicitly
// and warns when the hard limit is too low. The subscribers share the
// machine's cores with the server: what they measure includes the time
// the client takes to read the events.
//
// Only loopback targets are accepted: the generator saturates whatever it
// points at.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// config is the parsed command line.
type config struct {
	URL        string        // server base URL; default http://127.0.0.1:8090
	Email      string        // superuser email
	Password   string        // superuser password
	Records    int           // records to seed; default 10000
	Conns      []int         // connection counts; default 16,64
	Duration   time.Duration // measured time per scenario and count; default 10s
	Warmup     time.Duration // unmeasured time before each; default 2s
	Collection string        // collection to (re)create; default bench_items
	SeedConns  int           // connections used for seeding; default 32
	Reuse      bool          // keep a collection that has >= Records records
	Page       int           // list page; 0 (default) means random among the first 50
	Scenarios  []string      // scenarios to run besides the ceiling; default all
	AuthLoad   bool          // send the superuser token with measured requests
	Search     bool          // make the collection's title and body full-text searchable (Tortoise)
	JSON       string        // write a JSON report here; default none
	MemoryPID  string        // "", a pid, or "auto"
	Label      string        // names the server in the output, e.g. tortoise
	MaxErrRate float64       // fail above this error rate; 0.01
	PwClients  int           // users changing passwords during create-pwload; default 20
	Realtime   []int         // subscriber counts; when set, the realtime benchmark runs instead of the scenarios
	RtEvents   int           // records the realtime writer creates per subscriber count; default 30
	RtRate     float64       // the realtime writer's creates per second; default 10
	Client     string        // "net/http" (default) or "raw" (rawload.go)
}

// allScenarios are the scenarios -scenarios accepts, in the order they run
// by default; defaultScenarios leaves out create-pwload, which creates
// users and runs bcrypt-heavy traffic the others do not need, and
// ceiling-proc, which measures the machine rather than the server.
var (
	allScenarios     = []string{scGet, scList, scListNoTot, scCreate, scCreatePw, scCeilingProc}
	defaultScenarios = []string{scGet, scList, scListNoTot, scCreate}
)

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{MaxErrRate: 0.01}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8090", "server base URL (loopback only)")
	fs.StringVar(&cfg.Email, "email", "", "superuser email (required)")
	fs.StringVar(&cfg.Password, "password", "", "superuser password (required)")
	fs.IntVar(&cfg.Records, "records", 10000, "records to seed")
	conns := fs.String("conns", "16,64", "comma-separated connection counts")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time per scenario and connection count")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "unmeasured warm-up before each measurement")
	fs.StringVar(&cfg.Collection, "collection", "bench_items", "collection to create and load")
	fs.IntVar(&cfg.SeedConns, "seed-conns", 32, "connections used for seeding")
	fs.BoolVar(&cfg.Reuse, "reuse", false, "skip seeding if the collection already has >= -records records")
	fs.IntVar(&cfg.Page, "page", 0, "list page to request; 0 picks a random page among the first 50")
	scen := fs.String("scenarios", strings.Join(defaultScenarios, ","), "scenarios to run (the ceiling always runs); also "+scCreatePw+", "+scCeilingProc)
	fs.BoolVar(&cfg.AuthLoad, "auth-load", false, "send the superuser token with measured requests too")
	fs.BoolVar(&cfg.Search, "search", false, "give the collection a full-text search option on title and body (Tortoise only)")
	fs.StringVar(&cfg.JSON, "json", "", "write a JSON report to this file")
	fs.StringVar(&cfg.MemoryPID, "memory-pid", "", `server pid whose RSS to report, or "auto" to find the listener on -url's port`)
	fs.StringVar(&cfg.Label, "label", "", "name of the server under test, for the report")
	fs.IntVar(&cfg.PwClients, "pw-clients", 20, "users changing their passwords in a loop during "+scCreatePw)
	realtime := fs.String("realtime", "", "comma-separated subscriber counts: run the realtime benchmark at each instead of the scenarios")
	fs.IntVar(&cfg.RtEvents, "rt-events", 30, "records the realtime writer creates at each subscriber count, public and private alternating")
	fs.Float64Var(&cfg.RtRate, "rt-rate", 10, "the realtime writer's creates per second")
	fs.StringVar(&cfg.Client, "client", "net/http", `load generator for the scenarios: "net/http" (Go's client) or "raw" (hand-written HTTP/1.1, a fraction of the CPU per request)`)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if cfg.Conns, err = parseConns(*conns); err != nil {
		return nil, err
	}
	if *realtime != "" {
		if cfg.Realtime, err = parseSubscribers(*realtime); err != nil {
			return nil, err
		}
	}
	for s := range strings.SplitSeq(*scen, ",") {
		s = strings.TrimSpace(s)
		if s == "" || s == scCeiling {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (have %s)", s, strings.Join(allScenarios, ", "))
		}
		cfg.Scenarios = append(cfg.Scenarios, s)
	}
	switch {
	case cfg.Email == "" || cfg.Password == "":
		return nil, errors.New("-email and -password are required (a superuser of the target server)")
	case cfg.Records < 1:
		return nil, errors.New("-records must be at least 1")
	case cfg.SeedConns < 1:
		return nil, errors.New("-seed-conns must be at least 1")
	case cfg.Duration <= 0 || cfg.Warmup < 0:
		return nil, errors.New("-duration must be positive and -warmup not negative")
	case cfg.Page < 0:
		return nil, errors.New("-page must not be negative")
	case cfg.PwClients < 1 || cfg.PwClients > 4096:
		return nil, errors.New("-pw-clients must be between 1 and 4096")
	case cfg.RtEvents < 1 || cfg.RtEvents > 100000:
		return nil, errors.New("-rt-events must be between 1 and 100000")
	case !(cfg.RtRate > 0 && cfg.RtRate <= 1000):
		return nil, errors.New("-rt-rate must be above 0 and at most 1000 per second")
	case cfg.Client != "net/http" && cfg.Client != "raw":
		return nil, fmt.Errorf("-client: %q is neither net/http nor raw", cfg.Client)
	}
	return cfg, nil
}

func parseConns(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("-conns: %q is not a connection count between 1 and 4096", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func main() {
	serveCeilingChild() // returns unless this process is a ceiling-proc server
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	runner := run
	if len(cfg.Realtime) > 0 {
		runner = runRealtime
	}
	if err := runner(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "\nbench: FAIL:", err)
		os.Exit(1)
	}
}

// run is the whole benchmark: setup, seeding, the scenarios, the report.
// Results go to out, progress to log.
func run(ctx context.Context, cfg *config, out, log io.Writer) error {
	target, err := checkLoopback(cfg.URL)
	if err != nil {
		return err
	}
	api := newAPIClient(cfg.URL, cfg.SeedConns)
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

	rep := &jsonReport{
		Label: cfg.Label, URL: cfg.URL, Time: time.Now().UTC(),
		GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(),
		Records: cfg.Records, Duration: cfg.Duration.String(), Warmup: cfg.Warmup.String(),
		ListPage: "random among the first 50", AuthLoad: cfg.AuthLoad,
	}
	if cfg.Page > 0 {
		rep.ListPage = strconv.Itoa(cfg.Page)
	}
	name := cfg.URL
	if cfg.Label != "" {
		name = cfg.Label + " at " + cfg.URL
	}
	fmt.Fprintf(out, "target %s: %d records, %d CPUs, %s, warm-up %s, measure %s per run\n",
		name, cfg.Records, runtime.NumCPU(), runtime.Version(), cfg.Warmup, cfg.Duration)

	ids, err := prepare(ctx, cfg, api, out, log, rep)
	if err != nil {
		return err
	}
	if pid != 0 {
		m, err := readMem(pid)
		if err != nil {
			return fmt.Errorf("memory of pid %d: %w", pid, err)
		}
		rep.MemSeeded = &m
		fmt.Fprintf(out, "server pid %d after seeding: RSS %s, peak %s (target with 100k records: RSS <= 135 MB)\n",
			pid, formatBytes(m.RSS), formatBytes(m.Peak))
	}

	var pw *passwordLoad
	if slices.Contains(cfg.Scenarios, scCreatePw) {
		if pw, err = setupPasswordLoad(ctx, api, pwCollection, cfg.PwClients, out); err != nil {
			return fmt.Errorf("%s: %w", scCreatePw, err)
		}
	}

	// Let the server finish what seeding left it doing (a garbage
	// collection, a WAL checkpoint) before the ceiling is measured beside it.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(settle):
	}

	// One real record answer is what the ceiling serves.
	var sample []byte
	if err := api.do(ctx, http.MethodGet, recordsPath(cfg.Collection)+"/"+url.PathEscape(ids[0]), nil, &sample); err != nil {
		return fmt.Errorf("fetch a sample record: %w", err)
	}
	rep.RecordSize, rep.Client = len(sample), cfg.Client
	fmt.Fprintf(out, "record response: %d bytes\nclient: %s\n\n", len(sample), cfg.Client)
	ceilURL, stopCeiling, err := startCeiling(sample)
	if err != nil {
		return err
	}
	defer stopCeiling()
	var procURL *url.URL
	if slices.Contains(cfg.Scenarios, scCeilingProc) {
		var stop func()
		if procURL, stop, err = startCeilingProcess(sample); err != nil {
			return err
		}
		defer stop()
	}

	header := http.Header{}
	if cfg.AuthLoad {
		header.Set("Authorization", api.token)
	}
	bodyHdr := header.Clone()
	bodyHdr.Set("Content-Type", "application/json")

	requests := scenarioRequests(cfg, ids)
	var rows []row
scenarios:
	for _, sc := range append([]string{scCeiling}, cfg.Scenarios...) {
		for _, conns := range cfg.Conns {
			base := target
			switch sc {
			case scCeiling:
				base = ceilURL
			case scCeilingProc:
				base = procURL
			}
			l := &load{
				base: base, header: header, bodyHdr: bodyHdr, conns: conns,
				warmup: cfg.Warmup, duration: cfg.Duration, next: requests[sc],
				raw: cfg.Client == "raw",
			}
			fmt.Fprintf(log, "running %-16s %4d conns ...", sc, conns)
			var waitBg func() *loadResult
			if sc == scCreatePw {
				waitBg = pw.start(ctx, cfg.Warmup, cfg.Duration)
			}
			res := l.run(ctx)
			fmt.Fprintf(log, " %8.0f req/s, p99 %s, errors %s", res.rps(), fmtQuantile(&res.Hist, 0.99), fmtErrors(res))
			r := row{Scenario: sc, Conns: conns, Res: res}
			if waitBg != nil {
				bg := waitBg()
				r.Background = &background{Name: pwChange, Clients: pw.clients(), Res: bg}
				fmt.Fprintf(log, "; %d %s, p99 %s, errors %s", bg.OK, pwChange, fmtQuantile(&bg.Hist, 0.99), fmtErrors(bg))
			}
			fmt.Fprintln(log)
			rows = append(rows, r)
			if ctx.Err() != nil {
				break scenarios // interrupted: report what was measured
			}
			if res.OK == 0 {
				// The server is down or refuses everything: the remaining
				// scenarios would only repeat that.
				fmt.Fprintf(log, "no request succeeded; stopping: %s\n", res.FirstError)
				break scenarios
			}
		}
	}

	fmt.Fprintln(out)
	writeTable(out, rows)
	writeP99Comparison(out, rows)
	if pid != 0 {
		if m, err := readMem(pid); err == nil {
			rep.MemEnd = &m
			fmt.Fprintf(out, "\nserver pid %d after the load: RSS %s, peak %s\n", pid, formatBytes(m.RSS), formatBytes(m.Peak))
		}
	}
	rep.Results = jsonEntries(rows)
	if cfg.JSON != "" {
		if err := writeJSON(cfg.JSON, rep); err != nil {
			return fmt.Errorf("write -json: %w", err)
		}
		fmt.Fprintf(out, "wrote %s\n", cfg.JSON)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return checkErrors(rows, cfg.MaxErrRate)
}

// prepare makes sure the collection exists with cfg.Records records and
// returns their ids: reused if allowed and possible, seeded otherwise.
func prepare(ctx context.Context, cfg *config, api *apiClient, out, log io.Writer, rep *jsonReport) ([]string, error) {
	name := cfg.Collection
	exists, err := api.collectionExists(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("look up collection %q: %w", name, err)
	}
	if exists && cfg.Reuse {
		n, err := api.countRecords(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("count records of %q: %w", name, err)
		}
		if n >= cfg.Records {
			ids, err := api.recordIDs(ctx, name, cfg.Records)
			if err != nil {
				return nil, fmt.Errorf("list record ids of %q: %w", name, err)
			}
			if len(ids) == cfg.Records {
				fmt.Fprintf(out, "reusing collection %q with %d records\n", name, n)
				rep.Seed = &jsonSeed{Reused: true, Records: n}
				return ids, nil
			}
		}
		fmt.Fprintf(log, "collection %q has %d records, want %d: recreating it\n", name, n, cfg.Records)
	}
	if exists {
		if err := api.deleteCollection(ctx, name); err != nil {
			return nil, fmt.Errorf("delete collection %q: %w", name, err)
		}
	}
	if err := api.createCollection(ctx, name, cfg.Search); err != nil {
		return nil, fmt.Errorf("create collection %q: %w", name, err)
	}

	// seed reports every 1000 records; print about every tenth.
	step := max(cfg.Records/10/1000*1000, 1000)
	progress := func(done int) {
		if done%step == 0 && done < cfg.Records {
			fmt.Fprintf(log, "seeded %d of %d\n", done, cfg.Records)
		}
	}
	sr, err := api.seed(ctx, name, cfg.Records, cfg.SeedConns, progress)
	if err != nil {
		return nil, err
	}
	perSec := float64(cfg.Records) / sr.Elapsed.Seconds()
	fmt.Fprintf(out, "seeded %d records in %s over %d conns: %.0f records/s, p50 %s, p99 %s\n",
		cfg.Records, sr.Elapsed.Round(time.Millisecond), cfg.SeedConns, perSec,
		fmtDur(sr.Hist.quantile(0.5)), fmtDur(sr.Hist.quantile(0.99)))
	rep.Seed = &jsonSeed{
		Records: cfg.Records, Conns: cfg.SeedConns, Seconds: sr.Elapsed.Seconds(), PerSecond: perSec,
		P50Micros: micros(sr.Hist.quantile(0.5)), P99Micros: micros(sr.Hist.quantile(0.99)),
		MaxMicros: micros(sr.Hist.quantile(1)), MeanMicros: micros(sr.Hist.mean()),
	}
	return sr.IDs, nil
}

// scenarioRequests builds each scenario's request generator. Paths are
// unescaped (they go into url.URL.Path); collection names and ids are
// plain identifiers in PocketBase.
func scenarioRequests(cfg *config, ids []string) map[string]requestFunc {
	recs := "/api/collections/" + cfg.Collection + "/records"
	getPaths := make([]string, len(ids))
	for i, id := range ids {
		getPaths[i] = recs + "/" + id
	}
	get := func(rng *rand.Rand) (string, string, string, []byte) {
		return http.MethodGet, getPaths[rng.IntN(len(getPaths))], "", nil
	}
	list := listQueries(cfg.Records, cfg.Page, "")
	listNoTotal := listQueries(cfg.Records, cfg.Page, "&skipTotal=1")
	var created atomic.Uint64
	create := func(rng *rand.Rand) (string, string, string, []byte) {
		// A fresh slice per request: the transport may still hold the
		// previous body when a worker builds the next one.
		tag := uint64(cfg.Records) + created.Add(1)
		return http.MethodPost, recs, "", appendRecord(make([]byte, 0, 256), rng, tag)
	}
	return map[string]requestFunc{
		scCeiling:     get,
		scCeilingProc: get,
		scGet:         get,
		scList: func(rng *rand.Rand) (string, string, string, []byte) {
			return http.MethodGet, recs, list[rng.IntN(len(list))], nil
		},
		scListNoTot: func(rng *rand.Rand) (string, string, string, []byte) {
			return http.MethodGet, recs, listNoTotal[rng.IntN(len(listNoTotal))], nil
		},
		scCreate:   create,
		scCreatePw: create,
	}
}

// listQueries returns the query strings a list scenario picks from: the
// fixed page, or every page among the first 50 that has records.
func listQueries(records, page int, extra string) []string {
	pages := []int{page}
	if page == 0 {
		n := min(50, (records+19)/20)
		pages = make([]int, n)
		for i := range pages {
			pages[i] = i + 1
		}
	}
	qs := make([]string, len(pages))
	for i, p := range pages {
		qs[i] = "page=" + strconv.Itoa(p) + "&perPage=20" + extra
	}
	return qs
}

// settle is the pause between seeding and the first measurement.
const settle = 3 * time.Second

// startCeiling serves body, as JSON, to every request on 127.0.0.1:0: a
// server that does no work at all.
func startCeiling(body []byte) (*url.URL, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("ceiling server: %w", err)
	}
	contentType := []string{"application/json"}
	contentLength := []string{strconv.Itoa(len(body))}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h["Content-Type"] = contentType
			h["Content-Length"] = contentLength
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}, func() { _ = srv.Close() }, nil
}
