package admin

import (
	"net/http"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/records"
)

// The superusers page: the records of _superusers, created and deleted
// through records.Service as the signed-in superuser, exactly as
// POST and DELETE /api/collections/_superusers/records do (so the auth
// hooks hash the password and check its confirmation).

// superuserRoutes registers the superusers pages.
func (a *Admin) superuserRoutes() {
	a.page("GET /admin/superusers", a.superusersPage)
	a.page("POST /admin/superusers", a.createSuperuser)
	a.page("GET /admin/superusers/{id}/delete", a.deleteSuperuserPage)
	a.page("POST /admin/superusers/{id}/delete", a.deleteSuperuser)
}

// maxSuperusersShown bounds the list; a deployment has a handful.
const maxSuperusersShown = 500

// superusersView lists the superusers, with the form to add one.
type superusersView struct {
	Me    string // the signed-in superuser's id
	Users []superuserRow
	More  bool // more than maxSuperusersShown
	Email string
	opsErrs
	Message string
}

type superuserRow struct {
	ID, Email, Created string
	Verified           bool
}

func (superusersView) title() (string, string) { return "Superusers", "superusers" }

func (a *Admin) superusersPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	v, err := a.superusersView(r, sess)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "superusers.html", sess, v)
	return nil
}

func (a *Admin) superusersView(r *http.Request, sess *session) (*superusersView, error) {
	col, err := a.superusers()
	if err != nil {
		return nil, err
	}
	res, err := a.opts.Records.List(r.Context(), sess.req(), col, records.ListParams{PerPage: maxSuperusersShown, Sort: "email", SkipTotal: true})
	if err != nil {
		return nil, err
	}
	v := &superusersView{Me: sess.rec.ID(), More: len(res.Items) == maxSuperusersShown, opsErrs: opsErrs{}}
	for _, rec := range res.Items {
		verified, _ := rec.Data["verified"].(bool)
		v.Users = append(v.Users, superuserRow{ID: rec.ID(), Email: rec.String("email"), Created: rec.String("created"), Verified: verified})
	}
	return v, nil
}

// createSuperuser adds a superuser: email, password and its confirmation.
func (a *Admin) createSuperuser(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := parseForm(w, r, 64<<10); err != nil {
		return err
	}
	col, err := a.superusers()
	if err != nil {
		return err
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	body := map[string]any{"email": email, "password": r.PostFormValue("password"), "passwordConfirm": r.PostFormValue("passwordConfirm")}
	rec, err := a.opts.Records.Create(r.Context(), sess.req(), col, body)
	if err != nil {
		fields, msg, ok := opsInvalid(err)
		if !ok {
			return err
		}
		v, verr := a.superusersView(r, sess)
		if verr != nil {
			return verr
		}
		v.Email, v.opsErrs, v.Message = email, fields, msg
		if msg == "" {
			v.Message = "The superuser was not created: correct the fields marked below."
		}
		a.render(w, r, http.StatusBadRequest, "superusers.html", sess, v)
		return nil
	}
	a.log.Info("admin created a superuser", "id", rec.ID(), "by", sess.rec.ID())
	opsSeeOther(w, r, "/admin/superusers", "Superuser "+email+" was created.")
	return nil
}

// superuserTarget is the superuser in the path, who may not be the one
// signed in: deleting yourself is left to another superuser, so that at
// least one always remains.
func (a *Admin) superuserTarget(r *http.Request, sess *session) (*core.Collection, *core.Record, error) {
	col, err := a.superusers()
	if err != nil {
		return nil, nil, err
	}
	rec, err := a.opts.Records.Get(r.Context(), sess.req(), col, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	if rec.ID() == sess.rec.ID() {
		return nil, nil, core.Invalid("You cannot delete your own account; another superuser can.")
	}
	return col, rec, nil
}

// superuserDeleteView asks to confirm a deletion.
type superuserDeleteView struct{ ID, Email string }

func (superuserDeleteView) title() (string, string) { return "Delete a superuser", "superusers" }

func (a *Admin) deleteSuperuserPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	_, rec, err := a.superuserTarget(r, sess)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "superusers_delete.html", sess, superuserDeleteView{ID: rec.ID(), Email: rec.String("email")})
	return nil
}

func (a *Admin) deleteSuperuser(w http.ResponseWriter, r *http.Request, sess *session) error {
	col, rec, err := a.superuserTarget(r, sess)
	if err != nil {
		return err
	}
	if err := a.opts.Records.Delete(r.Context(), sess.req(), col, rec.ID()); err != nil {
		return err
	}
	a.log.Info("admin deleted a superuser", "id", rec.ID(), "by", sess.rec.ID())
	opsSeeOther(w, r, "/admin/superusers", "Superuser "+rec.String("email")+" was deleted.")
	return nil
}
