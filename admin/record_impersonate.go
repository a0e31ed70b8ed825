package admin

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/auth/tokens"
	"github.com/tortoise-dev/tortoise/core"
)

// impersonateView is the impersonation part of an auth record's page:
// the duration asked, and once made, the token (shown this once).
type impersonateView struct {
	Action   string
	Duration string // seconds
	Error    string
	Token    string
	Expires  string // the token's expiry, UTC
}

// tokenDuration is c's auth token lifetime in seconds, what an
// impersonation token lasts unless asked otherwise.
func tokenDuration(c *core.Collection) int64 {
	if c.Auth != nil && c.Auth.AuthToken.Duration > 0 {
		return c.Auth.AuthToken.Duration
	}
	return core.AuthTokenTTL
}

// impersonate answers POST .../records/{id}/impersonate: a
// non-refreshable auth token for the record, from
// auth.Service.ImpersonateToken as POST
// /api/collections/{c}/impersonate/{id} makes it, shown once on the
// record's page with its expiry.
func (a *Admin) impersonate(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.pathCollection(r)
	if err != nil {
		return err
	}
	if !c.IsAuth() {
		return core.Invalid("Collection %q is not an auth collection.", c.Name)
	}
	rec, err := a.opts.Records.Get(r.Context(), sess.req(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := parseForm(w, r, 64<<10); err != nil {
		return err
	}
	v, err := a.recordForm(r.Context(), sess, c, rec, recordValues(rec), nil)
	if err != nil {
		return err
	}
	imp := v.Impersonate
	imp.Duration = strings.TrimSpace(r.PostFormValue("duration"))
	var seconds int64
	if imp.Duration != "" {
		if seconds, err = strconv.ParseInt(imp.Duration, 10, 64); err != nil {
			imp.Error = "Must be a whole number of seconds."
		}
	}
	if imp.Error == "" {
		tok, err := a.opts.Auth.ImpersonateToken(rec, seconds)
		switch {
		case err == nil:
			imp.Token = tok
			if claims, err := tokens.Peek(tok); err == nil && claims.ExpiresAt != nil {
				imp.Expires = claims.ExpiresAt.UTC().Format("2006-01-02 15:04:05Z")
			}
		case core.KindOf(err) == core.KindInvalid:
			e := core.AsError(err)
			imp.Error = e.Message
			if fe, ok := e.Fields["duration"]; ok {
				imp.Error = fe.Message
			}
		default:
			return err
		}
	}
	status := http.StatusOK
	if imp.Error != "" {
		status = http.StatusBadRequest
	}
	a.render(w, r, status, "record_form.html", sess, v)
	return nil
}
