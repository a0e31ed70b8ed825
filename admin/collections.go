package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/records"
)

// The collections pages: the list (here), the editor (collection_edit.go
// over the form in collection_form.go, with the inline rule check of
// collection_rules.go), the API preview (collection_api.go), deletion
// with a confirmation step, and the schema's export and import
// (collection_import.go). Every change goes through collections.Service,
// as the REST API's /api/collections routes do.

// collectionRoutes registers the collections pages.
func (a *Admin) collectionRoutes() {
	a.page("GET /admin/collections", a.collections)
	a.page("GET /admin/collections/new", a.newCollection)
	a.page("POST /admin/collections", a.createCollection)
	a.page("GET /admin/collections/field-row", a.collectionFieldRow)
	a.page("POST /admin/collections/check-rule", a.checkRule)
	a.page("GET /admin/collections/export", a.exportCollections)
	a.page("GET /admin/collections/import", a.importCollectionsPage)
	a.page("POST /admin/collections/import", a.importCollections)
	a.page("GET /admin/collections/{collection}", a.editCollection)
	a.page("POST /admin/collections/{collection}", a.updateCollection)
	a.page("GET /admin/collections/{collection}/api", a.collectionAPI)
	a.page("GET /admin/collections/{collection}/delete", a.confirmDeleteCollection)
	a.page("POST /admin/collections/{collection}/delete", a.deleteCollection)
}

func init() {
	funcs["collectionPath"] = collectionPath
	funcs["fieldOpt"] = fieldOpt
}

// collectionPath is a collection's segment in the admin's addresses: its
// name, or its id where the name is one of the pages' own (a collection
// may be called "new").
func collectionPath(c *core.Collection) string {
	switch c.Name {
	case "new", "import", "export":
		return url.PathEscape(c.ID)
	}
	return url.PathEscape(c.Name)
}

// collection is the collection a page's address names (by name or id).
func (a *Admin) collectionOf(r *http.Request) (*core.Collection, error) {
	ref := r.PathValue("collection")
	c, err := a.opts.Service.Collection(ref)
	if core.KindOf(err) == core.KindNotFound {
		return nil, core.NotFound("There is no collection %q.", ref)
	}
	return c, err
}

// collectionsView is the list of collections.
type collectionsView struct {
	Items []collectionItem
}

type collectionItem struct {
	ID, Name, Path string
	Type           core.CollectionType
	System         bool
	Fields         int
	Records        int // -1: not counted
}

func (collectionsView) title() (string, string) { return "Collections", "collections" }

// maxCollectionCounts bounds the collections whose records the list counts.
const maxCollectionCounts = 100

func (a *Admin) collections(w http.ResponseWriter, r *http.Request, sess *session) error {
	all := slices.Clone(a.opts.Service.Schema().List())
	// The user's collections by name, then the system ones.
	slices.SortStableFunc(all, func(x, y *core.Collection) int {
		if x.System != y.System {
			if x.System {
				return 1
			}
			return -1
		}
		return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
	})
	var v collectionsView
	for i, c := range all {
		n := -1
		if i < maxCollectionCounts && !c.IsView() {
			if res, err := a.opts.Records.List(r.Context(), sess.req(), c, records.ListParams{PerPage: 1}); err == nil {
				n = res.TotalItems
			}
		}
		v.Items = append(v.Items, collectionItem{ID: c.ID, Name: c.Name, Path: collectionPath(c), Type: c.Type,
			System: c.System, Fields: len(c.Fields), Records: n})
	}
	a.render(w, r, http.StatusOK, "collections.html", sess, v)
	return nil
}

// colDeleteView is the confirmation step before a collection is deleted.
type colDeleteView struct {
	Name, Path string
	Type       core.CollectionType
	System     bool
	Records    int
	Confirm    string // what was typed
	Error      string
}

func (v colDeleteView) title() (string, string) { return "Delete " + v.Name, "collections" }

func (a *Admin) collectionDeleteView(r *http.Request, sess *session, c *core.Collection) colDeleteView {
	v := colDeleteView{Name: c.Name, Path: collectionPath(c), Type: c.Type, System: c.System, Records: -1}
	if !c.IsView() {
		if res, err := a.opts.Records.List(r.Context(), sess.req(), c, records.ListParams{PerPage: 1}); err == nil {
			v.Records = res.TotalItems
		}
	}
	return v
}

func (a *Admin) confirmDeleteCollection(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.collectionOf(r)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "collection_delete.html", sess, a.collectionDeleteView(r, sess, c))
	return nil
}

// deleteCollection deletes the collection once its name was typed to
// confirm; the service refuses system collections and collections others
// relate to, which the page then says.
func (a *Admin) deleteCollection(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.collectionOf(r)
	if err != nil {
		return err
	}
	if err := parseForm(w, r, 64<<10); err != nil {
		return err
	}
	v := a.collectionDeleteView(r, sess, c)
	v.Confirm = strings.TrimSpace(r.PostFormValue("confirm"))
	if v.Confirm != c.Name {
		v.Error = "Type the collection's name exactly to confirm."
		a.render(w, r, http.StatusBadRequest, "collection_delete.html", sess, v)
		return nil
	}
	if err := a.opts.Collections.Delete(r.Context(), c.ID); err != nil {
		if core.KindOf(err) != core.KindInvalid {
			return err
		}
		v.Error = core.AsError(err).Error()
		a.render(w, r, http.StatusBadRequest, "collection_delete.html", sess, v)
		return nil
	}
	http.Redirect(w, r, "/admin/collections?flash="+url.QueryEscape("Deleted the collection "+c.Name+"."), http.StatusSeeOther)
	return nil
}
