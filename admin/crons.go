package admin

import (
	"net/http"
	"strconv"

	"github.com/tortoise-dev/tortoise/jobs"
)

// The crons page: every cron with its schedule, next run and last run,
// run now (as POST /api/crons/{id}), and enable or disable for the crons
// kept in the database (those defined in Go code are read-only, as in the
// API).

func (a *Admin) cronRoutes() {
	a.page("GET /admin/crons", a.cronsPage)
	a.page("POST /admin/crons/{id}/run", a.runCron)
	a.page("POST /admin/crons/{id}/enable", a.setCron(false))
	a.page("POST /admin/crons/{id}/disable", a.setCron(true))
}

type cronsView struct {
	Crons []*jobs.CronStatus
}

func (cronsView) title() (string, string) { return "Crons", "crons" }

func (a *Admin) cronsPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	list, err := a.opts.Jobs.Crons(r.Context())
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "crons.html", sess, cronsView{Crons: list})
	return nil
}

// runCron enqueues the cron's job now, disabled or not.
func (a *Admin) runCron(w http.ResponseWriter, r *http.Request, sess *session) error {
	id := r.PathValue("id")
	j, err := a.opts.Jobs.RunCron(r.Context(), id)
	if err != nil {
		return err
	}
	a.log.Info("admin ran a cron", "cron", id, "job", j.ID, "superuser", sess.rec.ID())
	opsSeeOther(w, r, "/admin/crons#cron-"+id, "Cron "+id+" was started now: job "+strconv.FormatInt(j.ID, 10)+".")
	return nil
}

// setCron turns a stored cron off (disabled) or on.
func (a *Admin) setCron(disabled bool) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, sess *session) error {
		id := r.PathValue("id")
		cur, err := a.opts.Jobs.CronStatus(r.Context(), id)
		if err != nil {
			return err
		}
		c := cur.Cron
		c.Disabled = disabled
		if _, err := a.opts.Jobs.SaveCron(r.Context(), c); err != nil {
			return err
		}
		msg := "Cron " + id + " is on."
		if disabled {
			msg = "Cron " + id + " is off: it runs only when started by hand."
		}
		opsSeeOther(w, r, "/admin/crons#cron-"+id, msg)
		return nil
	}
}
