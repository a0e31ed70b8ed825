package reqlog_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/reqlog"
)

// opener opens a log over the same storage each time it is called (so
// a test can close it and open it again); logs are closed when the test
// ends.
type opener func(o reqlog.Options) *reqlog.Log

// eachEngine runs fn on SQLite (a file in a temp dir) and on PostgreSQL
// (a fresh database, when TORTOISE_TEST_POSTGRES is set).
func eachEngine(t *testing.T, fn func(t *testing.T, open opener)) {
	t.Helper()
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var open func(o reqlog.Options) (*reqlog.Log, error)
			switch engine {
			case "sqlite":
				path := filepath.Join(t.TempDir(), "logs.db")
				open = func(o reqlog.Options) (*reqlog.Log, error) { return reqlog.OpenSQLite(ctx, path, o) }
			case "postgres":
				pool, err := pgxpool.New(ctx, testkit.PostgresDatabase(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(pool.Close)
				open = func(o reqlog.Options) (*reqlog.Log, error) { return reqlog.OpenPostgres(ctx, pool, o) }
			}
			fn(t, func(o reqlog.Options) *reqlog.Log {
				t.Helper()
				if o.Logger == nil {
					o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
				}
				l, err := open(o)
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				t.Cleanup(func() {
					if err := l.Close(context.Background()); err != nil {
						t.Errorf("close: %v", err)
					}
				})
				return l
			})
		})
	}
}

// base is the fixtures' time: a fixed instant, so that hours and minutes
// are known.
var base = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

// atBase is o with the clock at three hours after base, so that the
// fixtures are recent and the retention keeps them.
func atBase(o reqlog.Options) reqlog.Options {
	return reqlog.WithClock(o, clock(base.Add(3*time.Hour)), 0, 0)
}

// fixture is twelve requests, seven minutes apart from base (so over two
// hours), in the order they arrived.
func fixture() []*reqlog.Entry {
	methods := []string{"GET", "POST", "PATCH"}
	statuses := []int{200, 201, 404, 500, 429, 200}
	var out []*reqlog.Entry
	for i := range 12 {
		e := &reqlog.Entry{
			Created:   base.Add(time.Duration(i)*7*time.Minute + time.Duration(i)*time.Millisecond),
			Method:    methods[i%3],
			URL:       fmt.Sprintf("/api/collections/posts/records/r%02d?x=%d", i, i),
			Route:     methods[i%3] + " /api/collections/{collection}/records/{id}",
			Status:    statuses[i%6],
			Duration:  time.Duration(i+1) * 1500 * time.Microsecond,
			RemoteIP:  fmt.Sprintf("10.0.0.%d", i),
			UserIP:    fmt.Sprintf("192.0.2.%d", i),
			UserAgent: fmt.Sprintf("Agent/%d", i),
			Referer:   "https://example.com/",
		}
		if i%3 == 0 {
			e.Auth, e.AuthID = "users", fmt.Sprintf("user%010d", i)
		}
		if e.Status >= 400 {
			e.Error = "Failed " + fmt.Sprint(e.Status)
		}
		if e.Status >= 500 {
			e.Details = "disk on fire"
		}
		out = append(out, e)
	}
	return out
}

// record queues entries and waits until they are written.
func record(t *testing.T, l *reqlog.Log, entries []*reqlog.Entry) {
	t.Helper()
	for _, e := range entries {
		l.Record(e)
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// urls names entries by their URL, for comparisons.
func urls(entries []*reqlog.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.URL)
	}
	return out
}

