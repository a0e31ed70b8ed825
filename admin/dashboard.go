package admin

import (
	"net/http"
	"os"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/store/sqlite"
)

// dashboardView is the status dashboard.
type dashboardView struct {
	Version, Engine string
	Uptime          time.Duration
	DBSize          int64 // bytes; -1 unknown
	Collections     []collectionCount
}

type collectionCount struct {
	Name, Type string
	Records    int // -1: could not count
}

func (dashboardView) title() (string, string) { return "Dashboard", "dashboard" }

// maxDashboardCounts bounds the collections counted on the dashboard.
const maxDashboardCounts = 100

func (a *Admin) dashboard(w http.ResponseWriter, r *http.Request, sess *session) error {
	v := dashboardView{Version: a.opts.Version, Engine: a.opts.Engine, Uptime: time.Since(a.opts.Started).Round(time.Second), DBSize: a.dbSize()}
	for i, c := range a.opts.Service.Schema().List() {
		if i == maxDashboardCounts {
			break
		}
		n := -1
		if !c.IsView() {
			res, err := a.opts.Records.List(r.Context(), sess.req(), c, records.ListParams{PerPage: 1})
			if err == nil {
				n = res.TotalItems
			}
		}
		v.Collections = append(v.Collections, collectionCount{Name: c.Name, Type: string(c.Type), Records: n})
	}
	a.render(w, r, http.StatusOK, "dashboard.html", sess, v)
	return nil
}

// dbSize is the database's size on disk: the SQLite file with its WAL;
// -1 where it is not known here.
func (a *Admin) dbSize() int64 {
	st, ok := a.opts.Store.(*sqlite.Store)
	if !ok {
		return -1
	}
	var n int64
	for _, p := range []string{st.Path(), st.Path() + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

var _ = core.SuperusersName
