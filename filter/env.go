package filter

import (
	"time"

	"github.com/tortoise-dev/tortoise/core"
)

// Schema finds collections by name or id, for relation paths,
// back-relations and @collection references.
type Schema interface {
	// CollectionByNameOrID returns the collection or nil.
	CollectionByNameOrID(nameOrID string) *core.Collection
}

// Request is what @request.* refers to: the values of the HTTP request a
// filter or rule is evaluated for. They are known when the filter is
// compiled, so they become bound arguments, never SQL.
type Request struct {
	// Auth is the authenticated record, or nil for a guest.
	Auth *core.Record
	// Body holds the decoded request body (JSON or form values).
	Body map[string]any
	// Query holds the URL query parameters.
	Query map[string]string
	// Headers holds the request headers; names are matched case-insensitively
	// with dashes read as underscores (@request.headers.x_token).
	Headers map[string]string
	// Method is the HTTP method, e.g. "GET".
	Method string
	// Context names where the rule runs: "default", "oauth2", "otp",
	// "password", "realtime" or "protectedFile".
	Context string
}

// Env is what names in an expression resolve against.
type Env struct {
	// Schema resolves related collections; it may be nil when the expression
	// uses no relation, back-relation or @collection.
	Schema Schema
	// Collection is the collection whose records are filtered. Required.
	Collection *core.Collection
	// Request supplies @request.*; nil means a guest request with no values.
	Request *Request
	// Now is the time @now and the other date macros are relative to;
	// the zero value means time.Now().
	Now time.Time
	// Params binds {:name} placeholders. A placeholder without a value is an error.
	Params map[string]any
	// AllowHidden lets the expression use hidden and password fields. Set it
	// for superusers and when compiling a collection's own API rules, which
	// are written by superusers; leave it false for a client's filter so
	// hidden values cannot be probed.
	AllowHidden bool
}

// Loader gives the in-memory evaluator the records it needs to follow
// relation paths, back-relations and @collection references.
type Loader interface {
	// Records returns every record of c.
	Records(c *core.Collection) ([]*core.Record, error)
}
