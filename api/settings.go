package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/settings"
)

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	st, err := s.settings.Settings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// updateSettings merges the body into the settings. Settings that would
// refuse this very request's superuser (superuserIPs without its address,
// as the request's address reads under the new proxy settings) are
// refused, so a superuser cannot lock themselves out by mistake.
func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	if req.Key != nil {
		return errSettingsByAccount
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	st, err := s.settings.UpdateSettingsChecked(r.Context(), b, SuperuserLockout(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// SuperuserLockout refuses settings whose superuser addresses would
// refuse r's superuser, as r's client address reads under the new proxy
// settings, so nobody locks themselves out by mistake: the check of PATCH
// /api/settings, which the admin's settings form makes too.
func SuperuserLockout(r *http.Request) func(*settings.Settings) error {
	return func(next *settings.Settings) error {
		p := newPolicy(next)
		if ip := p.clientIP(r); !p.superuserAllowed(ip) {
			return core.FieldInvalid("superuserIPs", "validation_superuser_ip_lockout",
				fmt.Sprintf("These addresses would refuse your own (%s): include it, or send the change from an address in the list.", ip))
		}
		return nil
	}
}

// decodeBody decodes a JSON object body into in; an empty body leaves in
// as it is. Errors are KindInvalid naming the field at fault.
func decodeBody(r *http.Request, in any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, in); err != nil {
		return core.DecodeError(err, "request body")
	}
	return nil
}

// testEmail sends a sample of one kind of mail through the mailer of the
// settings (the SMTP server, or the dev mailbox without one), answering
// 204 once it is handed over and 400 with the mailer's reason otherwise.
// The body is PocketBase's: {"email", "template", "collection"}; mail
// templates are the same for every collection here, so the collection,
// when given, only has to be an auth collection.
func (s *Server) testEmail(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	if req.Key != nil {
		return errSettingsTestByAccount
	}
	var in struct {
		Email      string `json:"email"`
		Template   string `json:"template"`
		Collection string `json:"collection"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	errs := core.ValidationErrors{}
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email {
		errs.Add("email", "validation_is_email", "Must be a valid email address.")
	}
	kind, ok := settings.TestTemplates[in.Template]
	if !ok {
		errs.Add("template", "validation_in_invalid",
			`Must be one of "verification", "password-reset", "email-change", "otp" or "login-alert".`)
	}
	if in.Collection != "" {
		if c, err := s.svc.Collection(in.Collection); err != nil || !c.IsAuth() {
			errs.Add("collection", "validation_invalid_collection", "Must be the name or id of an auth collection.")
		}
	}
	if err := errs.Err(); err != nil {
		return err
	}
	if err := s.settings.SendTestMail(r.Context(), kind, in.Email); err != nil {
		// The superuser is testing the mail settings: the mailer's own
		// words (a refused login, an unreachable host) are the answer.
		e := core.Invalid("Failed to send the test email: %s", strings.TrimSuffix(err.Error(), "."))
		e.Err = err
		return e
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testS3 checks the S3 settings of file storage ("storage", the default)
// or of backups ("backups") by writing an object to the bucket and
// deleting it, as PocketBase's route does: 204 when that works, 400 with
// S3's reason when it does not.
func (s *Server) testS3(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	if req.Key != nil {
		return errSettingsTestByAccount
	}
	var in struct {
		Filesystem string `json:"filesystem"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if err := s.settings.CheckS3(r.Context(), in.Filesystem); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// health answers GET /api/health. Superusers also get what PocketBase's
// dashboard reads: whether a backup can start now (never: Tortoise does
// not make backups yet), the client address the server sees for them, and
// a forwarding header the request carries (a sign of a proxy that
// trustedProxies may need to name).
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	req := s.caller(r)
	if !req.Superuser {
		writeRaw(w, http.StatusOK, []byte(`{"code":200,"message":"API is healthy.","data":{}}`))
		return nil
	}
	p, err := s.policy(r.Context())
	if err != nil {
		return err
	}
	proxyHeader := ""
	for _, h := range append(p.src.TrustedProxy.Headers[:len(p.src.TrustedProxy.Headers):len(p.src.TrustedProxy.Headers)],
		"CF-Connecting-IP", "Fly-Client-IP", "X-Forwarded-For", "X-Real-IP") {
		if r.Header.Get(h) != "" {
			proxyHeader = h
			break
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"code":    http.StatusOK,
		"message": "API is healthy.",
		"data": map[string]any{
			"canBackup":           false,
			"realIP":              p.clientIP(r).String(),
			"possibleProxyHeader": proxyHeader,
		},
	})
	return nil
}
