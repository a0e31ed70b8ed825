package admin

import (
	"net/http"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/records"
)

// The two inputs of the record form that ask the server as one types:
// the relation picker's search and the JSON editor's check. Both answer
// with a fragment of record_form.html for htmx to put in place.

// relationResults is the picker's list of records to choose from.
type relationResults struct {
	Name     string // the relation field, the choices' input name
	ID       string // the field's input id, for the choices' ids
	Multiple bool
	Target   string
	Query    string
	Items    []relItem
	More     bool   // there are more matches than shown
	Error    string // the service refused the search
}

// maxPicks is how many matches the picker shows.
const maxPicks = 20

// pickRelation answers GET .../records/pick-relation?field=F&F.search=q:
// the records of F's related collection whose id or text fields contain
// q, through records.Service.List with a filter, as the REST API would
// list them for the superuser.
func (a *Admin) pickRelation(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.pathCollection(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := c.Field(q.Get("field"))
	if f == nil || f.Type != core.FieldRelation {
		return core.NotFound("Collection %q has no relation field %q.", c.Name, q.Get("field"))
	}
	t := a.opts.Service.Schema().ByID(f.CollectionID)
	if t == nil {
		return core.NotFound("The related collection no longer exists.")
	}
	v := relationResults{Name: f.Name, ID: "f-" + f.Name, Multiple: f.IsMultiple(), Target: t.Name, Query: strings.TrimSpace(q.Get(f.Name + ".search"))}
	status := http.StatusOK
	res, err := a.opts.Records.List(r.Context(), sess.req(), t, records.ListParams{PerPage: maxPicks + 1, SkipTotal: true,
		Filter: searchFilter(t, v.Query)})
	if err != nil {
		if core.KindOf(err) != core.KindInvalid {
			return err
		}
		v.Error, status = core.AsError(err).Error(), http.StatusBadRequest
	} else {
		for i, rec := range res.Items {
			if i == maxPicks {
				v.More = true
				break
			}
			v.Items = append(v.Items, relItem{ID: rec.ID(), Label: displayValue(rec)})
		}
	}
	return a.fragment(w, status, "record_form.html", "relation-results", v)
}

// maxSearchFields bounds the fields one picker search looks in.
const maxSearchFields = 8

// searchFilter is a filter matching the records of t whose id, or one of
// whose presentable or text-like fields, contains text ("" for none).
func searchFilter(t *core.Collection, text string) string {
	if text == "" {
		return ""
	}
	lit := filterString(text)
	parts := []string{"id ~ " + lit}
	for i := range t.Fields {
		f := &t.Fields[i]
		if f.Name == "id" || f.Hidden || f.Def().Secret() || (t.IsAuth() && f.Name == "tokenKey") {
			continue
		}
		switch f.Type {
		case core.FieldText, core.FieldEmail, core.FieldURL, core.FieldEditor, core.FieldSelect:
		default:
			if !f.Presentable {
				continue
			}
		}
		parts = append(parts, f.Name+" ~ "+lit)
		if len(parts) == maxSearchFields {
			break
		}
	}
	return strings.Join(parts, " || ")
}

// filterString quotes s as a string of the filter language, where a
// backslash escapes the quote and is otherwise itself; a trailing
// backslash, which would escape the closing quote, is dropped.
func filterString(s string) string {
	s = strings.TrimRight(s, `\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// checkJSON answers POST .../records/check-json?field=F with F's text:
// the JSON editor's message as one types ("" when the text is JSON).
func (a *Admin) checkJSON(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.pathCollection(r)
	if err != nil {
		return err
	}
	name := r.URL.Query().Get("field")
	f := c.Field(name)
	if f == nil || f.Type != core.FieldJSON {
		return core.NotFound("Collection %q has no json field %q.", c.Name, name)
	}
	if err := parseForm(w, r, maxJSONInput+64<<10); err != nil {
		return err
	}
	_, msg := parseJSONInput(r.PostFormValue(name))
	return a.fragment(w, http.StatusOK, "record_form.html", "json-check", msg)
}

// fragment writes one named template of a page file alone, for htmx.
func (a *Admin) fragment(w http.ResponseWriter, status int, file, name string, data any) error {
	t, err := a.template(file)
	if err != nil {
		return core.Internal(err, "template")
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return core.Internal(err, "template %s", name)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
	return nil
}
