package admin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/core"
)

// loginView is the sign-in form, in its password or one-time-code step.
type loginView struct {
	Next, Note, Error string
	Email             string
	CSRF              string
	// OTP step: the first factor's MFA id and the mailed code's id.
	MFAID, OTPID string
}

func (loginView) title() (string, string) { return "Sign in", "" }

func (a *Admin) loginPage(w http.ResponseWriter, r *http.Request) error {
	if sess, _ := a.currentSession(r); sess != nil {
		http.Redirect(w, r, localNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	q := r.URL.Query()
	v := loginView{Next: localNext(q.Get("next")), CSRF: preSession(w, r)}
	if note := q.Get("note"); note == noteSignedOut || note == noteEnded {
		v.Note = note // only the admin's own words
	}
	a.render(w, r, http.StatusOK, "login.html", nil, v)
	return nil
}

// The notes the sign-in page shows, named in its address by the admin's
// redirects. Any other text there is not shown: a link from elsewhere
// could otherwise make the page say what its sender likes.
const (
	noteSignedOut = "You have signed out."
	noteEnded     = "Your session has ended. Please sign in again."
)

// superusers is the _superusers collection.
func (a *Admin) superusers() (*core.Collection, error) {
	return a.opts.Service.Collection(core.SuperusersName)
}

// login checks the password step. With MFA on for superusers, a right
// password mails a one-time code and shows the code step.
func (a *Admin) login(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r, 64<<10); err != nil {
		return err
	}
	v := loginView{Next: localNext(r.PostFormValue("next")), Email: strings.TrimSpace(r.PostFormValue("email")), CSRF: preSession(w, r)}
	if err := checkCSRF(r, preCSRF(r)); err != nil {
		v.Error = "The form expired. Please try again."
		a.render(w, r, http.StatusForbidden, "login.html", nil, v)
		return nil
	}
	password := r.PostFormValue("password")
	if v.Email == "" || password == "" || len(v.Email) > 255 || len(password) > 255 {
		v.Error = "Enter your email and password."
		a.render(w, r, http.StatusBadRequest, "login.html", nil, v)
		return nil
	}
	col, err := a.superusers()
	if err != nil {
		return err
	}
	if r, err = a.opts.Gate.ThrottleLogin(r, col.ID, v.Email); err != nil {
		return a.loginFailed(w, r, v, err)
	}
	rec, tok, err := a.opts.Auth.AuthWithPassword(r.Context(), col, v.Email, password, "", "")
	var mfa *auth.MFARequired
	if errors.As(err, &mfa) {
		otpID, err := a.opts.Auth.RequestOTP(r.Context(), col, v.Email)
		if err != nil {
			return a.loginFailed(w, r, v, err)
		}
		v.MFAID, v.OTPID = mfa.ID, otpID
		a.render(w, r, http.StatusOK, "login.html", nil, v)
		return nil
	}
	if err != nil {
		return a.loginFailed(w, r, v, err)
	}
	return a.startSession(w, r, col, rec, tok, v.Next)
}

// loginOTP checks the one-time code step of a sign-in with MFA.
func (a *Admin) loginOTP(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r, 64<<10); err != nil {
		return err
	}
	v := loginView{Next: localNext(r.PostFormValue("next")), Email: strings.TrimSpace(r.PostFormValue("email")), CSRF: preSession(w, r),
		MFAID: r.PostFormValue("mfaId"), OTPID: r.PostFormValue("otpId")}
	if err := checkCSRF(r, preCSRF(r)); err != nil {
		v.MFAID, v.OTPID, v.Error = "", "", "The form expired. Please sign in again."
		a.render(w, r, http.StatusForbidden, "login.html", nil, v)
		return nil
	}
	col, err := a.superusers()
	if err != nil {
		return err
	}
	if r, err = a.opts.Gate.ThrottleLogin(r, col.ID, v.Email); err != nil {
		return a.loginFailed(w, r, v, err)
	}
	rec, tok, err := a.opts.Auth.AuthWithOTP(r.Context(), col, v.OTPID, strings.TrimSpace(r.PostFormValue("code")), v.MFAID)
	if core.KindOf(err) == core.KindInvalid && v.MFAID != "" {
		// A code allows one guess; the first factor still stands, so a
		// new code is mailed for another (the throttle above bounds how
		// many).
		otpID, err := a.opts.Auth.RequestOTP(r.Context(), col, v.Email)
		if err != nil {
			return a.loginFailed(w, r, v, err)
		}
		v.OTPID, v.Error = otpID, "That code was wrong or has expired. We emailed you a new one."
		a.render(w, r, http.StatusBadRequest, "login.html", nil, v)
		return nil
	}
	if err != nil {
		return a.loginFailed(w, r, v, err)
	}
	return a.startSession(w, r, col, rec, tok, v.Next)
}

// loginFailed shows the form again with why, keeping the step.
func (a *Admin) loginFailed(w http.ResponseWriter, r *http.Request, v loginView, err error) error {
	switch core.KindOf(err) {
	case core.KindInvalid, core.KindUnauthorized, core.KindNotFound, core.KindForbidden:
		v.Error = "Wrong email or password."
		if v.OTPID != "" {
			v.Error = "Wrong or expired code."
		}
		a.render(w, r, http.StatusBadRequest, "login.html", nil, v)
		return nil
	case core.KindTooMany:
		v.Error = "Too many attempts. Wait a minute and try again."
		a.render(w, r, http.StatusTooManyRequests, "login.html", nil, v)
		return nil
	}
	return err
}

func (a *Admin) startSession(w http.ResponseWriter, r *http.Request, col *core.Collection, rec *core.Record, tok, next string) error {
	maxAge := 0
	if col.Auth != nil {
		maxAge = int(col.Auth.AuthToken.Duration)
	}
	setSession(w, r, tok, maxAge)
	a.log.Info("admin sign-in", "superuser", rec.ID())
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (a *Admin) logout(w http.ResponseWriter, r *http.Request, _ *session) error {
	clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/admin/login?note="+urlQueryEscape(noteSignedOut), http.StatusSeeOther)
	return nil
}

// localNext keeps a post-sign-in destination inside the admin: anything
// else (another host, a scheme, //host) becomes the dashboard.
func localNext(next string) string {
	if !strings.HasPrefix(next, "/admin/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/admin/"
	}
	return next
}
