package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
)

// recordFormView is the form that creates a record (ID "") or edits one.
type recordFormView struct {
	C        *core.Collection
	Base     string
	ID       string // "" on the new-record form
	Action   string // where the form posts
	Display  string // the record's display value
	ReadOnly bool   // a view collection's record: shown, not editable

	Inputs []inputView
	// Error is the service's summary when it refused the form; Others
	// its messages about keys no input shows.
	Error  string
	Others []string
	// Reupload: the refused form carried files, which a browser cannot
	// keep: they must be chosen again.
	Reupload bool

	Impersonate *impersonateView // auth records only
}

func (v recordFormView) title() (string, string) {
	if v.ID == "" {
		return "New record · " + v.C.Name, "collections"
	}
	return v.ID + " · " + v.C.Name, "collections"
}

// inputView is one field of the form. Kind picks the input: text,
// textarea, number, bool, email, url, date, autodate, select, json,
// relation, file, geo, password, id.
type inputView struct {
	Name, Type, Kind string
	ID               string // the element's id: "f-" + Name
	Value            string
	Values           []string // multiple select
	Checked          bool
	Required         bool
	Multiple         bool
	Hidden           bool // a hidden field (not in API answers but the superuser's)
	ReadOnly         bool // shown, not sent: an existing record's id
	Hint             string
	Error            string
	ConfirmError     string   // password confirmation
	Options          []option // select
	Min, Max, Step   string   // number
	Accept           string   // file
	Files            []fileView
	Chosen           []relItem // relation
	Target           string    // relation: the related collection's name
	SearchURL        string    // relation: the picker's search
	CheckURL         string    // json: the check as one types
	Lon, Lat         string    // geo
	LonError         string
	LatError         string
}

type option struct {
	Value    string
	Selected bool
}

// relItem is a related record as a picker shows it.
type relItem struct {
	ID, Label string
}

// newRecord answers GET .../records/new: the empty form.
func (a *Admin) newRecord(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.pathCollection(r)
	if err != nil {
		return err
	}
	if c.IsView() {
		return errViewReadOnly(c)
	}
	v, err := a.recordForm(r.Context(), sess, c, nil, newRecordValues(c), nil)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "record_form.html", sess, v)
	return nil
}

func errViewReadOnly(c *core.Collection) error {
	return core.Invalid("The records of view collection %q are read-only.", c.Name)
}

