package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/jobs"
)

// jobServer boots a server whose jobs run, allowed to reach allow.
func jobServer(t *testing.T, engine string, allow ...string) *testkit.Server {
	t.Helper()
	s := testkit.NewServer(t, engine).Restart(func(c *config.Config) { c.OutboundAllowHosts = allow })
	if err := s.App.StartJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitJob polls GET /api/jobs/{id} until the job is in state.
func waitJob(t *testing.T, s *testkit.Server, id int64, state string) jobs.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var j jobs.Job
		s.Super("GET", "/api/jobs/"+strconv.FormatInt(id, 10), nil, 200, &j)
		if j.State == state {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is %s (errors %+v), want %s", id, j.State, j.Errors, state)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

type enqueued struct {
	Job       jobs.Job `json:"job"`
	Duplicate bool     `json:"duplicate"`
}

// The built-in http and email kinds through the API, and SSRF refusals.
func TestJobsAPIBuiltins(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			got := make(chan *http.Request, 4)
			bodies := make(chan string, 4)
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got <- r
				bodies <- string(b)
			}))
			t.Cleanup(target.Close)
			u, _ := url.Parse(target.URL)
			s := jobServer(t, engine, u.Host)

			var e enqueued
			s.Super("POST", "/api/jobs", map[string]any{"kind": "http", "args": map[string]any{
				"method": "post", "url": target.URL + "/hook", "headers": map[string]string{"X-Test": "1"}, "body": "hello",
			}}, 200, &e)
			waitJob(t, s, e.Job.ID, jobs.StateCompleted)
			r := <-got
			if r.Method != "POST" || r.URL.Path != "/hook" || r.Header.Get("X-Test") != "1" || <-bodies != "hello" {
				t.Errorf("request %s %s %v", r.Method, r.URL, r.Header)
			}

			// The same server under a name that is not allowed: refused,
			// and not retried.
			s.Super("POST", "/api/jobs", map[string]any{"kind": "http", "args": map[string]any{
				"url": "http://localhost:" + u.Port() + "/",
			}}, 200, &e)
			j := waitJob(t, s, e.Job.ID, jobs.StateCancelled)
			if len(j.Errors) != 1 || !strings.Contains(j.Errors[0].Error, "refused") {
				t.Errorf("errors %+v", j.Errors)
			}
			for _, bad := range []string{"http://169.254.169.254/latest/meta-data", "http://2130706433/", "http://[::ffff:127.0.0.2]:" + u.Port() + "/", "http://0177.0.0.1:" + u.Port() + "/"} {
				s.Super("POST", "/api/jobs", map[string]any{"kind": "http", "args": map[string]any{"url": bad}}, 200, &e)
				waitJob(t, s, e.Job.ID, jobs.StateCancelled)
			}
			select {
			case r := <-got:
				t.Errorf("a refused job reached the server: %s", r.URL)
			default:
			}

			// email goes through the app's mailer: the dev mailbox here.
			s.Super("POST", "/api/jobs", map[string]any{"kind": "email", "args": map[string]any{
				"to": "amy@example.com", "subject": "Hi", "text": "From a job.",
			}}, 200, &e)
			waitJob(t, s, e.Job.ID, jobs.StateCompleted)
			m, err := s.App.Settings.Mailbox().Latest("amy@example.com")
			if err != nil || m.Subject != "Hi" || !strings.Contains(m.Text, "From a job.") {
				t.Errorf("mail %+v, %v", m, err)
			}
		})
	}
}