func TestListFilterSort(t *testing.T) {
	eachEngine(t, func(t *testing.T, open opener) {
		l := open(atBase(reqlog.Options{}))
		all := fixture()
		record(t, l, all)
		ctx := context.Background()
		newestFirst := slices.Clone(all)
		slices.Reverse(newestFirst)
		where := func(keep func(e *reqlog.Entry) bool) []*reqlog.Entry {
			var out []*reqlog.Entry
			for _, e := range newestFirst {
				if keep(e) {
					out = append(out, e)
				}
			}
			return out
		}
		sorted := func(cmp func(a, b *reqlog.Entry) int) []*reqlog.Entry {
			out := slices.Clone(all)
			slices.SortStableFunc(out, cmp)
			return out
		}
		for _, tc := range []struct {
			name, filter, sort string
			want               []*reqlog.Entry
		}{
			{"all, newest first", "", "", newestFirst},
			{"status", "data.status >= 400", "", where(func(e *reqlog.Entry) bool { return e.Status >= 400 })},
			{"method and time", "data.method = 'POST' && data.execTime > 5", "", where(func(e *reqlog.Entry) bool { return e.Method == "POST" && e.ExecTime() > 5 })},
			{"level", "level > 0", "", where(func(e *reqlog.Entry) bool { return e.Status >= 400 })},
			{"errors only", "level = 8", "", where(func(e *reqlog.Entry) bool { return e.Status >= 500 })},
			{"created", "created >= '2026-05-01 10:30:00'", "", where(func(e *reqlog.Entry) bool { return e.Created.Minute() >= 30 || e.Created.Hour() > 10 })},
			{"message", "message ~ 'PATCH /api/collections/posts/records/r05'", "", where(func(e *reqlog.Entry) bool { return strings.HasSuffix(e.URL, "r05?x=5") })},
			{"like is case-insensitive", "data.url ~ 'R01'", "", where(func(e *reqlog.Entry) bool { return strings.Contains(e.URL, "r01") })},
			{"auth", "data.auth = 'users' && data.authId != ''", "", where(func(e *reqlog.Entry) bool { return e.Auth == "users" })},
			{"guest", "data.auth = ''", "", where(func(e *reqlog.Entry) bool { return e.Auth == "" })},
			{"error and details", "data.error ~ '50' && data.details = 'disk on fire'", "", where(func(e *reqlog.Entry) bool { return e.Status >= 500 })},
			{"ips", "data.userIP = '192.0.2.4' || data.remoteIP = '10.0.0.7'", "", where(func(e *reqlog.Entry) bool { return e.UserIP == "192.0.2.4" || e.RemoteIP == "10.0.0.7" })},
			{"type", "data.type = 'request'", "", newestFirst},
			{"modifier", "data.userAgent:lower = 'agent/3'", "", where(func(e *reqlog.Entry) bool { return e.UserAgent == "Agent/3" })},
			{"route and referer", "data.route ~ 'GET /api/' && data.referer = 'https://example.com/'", "", where(func(e *reqlog.Entry) bool { return e.Method == "GET" })},
			{"grouping and comment", "(data.status = 200 || data.status = 201) && data.method != 'GET' // not reads", "",
				where(func(e *reqlog.Entry) bool { return (e.Status == 200 || e.Status == 201) && e.Method != "GET" })},
			{"a quote is data", `data.url = "x' OR 1=1 --"`, "", nil},
			{"sort by time taken", "", "data.execTime", sorted(func(a, b *reqlog.Entry) int { return int(a.Duration - b.Duration) })},
			{"sort by status then time", "", "-data.status,created", sorted(func(a, b *reqlog.Entry) int {
				if a.Status != b.Status {
					return b.Status - a.Status
				}
				return a.Created.Compare(b.Created)
			})},
			{"rowid", "", "rowid", all},
			{"-rowid", "", "-rowid", newestFirst},
			{"created ascending", "", "+created", all},
			{"filtered and sorted", "data.status < 300", "-data.execTime", where(func(e *reqlog.Entry) bool { return e.Status < 300 })},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res, err := l.List(ctx, reqlog.ListParams{Filter: tc.filter, Sort: tc.sort, PerPage: 100})
				if err != nil {
					t.Fatal(err)
				}
				if got, want := urls(res.Items), urls(tc.want); !slices.Equal(got, want) {
					t.Errorf("got  %q\nwant %q", got, want)
				}
				if res.TotalItems != len(tc.want) || res.Page != 1 || res.PerPage != 100 {
					t.Errorf("page %d perPage %d totalItems %d, want 1 100 %d", res.Page, res.PerPage, res.TotalItems, len(tc.want))
				}
			})
		}

		t.Run("paging", func(t *testing.T) {
			var got []*reqlog.Entry
			for page := 1; page <= 4; page++ {
				res, err := l.List(ctx, reqlog.ListParams{Page: page, PerPage: 5})
				if err != nil {
					t.Fatal(err)
				}
				if res.TotalItems != 12 || res.TotalPages != 3 {
					t.Errorf("page %d: totalItems %d totalPages %d, want 12 and 3", page, res.TotalItems, res.TotalPages)
				}
				if want := min(5, max(0, 12-(page-1)*5)); len(res.Items) != want {
					t.Errorf("page %d: %d items, want %d", page, len(res.Items), want)
				}
				got = append(got, res.Items...)
			}
			if !slices.Equal(urls(got), urls(newestFirst)) {
				t.Errorf("pages: %q", urls(got))
			}
			res, err := l.List(ctx, reqlog.ListParams{PerPage: 10000, SkipTotal: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.PerPage != reqlog.MaxPerPage || res.TotalItems != -1 || res.TotalPages != -1 || len(res.Items) != 12 {
				t.Errorf("capped, skipTotal: perPage %d totalItems %d totalPages %d items %d", res.PerPage, res.TotalItems, res.TotalPages, len(res.Items))
			}
		})

		t.Run("get", func(t *testing.T) {
			res, err := l.List(ctx, reqlog.ListParams{Sort: "rowid"})
			if err != nil {
				t.Fatal(err)
			}
			for i, item := range res.Items {
				got, err := l.Get(ctx, item.ID)
				if err != nil {
					t.Fatal(err)
				}
				want := *all[i]
				want.ID = item.ID
				if *got != want {
					t.Errorf("get %s:\n got %+v\nwant %+v", item.ID, *got, want)
				}
				if i > 0 && item.ID <= res.Items[i-1].ID {
					t.Errorf("ids do not grow with time: %s after %s", item.ID, res.Items[i-1].ID)
				}
				if len(item.ID) != 15 {
					t.Errorf("id %q: want 15 characters", item.ID)
				}
			}
			byID, err := l.List(ctx, reqlog.ListParams{Filter: "id = '" + res.Items[3].ID + "'"})
			if err != nil || len(byID.Items) != 1 || byID.Items[0].URL != all[3].URL {
				t.Errorf("filter by id: %v %v", byID, err)
			}
			for _, id := range []string{"\x00", "abc\xff"} {
				if _, err := l.Get(ctx, id); core.KindOf(err) != core.KindNotFound {
					t.Errorf("Get(%q): %v, want not found", id, err)
				}
			}
			if _, err := l.Get(ctx, "nosuchentry0000"); core.KindOf(err) != core.KindNotFound {
				t.Errorf("missing id: %v, want not found", err)
			}
		})
	})
}

