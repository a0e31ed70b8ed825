package api

import (
	"encoding/json"
	"net/http"

	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/internal/jsonw"
)

// authWithOAuth2 completes an OAuth2 login: {provider, code, codeVerifier,
// redirectURL, createData} → {token, record, meta}.
func (s *Server) authWithOAuth2(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var in auth.OAuth2Login
	if err := json.Unmarshal(b, &in); err != nil {
		return core.Invalid("The body must be {\"provider\", \"code\", \"codeVerifier\", \"redirectURL\", \"createData\"}.")
	}
	if r, err = s.throttle(r, guard.LabelAuth, c.ID, ""); err != nil {
		return err
	}
	req := s.caller(r)
	res, err := s.auth.AuthWithOAuth2(r.Context(), req, c, in)
	if err != nil {
		return err
	}
	meta, err := json.Marshal(res.Meta)
	if err != nil {
		meta = []byte("{}")
	}
	v := viewer{auth: res.Record}
	out := append([]byte(`{"token":`), jsonw.String(nil, res.Token)...)
	out = append(out, `,"record":`...)
	out = appendRecord(out, res.Record, v, nil)
	out = append(out, `,"meta":`...)
	out = append(out, meta...)
	out = append(out, '}')
	writeRaw(w, http.StatusOK, out)
	return nil
}
