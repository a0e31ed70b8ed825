package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/webhooksig"
)

// Source is a sender of inbound webhooks, received at /api/hooks/{name}:
// each request's signature is checked with the source's secret and
// scheme, the event kept as a job of Kind (its args: source, eventId,
// body), and an event id seen before is acknowledged and ignored.
type Source struct {
	// Name is the last part of the URL: 1 to 64 characters of a-z, 0-9,
	// _ and -.
	Name string `json:"name"`
	// Scheme is "standard" (Standard Webhooks: webhook-id,
	// webhook-timestamp, webhook-signature) or "stripe" (Stripe-Signature).
	Scheme string `json:"scheme"`
	// Kind is the job kind each event is given to; "hook" (built in) only
	// keeps it.
	Kind string `json:"kind"`
	// ToleranceSeconds is how far the signed timestamp may be from now
	// (default 300).
	ToleranceSeconds int `json:"toleranceSeconds"`
	// Secret is the sender's signing secret: write-only, never shown.
	Secret  string    `json:"secret,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

type storedSource struct {
	Source
	Sealed string `json:"sealed"`
}

// Schemes of inbound signatures.
const (
	SchemeStandard = "standard"
	SchemeStripe   = "stripe"
)

// KindHook is the built-in kind that only keeps the event.
const KindHook = "hook"

// sourcesParam is where the sources are kept.
const sourcesParam = "hooks.sources"

var sourceName = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// HookEvent is the args of an inbound event's job.
type HookEvent struct {
	Source  string          `json:"source"`
	EventID string          `json:"eventId"`
	Body    json.RawMessage `json:"body"`
}

// registerInbound adds the built-in kind of inbound events.
func (s *Service) registerInbound() error {
	return s.o.Jobs.Register(jobs.Kind{Name: KindHook, Handler: func(context.Context, *jobs.Job) error { return nil }})
}

func readSources(ctx context.Context, r store.Reader) ([]storedSource, error) {
	var out []storedSource
	return out, store.ReadParamJSON(ctx, r, sourcesParam, &out)
}

// Sources lists the inbound sources, without secrets.
func (s *Service) Sources(ctx context.Context) ([]Source, error) {
	list, err := readSources(ctx, s.o.Store)
	if err != nil {
		return nil, err
	}
	out := make([]Source, len(list))
	for i, src := range list {
		out[i] = src.Source
		out[i].Secret = ""
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// GetSource returns one source, without its secret. Errors: KindNotFound.
func (s *Service) GetSource(ctx context.Context, name string) (*Source, error) {
	list, err := s.Sources(ctx)
	if err != nil {
		return nil, err
	}
	for _, src := range list {
		if src.Name == name {
			return &src, nil
		}
	}
	return nil, core.NotFound("The hook source wasn't found.")
}

// SourceInput is what SaveSource takes; nil fields are left as they are.
type SourceInput struct {
	Scheme           *string `json:"scheme"`
	Kind             *string `json:"kind"`
	ToleranceSeconds *int    `json:"toleranceSeconds"`
	Secret           *string `json:"secret"`
}

// SaveSource creates (create true) or changes the source name. Errors:
// KindInvalid naming the field, KindNotFound (change), KindInternal.
func (s *Service) SaveSource(ctx context.Context, name string, create bool, in SourceInput) (*Source, error) {
	if !sourceName.MatchString(name) {
		return nil, core.FieldInvalid("name", "validation_invalid_name", "A hook name is 1 to 64 characters of a-z, 0-9, _ and -.")
	}
	var sealed string
	if in.Secret != nil {
		if strings.TrimSpace(*in.Secret) == "" {
			return nil, core.FieldInvalid("secret", "validation_required", "Give the sender's signing secret.")
		}
		var err error
		if sealed, err = s.o.Settings.Seal(*in.Secret, "hook.secret"); err != nil {
			return nil, err
		}
	}
	var out Source
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.o.Store.Update(ctx, func(tx store.Tx) error {
		return store.UpdateParamJSON(ctx, tx, sourcesParam, func(sources *[]storedSource) error {
			list := *sources
			defer func() { *sources = list }()
			i := slices.IndexFunc(list, func(src storedSource) bool { return src.Name == name })
			now := time.Now().UTC()
			switch {
			case create && i >= 0:
				return core.FieldInvalid("name", "validation_hook_taken", "A hook source with this name exists.")
			case !create && i < 0:
				return core.NotFound("The hook source wasn't found.")
			case create:
				if sealed == "" {
					return core.FieldInvalid("secret", "validation_required", "Give the sender's signing secret.")
				}
				list = append(list, storedSource{Source: Source{Name: name, Scheme: SchemeStandard, Kind: KindHook, ToleranceSeconds: 300, Created: now}})
				i = len(list) - 1
			}
			src := &list[i]
			if in.Scheme != nil {
				if *in.Scheme != SchemeStandard && *in.Scheme != SchemeStripe {
					return core.FieldInvalid("scheme", "validation_invalid_scheme", "The scheme is standard (Standard Webhooks) or stripe.")
				}
				src.Scheme = *in.Scheme
			}
			if in.Kind != nil {
				if !slices.Contains(s.o.Jobs.Kinds(), *in.Kind) {
					return core.FieldInvalid("kind", "validation_unknown_kind", fmt.Sprintf("Unknown job kind %q.", *in.Kind))
				}
				src.Kind = *in.Kind
			}
			if in.ToleranceSeconds != nil {
				if *in.ToleranceSeconds < 1 || *in.ToleranceSeconds > 3600 {
					return core.FieldInvalid("toleranceSeconds", "validation_invalid_tolerance", "The tolerance is 1 to 3600 seconds.")
				}
				src.ToleranceSeconds = *in.ToleranceSeconds
			}
			if sealed != "" {
				src.Sealed = sealed
			}
			src.Updated = now
			out = src.Source
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out.Secret = ""
	return &out, nil
}

// DeleteSource removes a source. Errors: KindNotFound, KindInternal.
func (s *Service) DeleteSource(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.o.Store.Update(ctx, func(tx store.Tx) error {
		return store.UpdateParamJSON(ctx, tx, sourcesParam, func(list *[]storedSource) error {
			i := slices.IndexFunc(*list, func(src storedSource) bool { return src.Name == name })
			if i < 0 {
				return core.NotFound("The hook source wasn't found.")
			}
			*list = slices.Delete(*list, i, i+1)
			return nil
		})
	})
}

// Received is the outcome of Receive.
type Received struct {
	EventID string `json:"eventId"`
	// Duplicate: the event was received before; nothing new was kept.
	Duplicate bool  `json:"duplicate"`
	JobID     int64 `json:"jobId"`
}

// HookTag tags the jobs of the inbound events of source name.
func HookTag(name string) string { return "hook-" + name }

// Receive checks one inbound request for the source name and keeps its
// event. The request is public, so its body is read (by read) only once
// the source is found. Errors: KindNotFound (no such source), read's,
// KindUnauthorized (a signature that does not verify, or a timestamp out
// of tolerance), KindInvalid (no event id), KindUnavailable (the secret
// cannot be opened), KindInternal.
func (s *Service) Receive(ctx context.Context, name string, h http.Header, read func() ([]byte, error)) (*Received, error) {
	list, err := readSources(ctx, s.o.Store)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(list, func(src storedSource) bool { return src.Name == name })
	if i < 0 {
		return nil, core.NotFound("The requested resource wasn't found.")
	}
	src := list[i]
	body, err := read()
	if err != nil {
		return nil, err
	}
	secret, err := s.o.Settings.Open(src.Sealed, "hook.secret")
	if err != nil {
		return nil, err
	}
	tolerance := time.Duration(src.ToleranceSeconds) * time.Second
	scheme := webhooksig.StandardWebhooks
	if src.Scheme == SchemeStripe {
		scheme = webhooksig.Stripe
		err = webhooksig.VerifyStripe(secret, h.Get(webhooksig.StripeHeader), body, time.Now(), tolerance)
	} else {
		err = webhooksig.Verify(secret, h, body, time.Now(), tolerance)
	}
	if err != nil {
		return nil, core.Wrap(core.KindUnauthorized, err, "The webhook signature did not verify (%s).", sigReason(err))
	}
	eventID, err := webhooksig.EventID(scheme, h, body)
	if err != nil || eventID == "" {
		return nil, core.Invalid("The event has no id.")
	}
	if !json.Valid(body) {
		raw, _ := json.Marshal(string(body))
		body = raw
	}
	// Unique by args: the same event (same source, id and body) again is
	// the one already kept. Its signature verified, so only the sender (or
	// someone replaying what it sent, within the tolerance) can send it.
	e, err := s.o.Jobs.Enqueue(ctx, src.Kind, HookEvent{Source: name, EventID: eventID, Body: body},
		&jobs.Options{Unique: &jobs.Unique{ByArgs: true}, Tags: []string{HookTag(name)}})
	if err != nil {
		return nil, err
	}
	return &Received{EventID: eventID, Duplicate: e.Duplicate, JobID: e.Job.ID}, nil
}

// sigReason says why a signature check failed, without echoing input.
func sigReason(err error) string {
	switch {
	case errors.Is(err, webhooksig.ErrTimestampTooOld), errors.Is(err, webhooksig.ErrTimestampTooNew):
		return "the timestamp is outside the tolerance"
	case errors.Is(err, webhooksig.ErrMissingHeader):
		return "a signature header is missing"
	case errors.Is(err, webhooksig.ErrMalformed), errors.Is(err, webhooksig.ErrNoSignature):
		return "malformed signature headers"
	}
	return "no signature matches"
}
