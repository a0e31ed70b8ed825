package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/robfig/cron/v3"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
	"github.com/tortoise-dev/tortoise/store/sqlite"
)

// backend is River on one engine.
type backend interface {
	register(k *Kind) error
	insert(ctx context.Context, tx store.Tx, ins []insert) ([]*Enqueued, error)
	// deferInsert adds ins in tx for a caller that needs no job back
	// (Queue.DeferTx).
	deferInsert(ctx context.Context, tx store.Tx, ins []insert) error
	// viaStore: enqueues outside a transaction go through the store's
	// writer (SQLite's group commit) rather than River's own connection.
	viaStore() bool
	list(ctx context.Context, p ListParams) (*ListResult, error)
	counts(ctx context.Context) (map[string]int, error)
	get(ctx context.Context, id int64) (*Job, error)
	retry(ctx context.Context, id int64) (*Job, error)
	cancel(ctx context.Context, id int64) (*Job, error)
	delete(ctx context.Context, id int64) (*Job, error)
	addCron(id string, sched cron.Schedule, k *Kind, args json.RawMessage) error
	removeCron(id string)
	start(ctx context.Context) error
	stop(ctx context.Context) error
	close() error
}

// newBackend runs River on st's engine: on SQLite through a pool of its
// own on the same file (River's reads and writes wait for the store's
// writer like any other connection), on PostgreSQL through the store's
// pool.
func newBackend(ctx context.Context, st store.Store, q *Queue) (backend, error) {
	switch s := st.(type) {
	case *sqlite.Store:
		db, err := s.OpenSQL()
		if err != nil {
			return nil, err
		}
		b, err := newRiver(ctx, riversqlite.New(db), q, sqliteTx, riverTuning{cooldown: 5 * time.Millisecond, poll: 250 * time.Millisecond}, db.Close)
		if err != nil {
			db.Close()
			return nil, err
		}
		b.groupCommit = true
		b.lean = sqliteInsertLean
		if b.outbox, err = openOutbox(ctx, sqliteOutbox{s}, 0, q.cfg.Logger); err != nil {
			db.Close()
			return nil, err
		}
		b.deferLean = b.outbox.add
		return b, nil
	case *postgres.Store:
		b, err := newRiver(ctx, riverpgxv5.New(s.Pool()), q, pgxTx, riverTuning{cooldown: time.Millisecond, poll: time.Second}, nil)
		if err != nil {
			return nil, err
		}
		exec := b.client.Driver().GetExecutor()
		n := &insertNotifier{log: q.cfg.Logger, tell: func(ctx context.Context, payloads []string) error {
			// River's insert topic (river/internal/notifier.NotificationTopicInsert).
			return exec.NotifyMany(ctx, &riverdriver.NotifyManyParams{Payload: payloads, Topic: "river_insert"})
		}}
		b.lean = pgInsertLean(n)
		if b.outbox, err = openOutbox(ctx, pgOutbox{s}, outboxSweep, q.cfg.Logger); err != nil {
			return nil, err
		}
		b.deferLean = b.outbox.add
		return b, nil
	}
	return nil, core.Invalid("Background jobs need an SQLite or PostgreSQL store, not %T.", st)
}

// sqliteTx is the *sql.Tx of an SQLite write call (the call's savepoint).
func sqliteTx(ctx context.Context, tx store.Tx) (*sql.Tx, error) {
	t, ok := tx.(interface {
		SQLTx(context.Context) (*sql.Tx, error)
	})
	if !ok {
		return nil, core.Invalid("EnqueueTx needs a transaction of the app's store.")
	}
	return t.SQLTx(ctx)
}

// pgxTx is the pgx.Tx of a PostgreSQL write call.
func pgxTx(_ context.Context, tx store.Tx) (pgx.Tx, error) {
	t, ok := tx.(interface{ PgxTx() pgx.Tx })
	if !ok {
		return nil, core.Invalid("EnqueueTx needs a transaction of the app's store.")
	}
	return t.PgxTx(), nil
}

// riverTuning is what differs between the engines: how soon workers
// fetch again after a fetch, and how often they look without a
// notification.
type riverTuning struct {
	cooldown, poll time.Duration
}

