package api

import (
	"encoding/json"
	"net/http"

	"github.com/tortoise-dev/tortoise/apikeys"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
)

// superuserAccount guards a route for superusers logged in with their
// account: API keys, even superuser ones, cannot manage keys.
func (s *Server) superuserAccount(h callerHandler) handler {
	return s.superuser(func(w http.ResponseWriter, r *http.Request, req *service.Request) error {
		if req.Key != nil {
			return core.Forbidden("API keys are managed by superusers logged in with their account.")
		}
		return h(w, r, req)
	})
}

// errKeyBarred answers an API key reaching for a system collection (see
// service.Request.KeyBarred).
func errKeyBarred(c *core.Collection) error {
	return core.Forbidden("API keys cannot reach the system collection %q: that takes a superuser logged in with their account.", c.Name)
}

// errSettingsByAccount answers an API key changing the settings: they
// route the mail that resets superusers' passwords, so changing them is
// as good as taking a superuser account.
var errSettingsByAccount = core.Forbidden("Settings are changed by superusers logged in with their account, not with API keys.")

// errSettingsTestByAccount answers an API key testing the settings: a
// test mails any address through the app's SMTP server, or writes to its
// bucket.
var errSettingsTestByAccount = core.Forbidden("Settings are tested by superusers logged in with their account, not with API keys.")

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	recs, err := s.keys.List(r.Context())
	if err != nil {
		return err
	}
	b := append(make([]byte, 0, 256*len(recs)), `{"items":[`...)
	for i, rec := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecord(b, rec, viewer{superuser: true}, nil)
	}
	writeRaw(w, http.StatusOK, append(b, "]}"...))
	return nil
}

// createAPIKey answers with the key in clear: the only time it is shown.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var in apikeys.Input
	if err := json.Unmarshal(b, &in); err != nil {
		return core.DecodeError(err, "body")
	}
	secret, key, err := s.keys.Create(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": secret, "apiKey": key})
	return nil
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	if err := s.keys.Revoke(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
