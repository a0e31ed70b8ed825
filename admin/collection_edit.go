package admin

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// The collection editor: GET shows a new collection (of ?type=) or a
// stored one; POST saves it through collections.Service, or, when a
// button named op was pressed (add a field, move or remove a row),
// shows the draft again with that change and saves nothing, which is how
// the form works without JavaScript (admin.js moves and removes rows in
// the page, and htmx fetches a new row, when they can).

func (a *Admin) newCollection(w http.ResponseWriter, r *http.Request, sess *session) error {
	t := core.CollectionType(r.URL.Query().Get("type"))
	switch t {
	case core.TypeBase, core.TypeAuth, core.TypeView:
	default:
		t = core.TypeBase
	}
	a.render(w, r, http.StatusOK, "collection_edit.html", sess, a.collectionEditor(colScaffold(t), true))
	return nil
}

func (a *Admin) editCollection(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.collectionOf(r)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "collection_edit.html", sess, a.collectionEditor(c, false))
	return nil
}

func (a *Admin) createCollection(w http.ResponseWriter, r *http.Request, sess *session) error {
	return a.saveCollection(w, r, sess, nil)
}

func (a *Admin) updateCollection(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.collectionOf(r)
	if err != nil {
		return err
	}
	return a.saveCollection(w, r, sess, c)
}

// saveCollection creates (prev nil) or updates prev from the editor's
// form. Bad input shows the editor again, 400, with each problem beside
// its input.
func (a *Admin) saveCollection(w http.ResponseWriter, r *http.Request, sess *session, prev *core.Collection) error {
	if err := parseForm(w, r, maxEditorForm); err != nil {
		return err
	}
	v, body, errs := a.readCollectionForm(r.PostForm, prev)
	if op := r.PostFormValue("op"); op != "" && op != "save" {
		v.apply(op)
		a.render(w, r, http.StatusOK, "collection_edit.html", sess, v)
		return nil
	}
	if err := errs.Err(); err != nil {
		v.showErrors(core.AsError(err))
		a.render(w, r, http.StatusBadRequest, "collection_edit.html", sess, v)
		return nil
	}
	var (
		c   *core.Collection
		err error
	)
	if prev == nil {
		c, err = a.opts.Collections.Create(r.Context(), body)
	} else {
		c, err = a.opts.Collections.Update(r.Context(), prev.ID, body)
	}
	if err != nil {
		if core.KindOf(err) != core.KindInvalid {
			return err
		}
		v.showErrors(core.AsError(err))
		a.render(w, r, http.StatusBadRequest, "collection_edit.html", sess, v)
		return nil
	}
	a.log.Info("admin saved collection", "collection", c.Name, "superuser", sess.rec.ID())
	http.Redirect(w, r, "/admin/collections/"+collectionPath(c)+"?flash="+url.QueryEscape("Saved the collection "+c.Name+"."), http.StatusSeeOther)
	return nil
}

// apply makes the change a row button asks for: "add" (a field of the
// type chosen beside it), "up:<row>", "down:<row>", "remove:<row>".
func (v *colEditor) apply(op string) {
	verb, key, _ := strings.Cut(op, ":")
	i := slices.IndexFunc(v.Fields, func(f colFieldRow) bool { return f.Key == key })
	switch {
	case verb == "add" && v.Type != core.TypeView:
		v.Fields = append(v.Fields, newFieldRow(v.NewType))
	case i < 0:
	case verb == "up" && i > 0:
		v.Fields[i-1], v.Fields[i] = v.Fields[i], v.Fields[i-1]
	case verb == "down" && i < len(v.Fields)-1:
		v.Fields[i+1], v.Fields[i] = v.Fields[i], v.Fields[i+1]
	case verb == "remove" && !v.Fields[i].System:
		v.Fields = slices.Delete(v.Fields, i, i+1)
	}
	v.finish()
}

// newFieldRow is the row of a field about to be added.
func newFieldRow(t core.FieldType) colFieldRow {
	if !slices.Contains(colFieldTypes, t) {
		t = core.FieldText
	}
	r := colFieldRow{Key: newFieldRowKey(), Type: t, Focus: true, Errs: map[string]string{}}
	switch t {
	case core.FieldAutodate:
		r.OnCreate = true
	case core.FieldFile, core.FieldRelation, core.FieldSelect:
		r.MaxSelect = "1"
	}
	return r
}

// collectionFieldRow answers htmx with the row of a new field of the
// type ?newType= (the editor appends it to its fields).
func (a *Admin) collectionFieldRow(w http.ResponseWriter, r *http.Request, sess *session) error {
	row := newFieldRow(core.FieldType(r.URL.Query().Get("newType")))
	row.Targets = a.relationTargets()
	return a.colPartial(w, "collection_edit.html", "fieldrow", row)
}

// partial writes one named template of file alone: what htmx swaps in.
func (a *Admin) colPartial(w http.ResponseWriter, file, name string, data any) error {
	t, err := a.template(file)
	if err != nil {
		return core.Internal(err, "admin template")
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return core.Internal(err, "render %s of %s", name, file)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, b.String())
	return nil
}
