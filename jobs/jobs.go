// Package jobs runs background work for Tortoise and for users' Go code:
// durable jobs with retries and backoff, timeouts, snooze and cancel,
// unique jobs, priorities, named queues and jobs scheduled for later.
//
// Jobs live in the app's own database, through River
// (github.com/riverqueue/river): its SQLite driver in the same file as the
// records when embedded, its pgx driver on PostgreSQL. A job enqueued with
// EnqueueTx (or DeferTx, the cheaper call for callers that need no job
// back) inside a record write commits or rolls back with that write:
// no job is lost with a committed write, none runs for one rolled back.
// Nothing outside this package names River's types, so the rest of
// Tortoise and users' code depend on this package only.
//
// Workers are goroutines of the process that called Start; several
// processes on one PostgreSQL database share the work, each job running in
// one of them at a time. A job whose process dies while running it is run
// again once River notices (after RescueAfter), so handlers must tolerate
// running twice: at-least-once, as every durable queue is.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// Handler does one job. Returning nil completes it; an error schedules a
// retry (after the kind's backoff) until the kind's MaxAttempts are spent,
// then the job is discarded with its errors kept. Return Cancel(err) to
// stop without retrying, or Snooze(d) to run again after d without
// counting an attempt. ctx ends at the kind's Timeout and when the
// process shuts down.
type Handler func(ctx context.Context, job *Job) error

// Kind is a kind of job and how its jobs run.
type Kind struct {
	// Name identifies the kind in the database ([a-z0-9_.:-], at most 64
	// characters). Jobs of a name no process knows wait.
	Name    string
	Handler Handler
	// MaxAttempts caps the runs of one job, the first included (default
	// 10). Options.MaxAttempts overrides it per job.
	MaxAttempts int
	// Timeout bounds one run (default 1 minute).
	Timeout time.Duration
	// Queue is where jobs of this kind go unless Options say otherwise
	// (default "default"). It must be one of the Config's queues.
	Queue string
	// Priority orders jobs within a queue, 1 first (default 1, at most 4).
	Priority int
	// Backoff returns how long to wait before the next run after the
	// attempt-th failed one (default: attempt⁴ seconds with ±10% jitter,
	// capped at a day: 1 s, 16 s, 81 s, 4 min, 10 min, …).
	Backoff func(attempt int) time.Duration
}

// Job is one job as its handler and the API see it.
type Job struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	Args        json.RawMessage `json:"args"`
	State       string          `json:"state"`
	Queue       string          `json:"queue"`
	Priority    int             `json:"priority"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"maxAttempts"`
	Tags        []string        `json:"tags"`
	Errors      []AttemptError  `json:"errors"`
	// Output is what the handler recorded with RecordOutput (null if none).
	Output      json.RawMessage `json:"output"`
	CreatedAt   time.Time       `json:"created"`
	ScheduledAt time.Time       `json:"scheduled"`
	AttemptedAt *time.Time      `json:"attempted"`
	FinalizedAt *time.Time      `json:"finalized"`
}

// AttemptError is why one run of a job failed.
type AttemptError struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Error   string    `json:"error"`
}

// Job states, as River names them.
const (
	StateAvailable = "available" // waiting for a worker
	StateScheduled = "scheduled" // waiting for its time
	StateRunning   = "running"
	StateRetryable = "retryable" // failed, to run again after its backoff
	StateCompleted = "completed"
	StateCancelled = "cancelled"
	StateDiscarded = "discarded" // failed its last attempt
	StatePending   = "pending"
)

// States lists every job state.
var States = []string{StateAvailable, StateScheduled, StateRunning, StateRetryable, StateCompleted, StateCancelled, StateDiscarded, StatePending}

// Options adjust one enqueued job; the zero value takes the kind's.
type Options struct {
	Queue       string
	Priority    int
	MaxAttempts int
	// RunAt schedules the job for later (zero: now).
	RunAt time.Time
	// Unique, when set, makes this job not enqueued while an equal one
	// exists (see Unique).
	Unique *Unique
	Tags   []string
}

// Unique says which jobs count as equal for Options.Unique: always the
// same kind, and as asked the same args, the same queue, and the same
// period (a new job is enqueued once per Period).
type Unique struct {
	ByArgs  bool
	ByQueue bool
	Period  time.Duration
}