func TestBadFilters(t *testing.T) {
	eachEngine(t, func(t *testing.T, open opener) {
		l := open(atBase(reqlog.Options{}))
		record(t, l, fixture()[:3])
		ctx := context.Background()
		for _, tc := range []struct{ filter, sort, want string }{
			{filter: "data.nope = 1", want: `unknown field \"data.nope\"`},
			{filter: "data = 1", want: `\"data\" has no value of its own`},
			{filter: "data_status = 200", want: `unknown field \"data_status\"`},
			{filter: "nope = 1", want: `unknown field \"nope\"`},
			{filter: "data.status = 'x'", want: "cannot compare data.status (number)"},
			{filter: "data.status >=", want: "at position"},
			{filter: "data.url = 'unterminated", want: "unterminated string"},
			{filter: "@collection.users.id = 'x'", want: "unknown"},
			{filter: "posts_via_author.id = 'x'", want: "unknown field"},
			{filter: "data.status = {:status}", want: "status"},
			{filter: "id = 'a'); DROP TABLE _request_logs; --", want: "at position"},
			{sort: "data.nope", want: `unknown field \"data.nope\"`},
			{sort: "-data", want: "unknown field"},
			{sort: "nope", want: "unknown field"},
			{sort: "data.status;DROP TABLE _request_logs", want: "data.status;DROP"},
			{sort: ",", want: "empty item"},
			{sort: "created,", want: "empty item"},
			{sort: "data.status,,", want: "empty item"},
		} {
			res, err := l.List(ctx, reqlog.ListParams{Filter: tc.filter, Sort: tc.sort})
			e := core.AsError(err)
			if e == nil || e.Kind != core.KindInvalid {
				t.Errorf("filter %q sort %q: %v %v, want a 400", tc.filter, tc.sort, res, err)
				continue
			}
			param := "filter"
			if tc.sort != "" {
				param = "sort"
			}
			if detail := fmt.Sprintf("%q", e.Fields[param].Message); !strings.Contains(detail, tc.want) {
				t.Errorf("filter %q sort %q: %s, want it to say %s", tc.filter, tc.sort, detail, tc.want)
			}
			if tc.filter != "" {
				if _, err := l.Stats(ctx, tc.filter); core.KindOf(err) != core.KindInvalid {
					t.Errorf("stats %q: %v, want a 400", tc.filter, err)
				}
			}
		}
		// The entries are all still there.
		if res, err := l.List(ctx, reqlog.ListParams{}); err != nil || res.TotalItems != 3 {
			t.Errorf("after bad filters: %v %v", res, err)
		}
	})
}