type riverBackend[TTx any] struct {
	q           *Queue
	groupCommit bool // SQLite: enqueue through the store's writer
	// lean inserts jobs without uniqueness in a store transaction, where
	// the engine has a cheaper way than River's (see sqlite_insert.go).
	lean func(context.Context, store.Tx, []insert) ([]*Enqueued, error)
	// deferLean writes jobs without uniqueness for DeferTx, which needs
	// none back, more cheaply again: into the outbox (outbox.go).
	deferLean func(context.Context, store.Tx, []insert) error
	outbox    *outbox // stopped with the backend
	client    *river.Client[TTx]
	workers   *river.Workers
	txOf      func(context.Context, store.Tx) (TTx, error)
	closeFn   func() error
}

func newRiver[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], q *Queue, txOf func(context.Context, store.Tx) (TTx, error), tune riverTuning, closeFn func() error) (*riverBackend[TTx], error) {
	// River reports progress at Info; Tortoise's log wants its warnings.
	log := slog.New(minLevel{q.cfg.Logger.Handler(), slog.LevelWarn})
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return nil, core.Internal(err, "Failed to prepare the job tables.")
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, core.Internal(err, "Failed to create the job tables.")
	}
	poll := tune.poll
	if q.cfg.PollInterval > 0 {
		poll = q.cfg.PollInterval
	}
	queues := make(map[string]river.QueueConfig, len(q.cfg.Queues))
	for name, n := range q.cfg.Queues {
		queues[name] = river.QueueConfig{MaxWorkers: max(n, 1)}
	}
	workers := river.NewWorkers()
	client, err := river.NewClient(driver, &river.Config{
		Queues:                      queues,
		Workers:                     workers,
		FetchCooldown:               min(tune.cooldown, poll),
		FetchPollInterval:           poll,
		RescueStuckJobsAfter:        q.cfg.RescueAfter,
		CompletedJobRetentionPeriod: q.cfg.KeepCompleted,
		CancelledJobRetentionPeriod: q.cfg.KeepFailed,
		DiscardedJobRetentionPeriod: q.cfg.KeepFailed,
		JobTimeout:                  min(time.Minute, q.cfg.RescueAfter), // River wants rescue after it; kinds set their own
		MaxAttempts:                 10,
		Logger:                      log,
	})
	if err != nil {
		return nil, core.Internal(err, "Failed to set up the job queue.")
	}
	return &riverBackend[TTx]{q: q, client: client, workers: workers, txOf: txOf, closeFn: closeFn}, nil
}

// minLevel drops records below a level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}

// rawArgs carries a job's args as JSON whatever its kind: kinds are named
// at run time (users register them), so one args type serves them all.
type rawArgs struct {
	kind string
	raw  json.RawMessage
}

func (a rawArgs) Kind() string { return a.kind }

func (a rawArgs) MarshalJSON() ([]byte, error) { return a.raw, nil }

func (a *rawArgs) UnmarshalJSON(b []byte) error {
	a.raw = append(a.raw[:0], b...)
	return nil
}

// kindWorker runs the jobs of one kind.
type kindWorker struct {
	river.WorkerDefaults[rawArgs]
	k *Kind
}

func (w *kindWorker) Work(ctx context.Context, j *river.Job[rawArgs]) error {
	err := w.k.Handler(ctx, jobOf(j.JobRow))
	var c *control
	switch {
	case err == nil:
		return nil
	case errors.As(err, &c) && c.cancel:
		return river.JobCancel(cmpErr(c.err, "cancelled by its handler"))
	case errors.As(err, &c):
		return river.JobSnooze(c.snooze)
	}
	return err
}

func cmpErr(err error, fallback string) error {
	if err == nil {
		return errors.New(fallback)
	}
	return err
}

func (w *kindWorker) NextRetry(j *river.Job[rawArgs]) time.Time {
	return time.Now().Add(w.k.Backoff(j.Attempt))
}

func (w *kindWorker) Timeout(*river.Job[rawArgs]) time.Duration { return w.k.Timeout }

// register adds k's worker. River names a worker's kind by its args type;
// AddWorkerArgs takes an args value instead, which is what lets one type
// serve kinds named at run time. It panics where AddWorkerSafely would
// return an error (Queue.Register has already refused a taken name).
func (b *riverBackend[TTx]) register(k *Kind) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = core.Internal(fmt.Errorf("%v", v), "Failed to register a job kind.")
		}
	}()
	river.AddWorkerArgs(b.workers, rawArgs{kind: k.Name}, &kindWorker{k: k})
	return nil
}