// Enqueued is the outcome of Enqueue.
type Enqueued struct {
	Job *Job
	// Duplicate is set when Options.Unique found an equal job: Job is that
	// one, and nothing new was enqueued.
	Duplicate bool
}

// RecordOutput keeps v (JSON-encoded) with the job being run in ctx, as
// its Output, whether the run succeeds or fails: for the API's and the
// admin's view of it (a webhook delivery keeps its response status and
// time). Call it from a Handler. Errors: v does not encode.
func RecordOutput(ctx context.Context, v any) error { return recordOutput(ctx, v) }

// Cancel, returned by a handler, ends the job as cancelled: no retry.
func Cancel(err error) error { return &control{cancel: true, err: err} }

// Snooze, returned by a handler, runs the job again after d without
// counting this run as an attempt.
func Snooze(d time.Duration) error { return &control{snooze: d} }

type control struct {
	cancel bool
	snooze time.Duration
	err    error
}

func (c *control) Error() string {
	if c.cancel {
		return fmt.Sprintf("cancelled: %v", c.err)
	}
	return fmt.Sprintf("snoozed for %s", c.snooze)
}

func (c *control) Unwrap() error { return c.err }

// Config sets up a Queue.
type Config struct {
	// Queues are the named queues and how many jobs of each run at once in
	// this process (default {"default": 50, "cron": 10, "webhooks": 20}).
	// A queue missing here is not worked by this process.
	Queues map[string]int
	// PollInterval is how often workers look for jobs that are due when
	// no notification told them (default 250 ms on SQLite, 1 s on
	// PostgreSQL, which notifies).
	PollInterval time.Duration
	// RescueAfter is how long a job may stay running before it counts as
	// abandoned by a dead process and runs again (default 1 hour, at least
	// the longest Kind.Timeout).
	RescueAfter time.Duration
	// KeepCompleted, KeepFailed: how long finished jobs stay listed
	// (defaults: 24 hours; 7 days for cancelled and discarded ones).
	KeepCompleted, KeepFailed time.Duration
	Logger                    *slog.Logger
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	if len(c.Queues) == 0 {
		c.Queues = map[string]int{DefaultQueue: 200, CronQueue: 10, WebhookQueue: 20}
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = time.Hour
	}
	if c.KeepCompleted <= 0 {
		c.KeepCompleted = 24 * time.Hour
	}
	if c.KeepFailed <= 0 {
		c.KeepFailed = 7 * 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Queue names Tortoise uses.
const (
	DefaultQueue = "default"
	CronQueue    = "cron"     // scheduled runs, apart so a backlog never delays them
	WebhookQueue = "webhooks" // outgoing webhook deliveries
)

var kindName = regexp.MustCompile(`^[a-z0-9_.:-]{1,64}$`)

// tagForm is what River accepts as a tag.
var tagForm = regexp.MustCompile(`^\w[\w-]{1,253}\w$`)

// Queue is the job queue of one app.
type Queue struct {
	cfg   Config
	be    backend
	st    store.Store
	crons crons

	stopCrons context.CancelFunc

	mu      sync.RWMutex
	kinds   map[string]*Kind
	started bool
}

// New returns the queue of st's database, creating River's tables there
// if needed. It runs nothing until Start. Errors: KindInvalid for a store
// it cannot run on, KindInternal.
func New(ctx context.Context, st store.Store, cfg Config) (*Queue, error) {
	cfg = cfg.WithDefaults()
	q := &Queue{cfg: cfg, st: st, kinds: map[string]*Kind{}}
	be, err := newBackend(ctx, st, q)
	if err != nil {
		return nil, err
	}
	q.be = be
	return q, nil
}

// Register adds a kind. Register every kind before Start, in every
// process (an API process enqueues only kinds it knows). Errors:
// KindInvalid for a bad or taken name or a queue not configured.
func (q *Queue) Register(k Kind) error {
	if !kindName.MatchString(k.Name) {
		return core.FieldInvalid("kind", "validation_invalid_kind", "A job kind is 1 to 64 characters of a-z, 0-9, _ . : -.")
	}
	if k.Handler == nil {
		return core.FieldInvalid("kind", "validation_required", "A job kind needs a handler.")
	}
	if k.MaxAttempts <= 0 {
		k.MaxAttempts = 10
	}
	if k.Timeout <= 0 {
		k.Timeout = time.Minute
	}
	if k.Queue == "" {
		k.Queue = DefaultQueue
	}
	if _, ok := q.cfg.Queues[k.Queue]; !ok {
		return core.FieldInvalid("queue", "validation_unknown_queue", fmt.Sprintf("Queue %q is not configured.", k.Queue))
	}
	k.Priority = min(max(k.Priority, 1), 4)
	if k.Backoff == nil {
		k.Backoff = DefaultBackoff
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return core.Invalid("Register job kinds before the queue starts.")
	}
	if _, dup := q.kinds[k.Name]; dup {
		return core.FieldInvalid("kind", "validation_kind_taken", fmt.Sprintf("Job kind %q is already registered.", k.Name))
	}
	q.kinds[k.Name] = &k
	return q.be.register(&k)
}

// DefaultBackoff waits attempt⁴ seconds, ±10%, at most a day.
func DefaultBackoff(attempt int) time.Duration {
	s := math.Min(math.Pow(float64(max(attempt, 1)), 4), 24*3600)
	return time.Duration(s * (0.9 + 0.2*rand.Float64()) * float64(time.Second))
}

// Kinds returns the registered kinds' names.
func (q *Queue) Kinds() []string {
	q.mu.RLock()
	defer q.mu.RUnlock()
	out := make([]string, 0, len(q.kinds))
	for name := range q.kinds {
		out = append(out, name)
	}
	return out
}

func (q *Queue) kind(name string) (*Kind, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	k := q.kinds[name]
	if k == nil {
		return nil, core.FieldInvalid("kind", "validation_unknown_kind", fmt.Sprintf("Unknown job kind %q.", name))
	}
	return k, nil
}

// Enqueue adds a job of kind with args (any JSON-encodable value) now, in
// a transaction of its own. Errors: KindInvalid (unknown kind, args that
// do not encode, bad options), KindInternal.
func (q *Queue) Enqueue(ctx context.Context, kind string, args any, opts *Options) (*Enqueued, error) {
	return q.enqueue(ctx, nil, kind, args, opts)
}

// EnqueueTx adds a job in tx, the transaction of a record write (a hook's
// Write.Tx, or a store.TxHook's): it commits or rolls back with it.
// Errors: as Enqueue.
func (q *Queue) EnqueueTx(ctx context.Context, tx store.Tx, kind string, args any, opts *Options) (*Enqueued, error) {
	if tx == nil {
		return nil, core.Invalid("EnqueueTx needs a transaction.")
	}
	return q.enqueue(ctx, tx, kind, args, opts)
}

// DeferTx adds a job in tx, the transaction of a record write, like
// EnqueueTx, for a caller that needs nothing back: the job commits or
// rolls back with the write just the same, and becomes visible to List
// and to workers shortly after the write commits. It costs the write far
// less than EnqueueTx: one small row in an outbox table without River's
// indexes (on PostgreSQL sent in the round trip the store makes just
// before COMMIT), which a single transaction moves into the queue for the
// jobs of many writes a few milliseconds later (outbox.go). For unique
// jobs it is EnqueueTx. Errors: as Enqueue.
func (q *Queue) DeferTx(ctx context.Context, tx store.Tx, kind string, args any, opts *Options) error {
	if tx == nil {
		return core.Invalid("DeferTx needs a transaction.")
	}
	in, err := q.prepare(Item{Kind: kind, Args: args, Options: opts})
	if err != nil {
		return err
	}
	return q.be.deferInsert(ctx, tx, []insert{in})
}

func (q *Queue) enqueue(ctx context.Context, tx store.Tx, kind string, args any, opts *Options) (*Enqueued, error) {
	out, err := q.enqueueMany(ctx, tx, []Item{{Kind: kind, Args: args, Options: opts}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// Item is one job for EnqueueMany.
type Item struct {
	Kind    string
	Args    any
	Options *Options
}

// EnqueueMany adds several jobs in one transaction of their own: all or
// none. Errors: as Enqueue, for the first item at fault.
func (q *Queue) EnqueueMany(ctx context.Context, items []Item) ([]*Enqueued, error) {
	return q.enqueueMany(ctx, nil, items)
}

// EnqueueManyTx adds several jobs in tx (see EnqueueTx).
func (q *Queue) EnqueueManyTx(ctx context.Context, tx store.Tx, items []Item) ([]*Enqueued, error) {
	if tx == nil {
		return nil, core.Invalid("EnqueueManyTx needs a transaction.")
	}
	return q.enqueueMany(ctx, tx, items)
}

func (q *Queue) enqueueMany(ctx context.Context, tx store.Tx, items []Item) ([]*Enqueued, error) {
	if len(items) == 0 {
		return nil, nil
	}
	ins := make([]insert, len(items))
	for i, it := range items {
		var err error
		if ins[i], err = q.prepare(it); err != nil {
			return nil, err
		}
	}
	if tx == nil && q.be.viaStore() {
		// On SQLite the store's writer commits concurrent enqueues in one
		// group, one fsync for all, where River's own pool would commit
		// (and fsync) each.
		var out []*Enqueued
		err := q.st.Update(ctx, func(tx store.Tx) error {
			var err error
			out, err = q.be.insert(ctx, tx, ins)
			return err
		})
		return out, err
	}
	return q.be.insert(ctx, tx, ins)
}

// prepare checks one item against its kind and fills in the defaults.
func (q *Queue) prepare(it Item) (insert, error) {
	k, err := q.kind(it.Kind)
	if err != nil {
		return insert{}, err
	}
	raw, err := encodeArgs(it.Args)
	if err != nil {
		return insert{}, err
	}
	ins := insert{kind: k, args: raw}
	if it.Options != nil {
		ins.opts = *it.Options
	}
	if ins.opts.Queue == "" {
		ins.opts.Queue = k.Queue
	} else if _, ok := q.cfg.Queues[ins.opts.Queue]; !ok {
		return insert{}, core.FieldInvalid("queue", "validation_unknown_queue", fmt.Sprintf("Queue %q is not configured.", ins.opts.Queue))
	}
	if ins.opts.Priority == 0 {
		ins.opts.Priority = k.Priority
	} else if ins.opts.Priority < 1 || ins.opts.Priority > 4 {
		return insert{}, core.FieldInvalid("priority", "validation_invalid_priority", "Priority is 1 (first) to 4.")
	}
	if len(ins.opts.Tags) > 20 {
		return insert{}, core.FieldInvalid("tags", "validation_too_many", "At most 20 tags.")
	}
	for _, tag := range ins.opts.Tags {
		if !tagForm.MatchString(tag) {
			return insert{}, core.FieldInvalid("tags", "validation_invalid_tag", fmt.Sprintf("Tag %q: 3 to 255 letters, digits, _ and -, not starting or ending with -.", tag))
		}
	}
	if ins.opts.MaxAttempts == 0 {
		ins.opts.MaxAttempts = k.MaxAttempts
	} else if ins.opts.MaxAttempts < 0 || ins.opts.MaxAttempts > 1000 {
		return insert{}, core.FieldInvalid("maxAttempts", "validation_invalid_max_attempts", "maxAttempts is 1 to 1000.")
	}
	return ins, nil
}

// encodeArgs turns args into a JSON object or array (River stores args
// as JSON; a bare scalar is wrapped as {"value": …}).
func encodeArgs(args any) (json.RawMessage, error) {
	var raw []byte
	switch a := args.(type) {
	case nil:
		return json.RawMessage(`{}`), nil
	case json.RawMessage:
		if len(a) == 0 {
			return json.RawMessage(`{}`), nil
		}
		raw = a
	case []byte:
		raw = a
	default:
		b, err := json.Marshal(a)
		if err != nil {
			return nil, core.FieldInvalid("args", "validation_invalid_args", "The job's args do not encode as JSON.")
		}
		raw = b
	}
	if !json.Valid(raw) {
		return nil, core.FieldInvalid("args", "validation_invalid_args", "The job's args are not valid JSON.")
	}
	if what := core.JSONUnstorable(raw); what != "" {
		// PostgreSQL's jsonb would refuse it at the commit of the write
		// that defers the job; refused on SQLite too, alike.
		return nil, core.FieldInvalid("args", "validation_invalid_args", fmt.Sprintf("The job's args may not contain %s.", what))
	}
	switch first := firstByte(raw); first {
	case '{':
		return raw, nil
	default:
		return json.Marshal(map[string]json.RawMessage{"value": raw})
	}
}

func firstByte(b []byte) byte {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c
		}
	}
	return 0
}

// insert is one job to add.
type insert struct {
	kind *Kind
	args json.RawMessage
	opts Options
}

// tags are the job's tags, never nil: River reads [] for none.
func (in insert) tags() []string {
	if in.opts.Tags == nil {
		return []string{}
	}
	return in.opts.Tags
}

// state is the job's first state: scheduled for a RunAt, else available.
func (in insert) state() string {
	if in.opts.RunAt.IsZero() {
		return StateAvailable
	}
	return StateScheduled
}

// Start runs this process's workers (and, on the elected leader, the
// queue's maintenance and scheduled jobs) until Stop.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.be.start(ctx); err != nil {
		return err
	}
	q.mu.Lock()
	q.started = true
	refresh, stop := context.WithCancel(context.WithoutCancel(ctx))
	q.stopCrons = stop
	q.mu.Unlock()
	q.syncCrons(refresh)
	go q.refreshCrons(refresh)
	return nil
}

// Stop waits for running jobs to finish (until ctx ends, then cancels
// them) and stops the workers. A queue never started stops at once.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.RLock()
	started, stopCrons := q.started, q.stopCrons
	q.mu.RUnlock()
	if !started {
		return q.be.close()
	}
	stopCrons()
	err := q.be.stop(ctx)
	return errors.Join(err, q.be.close())
}