func TestStats(t *testing.T) {
	eachEngine(t, func(t *testing.T, open opener) {
		now := base.Add(2*time.Hour + 30*time.Minute) // 12:30
		l := open(reqlog.WithClock(reqlog.Options{}, clock(now), 0, 0))
		at := func(d time.Duration, status int) *reqlog.Entry {
			return &reqlog.Entry{Created: base.Add(d), Method: "GET", URL: "/api/x", Status: status, Duration: time.Millisecond}
		}
		// The rollup answers for the minutes before 12:29, the entries
		// for the rest: both are counted, and nothing twice.
		record(t, l, []*reqlog.Entry{
			at(5*time.Minute, 200), at(50*time.Minute, 404), at(70*time.Minute, 200),
			at(2*time.Hour+28*time.Minute+30*time.Second, 500), // 12:28:30, rollup
			at(2*time.Hour+29*time.Minute+30*time.Second, 200), // 12:29:30, entries
			at(2*time.Hour+29*time.Minute+50*time.Second, 403), // 12:29:50, entries
		})
		ctx := context.Background()
		for _, tc := range []struct {
			filter string
			want   []reqlog.StatPoint
		}{
			{"", []reqlog.StatPoint{{2, "2026-05-01 10:00:00.000Z"}, {1, "2026-05-01 11:00:00.000Z"}, {3, "2026-05-01 12:00:00.000Z"}}},
			{"data.status >= 400", []reqlog.StatPoint{{1, "2026-05-01 10:00:00.000Z"}, {2, "2026-05-01 12:00:00.000Z"}}},
			{"data.status = 201", []reqlog.StatPoint{}},
		} {
			got, err := l.Stats(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("stats %q: %v, want %v", tc.filter, got, tc.want)
			}
		}
	})
}

