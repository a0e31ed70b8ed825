package reqlog

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
)

// The rollup. The flusher adds every entry it writes to a row per minute
// (of Created) and route, and writes the rows of a minute once it has
// ended (Flush and Close write the current one too). A row that comes
// later for the same minute and route, a straggler or another process's,
// is another row: they are summed when read, so nothing is ever updated
// and processes sharing a PostgreSQL database never contend.

type aggKey struct {
	minute int64
	route  string
}

type aggRow struct {
	minute                               int64
	route                                string
	requests, clientErrors, serverErrors int64
	totalMS, maxMS                       float64
	hist                                 []int64
}

func (f *flushState) aggregate(e *Entry) {
	k := aggKey{minute: e.Created.Unix() / 60, route: e.Route}
	r := f.agg[k]
	if r == nil {
		r = &aggRow{minute: k.minute, route: k.route, hist: make([]int64, nBins)}
		f.agg[k] = r
	}
	ms := e.ExecTime()
	r.requests++
	switch {
	case e.Status >= 500:
		r.serverErrors++
	case e.Status >= 400:
		r.clientErrors++
	}
	r.totalMS += ms
	r.maxMS = max(r.maxMS, ms)
	r.hist[sort.SearchFloat64s(bins, ms)]++
}

// rollup takes out the rows of the minutes before now's, or all of them
// with current.
func (f *flushState) rollup(now time.Time, current bool) []*aggRow {
	cut := now.Unix() / 60
	var out []*aggRow
	for k, r := range f.agg {
		if current || k.minute < cut {
			out = append(out, r)
			delete(f.agg, k)
		}
	}
	return out
}

