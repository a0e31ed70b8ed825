package admin

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/records"
)

// The records pages: a table per collection (this file), the form that
// creates and edits one record (record_form.go, with the body it submits
// in record_body.go and the relation picker and JSON check in
// record_inputs.go), deleting one or many (record_delete.go) and
// impersonating an auth record (record_impersonate.go). Everything goes
// through records.Service with the superuser's request, as the REST API's
// record routes do.

// recordRoutes registers the records pages. Record ids are letters,
// digits and '_' only, so the fixed segments with a '-' never hide a
// record; "new" does, for a collection whose id field allows that id.
func (a *Admin) recordRoutes() {
	const p = "/admin/collections/{collection}/records"
	a.page("GET "+p, a.recordTable)
	a.page("POST "+p, a.createRecord)
	a.page("GET "+p+"/new", a.newRecord)
	a.page("GET "+p+"/{id}", a.editRecord)
	a.page("POST "+p+"/{id}", a.updateRecord)
	a.page("GET "+p+"/{id}/delete", a.confirmDelete)
	a.page("POST "+p+"/{id}/delete", a.deleteRecords)
	a.page("GET "+p+"/delete-selected", a.confirmDelete)
	a.page("POST "+p+"/delete-selected", a.deleteRecords)
	a.page("POST "+p+"/{id}/impersonate", a.impersonate)
	a.page("GET "+p+"/pick-relation", a.pickRelation)
	a.page("POST "+p+"/check-json", a.checkJSON)
}

// recordsBase is the address of c's table.
func recordsBase(c *core.Collection) string {
	return "/admin/collections/" + url.PathEscape(c.Name) + "/records"
}

// pathCollection is the collection the request's path names.
func (a *Admin) pathCollection(r *http.Request) (*core.Collection, error) {
	return a.opts.Service.Collection(r.PathValue("collection"))
}

// recordsView is a page of a collection's table.
type recordsView struct {
	C        *core.Collection
	Base     string
	ReadOnly bool // a view collection: no forms

	Filter, Sort string
	Example      string // a filter over c's fields, for the box's placeholder
	PerPage      int
	PerPages     []int
	// Searchable shows the search box: c has a search option (views have
	// none). Search is the full-text query, "" when not searching.
	Searchable bool
	Search     string
	// Relevance is the address that drops the sort of a search, so its
	// results come best first again ("" unless searching and sorted).
	Relevance string
	// FilterError, SortError and SearchError are the service's messages
	// about the filter, sort and search parameters; Error any other
	// refusal of the list.
	FilterError, SortError, SearchError, Error string

	Cols    []colView   // the columns shown after id
	Choices []colChoice // the column chooser
	Rows    []recordRow // nil when the list failed
	Page    int         // 1-based
	Total   int         // records the filter matches
	Pages   int         // pages of PerPage
	Prev    string      // address of the previous page, "" on the first
	Next    string      // address of the next page, "" on the last
	IDSort  colView     // the id column's header
	Shown   int         // rows on this page
	First   int         // 1-based number of the first row shown
	Last    int         // and of the last
	NewURL  string
	Delete  string // the bulk delete confirmation's address
	Self    string // this page's address, for coming back to it
}

func (v recordsView) title() (string, string) { return v.C.Name + " · Records", "collections" }

// colView is one column's header: its field and the address that sorts
// by it (ascending, or descending when it is the current ascending sort).
type colView struct {
	Name, Type string
	SortURL    string
	Sorted     string // "ascending", "descending" or ""
}

type colChoice struct {
	Name, Type string
	Checked    bool
}

// recordRow is a record as the table shows it.
type recordRow struct {
	ID, URL string
	Cells   []cellView
	// Matches are a search's highlights in fields that are not shown as
	// columns, so that why a record matched is always visible.
	Matches []matchView
}

// cellView is one value in the table: text (clipped by the stylesheet),
// and for file fields the files, with thumbnails for images. Mark, when
// set, replaces Text: the search's highlight of the value.
type cellView struct {
	Text  string
	Class string
	Files []fileView
	Mark  template.HTML
}

// matchView is a search's highlight of one field.
type matchView struct {
	Field string
	Mark  template.HTML
}

// markHTML marks a highlight of records.Service.List as safe HTML. It is
// the one place the records page trusts HTML: highlights are made by
// search.HTML (the record's text escaped, matches in <mark>), never from
// record text as stored.
func markHTML(highlight string) template.HTML { return template.HTML(highlight) }