func TestRetention(t *testing.T) {
	eachEngine(t, func(t *testing.T, open opener) {
		// Look for old entries every 20 ms, deleting 10 at a time.
		l := open(reqlog.WithClock(reqlog.Options{Days: 7}, clock(base), 20*time.Millisecond, 10))
		var entries []*reqlog.Entry
		for i := range 25 {
			entries = append(entries, &reqlog.Entry{Created: base.Add(-8*24*time.Hour + time.Duration(i)*time.Minute), Method: "GET", URL: "/api/old", Status: 200})
		}
		for i := range 5 {
			entries = append(entries, &reqlog.Entry{Created: base.Add(-6*24*time.Hour + time.Duration(i)*time.Minute), Method: "GET", URL: "/api/kept", Status: 200})
		}
		record(t, l, entries)
		ctx := context.Background()
		deadline := time.Now().Add(20 * time.Second)
		for {
			res, err := l.List(ctx, reqlog.ListParams{Filter: "data.url = '/api/old'"})
			if err != nil {
				t.Fatal(err)
			}
			if res.TotalItems == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d old entries are still there", res.TotalItems)
			}
			time.Sleep(20 * time.Millisecond)
		}
		res, err := l.List(ctx, reqlog.ListParams{})
		if err != nil || res.TotalItems != 5 {
			t.Fatalf("kept: %v %v, want the 5 recent entries", res, err)
		}
		// The rollup of the old minutes went with them: the stats (which
		// read it for all but the last minutes) count the kept ones only.
		stats, err := l.Stats(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, p := range stats {
			total += p.Total
		}
		if total != 5 {
			t.Errorf("stats after retention: %v, want 5 requests", stats)
		}
	})
}

func TestQueueFullDrops(t *testing.T) {
	eachEngine(t, func(t *testing.T, open opener) {
		// A queue of 4 and a flusher that does not write on its own.
		l := open(atBase(reqlog.Options{QueueSize: 4, BatchSize: 1000, FlushEvery: time.Hour}))
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 100 {
				l.Record(&reqlog.Entry{Created: base.Add(time.Duration(i) * time.Second), Method: "GET", URL: "/api/x", Status: 200})
			}
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Record blocked on a full queue")
		}
		if full, failed := l.Dropped(); full != 96 || failed != 0 {
			t.Errorf("dropped %d (failed %d), want 96", full, failed)
		}
		if err := l.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		res, err := l.List(context.Background(), reqlog.ListParams{})
		if err != nil || res.TotalItems != 4 {
			t.Errorf("written: %v %v, want the 4 queued", res, err)
		}
	})
}

