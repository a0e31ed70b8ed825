package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/webhooks"
)

// The job routes (superusers, and API keys with the jobs scope): /api/jobs lists
// with ?state=, ?kind=, ?queue=, ?tag= (each a comma-separated list; tags
// must all be there), ?perPage=
// and ?cursor= (the previous page's); POST enqueues; one job can be read,
// retried, cancelled and deleted.

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, req *service.Request) error {
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
	return s.writeJobList(w, r, req, jobs.ListParams{States: list("state"), Kinds: list("kind"), Queues: list("queue"), Tags: list("tag")})
}

// writeJobList answers one page of the jobs p selects, after the
// request's ?cursor=, ?perPage= of them, as req may read them.
func (s *Server) writeJobList(w http.ResponseWriter, r *http.Request, req *service.Request, p jobs.ListParams) error {
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
	redactWebhookJobs(req, res.Jobs...)
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
	if err := s.handKindAllowed(r.Context(), in.Kind); err != nil {
		return err
	}
	for _, tag := range in.Tags {
		if strings.HasPrefix(tag, "webhook-") || strings.HasPrefix(tag, "hook-") {
			return core.FieldInvalid("tags", "validation_internal_tag",
				"Tags starting webhook- and hook- mark the jobs of webhooks, which are not enqueued by hand.")
		}
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

// apiKindAllowed refuses, to jobs and crons made over HTTP, the kinds
// whose jobs only Tortoise may make, as their handlers trust their args:
// a webhook delivery's handler signs whatever body its args hold with the
// webhook's secret, which no caller sees again after creating it, so a
// delivery made by hand would be a signed event that never happened; an
// inbound event's args say its signature was checked. Deliveries come
// from record changes and events from /api/hooks/{name} only (a job
// already made can still be retried: that replays the same message).
func apiKindAllowed(kind string) error {
	switch kind {
	case webhooks.Kind:
		return core.FieldInvalid("kind", "validation_internal_kind",
			"Webhook deliveries are made by the webhooks themselves, not enqueued by hand.")
	case webhooks.KindHook:
		return core.FieldInvalid("kind", "validation_internal_kind",
			"Inbound webhook events are made by /api/hooks/{name} once their signature is checked, not enqueued by hand.")
	}
	return nil
}

// handKindAllowed is apiKindAllowed for a job or cron made by hand, which
// may not have the kind an inbound webhook source gives its events either:
// its handler takes them as events whose signature was checked.
func (s *Server) handKindAllowed(ctx context.Context, kind string) error {
	if err := apiKindAllowed(kind); err != nil {
		return err
	}
	if s.webhooks == nil {
		return nil
	}
	sources, err := s.webhooks.Sources(ctx)
	if err != nil {
		return err
	}
	for _, src := range sources {
		if src.Kind == kind {
			return core.FieldInvalid("kind", "validation_internal_kind", fmt.Sprintf(
				"Kind %q takes the events of the inbound webhook %q once their signature is checked; it is not enqueued by hand.", kind, src.Name))
		}
	}
	return nil
}

// redactWebhookJobs hides, from an API key without the webhooks scope,
// what the jobs of webhooks carry: a delivery's args hold the record it
// announces (of any collection, whatever its rules) and its output the
// receiver's URL; an inbound event's args hold the event as its sender
// sent it. The jobs scope runs the queue; reading those is the webhooks
// scope's. Such jobs are told apart by their tags (webhooks.Tag and
// webhooks.HookTag: an inbound source's kind may be the app's own).
func redactWebhookJobs(req *service.Request, js ...*jobs.Job) {
	if seesWebhookJobs(req) {
		return
	}
	for _, j := range js {
		if webhookJob(j) {
			j.Args, j.Output = json.RawMessage("null"), json.RawMessage("null")
		}
	}
}

// seesWebhookJobs reports whether the caller may read and change the jobs
// of webhooks: anyone but an API key without the webhooks scope.
func seesWebhookJobs(req *service.Request) bool {
	return req == nil || req.Superuser || req.Key == nil || req.Key.HasScope(service.ScopeWebhooks)
}

// webhookJob reports whether j is a webhook's delivery or an inbound
// event, told by its tags (webhooks.Tag and webhooks.HookTag).
func webhookJob(j *jobs.Job) bool {
	if j == nil {
		return false
	}
	for _, t := range j.Tags {
		if strings.HasPrefix(t, webhooks.Tag("")) || strings.HasPrefix(t, webhooks.HookTag("")) {
			return true
		}
	}
	return false
}

// jobOp applies one operation of the queue, such as (*jobs.Queue).Retry,
// to the job named in the path. An operation that changes the job (change)
// on a webhook's delivery or an inbound event needs the webhooks scope, as
// reading them does (redactWebhookJobs): with the jobs scope alone a key
// could cancel or delete the deliveries that another scope's owner relies
// on, or send them again.
func (s *Server) jobOp(change bool, op func(*jobs.Queue, context.Context, int64) (*jobs.Job, error)) callerHandler {
	return func(w http.ResponseWriter, r *http.Request, req *service.Request) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id < 1 {
			return core.NotFound("The job wasn't found.")
		}
		if change && !seesWebhookJobs(req) {
			j, err := s.jobs.Get(r.Context(), id)
			if err != nil {
				return err
			}
			if webhookJob(j) {
				return core.Forbidden("Webhook deliveries and inbound events need an API key with the webhooks scope.")
			}
		}
		j, err := op(s.jobs, r.Context(), id)
		if err != nil {
			return err
		}
		redactWebhookJobs(req, j)
		writeJSON(w, http.StatusOK, j)
		return nil
	}
}