// ListParams select jobs for List.
type ListParams struct {
	States, Kinds, Queues []string
	// Limit caps the jobs returned (default 50, at most 500).
	Limit int
	// After is the Cursor of the previous page ("" for the first).
	After string
	// Tags keeps jobs carrying every one of these tags.
	Tags []string
}

// ListResult is one page of jobs, newest first.
type ListResult struct {
	Jobs []*Job `json:"items"`
	// Cursor continues the list after this page ("" when it is the last).
	Cursor string `json:"cursor"`
}

// List returns jobs. Errors: KindInvalid (unknown state, bad cursor),
// KindInternal.
func (q *Queue) List(ctx context.Context, p ListParams) (*ListResult, error) {
	for _, s := range p.States {
		if !slices.Contains(States, s) {
			return nil, core.FieldInvalid("state", "validation_invalid_state", fmt.Sprintf("Unknown job state %q.", s))
		}
	}
	if p.Limit <= 0 {
		p.Limit = 50
	}
	p.Limit = min(p.Limit, 500)
	return q.be.list(ctx, p)
}

// Counts returns how many jobs are in each state (StateAvailable …),
// every state present. It counts the whole table, as River keeps it: the
// finished states hold what the retention periods keep. Errors:
// KindInternal.
func (q *Queue) Counts(ctx context.Context) (map[string]int, error) {
	c, err := q.be.counts(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range States {
		c[s] += 0
	}
	return c, nil
}

// Get returns one job. Errors: KindNotFound, KindInternal.
func (q *Queue) Get(ctx context.Context, id int64) (*Job, error) { return q.be.get(ctx, id) }

// Retry makes a finished or waiting job run again as soon as possible
// (a running one is left alone). Errors: KindNotFound, KindInternal.
func (q *Queue) Retry(ctx context.Context, id int64) (*Job, error) { return q.be.retry(ctx, id) }

// Cancel cancels a job: one waiting never runs, one running has its
// context cancelled (if it runs in this process; else it is cancelled by
// its own process soon after). Errors: KindNotFound, KindInternal.
func (q *Queue) Cancel(ctx context.Context, id int64) (*Job, error) { return q.be.cancel(ctx, id) }

// Delete removes a job that is not running. Errors: KindNotFound,
// KindInvalid (it is running), KindInternal.
func (q *Queue) Delete(ctx context.Context, id int64) (*Job, error) { return q.be.delete(ctx, id) }
