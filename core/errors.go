// Package core holds Tortoise's domain types: collections, fields, records,
// identifiers and the error kinds every layer speaks. It imports nothing of
// Tortoise's own, so storage drivers and the HTTP layer can share it without
// import cycles.
package core

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind classifies an error so the HTTP layer can map it to a status code
// without knowing where it came from.
type Kind int

// The error kinds. Only KindInternal errors are logged with their detail;
// every other kind carries a message that is safe to show to the caller.
// A value that breaks a unique index is KindInvalid with a
// "validation_not_unique" field, PocketBase's 400, not a kind of its own.
const (
	KindInternal     Kind = iota // a bug or an engine failure: 500
	KindInvalid                  // bad input: 400
	KindUnauthorized             // missing or bad credentials: 401
	KindForbidden                // authenticated but not allowed: 403
	KindNotFound                 // no such thing (or not visible): 404
	KindTooLarge                 // body or value over a limit: 413
	KindTooMany                  // rate limited, Error.RetryAfter says for how long: 429
	KindUnavailable              // shutting down, overloaded: 503
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not found"
	case KindTooLarge:
		return "too large"
	case KindTooMany:
		return "too many requests"
	case KindUnavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// FieldError describes what is wrong with one input field, in the shape of
// PocketBase's error "data" entries.
type FieldError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is the one error type that crosses layer boundaries.
type Error struct {
	Kind    Kind
	Message string                // user-safe summary
	Fields  map[string]FieldError // per-field detail, may be nil
	Err     error                 // underlying cause, never shown to users
	// RetryAfter is how long a KindTooMany caller should wait before
	// trying again (the API's Retry-After); zero means soon.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s: %s", k, e.Fields[k].Message)
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error of the given kind with a formatted user-safe message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalid is shorthand for a KindInvalid error.
func Invalid(format string, args ...any) *Error { return Errorf(KindInvalid, format, args...) }

// NotFound is shorthand for a KindNotFound error.
func NotFound(format string, args ...any) *Error { return Errorf(KindNotFound, format, args...) }

// Forbidden is shorthand for a KindForbidden error.
func Forbidden(format string, args ...any) *Error { return Errorf(KindForbidden, format, args...) }

// Unauthorized is shorthand for a KindUnauthorized error.
func Unauthorized(format string, args ...any) *Error {
	return Errorf(KindUnauthorized, format, args...)
}

// TooMany is a KindTooMany error: the caller may try again after retryAfter.
func TooMany(retryAfter time.Duration, format string, args ...any) *Error {
	e := Errorf(KindTooMany, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// Internal wraps an unexpected failure; its detail is logged, never shown.
func Internal(err error, format string, args ...any) *Error {
	e := Errorf(KindInternal, format, args...)
	e.Err = err
	return e
}

// FieldInvalid is a KindInvalid error about one field.
func FieldInvalid(field, code, message string) *Error {
	return &Error{Kind: KindInvalid, Message: "Failed to validate the submitted data.",
		Fields: map[string]FieldError{field: {Code: code, Message: message}}}
}

// Wrap gives err a kind and user-safe message unless it already is an *Error,
// in which case it is returned unchanged.
func Wrap(kind Kind, err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	ne := Errorf(kind, format, args...)
	ne.Err = err
	return ne
}

// KindOf returns the kind of err: the kind of the first *Error in its chain,
// or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// AsError returns the first *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// ValidationErrors collects per-field problems while validating input.
type ValidationErrors map[string]FieldError

// Add records a problem with a field, keeping the first one reported.
func (v ValidationErrors) Add(field, code, message string) {
	if _, ok := v[field]; !ok {
		v[field] = FieldError{Code: code, Message: message}
	}
}

// Err returns nil when nothing was collected, or a KindInvalid *Error.
func (v ValidationErrors) Err() error {
	if len(v) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Message: "Failed to validate the submitted data.", Fields: v}
}
