package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/internal/jsonw"
	"github.com/tortoise-dev/tortoise/service"
)

func (s *Server) authMethods(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return err
	}
	if !c.IsAuth() || c.Auth == nil {
		return core.Invalid("Collection %q is not an auth collection.", c.Name)
	}
	fields := c.Auth.PasswordAuth.IdentityFields
	if fields == nil {
		fields = []string{}
	}
	providers, err := s.auth.OAuth2Starts(r.Context(), c)
	if err != nil {
		return err
	}
	a := c.Auth
	writeJSON(w, http.StatusOK, map[string]any{
		"password": map[string]any{"enabled": a.PasswordAuth.Enabled, "identityFields": fields},
		"oauth2":   map[string]any{"enabled": a.OAuth2.Enabled && len(providers) > 0, "providers": providers},
		"mfa":      map[string]any{"enabled": a.MFA.Enabled, "duration": a.MFA.Duration},
		"otp":      map[string]any{"enabled": a.OTP.Enabled, "duration": a.OTP.Duration},
	})
	return nil
}

func (s *Server) authWithPassword(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Identity      string `json:"identity"`
		Password      string `json:"password"`
		IdentityField string `json:"identityField"`
		MFAID         string `json:"mfaId"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return core.Invalid("The body must be {\"identity\": string, \"password\": string}.")
	}
	errs := core.ValidationErrors{}
	if strings.TrimSpace(in.Identity) == "" {
		errs.Add("identity", "validation_required", "Cannot be blank.")
	}
	if in.Password == "" {
		errs.Add("password", "validation_required", "Cannot be blank.")
	}
	if len(in.Identity) > 255 || len(in.Password) > 255 {
		errs.Add("identity", "validation_length_out_of_range", "Too long.")
	}
	if err := errs.Err(); err != nil {
		return err
	}
	if r, err = s.throttle(r, guard.LabelAuth, c.ID, in.Identity); err != nil {
		return err
	}
	rec, tok, err := s.auth.AuthWithPassword(r.Context(), c, in.Identity, in.Password, in.IdentityField, in.MFAID)
	if err != nil {
		return err
	}
	s.writeAuth(w, r, rec, tok)
	return nil
}

func (s *Server) authRefresh(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return err
	}
	req := s.caller(r)
	if req.Auth == nil || req.Auth.Collection.ID != c.ID {
		return core.Unauthorized("The request requires valid record authorization token.")
	}
	if !req.Refreshable {
		return core.Forbidden("The current auth token is not refreshable.")
	}
	tok, err := s.auth.RefreshAuthToken(r.Context(), req.Auth)
	if err != nil {
		return err
	}
	s.writeAuth(w, r, req.Auth, tok)
	return nil
}

// impersonate lets a superuser act as an auth record: it answers with a
// non-refreshable token for it, {"token": ..., "record": {...}}. A
// superuser API key may impersonate the records of the app's own auth
// collections (it can change them anyway), never a superuser: that token
// would be the superuser account a key must not become.
// maxKeyImpersonation is the longest an API key's impersonation token
// lasts, in seconds.
const maxKeyImpersonation = 3600

func (s *Server) impersonate(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return err
	}
	if req.KeyBarred(c) {
		return errKeyBarred(c)
	}
	if !c.IsAuth() {
		return core.Invalid("Collection %q is not an auth collection.", c.Name)
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Duration int64 `json:"duration"`
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &in); err != nil {
			return core.FieldInvalid("duration", "validation_invalid_duration", "Must be a whole number of seconds.")
		}
	}
	if req.Key != nil {
		// A token outlives the key that minted it (revoking the key does
		// not end it): a key's impersonation lasts an hour at most.
		switch {
		case in.Duration > maxKeyImpersonation:
			return core.FieldInvalid("duration", "validation_invalid_duration",
				fmt.Sprintf("An API key impersonates for at most %d seconds.", maxKeyImpersonation))
		case in.Duration == 0:
			in.Duration = min(maxKeyImpersonation, c.Auth.AuthToken.Duration)
		}
	}
	rec, err := s.records.Get(r.Context(), req, c, r.PathValue("id"))
	if err != nil {
		return err
	}
	tok, err := s.auth.ImpersonateToken(rec, in.Duration)
	if err != nil {
		return err
	}
	s.writeAuth(w, r, rec, tok)
	return nil
}

// writeAuth answers a successful login: {"token": ..., "record": {...}}.
func (s *Server) writeAuth(w http.ResponseWriter, r *http.Request, rec *core.Record, tok string) {
	v := viewer{superuser: rec.Collection.Name == core.SuperusersName, auth: rec}
	b := append([]byte(`{"token":`), jsonw.String(nil, tok)...)
	b = append(b, `,"record":`...)
	b = appendRecord(b, rec, v, nil)
	b = append(b, '}')
	writeRaw(w, http.StatusOK, b)
}
