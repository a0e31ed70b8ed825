package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// Cron enqueues a job of Kind with Args at each tick of Schedule, in the
// "cron" queue (so a backlog elsewhere never delays it). Crons are defined
// in Go (AddCron, in every process) or at run time (SaveCron, kept in the
// database). Only the elected leader among the processes running jobs
// enqueues, and a tick's job is unique for the tick, so each tick fires
// once however many processes there are.
type Cron struct {
	// ID names the cron: 1 to 64 characters of a-z, 0-9, _ and -, ending
	// with a letter or digit.
	ID string `json:"id"`
	// Schedule is a 5-field cron expression ("*/5 * * * *", in UTC) or a
	// descriptor: @yearly, @monthly, @weekly, @daily, @hourly, @every 90s.
	Schedule string          `json:"expression"`
	Kind     string          `json:"kind"`
	Args     json.RawMessage `json:"args"`
	// Disabled crons are kept but do not fire (RunCron still runs them).
	Disabled bool `json:"disabled"`
	// FromCode marks crons defined in Go: the API cannot change them.
	FromCode bool `json:"fromCode"`
}

// CronStatus is a cron with when it runs next and how its last run went.
type CronStatus struct {
	Cron
	Next *time.Time `json:"next"` // nil when disabled
	// Last is the cron's latest job (its state, attempts and errors), nil
	// before the first run or once that job is no longer kept.
	Last *Job `json:"last"`
}