// perPages are the page sizes the table offers.
var perPages = []int{10, 30, 50, 100, 200}

// tableFields are the fields of c the table may show after id: not
// secrets, not an auth collection's token key.
func tableFields(c *core.Collection) []*core.Field {
	var out []*core.Field
	for i := range c.Fields {
		f := &c.Fields[i]
		if f.Name == "id" || f.Def().Secret() || (c.IsAuth() && f.Name == "tokenKey") {
			continue
		}
		out = append(out, f)
	}
	return out
}

// defaultColumns bounds the columns shown before the reader chooses.
const defaultColumns = 8

// chosenColumns reads the cols parameter (repeated, or comma-separated):
// absent means the first fields of the collection, present but empty
// means id alone.
func chosenColumns(c *core.Collection, q url.Values) []*core.Field {
	fields := tableFields(c)
	raw, set := q["cols"]
	if !set {
		return fields[:min(len(fields), defaultColumns)]
	}
	want := map[string]bool{}
	for _, v := range raw {
		for _, n := range strings.Split(v, ",") {
			want[strings.TrimSpace(n)] = true
		}
	}
	var out []*core.Field
	for _, f := range fields {
		if want[f.Name] {
			out = append(out, f)
		}
	}
	return out
}

// recordTable answers GET .../records: one page of the collection's
// records, filtered and sorted as asked, through records.Service.List as
// the REST API lists them. A filter or sort the service refuses is shown
// beside its box with status 400.
func (a *Admin) recordTable(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.pathCollection(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	base := recordsBase(c)
	v := recordsView{C: c, Base: base, ReadOnly: c.IsView(), Filter: q.Get("filter"), Sort: strings.TrimSpace(q.Get("sort")),
		Searchable: c.Search != nil && !c.IsView(), Search: q.Get("search"),
		PerPages: perPages, NewURL: base + "/new", Delete: base + "/delete-selected"}
	v.Example = filterExample(c)
	v.Page = positive(q.Get("page"), 1)
	v.PerPage = min(positive(q.Get("perPage"), records.DefaultPerPage), records.MaxPerPage)
	cols := chosenColumns(c, q)

	// The parameters every link of the table keeps.
	keep := url.Values{}
	if v.Search != "" {
		keep.Set("search", v.Search)
	}
	if v.Filter != "" {
		keep.Set("filter", v.Filter)
	}
	if v.Sort != "" {
		keep.Set("sort", v.Sort)
	}
	if v.PerPage != records.DefaultPerPage {
		keep.Set("perPage", strconv.Itoa(v.PerPage))
	}
	if _, set := q["cols"]; set {
		names := make([]string, len(cols))
		for i, f := range cols {
			names[i] = f.Name
		}
		keep.Set("cols", strings.Join(names, ","))
	}
	link := func(change func(url.Values)) string {
		u := url.Values{}
		for k, vs := range keep {
			u[k] = slices.Clone(vs)
		}
		change(u)
		if len(u) == 0 {
			return base
		}
		return base + "?" + u.Encode()
	}
	sortLink := func(name string) colView {
		cv := colView{Name: name}
		next := name
		switch v.Sort {
		case name, "+" + name:
			cv.Sorted, next = "ascending", "-"+name
		case "-" + name:
			cv.Sorted = "descending"
		}
		cv.SortURL = link(func(u url.Values) { u.Set("sort", next); u.Del("page") })
		return cv
	}
	v.IDSort = sortLink("id")
	if v.Searchable && strings.TrimSpace(v.Search) != "" && v.Sort != "" {
		v.Relevance = link(func(u url.Values) { u.Del("sort"); u.Del("page") })
	}
	chosen := map[string]bool{}
	for _, f := range cols {
		cv := sortLink(f.Name)
		cv.Type = string(f.Type)
		v.Cols = append(v.Cols, cv)
		chosen[f.Name] = true
	}
	for _, f := range tableFields(c) {
		v.Choices = append(v.Choices, colChoice{Name: f.Name, Type: string(f.Type), Checked: chosen[f.Name]})
	}

	// A search goes through the service like the REST API's ?search=, so
	// it is ranked, typo-tolerant and limited exactly as there; without a
	// sort its results come in relevance order.
	res, err := a.opts.Records.List(r.Context(), sess.req(), c,
		records.ListParams{Page: v.Page, PerPage: v.PerPage, Sort: v.Sort, Filter: v.Filter, Search: v.Search})
	if err != nil {
		e := core.AsError(err)
		if e == nil || e.Kind != core.KindInvalid {
			return err
		}
		v.FilterError, v.SortError, v.SearchError = e.Fields["filter"].Message, e.Fields["sort"].Message, e.Fields["search"].Message
		if !v.Searchable && v.SearchError != "" {
			// A ?search= kept from before the search option was removed:
			// there is no box to show the message beside.
			v.Error, v.SearchError = "Search: "+v.SearchError, ""
		}
		if v.FilterError == "" && v.SortError == "" && v.SearchError == "" && v.Error == "" {
			v.Error = e.Error()
		}
		a.render(w, r, http.StatusBadRequest, "records.html", sess, v)
		return nil
	}
	if err := a.expandRelations(r, sess, c, cols, res.Items); err != nil {
		return err
	}
	links := a.fileLinks(sess, c)
	for _, rec := range res.Items {
		row := recordRow{ID: rec.ID(), URL: base + "/" + url.PathEscape(rec.ID())}
		marks := res.Highlights[rec.ID()]
		shown := map[string]bool{}
		for _, f := range cols {
			cell := links.cell(rec, f)
			if h, ok := marks[f.Name]; ok && cell.Files == nil {
				cell.Mark = markHTML(h)
				shown[f.Name] = true
			}
			row.Cells = append(row.Cells, cell)
		}
		// The other highlights, in the collection's field order.
		for _, f := range tableFields(c) {
			if h, ok := marks[f.Name]; ok && !shown[f.Name] {
				row.Matches = append(row.Matches, matchView{Field: f.Name, Mark: markHTML(h)})
			}
		}
		v.Rows = append(v.Rows, row)
	}
	v.Total, v.Pages, v.Shown = res.TotalItems, res.TotalPages, len(res.Items)
	if v.Shown > 0 {
		v.First = (v.Page-1)*v.PerPage + 1
		v.Last = v.First + v.Shown - 1
	}
	v.Self = link(func(u url.Values) {
		if v.Page > 1 {
			u.Set("page", strconv.Itoa(v.Page))
		}
	})
	if v.Page > 1 {
		v.Prev = link(func(u url.Values) {
			if p := min(v.Page-1, max(v.Pages, 1)); p > 1 {
				u.Set("page", strconv.Itoa(p))
			}
		})
	}
	if v.Page < v.Pages {
		v.Next = link(func(u url.Values) { u.Set("page", strconv.Itoa(v.Page+1)) })
	}
	a.render(w, r, http.StatusOK, "records.html", sess, v)
	return nil
}

// filterExample is a filter over c's first text field (or its id).
func filterExample(c *core.Collection) string {
	for _, f := range tableFields(c) {
		if f.Type == core.FieldText || f.Type == core.FieldEmail {
			return `e.g. ` + f.Name + ` ~ "abc" && id != ""`
		}
	}
	return `e.g. id ~ "abc"`
}

// positive reads a whole number of at least 1, or def.
func positive(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return def
	}
	return n
}