func (b *riverBackend[TTx]) insert(ctx context.Context, tx store.Tx, ins []insert) ([]*Enqueued, error) {
	if tx != nil && b.lean != nil && leanInsertable(ins) {
		return b.lean(ctx, tx, ins)
	}
	return b.riverInsert(ctx, tx, ins)
}

// riverInsert inserts ins with River's own insert: the jobs the lean
// inserts cannot take (unique ones, and those outside a store write), and
// the rows the tests hold the lean ones to.
func (b *riverBackend[TTx]) riverInsert(ctx context.Context, tx store.Tx, ins []insert) ([]*Enqueued, error) {
	params := make([]river.InsertManyParams, len(ins))
	for i, in := range ins {
		opts := &river.InsertOpts{
			Queue:       in.opts.Queue,
			Priority:    in.opts.Priority,
			MaxAttempts: in.opts.MaxAttempts,
			ScheduledAt: in.opts.RunAt,
			Tags:        in.opts.Tags,
		}
		if u := in.opts.Unique; u != nil {
			opts.UniqueOpts = river.UniqueOpts{ByArgs: u.ByArgs, ByQueue: u.ByQueue, ByPeriod: u.Period}
		}
		params[i] = river.InsertManyParams{Args: rawArgs{kind: in.kind.Name, raw: in.args}, InsertOpts: opts}
	}
	var res []*rivertype.JobInsertResult
	var err error
	if tx == nil {
		res, err = b.client.InsertMany(ctx, params)
	} else {
		var ttx TTx
		if ttx, err = b.txOf(ctx, tx); err != nil {
			return nil, err
		}
		res, err = b.client.InsertManyTx(ctx, ttx, params)
	}
	if err != nil {
		return nil, core.Internal(err, "Failed to enqueue the job.")
	}
	out := make([]*Enqueued, len(res))
	for i, r := range res {
		out[i] = &Enqueued{Job: jobOf(r.Job), Duplicate: r.UniqueSkippedAsDuplicate}
	}
	return out, nil
}

func (b *riverBackend[TTx]) viaStore() bool { return b.groupCommit }

func (b *riverBackend[TTx]) deferInsert(ctx context.Context, tx store.Tx, ins []insert) error {
	if b.deferLean != nil && leanInsertable(ins) {
		return b.deferLean(ctx, tx, ins)
	}
	_, err := b.insert(ctx, tx, ins)
	return err
}

func (b *riverBackend[TTx]) counts(ctx context.Context) (map[string]int, error) {
	byState, err := b.client.Driver().GetExecutor().JobCountByAllStates(ctx, &riverdriver.JobCountByAllStatesParams{})
	if err != nil {
		return nil, core.Internal(err, "Failed to count the jobs.")
	}
	out := make(map[string]int, len(byState))
	for s, n := range byState {
		out[string(s)] = n
	}
	return out, nil
}

