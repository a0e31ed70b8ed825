package admin_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/jobs"
)

// The jobs, crons and webhooks pages in a browser, on each engine, with
// the app's job workers running.

// opsWaitJob polls a job until ok says it is done waiting.
func opsWaitJob(t *testing.T, srv *testkit.Server, id int64, what string, ok func(*jobs.Job) bool) *jobs.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := srv.App.Jobs.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("get job %d: %v", id, err)
		}
		if ok(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is %s after attempt %d, still not %s", id, j.State, j.Attempt, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBrowserJobs(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		srv, b := adminServer(t, engine)
		ctx := context.Background()
		err := srv.App.Jobs.Register(jobs.Kind{Name: "flaky", MaxAttempts: 1, Handler: func(context.Context, *jobs.Job) error {
			return errors.New("the printer is on fire")
		}})
		if err != nil {
			t.Fatal(err)
		}
		ticks := make(chan int64, 10)
		err = srv.App.Jobs.Register(jobs.Kind{Name: "tick", Handler: func(_ context.Context, j *jobs.Job) error {
			ticks <- j.ID
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.App.StartJobs(ctx); err != nil {
			t.Fatal(err)
		}
		e, err := srv.App.Jobs.Enqueue(ctx, "flaky", map[string]any{"page": 7}, nil)
		if err != nil {
			t.Fatal(err)
		}
		id := e.Job.ID
		opsWaitJob(t, srv, id, "discarded", func(j *jobs.Job) bool { return j.State == jobs.StateDiscarded })

		b.signIn()
		// The discarded tab lists it; its page shows the error.
		b.run("the discarded jobs",
			chromedp.Navigate(b.base+"/admin/jobs"),
			chromedp.WaitVisible(chromedp.CSS(`#jobs`)),
			chromedp.Click(chromedp.CSS(`.tabs a[href="/admin/jobs?state=discarded"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.tabs a[aria-current="page"][href="/admin/jobs?state=discarded"]`)),
		)
		if got := b.text("#jobs tbody"); !strings.Contains(got, "flaky") || !strings.Contains(got, "the printer is on fire") {
			t.Errorf("the discarded tab lists %q", got)
		}
		if engine == "sqlite" {
			opsShot(b, "jobs")
		}
		b.run("open the job",
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#jobs a[href="/admin/jobs/%d"]`, id))),
			chromedp.WaitVisible(chromedp.CSS(`#job-errors`)),
		)
		if got := b.text("#job-errors"); !strings.Contains(got, "the printer is on fire") {
			t.Errorf("the job's errors read %q", got)
		}
		if got := b.text("#job-args"); !strings.Contains(got, `"page": 7`) {
			t.Errorf("the job's args read %q", got)
		}
		if engine == "sqlite" {
			opsShot(b, "job")
		}

		// Retry: it runs (and fails) once more.
		b.run("retry it",
			chromedp.Click(chromedp.CSS(`#job-retry`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		opsWaitJob(t, srv, id, "failed twice", func(j *jobs.Job) bool { return j.State == jobs.StateDiscarded && len(j.Errors) == 2 })
		b.run("see both attempts",
			chromedp.Navigate(fmt.Sprintf("%s/admin/jobs/%d", b.base, id)),
			chromedp.WaitVisible(chromedp.CSS(`#job-errors`)),
		)
		if n := get(b, "count errors", chromedp.Evaluate[int](`document.querySelectorAll("#job-errors tbody tr").length`)); n != 2 {
			t.Errorf("the job page lists %d errors after the retry, want 2", n)
		}

		// A cron: its next run, run now, its last run.
		srv.Super("POST", "/api/crons", map[string]any{"id": "nightly-report", "expression": "0 3 * * *", "kind": "tick"}, 200, nil)
		b.run("the crons",
			chromedp.Navigate(b.base+"/admin/crons"),
			chromedp.WaitVisible(chromedp.CSS(`#cron-nightly-report`)),
		)
		if got := b.text("#cron-nightly-report"); !strings.Contains(got, "0 3 * * *") || !strings.Contains(got, "in ") || !strings.Contains(got, "never") {
			t.Errorf("the cron's row reads %q, want its schedule, next run and no last run", got)
		}
		b.run("run it now",
			chromedp.Click(chromedp.CSS(`#run-nightly-report`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		var ran int64
		select {
		case ran = <-ticks:
		case <-time.After(20 * time.Second):
			t.Fatal("the cron's job did not run")
		}
		if got := b.text(".flash"); !strings.Contains(got, "job "+strconv.FormatInt(ran, 10)) {
			t.Errorf("after run now the page says %q, want job %d", got, ran)
		}
		opsWaitJob(t, srv, ran, "completed", func(j *jobs.Job) bool { return j.State == jobs.StateCompleted })
		b.run("the crons again", chromedp.Navigate(b.base+"/admin/crons"), chromedp.WaitVisible(chromedp.CSS(`#cron-nightly-report`)))
		if got := b.text("#cron-nightly-report"); !strings.Contains(got, "completed") {
			t.Errorf("the cron's row reads %q, want its last run completed", got)
		}
		if engine == "sqlite" {
			opsShot(b, "crons")
		}
	})
}

func TestBrowserWebhooks(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		srv, b := adminServer(t, engine)
		if engine == "postgres" {
			// Webhook secrets are sealed; PostgreSQL has no key file.
			srv = srv.Restart(func(c *config.Config) { c.EncryptionKey = "admin-webhooks-test-key" })
			b.base = srv.URL
		}
		ctx := context.Background()
		if err := srv.App.StartJobs(ctx); err != nil {
			t.Fatal(err)
		}
		srv.Super("POST", "/api/collections", map[string]any{"name": "orders", "fields": []map[string]any{{"name": "total", "type": "number"}}}, 200, nil)
		b.signIn()
		// A receiver at a private address: the outbound client refuses it,
		// so each delivery fails with a reason.
		b.run("create a webhook",
			chromedp.Navigate(b.base+"/admin/webhooks"),
			chromedp.Click(chromedp.CSS(`#new-webhook`)),
			chromedp.WaitVisible(chromedp.CSS(`#wh-url`)),
			chromedp.SetValue(chromedp.CSS(`#wh-collection`), "orders"),
			chromedp.SendKeys(chromedp.CSS(`#wh-url`), "http://127.0.0.1:9/hook"),
			chromedp.SendKeys(chromedp.CSS(`#wh-filter`), "total > 10"),
			chromedp.Click(chromedp.CSS(`#save-webhook`)),
			chromedp.WaitVisible(chromedp.CSS(`#webhook-secret`)),
		)
		if secret := b.text("#webhook-secret"); !strings.HasPrefix(secret, "whsec_") {
			t.Errorf("the new webhook's secret reads %q", secret)
		}
		var hooks []struct{ ID string }
		srv.Super("GET", "/api/webhooks", nil, 200, &hooks)
		if len(hooks) != 1 {
			t.Fatalf("%d webhooks, want 1", len(hooks))
		}
		hook := hooks[0].ID

		srv.Super("POST", "/api/collections/orders/records", map[string]any{"total": 5}, 200, nil)  // filtered out
		srv.Super("POST", "/api/collections/orders/records", map[string]any{"total": 50}, 200, nil) // delivered
		var list struct {
			Items []struct {
				ID     int64
				State  string
				Errors []any
			}
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			srv.Super("GET", "/api/webhooks/"+hook+"/deliveries", nil, 200, &list)
			if len(list.Items) == 1 && len(list.Items[0].Errors) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no failed delivery: %+v", list.Items)
			}
			time.Sleep(50 * time.Millisecond)
		}
		delivery := list.Items[0].ID
		// The outbound client refuses a private address for good: the
		// delivery is cancelled with that reason, no retry coming.
		first := opsWaitJob(t, srv, delivery, "cancelled", func(j *jobs.Job) bool { return j.State == jobs.StateCancelled })
		b.run("the delivery log",
			chromedp.Navigate(b.base+"/admin/webhooks/"+hook),
			chromedp.WaitVisible(chromedp.CSS(`#webhook-deliveries`)),
		)
		row := b.text("#webhook-deliveries tbody")
		if !strings.Contains(row, strconv.FormatInt(delivery, 10)) || !strings.Contains(row, "cancelled") || !strings.Contains(row, " ms") || !strings.Contains(row, "127.0.0.1") {
			t.Errorf("the delivery log reads %q, want the failed delivery with its latency", row)
		}
		if engine == "sqlite" {
			opsShot(b, "webhook")
		}
		b.run("replay it",
			chromedp.Click(chromedp.CSS(`#webhook-deliveries button`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		if got := b.text(".flash"); !strings.Contains(got, "sent again") {
			t.Errorf("after replay the page says %q", got)
		}
		opsWaitJob(t, srv, delivery, "tried again", func(j *jobs.Job) bool { return j.Attempt > first.Attempt })

		// The field its filter names is renamed: both pages say the filter
		// no longer works, rather than the webhook going quiet unseen.
		var orders struct {
			Fields []struct{ ID, Name string }
		}
		srv.Super("GET", "/api/collections/orders", nil, 200, &orders)
		var fields []map[string]any
		for _, f := range orders.Fields {
			if f.Name == "total" {
				fields = append(fields, map[string]any{"id": f.ID, "name": "amount", "type": "number"})
			}
		}
		srv.Super("PATCH", "/api/collections/orders", map[string]any{"fields": fields}, 200, nil)
		b.run("the list with a broken filter",
			chromedp.Navigate(b.base+"/admin/webhooks"),
			chromedp.WaitVisible(chromedp.CSS(`#webhooks`)),
		)
		if got := b.text("#webhooks tbody"); !strings.Contains(got, "filter broken") {
			t.Errorf("the list reads %q, want the broken filter said", got)
		}
		if engine == "sqlite" {
			opsShot(b, "webhooks-broken-filter")
		}
		b.run("the webhook with a broken filter",
			chromedp.Navigate(b.base+"/admin/webhooks/"+hook),
			chromedp.WaitVisible(chromedp.CSS(`#wh-filter-err`)),
		)
		if got := b.text("#wh-filter-err"); !strings.Contains(got, "no longer works") || !strings.Contains(got, "total") {
			t.Errorf("the webhook page says %q", got)
		}
	})
}
