// Package webhooks sends signed HTTP POSTs to other systems when records
// change: per collection, on create, update and/or delete, optionally only
// when a filter matches the record.
//
// A delivery is a job enqueued in the same transaction as the write that
// causes it (a store.TxHook: the change path, below every handler), so a
// committed write always gets its delivery and a rolled-back one never
// does. Each delivery is signed as Standard Webhooks says (webhook-id,
// webhook-timestamp, webhook-signature: HMAC-SHA256 of id.timestamp.body
// with the webhook's secret, shown once when the webhook is created), sent
// through the outbound client (private and metadata addresses refused),
// retried with backoff, and kept as a job: its attempts, errors, response
// status and time are the delivery log, and a delivery can be replayed.
// Hidden fields, password hashes and token keys never leave.
package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/jsonw"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/settings"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/webhooksig"
)

// Events a webhook can be for.
var Events = []string{store.ActionCreate, store.ActionUpdate, store.ActionDelete}

// Webhook is one endpoint to notify.
type Webhook struct {
	ID string `json:"id"`
	// Collection is the collection's name (given as a name or an id);
	// system collections (names starting with "_") cannot have webhooks.
	// Answers show the collection's current name.
	Collection string `json:"collection"`
	// CollectionID is the collection's id, which a rename keeps: the
	// webhook follows its collection through renames, and does not fire
	// for another collection later given the same name. Webhooks saved
	// before it was kept match by Collection.
	CollectionID string `json:"collectionId,omitempty"`
	// Events are among create, update and delete (default all three).
	Events []string `json:"events"`
	// Filter, when set, sends only changes whose record matches it (the
	// filter language, on the record's own fields; on delete, the record
	// as it was).
	Filter   string `json:"filter"`
	URL      string `json:"url"`
	Disabled bool   `json:"disabled"`
	// FilterError, in answers, says why Filter no longer works with the
	// collection as it now stands (a field it names was renamed or
	// removed): until it is mended, no change passes it and nothing is
	// sent.
	FilterError string `json:"filterError,omitempty"`
	// Secret signs the deliveries: shown only when created or rotated.
	Secret  string    `json:"secret,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// stored is a webhook as kept: its secret sealed.
type stored struct {
	Webhook
	Sealed string `json:"sealed"`
}

// param is where the webhooks are kept (a store param).
const param = "webhooks"

// Kind is the job kind of deliveries.
const Kind = "webhook"

// Refresh is how often the webhooks are reread, to pick up changes made
// through another process.
const Refresh = 5 * time.Second

// Options are what the service needs of the app.
type Options struct {
	Store    store.Store
	Service  *service.Service
	Records  *records.Service
	Jobs     *jobs.Queue
	Settings *settings.Service
	// Client makes the HTTP client deliveries go through (the outbound
	// client, so private addresses are refused).
	Client func(timeout time.Duration) *http.Client
	Logger *slog.Logger
}

// Service keeps the webhooks and delivers.
type Service struct {
	o    Options
	snap atomic.Pointer[[]stored] // the webhooks as last read
	mu   sync.Mutex               // serialises changes made here
	stop context.CancelFunc
}

// New loads the webhooks, registers the delivery kind and joins every
// write transaction of the store. Close stops its refresher.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Service{o: o}
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	if err := s.keepCollectionIDs(ctx); err != nil {
		return nil, err
	}
	if err := o.Jobs.Register(jobs.Kind{Name: Kind, Queue: jobs.WebhookQueue, MaxAttempts: 10, Timeout: time.Minute, Handler: s.deliver}); err != nil {
		return nil, err
	}
	if err := s.registerInbound(); err != nil {
		return nil, err
	}
	o.Store.AddTxHook(s.onChanges)
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.refresh(bg)
	return s, nil
}

// keepCollectionIDs gives the webhooks saved before CollectionID was kept
// their collection's id, found by their name while it still names it, so
// they follow later renames.
func (s *Service) keepCollectionIDs(ctx context.Context) error {
	missing := false
	for _, w := range s.current() {
		if w.CollectionID == "" {
			_, err := s.o.Service.Collection(w.Collection)
			missing = missing || err == nil
		}
	}
	if !missing {
		return nil
	}
	return s.change(ctx, func(list []stored) ([]stored, error) {
		for i := range list {
			if list[i].CollectionID != "" {
				continue
			}
			if c, err := s.o.Service.Collection(list[i].Collection); err == nil {
				list[i].CollectionID = c.ID
			}
		}
		return list, nil
	})
}

// Close stops rereading the webhooks.
func (s *Service) Close() { s.stop() }

func (s *Service) refresh(ctx context.Context) {
	t := time.NewTicker(Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.reload(ctx); err != nil && ctx.Err() == nil {
				s.o.Logger.Warn("webhooks: could not reread the webhooks", "err", err)
			}
		}
	}
}

// read returns the stored webhooks from r.
func read(ctx context.Context, r store.Reader) ([]stored, error) {
	var out []stored
	return out, store.ReadParamJSON(ctx, r, param, &out)
}

func (s *Service) reload(ctx context.Context) error {
	list, err := read(ctx, s.o.Store)
	if err != nil {
		return err
	}
	s.snap.Store(&list)
	return nil
}

func (s *Service) current() []stored {
	if p := s.snap.Load(); p != nil {
		return *p
	}
	return nil
}

// List returns the webhooks, without their secrets.
func (s *Service) List(ctx context.Context) ([]Webhook, error) {
	list, err := read(ctx, s.o.Store)
	if err != nil {
		return nil, err
	}
	out := make([]Webhook, len(list))
	for i, w := range list {
		out[i] = w.Webhook
		out[i].Secret = ""
		c, err := s.o.Service.Collection(w.collectionKey())
		if err != nil {
			continue
		}
		out[i].Collection = c.Name
		if w.Filter != "" {
			if _, err := s.o.Service.Compile(w.Filter, s.o.Service.Env(c, superuser, true)); err != nil {
				out[i].FilterError = message(err)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// Get returns one webhook, without its secret. Errors: KindNotFound.
func (s *Service) Get(ctx context.Context, id string) (*Webhook, error) {
	list, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range list {
		if w.ID == id {
			return &w, nil
		}
	}
	return nil, core.NotFound("The webhook wasn't found.")
}

// Input is what Create and Update take; nil fields are left as they are
// (Create: defaults).
type Input struct {
	Collection *string   `json:"collection"`
	Events     *[]string `json:"events"`
	Filter     *string   `json:"filter"`
	URL        *string   `json:"url"`
	Disabled   *bool     `json:"disabled"`
	// By is who writes the webhook, when it is an API key: its filter must
	// then be one the key's own filters could use. The filter is
	// evaluated as a superuser's on every change, so what gets delivered
	// answers yes or no about whatever it names: named by a key,
	// _superusers or _apiKeys (which no key reaches, by any route) or, for
	// a key that is not a superuser's, hidden fields. Nil (or no key): the
	// filter is checked as a superuser's.
	By *service.Request `json:"-"`
}

// Create adds a webhook with a new secret, returned (only) here.
// Errors: KindInvalid naming the field, KindInternal.
func (s *Service) Create(ctx context.Context, in Input) (*Webhook, error) {
	now := time.Now().UTC()
	w := Webhook{ID: core.NewID(), Events: slices.Clone(Events), Created: now, Updated: now}
	if err := s.apply(&w, in); err != nil {
		return nil, err
	}
	if w.Collection == "" {
		return nil, core.FieldInvalid("collection", "validation_required", "Give the collection.")
	}
	if w.URL == "" {
		return nil, core.FieldInvalid("url", "validation_required", "Give the URL to deliver to.")
	}
	secret := webhooksig.NewSecret()
	sealed, err := s.o.Settings.Seal(secret, "webhook.secret")
	if err != nil {
		return nil, err
	}
	err = s.change(ctx, func(list []stored) ([]stored, error) {
		return append(list, stored{Webhook: w, Sealed: sealed}), nil
	})
	if err != nil {
		return nil, err
	}
	w.Secret = secret
	return &w, nil
}

// Update changes a webhook. Errors: KindNotFound, KindInvalid, KindInternal.
func (s *Service) Update(ctx context.Context, id string, in Input) (*Webhook, error) {
	var out Webhook
	err := s.change(ctx, func(list []stored) ([]stored, error) {
		for i := range list {
			if list[i].ID != id {
				continue
			}
			w := list[i].Webhook
			if err := s.apply(&w, in); err != nil {
				return nil, err
			}
			w.Updated = time.Now().UTC()
			list[i].Webhook = w
			out = w
			return list, nil
		}
		return nil, core.NotFound("The webhook wasn't found.")
	})
	if err != nil {
		return nil, err
	}
	out.Secret = ""
	return &out, nil
}

// RotateSecret gives a webhook a new secret, returned (only) here; later
// deliveries are signed with it. Errors: KindNotFound, KindInternal.
func (s *Service) RotateSecret(ctx context.Context, id string) (*Webhook, error) {
	secret := webhooksig.NewSecret()
	sealed, err := s.o.Settings.Seal(secret, "webhook.secret")
	if err != nil {
		return nil, err
	}
	var out Webhook
	err = s.change(ctx, func(list []stored) ([]stored, error) {
		for i := range list {
			if list[i].ID == id {
				list[i].Sealed = sealed
				list[i].Updated = time.Now().UTC()
				out = list[i].Webhook
				return list, nil
			}
		}
		return nil, core.NotFound("The webhook wasn't found.")
	})
	if err != nil {
		return nil, err
	}
	out.Secret = secret
	return &out, nil
}

// Delete removes a webhook; its deliveries still waiting are cancelled
// when their turn comes. Errors: KindNotFound, KindInternal.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.change(ctx, func(list []stored) ([]stored, error) {
		for i := range list {
			if list[i].ID == id {
				return slices.Delete(list, i, i+1), nil
			}
		}
		return nil, core.NotFound("The webhook wasn't found.")
	})
}

// change applies fn to the stored list in a write transaction, then
// refreshes this process's copy.
func (s *Service) change(ctx context.Context, fn func([]stored) ([]stored, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.o.Store.Update(ctx, func(tx store.Tx) error {
		return store.UpdateParamJSON(ctx, tx, param, func(list *[]stored) error {
			next, err := fn(*list)
			*list = next
			return err
		})
	})
	if err != nil {
		return err
	}
	return s.reload(ctx)
}

// apply checks in and sets it on w.
func (s *Service) apply(w *Webhook, in Input) error {
	if in.Collection != nil {
		name := strings.TrimSpace(*in.Collection)
		c, err := s.o.Service.Collection(name)
		if err != nil {
			return core.FieldInvalid("collection", "validation_unknown_collection", fmt.Sprintf("Unknown collection %q.", name))
		}
		if strings.HasPrefix(c.Name, "_") {
			return core.FieldInvalid("collection", "validation_system_collection", "System collections cannot have webhooks.")
		}
		w.Collection, w.CollectionID = c.Name, c.ID
	}
	if in.Events != nil {
		if len(*in.Events) == 0 {
			return core.FieldInvalid("events", "validation_required", "Give at least one of create, update, delete.")
		}
		var evs []string
		for _, e := range *in.Events {
			if !slices.Contains(Events, e) {
				return core.FieldInvalid("events", "validation_invalid_event", fmt.Sprintf("Unknown event %q: use create, update or delete.", e))
			}
			if !slices.Contains(evs, e) {
				evs = append(evs, e)
			}
		}
		w.Events = evs
	}
	if in.URL != nil {
		u := strings.TrimSpace(*in.URL)
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") || len(u) > 2048 {
			return core.FieldInvalid("url", "validation_invalid_url", "The URL must be http:// or https:// (at most 2048 characters).")
		}
		w.URL = u
	}
	if in.Filter != nil {
		w.Filter = strings.TrimSpace(*in.Filter)
	}
	if in.Disabled != nil {
		w.Disabled = *in.Disabled
	}
	if w.Filter != "" && w.Collection != "" {
		c, err := s.o.Service.Collection(w.collectionKey())
		if err == nil {
			env := s.o.Service.Env(c, superuser, true)
			if in.By != nil && in.By.Key != nil {
				env = s.o.Service.Env(c, in.By, false)
			}
			if _, err := s.o.Service.Compile(w.Filter, env); err != nil {
				return core.FieldInvalid("filter", "validation_invalid_filter", message(err))
			}
		}
	}
	return nil
}

// message is what err says to the caller: a core error's message, else
// the error's text (a filter's compile errors are both).
func message(err error) string {
	if e := core.AsError(err); e != nil {
		return e.Message
	}
	return err.Error()
}

// superuser is who filters are evaluated as: only the filter applies.
var superuser = &service.Request{Superuser: true, Method: http.MethodGet}

// delivery is the args of a delivery job.
type delivery struct {
	Webhook string          `json:"webhook"`
	ID      string          `json:"id"` // the webhook-id header: the same on every attempt
	Body    json.RawMessage `json:"body"`
}

// onChanges enqueues, in the write's transaction, a delivery for each
// change a webhook asks for.
func (s *Service) onChanges(ctx context.Context, tx store.Tx, changes []store.Change) error {
	hooks := s.current()
	if len(hooks) == 0 {
		return nil
	}
	for _, ch := range changes {
		c := ch.Collection
		for _, h := range hooks {
			if h.Disabled || !h.isFor(c) || !slices.Contains(h.Events, ch.Action) {
				continue
			}
			if h.Filter != "" {
				ok, err := s.o.Records.Visible(ctx, superuser, c, ch.Record, ch.Action == store.ActionDelete, true, h.Filter)
				if err != nil {
					s.o.Logger.Warn("webhooks: the filter of a webhook failed; nothing sent", "webhook", h.ID, "err", err)
					continue
				}
				if !ok {
					continue
				}
			}
			args := deliveryArgs(h.ID, "msg_"+core.RandomString(24, core.Alphanumeric), ch)
			err := s.o.Jobs.DeferTx(ctx, tx, Kind, args,
				&jobs.Options{Queue: jobs.WebhookQueue, Tags: []string{Tag(h.ID)}})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// collectionKey names the webhook's collection to look it up by: its id
// when kept (the name may have changed since), else its name.
func (w *Webhook) collectionKey() string {
	if w.CollectionID != "" {
		return w.CollectionID
	}
	return w.Collection
}

// isFor reports whether the webhook is for changes of c.
func (w *Webhook) isFor(c *core.Collection) bool {
	if w.CollectionID != "" {
		return w.CollectionID == c.ID
	}
	return w.Collection == c.Name || w.Collection == c.ID
}

// Tag tags the deliveries of webhook id.
func Tag(id string) string { return "webhook-" + id }

// deliveryArgs are the job args of one delivery (a delivery), written by
// hand: it runs in the write's transaction, on SQLite on the single
// writer, and encoding/json's reflection over the record's map was most
// of what a delivery cost there. The body's keys are written in a fixed
// order, the record's as the API writes them (collectionId,
// collectionName, then the fields in the collection's order); SQLite
// keeps the args as this text, while PostgreSQL stores them as jsonb,
// which sorts the keys its own way.
func deliveryArgs(webhook, id string, ch store.Change) json.RawMessage {
	b := make([]byte, 0, 512)
	b = append(b, `{"webhook":`...)
	b = jsonw.String(b, webhook)
	b = append(b, `,"id":`...)
	b = jsonw.String(b, id)
	b = append(b, `,"body":{"collection":`...)
	b = jsonw.String(b, ch.Collection.Name)
	b = append(b, `,"event":`...)
	b = jsonw.String(b, ch.Action)
	b = append(b, `,"id":`...)
	b = jsonw.String(b, id)
	if ch.Action == store.ActionUpdate && ch.Old != nil {
		b = append(b, `,"previous":`...)
		b = appendPublic(b, ch.Old)
	}
	b = append(b, `,"record":`...)
	b = appendPublic(b, ch.Record)
	b = append(b, `,"timestamp":`...)
	b = jsonw.String(b, time.Now().UTC().Format(time.RFC3339Nano))
	return append(b, "}}"...)
}

// appendPublic writes a record without what must never leave: hidden
// fields, password hashes and token keys.
func appendPublic(b []byte, r *core.Record) []byte {
	b = append(b, `{"collectionId":`...)
	b = jsonw.String(b, r.Collection.ID)
	b = append(b, `,"collectionName":`...)
	b = jsonw.String(b, r.Collection.Name)
	for i := range r.Collection.Fields {
		f := &r.Collection.Fields[i]
		if f.Hidden || f.Def().Secret() || (r.Collection.IsAuth() && f.Name == "tokenKey") {
			continue
		}
		b = append(b, ',')
		b = jsonw.String(b, f.Name)
		b = append(b, ':')
		b = jsonw.Value(b, r.Data[f.Name])
	}
	return append(b, '}')
}

// deliver is the handler of delivery jobs.
func (s *Service) deliver(ctx context.Context, j *jobs.Job) error {
	var d delivery
	if err := json.Unmarshal(j.Args, &d); err != nil {
		return jobs.Cancel(fmt.Errorf("args: %w", err))
	}
	h, err := s.find(ctx, d.Webhook)
	if err != nil {
		return err
	}
	if h.Disabled {
		return jobs.Cancel(fmt.Errorf("the webhook is disabled"))
	}
	secret, err := s.o.Settings.Open(h.Sealed, "webhook.secret")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(d.Body))
	if err != nil {
		return jobs.Cancel(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := webhooksig.SetHeaders(req.Header, d.ID, time.Now(), d.Body, secret); err != nil {
		return jobs.Cancel(err)
	}
	start := time.Now()
	status, err := jobs.Send(s.o.Client(30*time.Second), req)
	took := time.Since(start)
	_ = jobs.RecordOutput(ctx, map[string]any{"status": status, "ms": took.Milliseconds(), "url": h.URL})
	if err != nil {
		return fmt.Errorf("after %d ms: %w", took.Milliseconds(), err)
	}
	return nil
}

// find returns the webhook id, rereading the store if this process does
// not know it yet; a webhook that is gone cancels the delivery.
func (s *Service) find(ctx context.Context, id string) (*stored, error) {
	for _, h := range s.current() {
		if h.ID == id {
			return &h, nil
		}
	}
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	for _, h := range s.current() {
		if h.ID == id {
			return &h, nil
		}
	}
	return nil, jobs.Cancel(fmt.Errorf("webhook %s was deleted", id))
}