// Listing, filtering, cancelling, retrying and deleting through the API;
// only superusers; bad input answered with a 4xx.
func TestJobsAPI(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s := testkit.NewServer(t, engine) // workers not started: jobs wait
			later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			var a, b enqueued
			s.Super("POST", "/api/jobs", map[string]any{"kind": "http", "args": map[string]any{"url": "https://example.com/a"}, "runAt": later, "tags": []string{"tag-1"}}, 200, &a)
			s.Super("POST", "/api/jobs", map[string]any{"kind": "email", "args": map[string]any{"to": "x@example.com", "text": "x"}, "priority": 2}, 200, &b)
			if a.Job.State != jobs.StateScheduled || b.Job.State != jobs.StateAvailable || b.Job.Priority != 2 || a.Job.Tags[0] != "tag-1" {
				t.Fatalf("enqueued %+v and %+v", a.Job, b.Job)
			}
			var page jobs.ListResult
			s.Super("GET", "/api/jobs?kind=http", nil, 200, &page)
			if len(page.Jobs) != 1 || page.Jobs[0].ID != a.Job.ID {
				t.Errorf("kind=http: %+v", page.Jobs)
			}
			s.Super("GET", "/api/jobs?state=available,scheduled&perPage=1", nil, 200, &page)
			if len(page.Jobs) != 1 || page.Cursor == "" {
				t.Fatalf("first page %+v", page)
			}
			first := page.Jobs[0].ID
			s.Super("GET", "/api/jobs?state=available,scheduled&perPage=1&cursor="+url.QueryEscape(page.Cursor), nil, 200, &page)
			if len(page.Jobs) != 1 || page.Jobs[0].ID == first {
				t.Errorf("second page %+v", page)
			}

			var j jobs.Job
			s.Super("POST", "/api/jobs/"+strconv.FormatInt(a.Job.ID, 10)+"/cancel", nil, 200, &j)
			if j.State != jobs.StateCancelled {
				t.Errorf("cancelled: %s", j.State)
			}
			s.Super("POST", "/api/jobs/"+strconv.FormatInt(a.Job.ID, 10)+"/retry", nil, 200, &j)
			if j.State != jobs.StateAvailable {
				t.Errorf("retried: %s", j.State)
			}
			s.Super("DELETE", "/api/jobs/"+strconv.FormatInt(a.Job.ID, 10), nil, 200, nil)
			s.Super("GET", "/api/jobs/"+strconv.FormatInt(a.Job.ID, 10), nil, 404, nil)

			// Unique jobs through the API.
			uniq := map[string]any{"kind": "email", "args": map[string]any{"to": "u@example.com", "text": "u"}, "unique": map[string]any{"byArgs": true, "period": "1h"}}
			var u1, u2 enqueued
			s.Super("POST", "/api/jobs", uniq, 200, &u1)
			s.Super("POST", "/api/jobs", uniq, 200, &u2)
			if u1.Duplicate || !u2.Duplicate || u1.Job.ID != u2.Job.ID {
				t.Errorf("unique: %+v %+v", u1, u2)
			}

			// Who may.
			s.Do("GET", "/api/jobs", "", nil, 401, nil)
			usersSchema(t, s, "")
			user := userToken(t, s)
			s.Do("GET", "/api/jobs", user, nil, 403, nil)
			s.Do("POST", "/api/jobs", user, map[string]any{"kind": "http"}, 403, nil)

			// Bad input.
			for _, body := range []any{
				map[string]any{},
				map[string]any{"kind": "nope"},
				map[string]any{"kind": "http", "runAt": "tomorrow"},
				map[string]any{"kind": "http", "priority": 7},
				map[string]any{"kind": "http", "queue": "nope"},
				map[string]any{"kind": "http", "unique": map[string]any{"period": "soon"}},
				map[string]any{"kind": 5},
				map[string]any{"kind": "http", "tags": []string{"a b"}},
				"[]",
			} {
				s.Super("POST", "/api/jobs", body, 400, nil)
			}
			for _, q := range []string{"state=weird", "perPage=0", "perPage=x", "cursor=%25%25"} {
				s.Super("GET", "/api/jobs?"+q, nil, 400, nil)
			}
			s.Super("GET", "/api/jobs/abc", nil, 404, nil)
			s.Super("POST", "/api/jobs/99999/retry", nil, 404, nil)
		})
	}
}