// editRecord answers GET .../records/{id}: the record's form.
func (a *Admin) editRecord(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.pathCollection(r)
	if err != nil {
		return err
	}
	rec, err := a.opts.Records.Get(r.Context(), sess.req(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := a.recordForm(r.Context(), sess, c, rec, recordValues(rec), nil)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "record_form.html", sess, v)
	return nil
}

// maxRecordForm bounds a record form without files; each file field adds
// its files' limits.
const maxRecordForm = 4 << 20

// formLimit is the largest form a record of c may need: the other fields
// and every file field's largest files.
func formLimit(c *core.Collection) int64 {
	n := int64(maxRecordForm)
	for i := range c.Fields {
		f := &c.Fields[i]
		if f.Type == core.FieldFile {
			size := f.MaxSize
			if size <= 0 {
				size = 5 << 20
			}
			n += size * int64(max(f.MaxSelect, 1))
		}
	}
	return n
}

// createRecord answers POST .../records: the new-record form, through
// records.Service.Create. Refused, the form comes back with each problem
// beside its field and status 400.
func (a *Admin) createRecord(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.pathCollection(r)
	if err != nil {
		return err
	}
	if c.IsView() {
		return errViewReadOnly(c)
	}
	if err := parseForm(w, r, formLimit(c)); err != nil {
		return err
	}
	body, bad := recordBody(c, r, nil)
	var rec *core.Record
	if len(bad) == 0 {
		rec, err = a.opts.Records.Create(r.Context(), sess.req(), c, body)
		if err != nil && core.KindOf(err) != core.KindInvalid {
			return err
		}
	}
	if len(bad) > 0 || err != nil {
		return a.refusedForm(w, r, sess, c, nil, bad, err)
	}
	http.Redirect(w, r, recordsBase(c)+"/"+url.PathEscape(rec.ID())+"?flash="+url.QueryEscape("Created the record."), http.StatusSeeOther)
	return nil
}

// updateRecord answers POST .../records/{id}: the record's form, through
// records.Service.Update.
func (a *Admin) updateRecord(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.pathCollection(r)
	if err != nil {
		return err
	}
	if c.IsView() {
		return errViewReadOnly(c)
	}
	cur, err := a.opts.Records.Get(r.Context(), sess.req(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := parseForm(w, r, formLimit(c)); err != nil {
		return err
	}
	body, bad := recordBody(c, r, cur)
	if len(bad) == 0 {
		_, err = a.opts.Records.Update(r.Context(), sess.req(), c, cur.ID(), body)
		if err != nil && core.KindOf(err) != core.KindInvalid {
			return err
		}
	}
	if len(bad) > 0 || err != nil {
		return a.refusedForm(w, r, sess, c, cur, bad, err)
	}
	http.Redirect(w, r, recordsBase(c)+"/"+url.PathEscape(cur.ID())+"?flash="+url.QueryEscape("Saved."), http.StatusSeeOther)
	return nil
}

// refusedForm shows a refused form again, as submitted, with the
// problems the admin found reading it (bad) or the service's (err),
// status 400.
func (a *Admin) refusedForm(w http.ResponseWriter, r *http.Request, sess *session, c *core.Collection, cur *core.Record, bad map[string]string, err error) error {
	problems := map[string]string{}
	for k, m := range bad {
		problems[k] = m
	}
	summary := "Some fields need attention."
	if e := core.AsError(err); e != nil {
		summary = e.Message
		for k, fe := range e.Fields {
			problems[k] = fe.Message
		}
	}
	// What the form does not carry (autodates, an existing record's id)
	// is shown as before.
	vals, shown := url.Values{}, newRecordValues(c)
	if cur != nil {
		shown = recordValues(cur)
	}
	for k, vs := range shown {
		vals[k] = vs
	}
	for k, vs := range r.PostForm {
		vals[k] = vs
	}
	v, ferr := a.recordForm(r.Context(), sess, c, cur, vals, problems)
	if ferr != nil {
		return ferr
	}
	v.Error = summary
	if r.MultipartForm != nil {
		for _, fhs := range r.MultipartForm.File {
			for _, fh := range fhs {
				if fh.Filename != "" {
					v.Reupload = true
				}
			}
		}
	}
	a.render(w, r, http.StatusBadRequest, "record_form.html", sess, v)
	return nil
}

// recordForm builds the form of c's record cur (nil: a new one) showing
// vals, the form's values (see recordValues), with problems by body key.
func (a *Admin) recordForm(ctx context.Context, sess *session, c *core.Collection, cur *core.Record, vals url.Values, problems map[string]string) (recordFormView, error) {
	base := recordsBase(c)
	v := recordFormView{C: c, Base: base, Action: base, ReadOnly: c.IsView()}
	if cur != nil {
		v.ID = cur.ID()
		v.Action = base + "/" + url.PathEscape(v.ID)
		v.Display = displayValue(cur)
		if c.IsAuth() {
			v.Impersonate = &impersonateView{Action: v.Action + "/impersonate", Duration: strconv.FormatInt(tokenDuration(c), 10)}
		}
	}
	used := map[string]bool{}
	problem := func(keys ...string) string {
		for _, k := range keys {
			if m, ok := problems[k]; ok {
				used[k] = true
				return m
			}
		}
		return ""
	}
	labels, err := a.relationLabels(ctx, sess, c, vals)
	if err != nil {
		return v, err
	}
	links := a.fileLinks(sess, c)
	for i := range c.Fields {
		f := &c.Fields[i]
		if c.IsAuth() && f.Name == "tokenKey" {
			continue
		}
		in := inputView{Name: f.Name, Type: string(f.Type), ID: "f-" + f.Name, Required: f.Required, Hidden: f.Hidden,
			Value: vals.Get(f.Name)}
		in.Error = problem(f.Name, f.Name+"+", "+"+f.Name, f.Name+"-")
		switch f.Type {
		case core.FieldText:
			in.Kind = "text"
			if f.Name == "id" {
				in.Kind = "id"
				in.Required = false
				if cur == nil {
					in.Hint = "Leave empty for a generated id."
				} else {
					in.ReadOnly = true
				}
			} else if strings.Contains(in.Value, "\n") {
				in.Kind = "textarea"
			}
			if f.AutogeneratePattern != "" && f.Name != "id" {
				in.Hint = "Leave empty to generate one."
			}
		case core.FieldEditor:
			in.Kind = "textarea"
		case core.FieldEmail:
			in.Kind = "email"
		case core.FieldURL:
			in.Kind = "url"
		case core.FieldNumber:
			in.Kind, in.Step = "number", "any"
			if f.OnlyInt {
				in.Step = "1"
			}
			if f.Min != nil {
				in.Min = core.FormatNumber(*f.Min)
			}
			if f.Max != nil {
				in.Max = core.FormatNumber(*f.Max)
			}
		case core.FieldBool:
			in.Kind = "bool"
			in.Checked = formBool(vals[f.Name])
		case core.FieldDate:
			in.Kind, in.Hint = "date", "UTC."
		case core.FieldAutodate:
			in.Kind = "autodate"
			if in.Value == "" {
				in.Value = "set when saved"
			}
		case core.FieldSelect:
			in.Kind, in.Multiple = "select", f.IsMultiple()
			have := nonEmpty(vals[f.Name])
			for _, o := range f.Values {
				in.Options = append(in.Options, option{Value: o, Selected: slices.Contains(have, o)})
			}
		case core.FieldJSON:
			in.Kind = "json"
			in.CheckURL = base + "/check-json?field=" + url.QueryEscape(f.Name)
		case core.FieldRelation:
			in.Kind, in.Multiple = "relation", f.IsMultiple()
			if t := a.opts.Service.Schema().ByID(f.CollectionID); t != nil {
				in.Target = t.Name
			}
			in.SearchURL = base + "/pick-relation?field=" + url.QueryEscape(f.Name)
			for _, id := range nonEmpty(vals[f.Name]) {
				in.Chosen = append(in.Chosen, relItem{ID: id, Label: labels[f.Name+"/"+id]})
			}
			if in.Multiple {
				in.Hint = "Up to " + strconv.Itoa(f.MaxSelect) + "."
			}
		case core.FieldFile:
			in.Kind, in.Multiple = "file", f.IsMultiple()
			in.Accept = strings.Join(f.MimeTypes, ",")
			if cur != nil {
				del := vals[f.Name+"-"]
				for _, fv := range links.files(cur, f) {
					fv.Delete = slices.Contains(del, fv.Name)
					in.Files = append(in.Files, fv)
				}
			}
			limit := f.MaxSize
			if limit <= 0 {
				limit = 5 << 20
			}
			in.Hint = "Up to " + humanBytes(limit) + " each"
			if in.Multiple {
				in.Hint = "Up to " + strconv.Itoa(f.MaxSelect) + " files, " + humanBytes(limit) + " each"
			}
			if len(f.MimeTypes) > 0 {
				in.Hint += "; " + strings.Join(f.MimeTypes, ", ")
			}
			in.Hint += "."
		case core.FieldGeoPoint:
			in.Kind = "geo"
			in.Lon, in.Lat = vals.Get(f.Name+".lon"), vals.Get(f.Name+".lat")
			in.LonError, in.LatError = problem(f.Name+".lon"), problem(f.Name+".lat")
		case core.FieldPassword:
			in.Kind = "password"
			in.Value = ""
			in.Required = f.Required && cur == nil
			in.ConfirmError = problem(f.Name+"Confirm", "oldPassword")
			if cur != nil {
				in.Hint = "Leave empty to keep the current password."
			}
		default:
			in.Kind = "text"
		}
		v.Inputs = append(v.Inputs, in)
	}
	var others []string
	for k, m := range problems {
		if !used[k] {
			others = append(others, k+": "+m)
		}
	}
	sort.Strings(others)
	v.Others = others
	return v, nil
}

// relationLabels are the display values of the records the relation
// fields of vals name, by "field/id", read through
// records.Service.Expand (so the superuser's view of them).
func (a *Admin) relationLabels(ctx context.Context, sess *session, c *core.Collection, vals url.Values) (map[string]string, error) {
	probe := &core.Record{Collection: c, Data: map[string]any{"id": ""}}
	var names []string
	for i := range c.Fields {
		f := &c.Fields[i]
		if f.Type != core.FieldRelation {
			continue
		}
		ids := nonEmpty(vals[f.Name])
		switch {
		case len(ids) == 0:
			continue
		case f.IsMultiple():
			probe.Data[f.Name] = ids
		default:
			probe.Data[f.Name] = ids[len(ids)-1]
		}
		names = append(names, f.Name)
	}
	out := map[string]string{}
	if len(names) == 0 {
		return out, nil
	}
	if err := a.opts.Records.Expand(ctx, sess.req(), []*core.Record{probe}, strings.Join(names, ",")); err != nil {
		return nil, err
	}
	for _, n := range names {
		var recs []*core.Record
		switch e := probe.Expand[n].(type) {
		case *core.Record:
			recs = []*core.Record{e}
		case []*core.Record:
			recs = e
		}
		for _, t := range recs {
			out[n+"/"+t.ID()] = displayValue(t)
		}
	}
	return out, nil
}

// recordValues is rec as its form's values: the names and text the
// inputs carry (see recordBody for the way back).
func recordValues(rec *core.Record) url.Values {
	vals := url.Values{}
	for i := range rec.Collection.Fields {
		f := &rec.Collection.Fields[i]
		v := rec.Data[f.Name]
		switch f.Type {
		case core.FieldPassword:
		case core.FieldNumber:
			n, _ := v.(float64)
			vals.Set(f.Name, core.FormatNumber(n))
		case core.FieldBool:
			vals.Set(f.Name, strconv.FormatBool(v == true))
		case core.FieldDate:
			vals.Set(f.Name, dateInput(rec.String(f.Name)))
		case core.FieldJSON:
			raw, _ := v.(json.RawMessage)
			vals.Set(f.Name, indentJSON(raw))
		case core.FieldGeoPoint:
			p, _ := core.ParseGeoPoint(v)
			vals.Set(f.Name+".lon", core.FormatNumber(p.Lon))
			vals.Set(f.Name+".lat", core.FormatNumber(p.Lat))
		case core.FieldSelect, core.FieldRelation, core.FieldFile:
			vals[f.Name] = slices.Clone(rec.Strings(f.Name))
		default:
			vals.Set(f.Name, plainValue(f, v))
		}
	}
	return vals
}

// newRecordValues are the values of the new-record form: a new record's,
// with numbers and geo points empty rather than 0 (which they read as).
func newRecordValues(c *core.Collection) url.Values {
	vals := recordValues(core.NewRecord(c))
	for i := range c.Fields {
		f := &c.Fields[i]
		switch f.Type {
		case core.FieldNumber:
			vals.Set(f.Name, "")
		case core.FieldGeoPoint:
			vals.Set(f.Name+".lon", "")
			vals.Set(f.Name+".lat", "")
		}
	}
	return vals
}

// indentJSON is a stored JSON value as the editor shows it ("" for null).
func indentJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// dateInputLayout is a datetime-local input's value, to the second.
const dateInputLayout = "2006-01-02T15:04:05"

// dateInput is a stored date as a datetime-local input shows it: UTC,
// to the second ("" for none).
func dateInput(stored string) string {
	t, err := time.Parse(core.DateLayout, stored)
	if err != nil {
		return stored
	}
	return t.UTC().Format(dateInputLayout)
}

// formBool reads a checkbox with its hidden "false" before it: checked
// when the last value says so.
func formBool(vs []string) bool {
	if len(vs) == 0 {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(vs[len(vs)-1])) {
	case "true", "on", "1":
		return true
	}
	return false
}

// nonEmpty is vs without empty values.
func nonEmpty(vs []string) []string {
	var out []string
	for _, s := range vs {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