func (b *riverBackend[TTx]) list(ctx context.Context, p ListParams) (*ListResult, error) {
	lp := river.NewJobListParams().First(p.Limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if len(p.States) > 0 {
		states := make([]rivertype.JobState, len(p.States))
		for i, s := range p.States {
			states[i] = rivertype.JobState(s)
		}
		lp = lp.States(states...)
	}
	if len(p.Kinds) > 0 {
		lp = lp.Kinds(p.Kinds...)
	}
	if len(p.Queues) > 0 {
		lp = lp.Queues(p.Queues...)
	}
	if len(p.Tags) > 0 {
		lp = lp.TagsAll(p.Tags...)
	}
	if p.After != "" {
		var c river.JobListCursor
		if err := c.UnmarshalText([]byte(p.After)); err != nil {
			return nil, core.FieldInvalid("cursor", "validation_invalid_cursor", "Malformed cursor.")
		}
		lp = lp.After(&c)
	}
	res, err := b.client.JobList(ctx, lp)
	if err != nil {
		return nil, core.Internal(err, "Failed to list the jobs.")
	}
	out := &ListResult{Jobs: make([]*Job, len(res.Jobs))}
	for i, r := range res.Jobs {
		out.Jobs[i] = jobOf(r)
	}
	if len(res.Jobs) == p.Limit && res.LastCursor != nil {
		text, err := res.LastCursor.MarshalText()
		if err == nil {
			out.Cursor = string(text)
		}
	}
	return out, nil
}

func (b *riverBackend[TTx]) get(ctx context.Context, id int64) (*Job, error) {
	return b.one(b.client.JobGet(ctx, id))
}

func (b *riverBackend[TTx]) retry(ctx context.Context, id int64) (*Job, error) {
	return b.one(b.client.JobRetry(ctx, id))
}

func (b *riverBackend[TTx]) cancel(ctx context.Context, id int64) (*Job, error) {
	return b.one(b.client.JobCancel(ctx, id))
}

func (b *riverBackend[TTx]) delete(ctx context.Context, id int64) (*Job, error) {
	return b.one(b.client.JobDelete(ctx, id))
}

// one translates the outcome of an operation on one job.
func (b *riverBackend[TTx]) one(row *rivertype.JobRow, err error) (*Job, error) {
	switch {
	case errors.Is(err, rivertype.ErrNotFound):
		return nil, core.NotFound("The job wasn't found.")
	case errors.Is(err, rivertype.ErrJobRunning):
		return nil, core.Invalid("The job is running: cancel it first.")
	case err != nil:
		return nil, core.Internal(err, "Failed to change the job.")
	}
	return jobOf(row), nil
}

// addCron has River's periodic enqueuer (which runs on the elected
// leader only) add k's job with args at each tick of sched, unique within
// the tick so that a tick fired again by a new leader adds nothing.
func (b *riverBackend[TTx]) addCron(id string, sched cron.Schedule, k *Kind, args json.RawMessage) error {
	utc := utcSchedule{sched}
	job := river.NewPeriodicJob(utc, func() (river.JobArgs, *river.InsertOpts) {
		return rawArgs{kind: k.Name, raw: args}, &river.InsertOpts{
			Queue: CronQueue, Priority: k.Priority, MaxAttempts: k.MaxAttempts,
			Tags:       []string{cronTag(id)},
			UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: tickWindow(utc, time.Now())},
		}
	}, &river.PeriodicJobOpts{ID: cronTag(id)})
	if _, err := b.client.PeriodicJobs().AddSafely(job); err != nil {
		return err
	}
	return nil
}

func (b *riverBackend[TTx]) removeCron(id string) { b.client.PeriodicJobs().RemoveByID(cronTag(id)) }

// utcSchedule reads cron expressions in UTC whatever the machine's zone.
type utcSchedule struct{ cron.Schedule }

func (s utcSchedule) Next(t time.Time) time.Time { return s.Schedule.Next(t.UTC()) }

func (b *riverBackend[TTx]) start(ctx context.Context) error {
	if err := b.client.Start(ctx); err != nil {
		return core.Internal(err, "Failed to start the job workers.")
	}
	return nil
}

func (b *riverBackend[TTx]) stop(ctx context.Context) error {
	if err := b.client.Stop(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			// Jobs still running: cancel them (they run again elsewhere).
			return b.client.StopAndCancel(context.WithoutCancel(ctx))
		}
		return fmt.Errorf("stop the job workers: %w", err)
	}
	return nil
}

func (b *riverBackend[TTx]) close() error {
	if b.outbox != nil {
		b.outbox.close()
	}
	if b.closeFn != nil {
		return b.closeFn()
	}
	return nil
}

// jobOf is a River job row as this package shows it.
func jobOf(r *rivertype.JobRow) *Job {
	j := &Job{
		ID: r.ID, Kind: r.Kind, Args: json.RawMessage(r.EncodedArgs), State: string(r.State),
		Queue: r.Queue, Priority: r.Priority, Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		Tags: r.Tags, CreatedAt: r.CreatedAt, ScheduledAt: r.ScheduledAt,
		AttemptedAt: r.AttemptedAt, FinalizedAt: r.FinalizedAt,
		Errors: make([]AttemptError, len(r.Errors)),
	}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	if out := r.Output(); len(out) > 0 {
		j.Output = json.RawMessage(out)
	}
	for i, e := range r.Errors {
		j.Errors[i] = AttemptError{Attempt: e.Attempt, At: e.At, Error: e.Error}
	}
	return j
}

func recordOutput(ctx context.Context, v any) error { return river.RecordOutput(ctx, v) }
