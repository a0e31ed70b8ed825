package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/core"
)

// TestErrorTable checks the one error path: what handle answers for each
// error a handler can return.
func TestErrorTable(t *testing.T) {
	t.Parallel()
	const generic = `{"status":500,"message":"Something went wrong while processing your request.","data":{}}`
	tests := []struct {
		name       string
		err        error
		gone       bool // the client went away: the request's context is canceled
		status     int
		body       string
		retryAfter string // the Retry-After header; "" means absent
		logged     bool   // logged as an internal error
	}{
		{name: "invalid", err: core.Invalid("Bad %s.", "thing"), status: 400,
			body: `{"status":400,"message":"Bad thing.","data":{}}`},
		{name: "invalid field", err: core.FieldInvalid("title", "validation_required", "Cannot be blank."), status: 400,
			body: `{"status":400,"message":"Failed to validate the submitted data.","data":{"title":{"code":"validation_required","message":"Cannot be blank."}}}`},
		{name: "not unique", err: &core.Error{Kind: core.KindInvalid, Message: "Failed to validate the submitted data.",
			Fields: map[string]core.FieldError{"slug": {Code: "validation_not_unique", Message: "Value must be unique."}}, Err: errors.New("UNIQUE constraint failed")},
			status: 400, body: `{"status":400,"message":"Failed to validate the submitted data.","data":{"slug":{"code":"validation_not_unique","message":"Value must be unique."}}}`},
		{name: "unauthorized", err: core.Unauthorized("Sign in."), status: 401,
			body: `{"status":401,"message":"Sign in.","data":{}}`},
		{name: "forbidden", err: core.Forbidden("No."), status: 403,
			body: `{"status":403,"message":"No.","data":{}}`},
		{name: "not found", err: core.NotFound("Missing."), status: 404,
			body: `{"status":404,"message":"Missing.","data":{}}`},
		{name: "too large", err: core.Errorf(core.KindTooLarge, "Too big."), status: 413,
			body: `{"status":413,"message":"Too big.","data":{}}`},
		{name: "body over the limit", err: fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), status: 413,
			body: `{"status":413,"message":"The request body is too large.","data":{}}`},
		{name: "too many", err: tooMany(1500 * time.Millisecond), status: 429, retryAfter: "2",
			body: `{"status":429,"message":"Too many requests.","data":{}}`},
		{name: "too many, whole seconds", err: tooMany(3 * time.Second), status: 429, retryAfter: "3",
			body: `{"status":429,"message":"Too many requests.","data":{}}`},
		{name: "too many, no delay", err: core.TooMany(0, "Slow down."), status: 429, retryAfter: "1",
			body: `{"status":429,"message":"Slow down.","data":{}}`},
		{name: "too many filtered reads", err: errTooManyFilteredReads, status: 429, retryAfter: "1",
			body: `{"status":429,"message":"` + errTooManyFilteredReads.Message + `","data":{}}`},
		{name: "unavailable", err: &core.Error{Kind: core.KindUnavailable, Message: "Try later.", Err: errors.New("conn refused")}, status: 503,
			body: `{"status":503,"message":"Try later.","data":{}}`},
		{name: "internal", err: core.Internal(errors.New("disk on fire"), "save"), status: 500, body: generic, logged: true},
		{name: "plain error", err: errors.New("boom"), status: 500, body: generic, logged: true},
		{name: "unknown kind", err: core.Errorf(core.Kind(99), "What?"), status: 500, body: generic, logged: true},
		{name: "wrapped kind", err: fmt.Errorf("view: %w", core.NotFound("Missing.")), status: 404,
			body: `{"status":404,"message":"Missing.","data":{}}`},
		{name: "mfa", err: fmt.Errorf("login: %w", &auth.MFARequired{ID: "mfa123"}), status: 401,
			body: `{"status":401,"message":"Please complete the second authentication method.","data":{},"mfaId":"mfa123"}`},
		{name: "client gone", err: context.Canceled, gone: true, status: 499,
			body: `{"status":499,"message":"The request was canceled.","data":{}}`},
		{name: "client gone, wrapped", err: core.Internal(fmt.Errorf("query: %w", context.Canceled), "list"), gone: true, status: 499,
			body: `{"status":499,"message":"The request was canceled.","data":{}}`},
		// A context of the handler's own ending is a failure, not the client.
		{name: "canceled, client still there", err: context.Canceled, status: 500, body: generic, logged: true},
		{name: "client gone, other failure", err: errors.New("boom"), gone: true, status: 500, body: generic, logged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
			r := httptest.NewRequest("GET", "/api/anything", nil)
			if tt.gone {
				ctx, cancel := context.WithCancel(r.Context())
				cancel()
				r = r.WithContext(ctx)
			}
			w := httptest.NewRecorder()
			s.handle(func(http.ResponseWriter, *http.Request) error { return tt.err })(w, r)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if got := w.Body.String(); got != tt.body {
				t.Errorf("body = %s\nwant   %s", got, tt.body)
			}
			if got := w.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if logged := logs.Len() > 0; logged != tt.logged {
				t.Errorf("logged = %v, want %v: %s", logged, tt.logged, logs.String())
			}
		})
	}
}

// TestErrorTableKinds checks that every kind has its status.
func TestErrorTableKinds(t *testing.T) {
	t.Parallel()
	want := map[core.Kind]int{
		core.KindInternal: 500, core.KindInvalid: 400, core.KindUnauthorized: 401, core.KindForbidden: 403,
		core.KindNotFound: 404, core.KindTooLarge: 413, core.KindTooMany: 429, core.KindUnavailable: 503,
	}
	for k := core.KindInternal; k <= core.KindUnavailable; k++ {
		if statusOf[k] != want[k] || want[k] == 0 {
			t.Errorf("kind %s: status %d, want %d", k, statusOf[k], want[k])
		}
	}
	if len(statusOf) != len(want) {
		t.Errorf("statusOf has %d rows, want %d", len(statusOf), len(want))
	}
}

// TestHandleAnswered checks that a handler's own answer is left alone.
func TestHandleAnswered(t *testing.T) {
	t.Parallel()
	s := &Server{log: slog.New(slog.DiscardHandler)}
	w := httptest.NewRecorder()
	s.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})(w, httptest.NewRequest("DELETE", "/api/x", nil))
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Errorf("got %d %q, want 204 and no body", w.Code, w.Body.String())
	}
}
