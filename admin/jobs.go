package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/webhooks"
)

// The job pages: jobs by state with kind and queue filters and cursor
// paging (jobs.Queue.List, as GET /api/jobs), one job with its args,
// attempts, errors and output, and retry and cancel, as POST
// /api/jobs/{id}/retry and /cancel. Crons are in crons.go, webhooks in
// webhooks.go; all three exist only with a job queue.

// jobRoutes registers the jobs pages, the crons' and the webhooks'.
func (a *Admin) jobRoutes() {
	a.page("GET /admin/jobs", a.jobsPage)
	a.page("GET /admin/jobs/{id}", a.jobPage)
	a.page("POST /admin/jobs/{id}/retry", a.jobOp("retry"))
	a.page("POST /admin/jobs/{id}/cancel", a.jobOp("cancel"))
	a.cronRoutes()
	a.webhookRoutes()
}

// jobTabs are the states the job list has a tab for ("" is every state).
var jobTabs = []string{"", jobs.StateAvailable, jobs.StateScheduled, jobs.StateRunning, jobs.StateRetryable,
	jobs.StateCompleted, jobs.StateDiscarded, jobs.StateCancelled}

// jobsPerPage is the length of a page of jobs.
const jobsPerPage = 50

type jobsView struct {
	State, Kind, Queue string
	Tabs               []string
	Kinds              []string
	Jobs               []*jobs.Job
	// Next is the address of the next page ("" on the last); Paged that
	// this is not the first.
	Next  string
	Paged bool
}

func (jobsView) title() (string, string) { return "Jobs", "jobs" }

// TabURL is the address of the tab for state, keeping the filters.
func (v jobsView) TabURL(state string) string {
	return jobsURL(state, v.Kind, v.Queue, "")
}

func jobsURL(state, kind, queue, cursor string) string {
	q := url.Values{}
	for k, v := range map[string]string{"state": state, "kind": kind, "queue": queue, "cursor": cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return "/admin/jobs"
	}
	return "/admin/jobs?" + q.Encode()
}

func (a *Admin) jobsPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	q := r.URL.Query()
	v := jobsView{State: q.Get("state"), Kind: strings.TrimSpace(q.Get("kind")), Queue: strings.TrimSpace(q.Get("queue")),
		Tabs: jobTabs, Kinds: a.opts.Jobs.Kinds(), Paged: q.Get("cursor") != ""}
	if v.State != "" && !slices.Contains(jobs.States, v.State) {
		return core.FieldInvalid("state", "validation_invalid_state", "Unknown job state "+strconv.Quote(v.State)+".")
	}
	p := jobs.ListParams{Limit: jobsPerPage, After: q.Get("cursor")}
	if v.State != "" {
		p.States = []string{v.State}
	}
	if v.Kind != "" {
		p.Kinds = []string{v.Kind}
	}
	if v.Queue != "" {
		p.Queues = []string{v.Queue}
	}
	res, err := a.opts.Jobs.List(r.Context(), p)
	if err != nil {
		return err
	}
	v.Jobs = res.Jobs
	if res.Cursor != "" {
		v.Next = jobsURL(v.State, v.Kind, v.Queue, res.Cursor)
	}
	a.render(w, r, http.StatusOK, "jobs.html", sess, v)
	return nil
}

type jobView struct {
	Job *jobs.Job
	// Webhook and Cron are the webhook or cron the job is for, by its tags.
	Webhook, Cron string
}

func (v jobView) title() (string, string) { return "Job " + strconv.FormatInt(v.Job.ID, 10), "jobs" }

// CanRetry: every job but a running one can be made to run again.
func (v jobView) CanRetry() bool { return v.Job.State != jobs.StateRunning }

// CanCancel: a job that has not finished can be cancelled.
func (v jobView) CanCancel() bool { return jobUnfinished(v.Job.State) }

func jobUnfinished(state string) bool {
	switch state {
	case jobs.StateCompleted, jobs.StateCancelled, jobs.StateDiscarded:
		return false
	}
	return true
}

// jobID is the job named in the path.
func jobID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, core.NotFound("The job wasn't found.")
	}
	return id, nil
}

func (a *Admin) jobPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	j, err := a.opts.Jobs.Get(r.Context(), id)
	if err != nil {
		return err
	}
	v := jobView{Job: j}
	for _, t := range j.Tags {
		if h, ok := strings.CutPrefix(t, "webhook-"); ok && j.Kind == webhooks.Kind {
			v.Webhook = h
		}
		if c, ok := strings.CutPrefix(t, "cron-"); ok {
			v.Cron = c
		}
	}
	a.render(w, r, http.StatusOK, "job.html", sess, v)
	return nil
}

// jobOp retries or cancels the job in the path, then shows it.
func (a *Admin) jobOp(op string) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, sess *session) error {
		id, err := jobID(r)
		if err != nil {
			return err
		}
		var msg string
		switch op {
		case "retry":
			_, err = a.opts.Jobs.Retry(r.Context(), id)
			msg = "The job will run again as soon as a worker is free."
		case "cancel":
			_, err = a.opts.Jobs.Cancel(r.Context(), id)
			msg = "The job was cancelled."
		}
		if err != nil {
			return err
		}
		a.log.Info("admin job operation", "op", op, "job", id, "superuser", sess.rec.ID())
		opsSeeOther(w, r, "/admin/jobs/"+strconv.FormatInt(id, 10), msg)
		return nil
	}
}

func init() {
	// opsStateClass is the badge class of a job state.
	funcs["opsStateClass"] = func(state string) string {
		switch state {
		case jobs.StateCompleted:
			return "ok"
		case jobs.StateDiscarded, jobs.StateCancelled:
			return "err"
		case jobs.StateRetryable, jobs.StateRunning:
			return "warn"
		}
		return ""
	}
	// opsLastError is a job's latest attempt error, "" if none.
	funcs["opsLastError"] = func(j *jobs.Job) string {
		if j == nil || len(j.Errors) == 0 {
			return ""
		}
		return j.Errors[len(j.Errors)-1].Error
	}
}
