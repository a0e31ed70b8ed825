package tortoise_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/config"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
)

// A job kind of your own, enqueued in the same transaction as the record
// write that calls for it: if the write rolls back, the job was never
// there; if it commits, the job runs (again, after a backoff, while it
// fails). Register kinds before StartJobs, which serve calls.
func ExampleApp_jobs() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "tortoise-example")
	defer os.RemoveAll(dir)
	app, err := tortoise.New(ctx, config.Config{Dir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer app.Close(ctx)

	type welcome struct {
		UserID string `json:"userId"`
	}
	done := make(chan string, 1)
	err = app.Jobs.Register(jobs.Kind{
		Name:        "welcome",
		MaxAttempts: 5,
		Timeout:     30 * time.Second,
		Handler: func(ctx context.Context, j *jobs.Job) error {
			var args welcome
			if err := json.Unmarshal(j.Args, &args); err != nil {
				return jobs.Cancel(err) // retrying cannot fix bad args
			}
			done <- args.UserID // send the mail, call the CRM, ...
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	members, err := app.Collections.Create(ctx, []byte(`{"name": "members", "fields": [{"name": "name", "type": "text"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	app.Records.OnWrite(func(c *core.Collection) bool { return c.Name == "members" }, func(w *records.Write) error {
		if !w.Creating() {
			return nil
		}
		_, err := app.Jobs.EnqueueTx(w.Ctx, w.Tx, "welcome", welcome{UserID: w.Record.ID()}, nil)
		return err
	})
	if err := app.StartJobs(ctx); err != nil {
		fmt.Println(err)
		return
	}
	m, err := app.Records.Create(ctx, &service.Request{Superuser: true}, members, map[string]any{"name": "Amy"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-done == m.ID())
	// Output: true
}
