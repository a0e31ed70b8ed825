package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/reqlog"
)

// logRoutes registers the request log's pages.
func (a *Admin) logRoutes() {
	a.page("GET /admin/logs", a.logs)
	a.page("GET /admin/logs/{id}", a.logEntry)
}

// logsView is the request log page: the filters as the form shows them,
// and a page of entries.
type logsView struct {
	Enabled bool
	Status  string // "", "2xx", "3xx", "4xx", "5xx", "errors"
	Route   string
	IP      string
	From    string // datetime-local values, UTC
	To      string
	Filter  string // the filter language, for anything else
	// Error is why the filter was refused (shown, not swallowed).
	Error  string
	Result *reqlog.ListResult
	Prev   string // query strings of the neighbouring pages ("" none)
	Next   string
}

func (logsView) title() (string, string) { return "Request log", "logs" }

// statusFilters are the status classes the page filters by.
var statusFilters = map[string]string{
	"2xx":    "data.status >= 200 && data.status < 300",
	"3xx":    "data.status >= 300 && data.status < 400",
	"4xx":    "data.status >= 400 && data.status < 500",
	"5xx":    "data.status >= 500",
	"errors": "data.status >= 400",
}

// localTime is the datetime-local input's format; the page works in UTC.
const localTime = "2006-01-02T15:04"

func (a *Admin) logs(w http.ResponseWriter, r *http.Request, sess *session) error {
	q := r.URL.Query()
	v := logsView{Enabled: a.opts.Logs != nil, Status: q.Get("status"), Route: strings.TrimSpace(q.Get("route")),
		IP: strings.TrimSpace(q.Get("ip")), From: q.Get("from"), To: q.Get("to"), Filter: strings.TrimSpace(q.Get("filter"))}
	if !v.Enabled {
		a.render(w, r, http.StatusOK, "logs.html", sess, v)
		return nil
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	expr, err := v.expression()
	status := http.StatusOK
	if err == nil {
		v.Result, err = a.opts.Logs.List(r.Context(), reqlog.ListParams{Page: page, PerPage: 50, Filter: expr, Sort: "-created"})
	}
	if err != nil {
		if core.KindOf(err) != core.KindInvalid {
			return err
		}
		v.Error, status = core.AsError(err).Error(), http.StatusBadRequest
	}
	if v.Result != nil {
		if page > 1 {
			v.Prev = pageQuery(q, page-1)
		}
		if page < v.Result.TotalPages {
			v.Next = pageQuery(q, page+1)
		}
	}
	a.render(w, r, status, "logs.html", sess, v)
	return nil
}

// expression is the filter the form's fields say, in the filter language.
func (v logsView) expression() (string, error) {
	var parts []string
	if v.Status != "" {
		f, ok := statusFilters[v.Status]
		if !ok {
			return "", core.FieldInvalid("status", "validation_invalid_status", "Choose a status class.")
		}
		parts = append(parts, f)
	}
	for _, c := range []struct{ name, key, val string }{{"route", "data.route", v.Route}, {"ip", "data.userIP", v.IP}} {
		if c.val == "" {
			continue
		}
		if strings.ContainsAny(c.val, `'"\`) {
			return "", core.FieldInvalid(c.name, "validation_invalid_value", "Quotes and backslashes are not allowed here; use the filter box.")
		}
		parts = append(parts, fmt.Sprintf("%s = '%s'", c.key, c.val))
	}
	for _, c := range []struct{ name, op, val string }{{"from", ">=", v.From}, {"to", "<", v.To}} {
		if c.val == "" {
			continue
		}
		t, err := time.Parse(localTime, c.val)
		if err != nil {
			return "", core.FieldInvalid(c.name, "validation_invalid_date", "Enter a date and time.")
		}
		parts = append(parts, fmt.Sprintf("created %s '%s'", c.op, t.UTC().Format(core.DateLayout)))
	}
	if v.Filter != "" {
		parts = append(parts, "("+v.Filter+")")
	}
	return strings.Join(parts, " && "), nil
}

// pageQuery is q with page set.
func pageQuery(q url.Values, page int) string {
	c := url.Values{}
	for k, vs := range q {
		c[k] = vs
	}
	c.Set("page", strconv.Itoa(page))
	return c.Encode()
}

// logEntryView is one request of the log.
type logEntryView struct{ Entry *reqlog.Entry }

func (logEntryView) title() (string, string) { return "Request", "logs" }

func (a *Admin) logEntry(w http.ResponseWriter, r *http.Request, sess *session) error {
	if a.opts.Logs == nil {
		return core.NotFound("The request log is off (TORTOISE_LOGS_DAYS=0).")
	}
	e, err := a.opts.Logs.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "log.html", sess, logEntryView{Entry: e})
	return nil
}

func init() {
	// statusClass is the badge class of a status: ok, warn (4xx), err (5xx).
	funcs["statusClass"] = func(status int) string {
		switch {
		case status >= 500:
			return "err"
		case status >= 400:
			return "warn"
		}
		return "ok"
	}
	funcs["ms"] = func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
	}
}
