package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// Deleting records: one from its page (.../records/{id}/delete) or those
// checked in the table (.../records/delete-selected?id=...). The GET is
// the confirmation, naming what will go; the POST deletes, each record
// through records.Service.Delete, as DELETE /api/collections/{c}/records/{id}
// does (rules, cascades, files and the change feed included).

// maxBulkDelete bounds the records one confirmation deletes.
const maxBulkDelete = 500

// maxListedDeletes is how many of them the confirmation names.
const maxListedDeletes = 50

// deleteView is the confirmation of a delete.
type deleteView struct {
	C       *core.Collection
	Action  string
	Back    string // where Cancel and the answer go: the table or the record
	Single  bool
	Items   []relItem // the records named (at most maxListedDeletes)
	IDs     []string  // all of them
	Count   int       // how many will be deleted
	More    int       // how many are not named
	Missing int       // selected ids that no longer exist
}

func (v deleteView) title() (string, string) { return "Delete · " + v.C.Name, "collections" }

// deleteTargets are the ids a delete request names, and whether it is
// the one-record form. Errors: KindInvalid for none or too many.
func deleteTargets(r *http.Request, ids []string) ([]string, bool, error) {
	if id := r.PathValue("id"); id != "" {
		return []string{id}, true, nil
	}
	ids = core.Dedupe(nonEmpty(ids))
	switch {
	case len(ids) == 0:
		return nil, false, core.FieldInvalid("id", "validation_required", "Select the records to delete.")
	case len(ids) > maxBulkDelete:
		return nil, false, core.FieldInvalid("id", "validation_too_many_values", fmt.Sprintf("Select at most %d records at once.", maxBulkDelete))
	}
	return ids, false, nil
}

// backTo is where a delete returns: back, when it is an address of c's
// table (with its filter and page), else the table.
func backTo(c *core.Collection, back string) string {
	base := recordsBase(c)
	if back == base || strings.HasPrefix(back, base+"?") {
		return back
	}
	return base
}

// withFlash is the local address u with the flash message msg.
func withFlash(u, msg string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	q.Set("flash", msg)
	p.RawQuery = q.Encode()
	return p.String()
}

// confirmDelete answers GET .../records/{id}/delete and
// GET .../records/delete-selected?id=...: what would be deleted, and the
// button that does it.
func (a *Admin) confirmDelete(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.pathCollection(r)
	if err != nil {
		return err
	}
	if c.IsView() {
		return errViewReadOnly(c)
	}
	q := r.URL.Query()
	if r.PathValue("id") == "" && len(nonEmpty(q["id"])) == 0 {
		// "Delete selected" with nothing selected: back to the table.
		http.Redirect(w, r, withFlash(backTo(c, q.Get("back")), "Select the records to delete first."), http.StatusSeeOther)
		return nil
	}
	ids, single, err := deleteTargets(r, q["id"])
	if err != nil {
		return err
	}
	v := deleteView{C: c, Single: single, Back: backTo(c, q.Get("back"))}
	if single {
		v.Action = recordsBase(c) + "/" + url.PathEscape(ids[0]) + "/delete"
		v.Back = recordsBase(c) + "/" + url.PathEscape(ids[0])
	} else {
		v.Action = recordsBase(c) + "/delete-selected"
	}
	for _, id := range ids {
		rec, err := a.opts.Records.Get(r.Context(), sess.req(), c, id)
		if err != nil {
			if core.KindOf(err) == core.KindNotFound && !single {
				v.Missing++
				continue
			}
			return err
		}
		v.Count++
		v.IDs = append(v.IDs, rec.ID())
		if len(v.Items) < maxListedDeletes {
			v.Items = append(v.Items, relItem{ID: rec.ID(), Label: displayValue(rec)})
		}
	}
	if v.Count == 0 {
		return core.NotFound("None of the selected records exists any more.")
	}
	v.More = v.Count - len(v.Items)
	a.render(w, r, http.StatusOK, "records_delete.html", sess, v)
	return nil
}

// deleteRecords answers the confirmation's POST: each record through
// records.Service.Delete. Those that cannot go are named in the message
// the table shows; when none could, the first refusal is the answer.
func (a *Admin) deleteRecords(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.pathCollection(r)
	if err != nil {
		return err
	}
	if c.IsView() {
		return errViewReadOnly(c)
	}
	if err := parseForm(w, r, 1<<20); err != nil {
		return err
	}
	ids, _, err := deleteTargets(r, r.PostForm["id"])
	if err != nil {
		return err
	}
	var deleted int
	var failed []string
	var first error
	for _, id := range ids {
		err := a.opts.Records.Delete(r.Context(), sess.req(), c, id)
		if err == nil {
			deleted++
			continue
		}
		if core.KindOf(err) == core.KindInternal {
			return err
		}
		if first == nil {
			first = err
		}
		failed = append(failed, id+": "+core.AsError(err).Message)
	}
	if deleted == 0 {
		return first
	}
	msg := "Deleted the record."
	if len(ids) > 1 {
		msg = fmt.Sprintf("Deleted %d records.", deleted)
	}
	if len(failed) > 0 {
		msg += fmt.Sprintf(" %d could not be deleted: %s", len(failed), strings.Join(failed, "; "))
	}
	http.Redirect(w, r, withFlash(backTo(c, r.PostFormValue("back")), msg), http.StatusSeeOther)
	return nil
}
