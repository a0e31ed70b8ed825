package service

import (
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/filter"
)

// Request carries who is asking and what they sent, for access rules and
// the @request.* filter identifiers.
type Request struct {
	// Superuser bypasses every access rule.
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

// bypasses reports whether r skips c's access rules: superusers always, an
// API key for the collections (and the access) it was given.
func (r *Request) bypasses(c *core.Collection, write bool) bool {
	if r == nil {
		return false
	}
	return r.Superuser || (r.Key != nil && r.Key.Allows(c.ID, write))
}

// IsGuest reports whether nobody is authenticated.
func (r *Request) IsGuest() bool { return r == nil || (r.Auth == nil && !r.Superuser) }

// env is what a filter over c resolves against for r. allowHidden lets it
// use hidden fields: true for access rules (written by superusers) and for
// superusers' own filters.
func (s *Service) env(c *core.Collection, r *Request, allowHidden bool) *filter.Env {
	fr := &filter.Request{Method: "GET", Context: "default"}
	if r != nil {
		fr.Auth, fr.Body, fr.Query, fr.Headers = r.Auth, r.Body, r.Query, r.Headers
		if r.Method != "" {
			fr.Method = r.Method
		}
		allowHidden = allowHidden || r.Superuser
	}
	return &filter.Env{Schema: s.schema.Load(), Collection: c, Request: fr, Now: time.Now(), AllowHidden: allowHidden}
}
