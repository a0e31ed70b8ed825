package service

import (
	"slices"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/filter"
)

// Request carries who is asking and what they sent, for access rules and
// the @request.* filter identifiers.
type Request struct {
	// Superuser bypasses every access rule. It is set for superuser
	// accounts and for superuser API keys; what keys may not do even then
	// is KeyBarred's to say.
	Superuser bool
	// Auth is the authenticated record, nil for guests.
	Auth *core.Record
	// Refreshable is false for tokens that may not be refreshed
	// (impersonation tokens).
	Refreshable bool
	Method      string
	Query       map[string]string
	Headers     map[string]string
	// Body is the submitted data (for create and update).
	Body map[string]any
	// Key is the API key the request came with, if any.
	Key *APIKey
}

// KeyBarred reports whether r comes with an API key — any, superuser keys
// included — and c is a system collection. Those hold the accounts
// (_superusers), the keys themselves (_apiKeys) and the state of logins
// (_otps, _mfas, _externalAuths, _authOrigins): a key that could read or
// change their records or definitions could make itself a superuser
// account or a wider key, and a key never manages keys. Records ask it
// through Bypasses and the schema a key's filters see; the routes that
// change collections or impersonate ask it directly.
func (r *Request) KeyBarred(c *core.Collection) bool {
	return r != nil && r.Key != nil && c != nil && c.System
}

// Bypasses reports whether r skips c's access rules: superusers always, an
// API key for the collections (and the access) it was given — never a
// system collection (see KeyBarred), where a key meets the rules as a guest.
func (r *Request) Bypasses(c *core.Collection, write bool) bool {
	if r == nil || r.KeyBarred(c) {
		return false
	}
	return r.Superuser || (r.Key != nil && r.Key.Allows(c.ID, write))
}

// IsGuest reports whether nobody is authenticated.
func (r *Request) IsGuest() bool { return r == nil || (r.Auth == nil && !r.Superuser) }

// Env is what a filter over c resolves against for r. allowHidden lets it
// use hidden fields: true for access rules (written by superusers) and for
// superusers' own filters.
func (s *Service) Env(c *core.Collection, r *Request, allowHidden bool) *filter.Env {
	fr := &filter.Request{Method: "GET", Context: "default"}
	var sc filter.Schema = s.schema.Load()
	if r != nil {
		fr.Auth, fr.Body, fr.Query, fr.Headers = r.Auth, r.Body, r.Query, r.Headers
		if r.Method != "" {
			fr.Method = r.Method
		}
		if r.Key != nil && !allowHidden {
			// A key's own filter (not a rule) sees no system collection,
			// by @collection or by relation, so it cannot probe them.
			sc = keySchema{sc}
		}
		allowHidden = allowHidden || r.Superuser
	}
	return &filter.Env{Schema: sc, Collection: c, Request: fr, Now: time.Now(), AllowHidden: allowHidden}
}

// keySchema is the schema as API keys' filters see it: without the
// system collections (see KeyBarred).
type keySchema struct{ filter.Schema }

// WithoutSystem is sc without the system collections, as API keys'
// filters see it: by name, by id, or as a relation's target.
func WithoutSystem(sc filter.Schema) filter.Schema { return keySchema{sc} }

func (k keySchema) CollectionByNameOrID(nameOrID string) *core.Collection {
	if c := k.Schema.CollectionByNameOrID(nameOrID); c != nil && !c.System {
		return c
	}
	return nil
}

// APIKey is what an API key allows: everything (Superuser), or reading
// (and with Write, changing) the records of some collections regardless of
// their rules.
type APIKey struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Superuser   bool     `json:"superuser"`
	Collections []string `json:"collections"` // collection ids
	Write       bool     `json:"write"`
	// Scopes are the routes beyond records the key may use: "jobs"
	// (/api/jobs, /api/crons), "webhooks" (/api/webhooks, /api/hooks).
	Scopes []string `json:"scopes,omitempty"`
}

// API key scopes.
const (
	ScopeJobs     = "jobs"
	ScopeWebhooks = "webhooks"
)

// HasScope reports whether the key may use the routes of scope.
func (k *APIKey) HasScope(scope string) bool {
	return k.Superuser || slices.Contains(k.Scopes, scope)
}

// Allows reports whether the key may read (or, with write, change) the
// records of the collection with id cid.
func (k *APIKey) Allows(cid string, write bool) bool {
	if k.Superuser {
		return true
	}
	if write && !k.Write {
		return false
	}
	for _, c := range k.Collections {
		if c == cid {
			return true
		}
	}
	return false
}