// percentile reads the p-th fraction (0.95) of a latency histogram, in
// milliseconds: the bin holding it, interpolated linearly inside the bin,
// the slowest request seen bounding the open last bin.
func percentile(hist []int64, maxMS, p float64) float64 {
	var total int64
	for _, n := range hist {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := p * float64(total)
	var cum float64
	for i, n := range hist {
		if n == 0 {
			continue
		}
		if cum+float64(n) >= rank {
			lo, hi := 0.0, maxMS
			if i > 0 {
				lo = bins[i-1]
			}
			if i < len(bins) {
				hi = min(bins[i], maxMS)
			}
			hi = max(hi, lo)
			return lo + (hi-lo)*(rank-cum)/float64(n)
		}
		cum += float64(n)
	}
	return maxMS
}

// Summary is what the dashboard shows of the requests of a window ending
// now. Durations are in milliseconds; rates are fractions of Requests.
// The figures come from the rollup, so they cover minutes that have been
// written: up to the last complete minute, give or take the flush.
type Summary struct {
	From, To time.Time
	// Bucket is the width of each point of Points.
	Bucket       time.Duration
	Requests     int64
	ClientErrors int64 // answered 4xx
	ServerErrors int64 // answered 5xx
	// ClientErrorRate and ServerErrorRate are ClientErrors and
	// ServerErrors over Requests (0 without requests).
	ClientErrorRate, ServerErrorRate float64
	// P95 and Mean are the 95th percentile and mean duration of the
	// window's requests.
	P95, Mean float64
	// Points is the window bucket by bucket, oldest first, every bucket
	// present (empty ones count zero).
	Points []Point
	// SlowRoutes are the routes with the highest P95 in the window,
	// slowest first, at most MaxRoutes.
	SlowRoutes []RouteStat
	// RecentErrors are the latest requests answered 4xx or 5xx in the
	// window, newest first, at most MaxRecentErrors.
	RecentErrors []*Entry
}

// Point is one bucket of a Summary.
type Point struct {
	Start                                time.Time
	Requests, ClientErrors, ServerErrors int64
	// PerMinute is Requests per minute of the bucket.
	PerMinute float64
	P95       float64
}

// RouteStat is one route's figures in a Summary. Route is the pattern
// with its method ("GET /api/collections/{collection}/records"), empty
// for requests refused before routing.
type RouteStat struct {
	Route                                string
	Requests, ClientErrors, ServerErrors int64
	P95, Mean, Max                       float64
}

// Bounds of a Summary.
const (
	MaxRoutes       = 10
	MaxRecentErrors = 10
	// MaxWindow is the longest window Summary covers.
	MaxWindow = 31 * 24 * time.Hour
)

// bucketSizes are the widths a Summary's points may have: the smallest
// giving at most 60 points is used (a minute for an hour, half an hour
// for a day, six hours for a week).
var bucketSizes = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// Summary returns the dashboard's figures for the window ending now
// (time.Hour, 24*time.Hour): requests per minute, 4xx and 5xx rates and
// the 95th percentile latency as a series of at most 60 points, the
// slowest routes and the latest errors.
//
// Its cost does not grow with the log: the series and the routes are two
// GROUP BY queries over the rollup (a row per minute and route, found
// through its minute index: about 1,440 × routes rows for a day), and
// the errors one query that reads MaxRecentErrors rows through a partial
// index of the 4xx and 5xx entries by time. Errors: KindInvalid for a
// window that is not positive or longer than MaxWindow, KindUnavailable
// when the read timeout stops a query, KindInternal.
func (l *Log) Summary(ctx context.Context, window time.Duration) (*Summary, error) {
	if window <= 0 || window > MaxWindow {
		return nil, core.Invalid("The window must be positive and at most %s.", MaxWindow)
	}
	bucket := bucketSizes[len(bucketSizes)-1]
	for _, b := range bucketSizes {
		if window/b <= 60 {
			bucket = b
			break
		}
	}
	window = (window + bucket - 1) / bucket * bucket
	// The window ends with the current minute, partly written or not.
	to := l.opts.now().Truncate(time.Minute).Add(time.Minute)
	from := to.Add(-window)
	s := &Summary{From: from, To: to, Bucket: bucket, Points: make([]Point, window/bucket)}
	for i := range s.Points {
		s.Points[i].Start = from.Add(time.Duration(i) * bucket)
	}
	ctx, cancel := l.readCtx(ctx)
	defer cancel()

	fromMin, toMin, perBucket := from.Unix()/60, to.Unix()/60, int64(bucket/time.Minute)
	sums := sumColumns()
	q := `SELECT (minute - ?) / ?, ` + sums + ` FROM ` + statsTable + ` WHERE minute >= ? AND minute < ? GROUP BY 1`
	rows, err := l.rdb.QueryContext(ctx, l.numbered(q), fromMin, perBucket, fromMin, toMin)
	if err != nil {
		return nil, l.readErr(ctx, err)
	}
	total := aggRow{hist: make([]int64, nBins)}
	for rows.Next() {
		var i int64
		r := aggRow{hist: make([]int64, nBins)}
		if err := rows.Scan(append([]any{&i}, r.dest()...)...); err != nil {
			rows.Close()
			return nil, l.readErr(ctx, err)
		}
		if i < 0 || i >= int64(len(s.Points)) {
			continue
		}
		p := &s.Points[i]
		p.Requests, p.ClientErrors, p.ServerErrors = r.requests, r.clientErrors, r.serverErrors
		p.PerMinute = float64(r.requests) / bucket.Minutes()
		p.P95 = percentile(r.hist, r.maxMS, 0.95)
		total.add(&r)
	}
	if err := rows.Close(); err != nil {
		return nil, l.readErr(ctx, err)
	}
	if err := rows.Err(); err != nil {
		return nil, l.readErr(ctx, err)
	}
	s.Requests, s.ClientErrors, s.ServerErrors = total.requests, total.clientErrors, total.serverErrors
	if total.requests > 0 {
		s.ClientErrorRate = float64(total.clientErrors) / float64(total.requests)
		s.ServerErrorRate = float64(total.serverErrors) / float64(total.requests)
		s.Mean = total.totalMS / float64(total.requests)
	}
	s.P95 = percentile(total.hist, total.maxMS, 0.95)

	q = `SELECT route, ` + sums + ` FROM ` + statsTable + ` WHERE minute >= ? AND minute < ? GROUP BY route`
	rows, err = l.rdb.QueryContext(ctx, l.numbered(q), fromMin, toMin)
	if err != nil {
		return nil, l.readErr(ctx, err)
	}
	for rows.Next() {
		r := aggRow{hist: make([]int64, nBins)}
		if err := rows.Scan(append([]any{&r.route}, r.dest()...)...); err != nil {
			rows.Close()
			return nil, l.readErr(ctx, err)
		}
		rs := RouteStat{Route: r.route, Requests: r.requests, ClientErrors: r.clientErrors, ServerErrors: r.serverErrors,
			P95: percentile(r.hist, r.maxMS, 0.95), Max: r.maxMS}
		if r.requests > 0 {
			rs.Mean = r.totalMS / float64(r.requests)
		}
		s.SlowRoutes = append(s.SlowRoutes, rs)
	}
	if err := rows.Close(); err != nil {
		return nil, l.readErr(ctx, err)
	}
	if err := rows.Err(); err != nil {
		return nil, l.readErr(ctx, err)
	}
	slices.SortFunc(s.SlowRoutes, func(a, b RouteStat) int {
		return cmp.Or(cmp.Compare(b.P95, a.P95), cmp.Compare(b.Requests, a.Requests), strings.Compare(a.Route, b.Route))
	})
	s.SlowRoutes = s.SlowRoutes[:min(len(s.SlowRoutes), MaxRoutes)]

	q, since := l.recentErrorsSQL(from)
	if s.RecentErrors, err = l.queryEntries(ctx, l.numbered(q), since); err != nil {
		return nil, err
	}
	return s, nil
}

// recentErrorsSQL reads the latest 4xx and 5xx since a time, through
// the partial index of errors. The literal 400 is that index's own
// condition, so the planner can always use it, where a bound parameter
// would leave it to the value.
func (l *Log) recentErrorsSQL(since time.Time) (string, any) {
	q := l.selectEntries() + " FROM " + l.viewSQL() + " WHERE " + query.MainAlias + ".data_status >= 400 AND "
	return q + query.MainAlias + "._seq >= ? ORDER BY " + query.MainAlias + "._seq DESC LIMIT " + fmt.Sprint(MaxRecentErrors), l.seqFrom(since)
}

// sumColumns sums the rollup's columns for aggRow.dest.
func sumColumns() string {
	var b strings.Builder
	// PostgreSQL sums bigints as numeric: cast back for the scan.
	b.WriteString("CAST(sum(requests) AS bigint), CAST(sum(client_errors) AS bigint), CAST(sum(server_errors) AS bigint), sum(total_ms), max(max_ms)")
	for i := range nBins {
		fmt.Fprintf(&b, ", CAST(sum(h%d) AS bigint)", i)
	}
	return b.String()
}

// dest are the scan destinations of sumColumns.
func (r *aggRow) dest() []any {
	d := []any{&r.requests, &r.clientErrors, &r.serverErrors, &r.totalMS, &r.maxMS}
	for i := range r.hist {
		d = append(d, &r.hist[i])
	}
	return d
}

func (r *aggRow) add(o *aggRow) {
	r.requests += o.requests
	r.clientErrors += o.clientErrors
	r.serverErrors += o.serverErrors
	r.totalMS += o.totalMS
	r.maxMS = max(r.maxMS, o.maxMS)
	for i := range r.hist {
		r.hist[i] += o.hist[i]
	}
}
