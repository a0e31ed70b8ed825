package admin

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/reqlog"
	"github.com/tortoise-dev/tortoise/store/sqlite"
)

// dashboardView is the status dashboard. A section whose part is off or
// failed to answer is left out with a note (Problems), so one slow part
// does not take the page down.
type dashboardView struct {
	Version, Engine string
	Uptime          time.Duration
	DBSize          int64 // bytes; -1 unknown
	Collections     []collectionCount

	Logs       bool // the request log is on
	Hour, Day  *requestFigures
	SlowRoutes []reqlog.RouteStat
	Errors     []*reqlog.Entry

	Jobs      bool
	JobCounts []stateCount
	Crons     []*jobs.CronStatus
	Webhooks  int // -1: no webhooks part

	Problems []string
}

// requestFigures are one window's request figures with their charts.
type requestFigures struct {
	*reqlog.Summary
	ReqChart, LatChart chart
}

type collectionCount struct {
	Name, Type string
	Records    int // -1: could not count
}

type stateCount struct {
	State string
	N     int
}

func (dashboardView) title() (string, string) { return "Dashboard", "dashboard" }

// maxDashboardCounts bounds the collections counted on the dashboard.
const maxDashboardCounts = 100

func (a *Admin) dashboard(w http.ResponseWriter, r *http.Request, sess *session) error {
	ctx := r.Context()
	v := dashboardView{Version: a.opts.Version, Engine: a.opts.Engine, Uptime: time.Since(a.opts.Started).Round(time.Second),
		DBSize: a.dbSize(), Logs: a.opts.Logs != nil, Jobs: a.opts.Jobs != nil, Webhooks: -1}
	problem := func(part string, err error) {
		a.log.Warn("dashboard", "part", part, "err", err)
		v.Problems = append(v.Problems, fmt.Sprintf("%s: not available right now.", part))
	}
	for i, c := range a.opts.Service.Schema().List() {
		if i == maxDashboardCounts {
			break
		}
		n := -1
		if !c.IsView() {
			res, err := a.opts.Records.List(ctx, sess.req(), c, records.ListParams{PerPage: 1})
			if err == nil {
				n = res.TotalItems
			}
		}
		v.Collections = append(v.Collections, collectionCount{Name: c.Name, Type: string(c.Type), Records: n})
	}
	if l := a.opts.Logs; l != nil {
		for _, win := range []struct {
			d   time.Duration
			dst **requestFigures
		}{{time.Hour, &v.Hour}, {24 * time.Hour, &v.Day}} {
			s, err := l.Summary(ctx, win.d)
			if err != nil {
				problem("Request figures", err)
				break
			}
			*win.dst = figuresOf(s)
		}
		if v.Day != nil {
			v.SlowRoutes, v.Errors = v.Day.SlowRoutes, v.Day.RecentErrors
		}
	}
	if q := a.opts.Jobs; q != nil {
		if c, err := q.Counts(ctx); err != nil {
			problem("Jobs", err)
		} else {
			for _, s := range jobs.States {
				v.JobCounts = append(v.JobCounts, stateCount{s, c[s]})
			}
		}
		if cs, err := q.Crons(ctx); err != nil {
			problem("Crons", err)
		} else {
			v.Crons = cs
		}
	}
	if a.opts.Webhooks != nil {
		if hs, err := a.opts.Webhooks.List(ctx); err != nil {
			problem("Webhooks", err)
		} else {
			v.Webhooks = len(hs)
		}
	}
	a.render(w, r, http.StatusOK, "dashboard.html", sess, v)
	return nil
}

// figuresOf charts a summary: requests per bucket (errors in red) and
// the 95th percentile latency.
func figuresOf(s *reqlog.Summary) *requestFigures {
	f := &requestFigures{Summary: s}
	n := len(s.Points)
	reqs, errs, lat := make([]float64, n), make([]float64, n), make([]float64, n)
	labels := make([]string, n)
	for i, p := range s.Points {
		reqs[i], errs[i], lat[i] = float64(p.Requests), float64(p.ClientErrors+p.ServerErrors), p.P95
		labels[i] = p.Start.UTC().Format("15:04")
	}
	f.ReqChart = barChart(reqs, errs, labels, "%.0f requests")
	f.LatChart = barChart(lat, nil, labels, "p95 %.1f ms")
	return f
}

// chart is a small bar chart drawn as SVG in the page (no script, no
// inline style: the bars' sizes are SVG attributes, their colours classes).
type chart struct {
	Bars []bar
	Max  float64
}

type bar struct {
	X, Y, W, H float64 // in the 0 0 600 60 view box
	ErrY, ErrH float64 // the errors' part of the bar, from the bottom
	Title      string
}

func barChart(vals, errs []float64, labels []string, title string) chart {
	c := chart{}
	for _, v := range vals {
		c.Max = max(c.Max, v)
	}
	if len(vals) == 0 {
		return c
	}
	w := 600.0 / float64(len(vals))
	for i, v := range vals {
		b := bar{X: float64(i) * w, W: max(w-1, 1), Title: labels[i] + ": " + fmt.Sprintf(title, v)}
		if c.Max > 0 {
			b.H = v / c.Max * 58
		}
		b.Y = 60 - b.H
		if errs != nil && errs[i] > 0 && c.Max > 0 {
			b.ErrH = errs[i] / c.Max * 58
			b.ErrY = 60 - b.ErrH
			b.Title += fmt.Sprintf(", %.0f errors", errs[i])
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// dbSize is the database's size on disk: the SQLite file with its WAL;
// -1 where it is not known here.
func (a *Admin) dbSize() int64 {
	st, ok := a.opts.Store.(*sqlite.Store)
	if !ok {
		return -1
	}
	var n int64
	for _, p := range []string{st.Path(), st.Path() + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func init() {
	funcs["pct"] = func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }
	funcs["f1"] = func(f float64) string { return fmt.Sprintf("%.1f", f) }
	// per names a bucket width: "minute", "30 minutes", "6 hours".
	funcs["per"] = func(d time.Duration) string {
		switch {
		case d == time.Minute:
			return "minute"
		case d == time.Hour:
			return "hour"
		case d < time.Hour:
			return fmt.Sprintf("%d minutes", int(d.Minutes()))
		}
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	funcs["add64"] = func(a, b int64) int64 { return a + b }
	funcs["chartArgs"] = func(c chart, label string) map[string]any { return map[string]any{"Chart": c, "Label": label} }
	funcs["figuresArgs"] = func(name string, f *requestFigures) map[string]any { return map[string]any{"Name": name, "F": f} }
	// jobStateClass is the badge class of a job state.
	funcs["jobStateClass"] = func(s string) string {
		switch s {
		case jobs.StateCompleted:
			return "ok"
		case jobs.StateDiscarded, jobs.StateCancelled:
			return "err"
		case jobs.StateRetryable:
			return "warn"
		}
		return ""
	}
}