// /api/crons: PocketBase's list and run-now, and our create, change and
// delete, for superusers only.
func TestCronsAPI(t *testing.T) {
	t.Parallel()
	for _, engine := range testkit.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s := jobServer(t, engine)
			var created jobs.CronStatus
			s.Super("POST", "/api/crons", map[string]any{"id": "digest", "expression": "0 8 * * 1", "kind": "email",
				"args": map[string]any{"to": "team@example.com", "subject": "Weekly", "text": "Digest"}}, 200, &created)
			if created.Next == nil || created.Next.Weekday() != time.Monday || created.Next.Hour() != 8 {
				t.Errorf("next run %v", created.Next)
			}
			s.Super("POST", "/api/crons", map[string]any{"id": "digest", "expression": "@daily", "kind": "email"}, 400, nil)

			var list []map[string]any
			s.Super("GET", "/api/crons", nil, 200, &list)
			if len(list) != 1 || list[0]["id"] != "digest" || list[0]["expression"] != "0 8 * * 1" {
				t.Fatalf("list %v", list)
			}
			// Run now (PocketBase's POST /api/crons/{id}): the job runs.
			s.Super("POST", "/api/crons/digest", nil, 204, nil)
			deadline := time.Now().Add(20 * time.Second)
			for {
				var st jobs.CronStatus
				s.Super("GET", "/api/crons/digest", nil, 200, &st)
				if st.Last != nil && st.Last.State == jobs.StateCompleted {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("last run %+v", st.Last)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if m, err := s.App.Settings.Mailbox().Latest("team@example.com"); err != nil || m.Subject != "Weekly" {
				t.Errorf("mail %+v %v", m, err)
			}

			var changed jobs.CronStatus
			s.Super("PATCH", "/api/crons/digest", map[string]any{"disabled": true}, 200, &changed)
			if !changed.Disabled || changed.Next != nil || changed.Schedule != "0 8 * * 1" {
				t.Errorf("changed %+v", changed)
			}
			s.Super("PATCH", "/api/crons/digest", map[string]any{"expression": "every day"}, 400, nil)
			s.Super("PATCH", "/api/crons/digest", map[string]any{"id": "other"}, 400, nil)
			s.Super("PATCH", "/api/crons/missing", map[string]any{"disabled": true}, 404, nil)
			s.Super("POST", "/api/crons/missing", nil, 404, nil)
			for _, bad := range []any{
				map[string]any{"expression": "@daily", "kind": "email"},
				map[string]any{"id": "x", "expression": "61 * * * *", "kind": "email"},
				map[string]any{"id": "x", "expression": "@daily", "kind": "nope"},
				map[string]any{"id": "x", "expression": "@daily", "kind": "email", "disabled": "yes"},
				// @every under a second, or in fractions of one, would
				// quietly run every second; Feb 30 never comes.
				map[string]any{"id": "x", "expression": "@every 1ns", "kind": "email"},
				map[string]any{"id": "x", "expression": "@every -5s", "kind": "email"},
				map[string]any{"id": "x", "expression": "@every 1500ms", "kind": "email"},
				map[string]any{"id": "x", "expression": "0 0 30 2 *", "kind": "email"},
				"nope",
			} {
				s.Super("POST", "/api/crons", bad, 400, nil)
			}
			usersSchema(t, s, "")
			user := userToken(t, s)
			s.Do("GET", "/api/crons", user, nil, 403, nil)
			s.Do("POST", "/api/crons/digest", user, nil, 403, nil)
			s.Do("GET", "/api/crons", "", nil, 401, nil)

			s.Super("DELETE", "/api/crons/digest", nil, 204, nil)
			s.Super("DELETE", "/api/crons/digest", nil, 404, nil)
			s.Super("GET", "/api/crons", nil, 200, &list)
			if len(list) != 0 {
				t.Errorf("after delete: %v", list)
			}
		})
	}
}