var cronID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}[a-z0-9]$|^[a-z0-9]$`)

// cronParser reads 5-field expressions and descriptors, as the README
// documents (robfig/cron's standard parser).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronParam is the store param holding the crons saved at run time.
const cronParam = "jobs.crons"

// cronTag tags a cron's jobs, to find its last run.
func cronTag(id string) string { return "cron-" + id }

// crons is a queue's cron state.
type crons struct {
	mu   sync.Mutex
	code map[string]Cron // from AddCron
	// live are the crons scheduled with River now, by id, with what they
	// were scheduled as (to notice a change).
	live map[string]Cron
}

// validate checks c and parses its schedule.
func (q *Queue) validateCron(c *Cron) (cron.Schedule, error) {
	c.Schedule = strings.TrimSpace(c.Schedule)
	if !cronID.MatchString(c.ID) {
		return nil, core.FieldInvalid("id", "validation_invalid_id", "A cron id is 1 to 64 characters of a-z, 0-9, _ and -, starting and ending with a letter or digit.")
	}
	sched, err := cronParser.Parse(c.Schedule)
	if err != nil || strings.HasPrefix(c.Schedule, "TZ=") || strings.HasPrefix(c.Schedule, "CRON_TZ=") {
		return nil, core.FieldInvalid("expression", "validation_invalid_cron", fmt.Sprintf("Invalid schedule %q: use 5 fields (minute hour day month weekday) or @hourly, @daily, @weekly, @monthly, @yearly, @every 5m.", c.Schedule))
	}
	if d, ok := strings.CutPrefix(c.Schedule, "@every "); ok {
		// The parser makes anything under a second a second and drops
		// fractions of one: say so rather than run at another pace.
		if every, err := time.ParseDuration(strings.TrimSpace(d)); err != nil || every < time.Second || every%time.Second != 0 {
			return nil, core.FieldInvalid("expression", "validation_invalid_cron", fmt.Sprintf("Invalid schedule %q: @every takes whole seconds, at least 1s (e.g. @every 90s).", c.Schedule))
		}
	}
	if sched.Next(time.Now().UTC()).IsZero() {
		return nil, core.FieldInvalid("expression", "validation_invalid_cron", fmt.Sprintf("Schedule %q never fires.", c.Schedule))
	}
	if _, err := q.kind(c.Kind); err != nil {
		return nil, err
	}
	if len(c.Args) == 0 {
		c.Args = json.RawMessage(`{}`)
	}
	raw, err := encodeArgs(c.Args)
	if err != nil {
		return nil, err
	}
	c.Args = raw
	return sched, nil
}

// AddCron defines a cron in code; call it at start-up in every process
// (after registering its kind). Errors: KindInvalid.
func (q *Queue) AddCron(c Cron) error {
	c.FromCode = true
	if _, err := q.validateCron(&c); err != nil {
		return err
	}
	q.crons.mu.Lock()
	defer q.crons.mu.Unlock()
	if q.crons.code == nil {
		q.crons.code = map[string]Cron{}
	}
	if _, dup := q.crons.code[c.ID]; dup {
		return core.FieldInvalid("id", "validation_cron_taken", fmt.Sprintf("Cron %q is already defined.", c.ID))
	}
	q.crons.code[c.ID] = c
	return nil
}

// stored reads the crons saved at run time.
func (q *Queue) stored(ctx context.Context, r store.Reader) (map[string]Cron, error) {
	out := map[string]Cron{}
	return out, store.ReadParamJSON(ctx, r, cronParam, &out)
}

// all returns every cron, code's first, by id.
func (q *Queue) allCrons(ctx context.Context) ([]Cron, error) {
	saved, err := q.stored(ctx, q.st)
	if err != nil {
		return nil, err
	}
	q.crons.mu.Lock()
	for id, c := range q.crons.code {
		saved[id] = c
	}
	q.crons.mu.Unlock()
	out := make([]Cron, 0, len(saved))
	for _, c := range saved {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// SaveCron creates or replaces a cron kept in the database. Processes
// running jobs pick the change up at once here, and within
// CronRefresh elsewhere. Errors: KindInvalid (a bad cron, or one defined
// in code), KindInternal.
func (q *Queue) SaveCron(ctx context.Context, c Cron) (*CronStatus, error) {
	c.FromCode = false
	if _, err := q.validateCron(&c); err != nil {
		return nil, err
	}
	if q.isCodeCron(c.ID) {
		return nil, core.FieldInvalid("id", "validation_cron_in_code", fmt.Sprintf("Cron %q is defined in code.", c.ID))
	}
	err := q.st.Update(ctx, func(tx store.Tx) error {
		return store.UpdateParamJSON(ctx, tx, cronParam, func(saved *map[string]Cron) error {
			if *saved == nil {
				*saved = map[string]Cron{}
			}
			(*saved)[c.ID] = c
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	q.syncCrons(ctx)
	return q.CronStatus(ctx, c.ID)
}

// DeleteCron removes a cron kept in the database. Errors: KindNotFound,
// KindInvalid (defined in code), KindInternal.
func (q *Queue) DeleteCron(ctx context.Context, id string) error {
	if q.isCodeCron(id) {
		return core.FieldInvalid("id", "validation_cron_in_code", fmt.Sprintf("Cron %q is defined in code.", id))
	}
	err := q.st.Update(ctx, func(tx store.Tx) error {
		return store.UpdateParamJSON(ctx, tx, cronParam, func(saved *map[string]Cron) error {
			if _, ok := (*saved)[id]; !ok {
				return core.NotFound("The cron wasn't found.")
			}
			delete(*saved, id)
			return nil
		})
	})
	if err != nil {
		return err
	}
	q.syncCrons(ctx)
	return nil
}

func (q *Queue) isCodeCron(id string) bool {
	q.crons.mu.Lock()
	defer q.crons.mu.Unlock()
	_, ok := q.crons.code[id]
	return ok
}

// Crons lists every cron with its next and last run.
func (q *Queue) Crons(ctx context.Context) ([]*CronStatus, error) {
	all, err := q.allCrons(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*CronStatus, 0, len(all))
	for _, c := range all {
		st, err := q.status(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// CronStatus returns one cron. Errors: KindNotFound, KindInternal.
func (q *Queue) CronStatus(ctx context.Context, id string) (*CronStatus, error) {
	all, err := q.allCrons(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.ID == id {
			return q.status(ctx, c)
		}
	}
	return nil, core.NotFound("The cron wasn't found.")
}

func (q *Queue) status(ctx context.Context, c Cron) (*CronStatus, error) {
	st := &CronStatus{Cron: c}
	if !c.Disabled {
		if sched, err := cronParser.Parse(c.Schedule); err == nil {
			next := sched.Next(time.Now().UTC())
			st.Next = &next
		}
	}
	res, err := q.be.list(ctx, ListParams{Kinds: []string{c.Kind}, Limit: 1, Tags: []string{cronTag(c.ID)}})
	if err != nil {
		return nil, err
	}
	if len(res.Jobs) > 0 {
		st.Last = res.Jobs[0]
	}
	return st, nil
}

// RunCron enqueues a cron's job now, whether or not it is disabled.
// Errors: KindNotFound, KindInternal.
func (q *Queue) RunCron(ctx context.Context, id string) (*Job, error) {
	st, err := q.CronStatus(ctx, id)
	if err != nil {
		return nil, err
	}
	e, err := q.Enqueue(ctx, st.Kind, st.Args, &Options{Queue: CronQueue, Tags: []string{cronTag(id)}})
	if err != nil {
		return nil, err
	}
	return e.Job, nil
}

// CronRefresh is how often a process running jobs rereads the crons kept
// in the database, to pick up changes made through another process.
const CronRefresh = 5 * time.Second

// refreshCrons keeps the scheduled crons in step with the definitions
// until ctx ends.
func (q *Queue) refreshCrons(ctx context.Context) {
	t := time.NewTicker(CronRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			q.syncCrons(ctx)
		}
	}
}

// syncCrons schedules with River what the definitions say, when this
// process runs jobs: new and changed crons (re)added, removed and
// disabled ones taken out.
func (q *Queue) syncCrons(ctx context.Context) {
	q.mu.RLock()
	started := q.started
	q.mu.RUnlock()
	if !started {
		return
	}
	all, err := q.allCrons(ctx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			q.cfg.Logger.Warn("jobs: could not read the crons", "err", err)
		}
		return
	}
	q.crons.mu.Lock()
	defer q.crons.mu.Unlock()
	if q.crons.live == nil {
		q.crons.live = map[string]Cron{}
	}
	want := map[string]Cron{}
	for _, c := range all {
		if !c.Disabled {
			want[c.ID] = c
		}
	}
	for id, c := range q.crons.live {
		if w, ok := want[id]; !ok || !sameCron(w, c) {
			q.be.removeCron(id)
			delete(q.crons.live, id)
		}
	}
	for id, c := range want {
		if _, ok := q.crons.live[id]; ok {
			continue
		}
		sched, err := cronParser.Parse(c.Schedule)
		if err != nil {
			continue // validated when saved; a newer binary's syntax, maybe
		}
		k, err := q.kind(c.Kind)
		if err != nil {
			q.cfg.Logger.Warn("jobs: a cron names a kind this process does not know; it does not fire here", "cron", id, "kind", c.Kind)
			continue
		}
		if err := q.be.addCron(id, sched, k, c.Args); err != nil {
			q.cfg.Logger.Warn("jobs: could not schedule a cron", "cron", id, "err", err)
			continue
		}
		q.crons.live[id] = c
	}
}

func sameCron(a, b Cron) bool {
	return a.Schedule == b.Schedule && a.Kind == b.Kind && string(a.Args) == string(b.Args)
}

// tickWindow is the shortest gap between two ticks of sched around now:
// a tick's job is unique within it, so a new leader re-firing the same
// tick adds nothing.
func tickWindow(sched cron.Schedule, now time.Time) time.Duration {
	a := sched.Next(now)
	b := sched.Next(a)
	return max(b.Sub(a), time.Second)
}
