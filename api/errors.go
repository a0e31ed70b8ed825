package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/reqlog"
	"github.com/tortoise-dev/tortoise/service"
)

// handler is the shape of every route: it writes a successful answer
// itself and returns nil, or returns an error, which handle answers
// through the status table. A handler that has started its answer returns
// nil whatever happens next: nothing more can be written.
type handler func(http.ResponseWriter, *http.Request) error

// callerHandler is a handler that has been told who the caller is (see
// superuser).
type callerHandler func(http.ResponseWriter, *http.Request, *service.Request) error

// handle adapts h to net/http: the one place a handler's error becomes an
// answer.
func (s *Server) handle(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if e := reqlog.FromContext(r.Context()); e != nil {
			s.noteRoute(e, r)
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// statusOf maps error kinds to HTTP statuses: the one table of it.
var statusOf = map[core.Kind]int{
	core.KindInvalid:      http.StatusBadRequest,
	core.KindUnauthorized: http.StatusUnauthorized,
	core.KindForbidden:    http.StatusForbidden,
	core.KindNotFound:     http.StatusNotFound,
	core.KindTooLarge:     http.StatusRequestEntityTooLarge,
	core.KindTooMany:      http.StatusTooManyRequests,
	core.KindUnavailable:  http.StatusServiceUnavailable,
	core.KindInternal:     http.StatusInternalServerError,
}

// Status is the HTTP status of an error kind: the one table, which the
// admin answers with too.
func Status(k core.Kind) int {
	if s := statusOf[k]; s != 0 {
		return s
	}
	return http.StatusInternalServerError
}

// statusClientClosed answers a request whose client went away before it
// was answered (nginx's 499): nobody reads it, but logs and metrics tell
// it from a failure.
const statusClientClosed = 499

// Messages of the answers that carry no *core.Error of their own.
const (
	msgInternal    = "Something went wrong while processing your request."
	msgCanceled    = "The request was canceled."
	msgTooLarge    = "The request body is too large."
	msgMFARequired = "Please complete the second authentication method."
)

// errorBody is PocketBase's error response shape.
type errorBody struct {
	Status  int                        `json:"status"`
	Message string                     `json:"message"`
	Data    map[string]core.FieldError `json:"data"`
}

// mfaBody answers a first factor when MFA applies. The SDKs read mfaId at
// the top level, where PocketBase puts it.
type mfaBody struct {
	errorBody
	MFAID string `json:"mfaId"`
}

// writeError answers with err in PocketBase's error shape: a *core.Error
// by its kind through statusOf (429s with Retry-After), *auth.MFARequired
// as 401 with the mfaId, an over-limit body as 413, the request's own
// context ending as 499, and anything else as a 500. Only the 500s are
// logged, with their detail; their message is generic.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body, retryAfter := s.errorAnswer(r, err)
	if e := reqlog.FromContext(r.Context()); e != nil {
		noteError(e, status, body, err)
	}
	if retryAfter != "" {
		h := w.Header()
		h.Set("Retry-After", retryAfter)
		h.Set("Cache-Control", "no-store")
	}
	writeJSON(w, status, body)
}

// errorAnswer is the status and body writeError answers err with, and the
// Retry-After of a 429 ("" otherwise). Batch uses it for each failed item.
func (s *Server) errorAnswer(r *http.Request, err error) (status int, body any, retryAfter string) {
	var (
		mfa *auth.MFARequired
		mbe *http.MaxBytesError
		ce  *core.Error
	)
	var be *batchError
	if errors.As(err, &be) {
		return http.StatusBadRequest, be.body(), ""
	}
	if errors.As(err, &mfa) {
		// A first factor succeeded; the client logs in again with another
		// method and this id.
		return http.StatusUnauthorized, mfaBody{
			errorBody: errorBody{Status: http.StatusUnauthorized, Message: msgMFARequired, Data: map[string]core.FieldError{}},
			MFAID:     mfa.ID,
		}, ""
	}
	if errors.As(err, &mbe) {
		ce = &core.Error{Kind: core.KindTooLarge, Message: msgTooLarge}
	} else if !errors.As(err, &ce) || ce.Kind == core.KindInternal {
		ce = nil
	}
	eb := errorBody{Data: map[string]core.FieldError{}}
	switch ctxErr := r.Context().Err(); {
	case ce != nil:
		eb.Status, eb.Message = statusOf[ce.Kind], ce.Message
		for k, v := range ce.Fields {
			eb.Data[k] = v
		}
		if ce.Kind == core.KindTooMany {
			retryAfter = guard.RetryAfter(ce.RetryAfter)
		}
	case ctxErr != nil && errors.Is(err, ctxErr):
		// The client went away; nobody reads this answer.
		eb.Status, eb.Message = statusClientClosed, msgCanceled
	}
	if eb.Status == 0 {
		eb.Status, eb.Message = http.StatusInternalServerError, msgInternal
		s.log.Error("internal error", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	return eb.Status, eb, retryAfter
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"status":500,"message":"Something went wrong while processing your request.","data":{}}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

var jsonContentType = []string{"application/json"}

// noteRoute tells the request log the route that serves r and, behind
// trusted proxies, the client's address (the log knows only the peer's).
func (s *Server) noteRoute(e *reqlog.Entry, r *http.Request) {
	e.Route = r.Pattern
	if p := s.pol.Load(); p != nil && p.proxies != nil {
		e.UserIP = p.clientIP(r).String()
	}
}

// noteError tells the request log what a request was answered with: the
// message, and for a 5xx the cause, which only the log (superusers) sees.
func noteError(e *reqlog.Entry, status int, body any, err error) {
	var msg string
	switch b := body.(type) {
	case errorBody:
		msg = b.Message
	case mfaBody:
		msg = b.Message
	case batchFailedBody:
		msg = b.Message
	}
	if status < 500 {
		err = nil
	}
	e.SetError(msg, err)
}
