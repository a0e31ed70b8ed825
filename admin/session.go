package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
)

// A session is a superuser's auth token (the one the REST API issues, with
// the _superusers collection's token duration) kept in an HttpOnly,
// SameSite=Lax cookie, Secure behind TLS. Nothing is kept on the server,
// so any process of a scaled-out deployment accepts it; signing out drops
// the cookie, and changing the superuser's password (or token key) ends
// every session of theirs, as it does their API tokens.
//
// CSRF: every state-changing form carries a token derived from the cookie
// (a hash of it, so a page can hold it while script cannot read the
// cookie), checked in constant time. The sign-in form, before there is a
// session, uses a random pre-session cookie the same way (double submit).
// A request whose Origin header names another origin is refused first.

const (
	sessionCookie = "tortoise_admin"
	preCookie     = "tortoise_admin_pre"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

// session is the signed-in superuser of a request.
type session struct {
	rec   *core.Record
	email string
	token string
	csrf  string
}

// req is the service-layer caller the session acts as.
func (s *session) req() *service.Request {
	return &service.Request{Method: "POST", Auth: s.rec, Superuser: true}
}

// csrfOf derives the CSRF token of a cookie value.
func csrfOf(cookie string) string {
	sum := sha256.Sum256([]byte("tortoise admin csrf\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// currentSession is r's session, or nil (no cookie, or a token that is
// invalid, expired or not a superuser's).
func (a *Admin) currentSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	rec, _, err := a.opts.Auth.Authenticate(r.Context(), c.Value)
	if err != nil || rec == nil || rec.Collection.Name != core.SuperusersName {
		return nil, nil
	}
	return &session{rec: rec, email: rec.String("email"), token: c.Value, csrf: csrfOf(c.Value)}, nil
}

// signedIn guards a page for signed-in superusers: others go to the
// sign-in form. State-changing requests must also pass checkCSRF, and
// every request the superuser address policy.
func (a *Admin) signedIn(h pageHandler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		sess, err := a.currentSession(r)
		if err != nil {
			return err
		}
		if sess == nil {
			note := ""
			if _, err := r.Cookie(sessionCookie); err == nil {
				note = noteEnded
			}
			toLogin(w, r, note)
			return nil
		}
		if ok, err := a.opts.Gate.SuperuserAllowed(r); err != nil {
			return err
		} else if !ok {
			return core.Forbidden("Superusers may not act from this address (see the settings' superuser addresses).")
		}
		if !safeMethod(r.Method) {
			if err := checkCSRF(r, sess.csrf); err != nil {
				return err
			}
		}
		return h(w, r, sess)
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

var errCSRF = core.Forbidden("The form has expired or did not come from this site. Reload the page and try again.")

// checkCSRF refuses a state-changing request from another origin or
// without want, the token of the session (or pre-session) cookie, in its
// X-CSRF-Token header (htmx) or csrf form field. It reads the form, so
// call it before reading the body otherwise. A multipart form is parsed
// here, 8 MiB in memory and the rest in temporary files, within the body
// limit the API server puts on every request (TORTOISE_MAX_BODY_BYTES),
// which the admin is mounted behind; a handler's own smaller limit
// (parseForm) then applies only to urlencoded forms.
func checkCSRF(r *http.Request, want string) error {
	if !sameOrigin(r) {
		return errCSRF
	}
	got := r.Header.Get(csrfHeader)
	if got == "" {
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			if err := r.ParseMultipartForm(8 << 20); err != nil {
				return errNoForm
			}
		}
		got = r.PostFormValue(csrfField)
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errCSRF
	}
	return nil
}

// sameOrigin: the Origin header, when the browser sends one, names this
// host. (Browsers send it on every cross-origin POST.)
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	return u.Host == r.Host
}

// setSession starts a session with the superuser's token.
func setSession(w http.ResponseWriter, r *http.Request, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/admin/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
	clearCookie(w, r, preCookie)
}

// clearCookie drops a cookie of the admin's.
func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/admin/", MaxAge: -1,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

// preSession returns the pre-session cookie's CSRF token, setting a new
// cookie when there is none.
func preSession(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) >= 26 {
		return csrfOf(c.Value)
	}
	v := rand.Text()
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: v, Path: "/admin/", MaxAge: 3600,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
	return csrfOf(v)
}

// preCSRF is the token a sign-in form must carry, "" without the cookie.
func preCSRF(r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) >= 26 {
		return csrfOf(c.Value)
	}
	return ""
}

// secure: the request came over TLS, to this process or to the proxy in
// front of it. A client lying in X-Forwarded-Proto only makes its own
// cookie Secure.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