// expandRelations loads the related records of the relation fields among
// fields, for their display values, through records.Service.Expand.
func (a *Admin) expandRelations(r *http.Request, sess *session, c *core.Collection, fields []*core.Field, recs []*core.Record) error {
	var names []string
	for _, f := range fields {
		if f.Type == core.FieldRelation {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 || len(recs) == 0 {
		return nil
	}
	return a.opts.Records.Expand(r.Context(), sess.req(), recs, strings.Join(names, ","))
}

// fileView is one stored file of a record: its address under the REST
// API's file route, a thumbnail's for images.
type fileView struct {
	Name, URL, Thumb string
	Image            bool
	Delete           bool // the form asks to delete it
}

// fileLinker makes the addresses of a collection's files; protected
// fields' carry a file token of the superuser, made once per page.
type fileLinker struct {
	c     *core.Collection
	token func() string
}

func (a *Admin) fileLinks(sess *session, c *core.Collection) *fileLinker {
	var tok *string
	return &fileLinker{c: c, token: func() string {
		if tok == nil {
			t, err := a.opts.Auth.FileToken(sess.rec)
			if err != nil {
				a.log.Warn("admin: file token", "err", err)
			}
			tok = &t
		}
		return *tok
	}}
}

// imageExts are the extensions shown as images (thumbnails in the table
// and the form); the API serves them inline.
var imageExts = []string{".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".bmp"}

// files are the file views of field f of rec.
func (l *fileLinker) files(rec *core.Record, f *core.Field) []fileView {
	var out []fileView
	for _, name := range rec.Strings(f.Name) {
		u := "/api/files/" + url.PathEscape(l.c.ID) + "/" + url.PathEscape(rec.ID()) + "/" + url.PathEscape(name)
		q := url.Values{}
		if f.Protected {
			q.Set("token", l.token())
		}
		fv := fileView{Name: name, Image: slices.Contains(imageExts, strings.ToLower(path.Ext(name)))}
		fv.URL = u
		if len(q) > 0 {
			fv.URL += "?" + q.Encode()
		}
		if fv.Image {
			if len(f.Thumbs) > 0 {
				q.Set("thumb", f.Thumbs[0])
			}
			fv.Thumb = u
			if len(q) > 0 {
				fv.Thumb += "?" + q.Encode()
			}
		}
		out = append(out, fv)
	}
	return out
}

// cell is rec's value of f as the table shows it.
func (l *fileLinker) cell(rec *core.Record, f *core.Field) cellView {
	v := rec.Data[f.Name]
	switch f.Type {
	case core.FieldFile:
		return cellView{Files: l.files(rec, f)}
	case core.FieldNumber:
		n, _ := v.(float64)
		return cellView{Text: core.FormatNumber(n), Class: "num"}
	case core.FieldBool:
		if v == true {
			return cellView{Text: "true", Class: "rec-bool rec-yes"}
		}
		return cellView{Text: "false", Class: "rec-bool"}
	case core.FieldRelation:
		return cellView{Text: relationText(rec, f), Class: "clip"}
	case core.FieldDate, core.FieldAutodate:
		return cellView{Text: rec.String(f.Name), Class: "mono rec-nowrap"}
	case core.FieldGeoPoint:
		p, err := core.ParseGeoPoint(v)
		if err != nil {
			break
		}
		return cellView{Text: core.FormatNumber(p.Lon) + ", " + core.FormatNumber(p.Lat), Class: "rec-nowrap"}
	}
	return cellView{Text: plainValue(f, v), Class: "clip"}
}

// relationText is a relation's value: each related record's display
// value, or its id when it has none or is gone.
func relationText(rec *core.Record, f *core.Field) string {
	byID := map[string]*core.Record{}
	switch e := rec.Expand[f.Name].(type) {
	case *core.Record:
		byID[e.ID()] = e
	case []*core.Record:
		for _, x := range e {
			byID[x.ID()] = x
		}
	}
	var parts []string
	for _, id := range rec.Strings(f.Name) {
		label := ""
		if t := byID[id]; t != nil {
			label = displayValue(t)
		}
		if label == "" {
			label = id
		}
		parts = append(parts, label)
	}
	return strings.Join(parts, ", ")
}

// plainValue is a value of f as one line of text.
func plainValue(f *core.Field, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return strings.Join(x, ", ")
	case float64:
		return core.FormatNumber(x)
	case bool:
		return strconv.FormatBool(x)
	case json.RawMessage:
		return string(x)
	}
	return ""
}

// maxDisplay bounds a record's display value.
const maxDisplay = 80

// displayValue is how a record is named where it is picked or related:
// its presentable fields, else its first non-empty text or email field
// ("" when it has none; callers show the id).
func displayValue(rec *core.Record) string {
	c := rec.Collection
	var parts []string
	for i := range c.Fields {
		f := &c.Fields[i]
		if f.Presentable && !f.Def().Secret() && f.Name != "tokenKey" {
			if s := plainValue(f, rec.Data[f.Name]); s != "" {
				parts = append(parts, s)
			}
		}
	}
	if len(parts) == 0 {
		for i := range c.Fields {
			f := &c.Fields[i]
			if (f.Type == core.FieldText || f.Type == core.FieldEmail) && f.Name != "id" && f.Name != "tokenKey" {
				if s := rec.String(f.Name); s != "" {
					parts = append(parts, s)
					break
				}
			}
		}
	}
	return clipText(strings.Join(parts, " · "), maxDisplay)
}

// clipText cuts s to n runes with an ellipsis.
func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