func TestRepeatedIDsAreSkipped(t *testing.T) {
	eachEngine(t, func(t *testing.T, open opener) {
		// Two processes whose counters meet: the second's batch repeats
		// three of the first's ids and brings two new ones. The repeats
		// are skipped (on PostgreSQL COPY refuses the batch and the
		// INSERT that skips them writes it); nothing is counted lost.
		at := func(ms int) *reqlog.Entry {
			return &reqlog.Entry{Created: base.Add(time.Duration(ms) * time.Millisecond), Method: "GET", URL: fmt.Sprintf("/api/x%d", ms), Status: 200}
		}
		a := open(reqlog.WithIDStart(atBase(reqlog.Options{FlushEvery: time.Hour}), 7))
		b := open(reqlog.WithIDStart(atBase(reqlog.Options{FlushEvery: time.Hour}), 7))
		record(t, a, []*reqlog.Entry{at(1), at(2), at(3)})
		record(t, b, []*reqlog.Entry{at(1), at(2), at(3), at(4), at(5)})
		for _, l := range []*reqlog.Log{a, b} {
			if full, failed := l.Dropped(); full != 0 || failed != 0 {
				t.Errorf("dropped %d, failed %d; want none", full, failed)
			}
		}
		res, err := a.List(context.Background(), reqlog.ListParams{Sort: "created"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := urls(res.Items), []string{"/api/x1", "/api/x2", "/api/x3", "/api/x4", "/api/x5"}; !slices.Equal(got, want) {
			t.Errorf("entries %v, want %v", got, want)
		}
	})
}

func TestCloseWritesWhatIsQueued(t *testing.T) {
	eachEngine(t, func(t *testing.T, open opener) {
		l := open(atBase(reqlog.Options{FlushEvery: time.Hour}))
		for _, e := range fixture()[:7] {
			l.Record(e)
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := l.Flush(context.Background()); core.KindOf(err) != core.KindUnavailable {
			t.Errorf("flush after close: %v", err)
		}
		l.Record(fixture()[8]) // dropped, without a panic
		again := open(atBase(reqlog.Options{}))
		res, err := again.List(context.Background(), reqlog.ListParams{})
		if err != nil || res.TotalItems != 7 {
			t.Fatalf("after close and open: %v %v, want 7 entries", res, err)
		}
	})
}

func TestSummary(t *testing.T) {
	eachEngine(t, func(t *testing.T, open opener) {
		now := base.Add(time.Hour + 30*time.Second) // 11:00:30
		l := open(reqlog.WithClock(reqlog.Options{}, clock(now), 0, 0))
		var entries []*reqlog.Entry
		// A slow route: 100 requests taking 1 to 100 ms over 10:10-10:59.
		for i := range 100 {
			e := &reqlog.Entry{Created: base.Add(10*time.Minute + time.Duration(i)*30*time.Second), Method: "GET", URL: "/api/slow",
				Route: "GET /api/slow", Status: 200, Duration: time.Duration(i+1) * time.Millisecond}
			if i%10 == 0 {
				e.Status = 500
			}
			entries = append(entries, e)
		}
		// A fast one, with 4xx, in the current minute.
		for i := range 10 {
			entries = append(entries, &reqlog.Entry{Created: now.Add(-time.Duration(i+1) * time.Second), Method: "POST", URL: "/api/fast",
				Route: "POST /api/fast", Status: 400 + i%2*4, Duration: 100 * time.Microsecond})
		}
		// Before the window: not counted.
		entries = append(entries, &reqlog.Entry{Created: base.Add(-time.Hour), Method: "GET", URL: "/api/old", Route: "GET /api/old", Status: 500, Duration: time.Minute})
		record(t, l, entries)

		s, err := l.Summary(context.Background(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if s.Bucket != time.Minute || len(s.Points) != 60 || !s.To.Equal(base.Add(time.Hour+time.Minute)) || !s.From.Equal(base.Add(time.Minute)) {
			t.Errorf("window %s–%s by %s, %d points", s.From, s.To, s.Bucket, len(s.Points))
		}
		if s.Requests != 110 || s.ServerErrors != 10 || s.ClientErrors != 10 {
			t.Errorf("requests %d, 5xx %d, 4xx %d; want 110, 10, 10", s.Requests, s.ServerErrors, s.ClientErrors)
		}
		if s.ServerErrorRate != 10.0/110 || s.ClientErrorRate != 10.0/110 {
			t.Errorf("rates %v %v", s.ServerErrorRate, s.ClientErrorRate)
		}
		var sum int64
		for _, p := range s.Points {
			sum += p.Requests
		}
		last := s.Points[len(s.Points)-1]
		if sum != s.Requests || last.Requests != 10 || last.ClientErrors != 10 || last.PerMinute != 10 || !last.Start.Equal(base.Add(time.Hour)) {
			t.Errorf("points sum to %d; the last: %+v", sum, last)
		}
		// 10:10 is point 9 (the window starts at 10:01): two requests.
		if p := s.Points[9]; p.Requests != 2 || p.ServerErrors != 1 {
			t.Errorf("point 9: %+v", p)
		}
		if len(s.SlowRoutes) != 2 || s.SlowRoutes[0].Route != "GET /api/slow" || s.SlowRoutes[1].Route != "POST /api/fast" {
			t.Fatalf("slow routes: %+v", s.SlowRoutes)
		}
		slow := s.SlowRoutes[0]
		// The exact 95th percentile is 95 ms; the histogram's bin is 75-100 ms.
		if slow.Requests != 100 || slow.ServerErrors != 10 || slow.P95 < 75 || slow.P95 > 100 || slow.Mean != 50.5 || slow.Max != 100 {
			t.Errorf("slow route: %+v", slow)
		}
		if fast := s.SlowRoutes[1]; fast.P95 > 0.15 || fast.ClientErrors != 10 {
			t.Errorf("fast route: %+v", fast)
		}
		if len(s.RecentErrors) != reqlog.MaxRecentErrors || s.RecentErrors[0].URL != "/api/fast" || s.RecentErrors[0].Created.Before(s.RecentErrors[1].Created) {
			t.Errorf("recent errors: %d, first %+v", len(s.RecentErrors), s.RecentErrors[0])
		}
		for _, e := range s.RecentErrors {
			if e.Status < 400 {
				t.Errorf("recent error with status %d", e.Status)
			}
		}

		day, err := l.Summary(context.Background(), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if day.Bucket != 30*time.Minute || len(day.Points) != 48 || day.Requests != 111 {
			t.Errorf("a day: by %s, %d points, %d requests", day.Bucket, len(day.Points), day.Requests)
		}
		for _, bad := range []time.Duration{0, -time.Hour, 40 * 24 * time.Hour} {
			if _, err := l.Summary(context.Background(), bad); core.KindOf(err) != core.KindInvalid {
				t.Errorf("window %s: %v", bad, err)
			}
		}
	})
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	hist := func(ms ...float64) []int64 {
		h := make([]int64, len(reqlog.Bins)+1)
		for _, v := range ms {
			h[binOf(v)]++
		}
		return h
	}
	for _, tc := range []struct {
		name     string
		ms       []float64
		max      float64
		lo, hi   float64
		fraction float64
	}{
		{"empty", nil, 0, 0, 0, 0.95},
		{"one", []float64{3}, 3, 2, 3, 0.95},
		{"all slow", []float64{40000, 50000}, 50000, 30000, 50000, 0.95},
		{"median", []float64{1, 1, 1, 200, 200}, 200, 0.75, 1, 0.5},
	} {
		got := reqlog.Percentile(hist(tc.ms...), tc.max, tc.fraction)
		if got < tc.lo || got > tc.hi {
			t.Errorf("%s: %v, want %v to %v", tc.name, got, tc.lo, tc.hi)
		}
	}
}

// binOf is the bin of a duration in ms.
func binOf(ms float64) int {
	for i, b := range reqlog.Bins {
		if ms <= b {
			return i
		}
	}
	return len(reqlog.Bins)
}

// TestSQLiteOtherLayout opens a logs.db an earlier build left with
// another layout: it is emptied and used, not misread or refused.
func TestSQLiteOtherLayout(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "logs.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE _request_logs (id TEXT PRIMARY KEY, created TEXT, level INTEGER); INSERT INTO _request_logs VALUES ('x', 'y', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var logs strings.Builder
	l, err := reqlog.OpenSQLite(context.Background(), path, atBase(reqlog.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if !strings.Contains(logs.String(), "another layout") {
		t.Errorf("no warning: %q", logs.String())
	}
	record(t, l, fixture()[:2])
	res, err := l.List(context.Background(), reqlog.ListParams{})
	if err != nil || res.TotalItems != 2 {
		t.Fatalf("after the reset: %v %v", res, err)
	}
	// Opened again, it keeps what it has.
	l.Close(context.Background())
	again, err := reqlog.OpenSQLite(context.Background(), path, atBase(reqlog.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(context.Background())
	if res, err := again.List(context.Background(), reqlog.ListParams{}); err != nil || res.TotalItems != 2 {
		t.Fatalf("opened again: %v %v", res, err)
	}
}
