package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/core"
)

// statusOf maps error kinds to HTTP statuses: the one table of it.
var statusOf = map[core.Kind]int{
	core.KindInvalid:      http.StatusBadRequest,
	core.KindUnauthorized: http.StatusUnauthorized,
	core.KindForbidden:    http.StatusForbidden,
	core.KindNotFound:     http.StatusNotFound,
	core.KindConflict:     http.StatusConflict,
	core.KindTooLarge:     http.StatusRequestEntityTooLarge,
	core.KindTooMany:      http.StatusTooManyRequests,
	core.KindUnavailable:  http.StatusServiceUnavailable,
	core.KindInternal:     http.StatusInternalServerError,
}

// errorBody is PocketBase's error response shape.
type errorBody struct {
	Status  int                        `json:"status"`
	Message string                     `json:"message"`
	Data    map[string]core.FieldError `json:"data"`
}

// writeError answers with err in the documented error shape. Only internal
// errors are logged with their detail; their message is generic.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var mfa *auth.MFARequired
	if errors.As(err, &mfa) {
		// A first factor succeeded; the client logs in again with another
		// method and this id (PocketBase's shape: the SDKs read mfaId).
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"status": http.StatusUnauthorized, "message": "Please complete the second authentication method.",
			"data": map[string]any{}, "mfaId": mfa.ID,
		})
		return
	}
	body := errorBody{Data: map[string]core.FieldError{}}
	var ce *core.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		body.Status, body.Message = http.StatusRequestEntityTooLarge, "The request body is too large."
	case errors.As(err, &ce) && ce.Kind != core.KindInternal:
		body.Status, body.Message = statusOf[ce.Kind], ce.Message
		for k, v := range ce.Fields {
			body.Data[k] = v
		}
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		// The client went away; nobody reads this answer.
		body.Status, body.Message = 499, "The request was canceled."
	default:
		body.Status, body.Message = http.StatusInternalServerError, "Something went wrong while processing your request."
		s.log.Error("internal error", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	if body.Status == 0 {
		body.Status = http.StatusInternalServerError
	}
	writeJSON(w, body.Status, body)
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
