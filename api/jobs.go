package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/service"
)

// The job routes (superusers, and API keys with the jobs scope): /api/jobs lists
// with ?state=, ?kind=, ?queue=, ?tag= (each a comma-separated list; tags
// must all be there), ?perPage=
// and ?cursor= (the previous page's); POST enqueues; one job can be read,
// retried, cancelled and deleted.

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	v := r.URL.Query()
	list := func(key string) []string {
		var out []string
		for _, part := range strings.Split(v.Get(key), ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out
	}
	return s.writeJobList(w, r, jobs.ListParams{States: list("state"), Kinds: list("kind"), Queues: list("queue"), Tags: list("tag")})
}

// writeJobList answers one page of the jobs p selects, after the
// request's ?cursor=, ?perPage= of them.
func (s *Server) writeJobList(w http.ResponseWriter, r *http.Request, p jobs.ListParams) error {
	v := r.URL.Query()
	p.After = v.Get("cursor")
	if pp := v.Get("perPage"); pp != "" {
		n, err := strconv.Atoi(pp)
		if err != nil || n < 1 || n > 500 {
			return core.FieldInvalid("perPage", "validation_invalid_per_page", "perPage is 1 to 500.")
		}
		p.Limit = n
	}
	res, err := s.jobs.List(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// enqueueJob adds a job: {kind, args, queue, priority, maxAttempts,
// runAt, unique: {byArgs, byQueue, period}, tags}.
func (s *Server) enqueueJob(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Kind        string          `json:"kind"`
		Args        json.RawMessage `json:"args"`
		Queue       string          `json:"queue"`
		Priority    int             `json:"priority"`
		MaxAttempts int             `json:"maxAttempts"`
		RunAt       string          `json:"runAt"`
		Tags        []string        `json:"tags"`
		Unique      *struct {
			ByArgs  bool   `json:"byArgs"`
			ByQueue bool   `json:"byQueue"`
			Period  string `json:"period"`
		} `json:"unique"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return core.DecodeError(err, "body")
	}
	if in.Kind == "" {
		return core.FieldInvalid("kind", "validation_required", "Give the job's kind.")
	}
	opts := &jobs.Options{Queue: in.Queue, Priority: in.Priority, MaxAttempts: in.MaxAttempts, Tags: in.Tags}
	if in.RunAt != "" {
		at, err := time.Parse(time.RFC3339, strings.TrimSpace(in.RunAt))
		if err != nil {
			return core.FieldInvalid("runAt", "validation_invalid_date", "runAt is an RFC 3339 time, such as 2030-01-02T15:04:05Z.")
		}
		opts.RunAt = at
	}
	if u := in.Unique; u != nil {
		opts.Unique = &jobs.Unique{ByArgs: u.ByArgs, ByQueue: u.ByQueue}
		if u.Period != "" {
			d, err := time.ParseDuration(u.Period)
			if err != nil || d <= 0 {
				return core.FieldInvalid("unique.period", "validation_invalid_duration", "unique.period is a duration such as 1h.")
			}
			opts.Unique.Period = d
		}
	}
	var args any
	if len(in.Args) > 0 {
		args = in.Args
	}
	e, err := s.jobs.Enqueue(r.Context(), in.Kind, args, opts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"job": e.Job, "duplicate": e.Duplicate})
	return nil
}

// jobOp applies one operation of the queue, such as (*jobs.Queue).Retry,
// to the job named in the path.
func (s *Server) jobOp(op func(*jobs.Queue, context.Context, int64) (*jobs.Job, error)) callerHandler {
	return func(w http.ResponseWriter, r *http.Request, _ *service.Request) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id < 1 {
			return core.NotFound("The job wasn't found.")
		}
		j, err := op(s.jobs, r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, j)
		return nil
	}
}
