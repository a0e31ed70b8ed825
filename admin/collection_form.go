package admin

import (
	"cmp"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// The collection editor is one plain form. Each field is a row whose
// inputs are named f.<key>.<option> (the row key is random, so rows can
// be added, moved and removed in the browser without renumbering), and the
// repeated "field" input lists the row keys in their order. readCollectionForm
// turns the form into the JSON body collections.Service.Create and Update
// take (the REST API's POST and PATCH /api/collections body), keeping the
// form as typed for showing it again with its errors.

// maxEditorForm bounds the editor's form (500 fields with their options).
const maxEditorForm = 2 << 20

// colEditor is the collection editor: a new collection, or a stored one.
type colEditor struct {
	New      bool
	Original string // the stored collection's name ("" when new)
	// OriginalID is its id, which the rule check sends.
	OriginalID string
	Path       string // its address under /admin/collections/
	Name       string
	Type       core.CollectionType
	System     bool
	ViewQuery  string
	Fields     []colFieldRow
	Rules      []colRule
	Indexes    string // one CREATE INDEX statement per line
	// Search is the search option (core.SearchOptions) as JSON, "" for
	// none: a textarea, since it is a short list the REST API takes as is.
	Search string
	Auth   *colAuthForm
	// Errors are the service's problems by key (name, type, viewQuery,
	// indexes, fields, authToken, passwordAuth ...); FormError sums up;
	// Other lists problems under keys this page has no input for.
	Errors    map[string]string
	FormError string
	Other     []string
	Targets   []colTarget // relation targets
	Types     []core.FieldType
	NewType   core.FieldType // the type the "add a field" list offers first
}

func (v *colEditor) title() (string, string) {
	if v.New {
		return "New collection", "collections"
	}
	return "Collection " + v.Original, "collections"
}

// colTarget is a collection a relation field can point at.
type colTarget struct{ ID, Name string }

// colFieldRow is one field as the form holds it: options as typed.
type colFieldRow struct {
	Key, ID, Name string
	Type          core.FieldType
	// System fields keep their definition (the service refuses changes
	// but to presentable): their options are shown, not edited.
	System                        bool
	Required, Hidden, Presentable bool

	Min, Max, Pattern, AutogeneratePattern            string
	OnlyInt, ConvertURLs, OnCreate, OnUpdate          bool
	CascadeDelete, Protected                          bool
	Values, OnlyDomains, ExceptDomains                string
	MimeTypes, Thumbs                                 string
	MinSelect, MaxSelect, MaxSize, Cost, CollectionID string

	Summary string            // a system field's options in words
	Errs    map[string]string // by option ("name", "min" ...); "" for the row
	Targets []colTarget
	First   bool // for the move buttons
	Last    bool
	Focus   bool // a row just added: its name input takes the focus
}

// colOption is one option input of a field row, for the "opt" template.
type colOption struct {
	ID, Name, Label, Kind, Value, Err, Hint string
	Checked                                 bool
}

// fieldOpt is the input of row's option opt: kind is an input type
// ("text", "number", "checkbox"), value the option's text or, for a
// checkbox, whether it is on.
func fieldOpt(row colFieldRow, opt, label, kind string, value any, hint string) colOption {
	o := colOption{ID: "f-" + row.Key + "-" + opt, Name: "f." + row.Key + "." + opt, Label: label, Kind: kind,
		Err: row.Errs[opt], Hint: hint}
	switch x := value.(type) {
	case bool:
		o.Checked = x
	case string:
		o.Value = x
	}
	return o
}

// colRule is one access rule: locked (null: superusers only), or an
// expression, "" letting everyone through.
type colRule struct {
	Name   string // listRule ...
	Label  string
	Hint   string
	Text   string
	Locked bool
	Check  *colRuleCheck // the last check, or a save's error
}

// colAuthForm holds the options of an auth collection the editor changes.
type colAuthForm struct {
	PasswordEnabled bool
	IdentityFields  string
	AuthAlert       bool
	OTPEnabled      bool
	OTPDuration     string
	OTPLength       string
	MFAEnabled      bool
	MFADuration     string
	Tokens          []colTokenRow
}

// colTokenRow is the duration of one kind of token of an auth collection.
type colTokenRow struct {
	Key, Label, Duration string
}

// colFieldTypes are the types a new field may have, in the order offered.
var colFieldTypes = []core.FieldType{
	core.FieldText, core.FieldEditor, core.FieldNumber, core.FieldBool, core.FieldEmail, core.FieldURL,
	core.FieldDate, core.FieldAutodate, core.FieldSelect, core.FieldFile, core.FieldRelation, core.FieldJSON,
	core.FieldGeoPoint, core.FieldPassword,
}

// colRules are the rules the editor shows for a collection of type t.
func colRules(t core.CollectionType) []colRule {
	rows := []colRule{
		{Name: "listRule", Label: "List/Search rule", Hint: "Who may list and search the records."},
		{Name: "viewRule", Label: "View rule", Hint: "Who may read one record."},
	}
	if t == core.TypeView {
		return rows
	}
	rows = append(rows,
		colRule{Name: "createRule", Label: "Create rule", Hint: "Who may create a record; @request.body holds what is sent."},
		colRule{Name: "updateRule", Label: "Update rule", Hint: "Who may change a record."},
		colRule{Name: "deleteRule", Label: "Delete rule", Hint: "Who may delete a record."})
	if t == core.TypeAuth {
		rows = append(rows,
			colRule{Name: "authRule", Label: "Authentication rule", Hint: "Which records may sign in (after their password or code checks), e.g. verified = true."},
			colRule{Name: "manageRule", Label: "Manage rule", Hint: "Who may manage other accounts (change their email or password unasked). Cannot be empty: lock it, or name who."})
	}
	return rows
}

// isColRule reports whether name is a rule the editor checks.
func isColRule(name string) bool {
	return slices.ContainsFunc(colRules(core.TypeAuth), func(r colRule) bool { return r.Name == name })
}

// scaffold is the blank collection of type t the editor starts from: the
// fields and options the service gives a new collection.
func colScaffold(t core.CollectionType) *core.Collection {
	c := &core.Collection{Type: t}
	if t == core.TypeView {
		return c
	}
	c.Fields = append(c.Fields, core.IDField())
	if t == core.TypeAuth {
		c.Fields = append(c.Fields, core.AuthSystemFields()...)
		opts := core.DefaultAuthOptions()
		everyone := ""
		opts.AuthRule = &everyone // as the service does for a new auth collection
		c.Auth = &opts
	}
	c.Fields = append(c.Fields, core.AutodateFields()...)
	return c
}

// collectionEditor is the editor showing c (stored, or a scaffold when isNew).
func (a *Admin) collectionEditor(c *core.Collection, isNew bool) *colEditor {
	v := &colEditor{New: isNew, Name: c.Name, Type: c.Type, System: c.System, ViewQuery: c.ViewQuery,
		Errors: map[string]string{}, Targets: a.relationTargets(), Types: colFieldTypes, NewType: core.FieldText}
	if !isNew {
		v.Original, v.OriginalID, v.Path = c.Name, c.ID, collectionPath(c)
	}
	for _, f := range c.Fields {
		v.Fields = append(v.Fields, fieldRowOf(f))
	}
	v.Indexes = strings.Join(c.Indexes, "\n")
	v.Search = searchOptionText(c.Search)
	rules := map[string]*string{"listRule": c.ListRule, "viewRule": c.ViewRule, "createRule": c.CreateRule,
		"updateRule": c.UpdateRule, "deleteRule": c.DeleteRule}
	if c.Auth != nil {
		rules["authRule"], rules["manageRule"] = c.Auth.AuthRule, c.Auth.ManageRule
		o := c.Auth
		v.Auth = &colAuthForm{PasswordEnabled: o.PasswordAuth.Enabled, IdentityFields: strings.Join(o.PasswordAuth.IdentityFields, ", "),
			AuthAlert: o.AuthAlert.Enabled, OTPEnabled: o.OTP.Enabled, OTPDuration: int64Text(o.OTP.Duration), OTPLength: strconv.Itoa(o.OTP.Length),
			MFAEnabled: o.MFA.Enabled, MFADuration: int64Text(o.MFA.Duration)}
		for _, t := range colTokenKinds(o) {
			v.Auth.Tokens = append(v.Auth.Tokens, colTokenRow{Key: t.key, Label: t.label, Duration: int64Text(t.cfg.Duration)})
		}
	}
	for _, r := range colRules(c.Type) {
		r.Locked = rules[r.Name] == nil
		if !r.Locked {
			r.Text = *rules[r.Name]
		}
		v.Rules = append(v.Rules, r)
	}
	v.finish()
	return v
}

// finish sets what rows need to render: their targets, keys and place.
func (v *colEditor) finish() {
	for i := range v.Fields {
		f := &v.Fields[i]
		f.Targets = v.Targets
		if f.Key == "" {
			f.Key = newFieldRowKey()
		}
		if f.Errs == nil {
			f.Errs = map[string]string{}
		}
		f.First, f.Last = i == 0, i == len(v.Fields)-1
	}
}

// targets are the collections relation fields may point at.
func (a *Admin) relationTargets() []colTarget {
	var out []colTarget
	for _, c := range a.opts.Service.Schema().List() {
		out = append(out, colTarget{ID: c.ID, Name: c.Name})
	}
	slices.SortFunc(out, func(x, y colTarget) int { return strings.Compare(x.Name, y.Name) })
	return out
}

type colTokenKind struct {
	key, label string
	cfg        *core.TokenConfig
}

// colTokenKinds are an auth collection's tokens, in the order shown.
func colTokenKinds(o *core.AuthOptions) []colTokenKind {
	return []colTokenKind{
		{"authToken", "Auth token", &o.AuthToken},
		{"verificationToken", "Verification token", &o.VerificationToken},
		{"passwordResetToken", "Password reset token", &o.PasswordResetToken},
		{"emailChangeToken", "Email change token", &o.EmailChangeToken},
		{"fileToken", "Protected file access token", &o.FileToken},
	}
}

// newFieldRowKey is a fresh key for a field row of the form.
func newFieldRowKey() string { return "r" + strings.ToLower(rand.Text()[:10]) }

// fieldRowKeyOK: row keys are short and plain, as newFieldRowKey makes them.
func fieldRowKeyOK(k string) bool {
	if k == "" || len(k) > 40 {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// fieldRowOf is the form row of a field.
func fieldRowOf(f core.Field) colFieldRow {
	r := colFieldRow{ID: f.ID, Name: f.Name, Type: f.Type, System: f.System, Required: f.Required, Hidden: f.Hidden,
		Presentable: f.Presentable, Pattern: f.Pattern, AutogeneratePattern: f.AutogeneratePattern,
		OnlyInt: f.OnlyInt, ConvertURLs: f.ConvertURLs, OnCreate: f.OnCreate, OnUpdate: f.OnUpdate,
		CascadeDelete: f.CascadeDelete, Protected: f.Protected, CollectionID: f.CollectionID,
		Values: strings.Join(f.Values, ", "), OnlyDomains: strings.Join(f.OnlyDomains, ", "),
		ExceptDomains: strings.Join(f.ExceptDomains, ", "), MimeTypes: strings.Join(f.MimeTypes, ", "),
		Thumbs: strings.Join(f.Thumbs, ", "), MinSelect: optIntText(f.MinSelect), MaxSelect: optIntText(f.MaxSelect),
		MaxSize: int64Text(f.MaxSize), Cost: optIntText(f.Cost)}
	if r.MaxSize == "0" {
		r.MaxSize = ""
	}
	if f.Type == core.FieldDate {
		r.Min, r.Max = f.MinDate, f.MaxDate
	} else {
		r.Min, r.Max = optFloatText(f.Min), optFloatText(f.Max)
	}
	if f.System {
		r.Summary = systemFieldSummary(f)
	}
	return r
}

// summary is a system field's definition in words.
func systemFieldSummary(f core.Field) string {
	var parts []string
	if f.Required {
		parts = append(parts, "required")
	}
	if f.Hidden {
		parts = append(parts, "hidden")
	}
	if f.PrimaryKey {
		parts = append(parts, "primary key")
	}
	if f.Min != nil || f.Max != nil {
		parts = append(parts, fmt.Sprintf("length %s–%s", cmp.Or(optFloatText(f.Min), "0"), cmp.Or(optFloatText(f.Max), "any")))
	}
	if f.Pattern != "" {
		parts = append(parts, "pattern "+f.Pattern)
	}
	if f.AutogeneratePattern != "" {
		parts = append(parts, "generated as "+f.AutogeneratePattern)
	}
	if len(parts) == 0 {
		return "system field"
	}
	return "system field: " + strings.Join(parts, ", ")
}

func optFloatText(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

func optIntText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func int64Text(n int64) string { return strconv.FormatInt(n, 10) }

// readCollectionForm reads the editor's form over base (the stored collection,
// or nil for a new one) into the editor as typed and the JSON body for
// the service. Options that do not read (a letter in a number) are
// problems under the keys the service would use (fields.2.min), so they
// show beside their inputs the same way.
func (a *Admin) readCollectionForm(form url.Values, base *core.Collection) (*colEditor, []byte, core.ValidationErrors) {
	errs := core.ValidationErrors{}
	isNew := base == nil
	typ := core.CollectionType(form.Get("type"))
	if base != nil {
		typ = base.Type
	}
	switch typ {
	case core.TypeBase, core.TypeAuth, core.TypeView:
	default:
		typ = core.TypeBase
	}
	if base == nil {
		base = colScaffold(typ)
	}
	v := &colEditor{New: isNew, Name: strings.TrimSpace(form.Get("name")), Type: typ, System: base.System,
		ViewQuery: textareaValue(form, "viewQuery"), Indexes: form.Get("indexes"), Errors: map[string]string{},
		Targets: a.relationTargets(), Types: colFieldTypes, NewType: core.FieldType(form.Get("newType"))}
	if !isNew {
		v.Original, v.OriginalID, v.Path = base.Name, base.ID, collectionPath(base)
	}
	if !slices.Contains(colFieldTypes, v.NewType) {
		v.NewType = core.FieldText
	}
	body := map[string]any{"name": v.Name, "type": typ}

	var (
		fields  []core.Field
		rowErrs []core.ValidationErrors // by option, of each row
	)
	seen := map[string]bool{}
	for _, key := range form["field"] {
		if !fieldRowKeyOK(key) || seen[key] {
			continue
		}
		seen[key] = true
		re := core.ValidationErrors{}
		row, f := readFieldRow(form, key, base, re)
		v.Fields = append(v.Fields, row)
		fields = append(fields, f)
		rowErrs = append(rowErrs, re)
	}
	kept := 0
	if typ != core.TypeView {
		// The system fields a form leaves out are kept (the service puts
		// them first): put them in the form too, so that the service's
		// fields.<i> are the form's rows.
		var missing []core.Field
		for _, bf := range base.Fields {
			if bf.System && !slices.ContainsFunc(fields, func(f core.Field) bool { return f.ID == bf.ID || strings.EqualFold(f.Name, bf.Name) }) {
				missing = append(missing, bf)
			}
		}
		if kept = len(missing); kept > 0 {
			rows := make([]colFieldRow, 0, kept+len(v.Fields))
			for _, f := range missing {
				rows = append(rows, fieldRowOf(f))
			}
			v.Fields = append(rows, v.Fields...)
			fields = append(missing, fields...)
		}
	}
	for i, re := range rowErrs {
		for opt, fe := range re {
			errs.Add(fmt.Sprintf("fields.%d.%s", kept+i, opt), fe.Code, fe.Message)
		}
	}
	if typ == core.TypeView {
		body["viewQuery"] = v.ViewQuery
	} else {
		if fields == nil {
			fields = []core.Field{}
		}
		body["fields"] = fields
		body["indexes"] = splitIndexStatements(v.Indexes)
		v.Search = textareaValue(form, "search")
		body["search"] = readSearchOption(v.Search, errs)
	}

	for _, r := range colRules(typ) {
		r.Text = textareaValue(form, r.Name)
		r.Locked = form.Get(r.Name+".locked") != ""
		v.Rules = append(v.Rules, r)
		if r.Locked {
			body[r.Name] = nil
		} else {
			body[r.Name] = r.Text
		}
	}
	if typ == core.TypeAuth {
		v.Auth = readAuthOptions(form, base, body, errs)
	}
	v.finish()
	b, err := json.Marshal(body)
	if err != nil {
		errs.Add("fields", "validation_invalid_value", "The form could not be read.")
	}
	return v, b, errs
}

// readFieldRow reads one field row; errs gets the options that do not
// read, by option.
func readFieldRow(form url.Values, key string, base *core.Collection, errs core.ValidationErrors) (colFieldRow, core.Field) {
	get := func(opt string) string { return form.Get("f." + key + "." + opt) }
	on := func(opt string) bool { return get(opt) != "" }
	id := get("id")
	// A system field keeps its definition; only presentable changes.
	if old := base.FieldByID(id); id != "" && old != nil && old.System {
		f := *old
		f.Presentable = on("presentable")
		row := fieldRowOf(f)
		row.Key = key
		return row, f
	}
	row := colFieldRow{Key: key, ID: id, Name: strings.TrimSpace(get("name")), Type: core.FieldType(get("type")),
		Required: on("required"), Hidden: on("hidden"), Presentable: on("presentable"),
		Min: strings.TrimSpace(get("min")), Max: strings.TrimSpace(get("max")), Pattern: get("pattern"),
		AutogeneratePattern: get("autogeneratePattern"), OnlyInt: on("onlyInt"), ConvertURLs: on("convertURLs"),
		OnCreate: on("onCreate"), OnUpdate: on("onUpdate"), CascadeDelete: on("cascadeDelete"), Protected: on("protected"),
		Values: get("values"), OnlyDomains: get("onlyDomains"), ExceptDomains: get("exceptDomains"),
		MimeTypes: get("mimeTypes"), Thumbs: get("thumbs"), MinSelect: strings.TrimSpace(get("minSelect")),
		MaxSelect: strings.TrimSpace(get("maxSelect")), MaxSize: strings.TrimSpace(get("maxSize")),
		Cost: strings.TrimSpace(get("cost")), CollectionID: get("collectionId")}
	f := core.Field{ID: row.ID, Name: row.Name, Type: row.Type, Required: row.Required, Hidden: row.Hidden, Presentable: row.Presentable}
	num := func(opt, s string) *float64 {
		if s == "" {
			return nil
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			errs.Add(opt, "validation_invalid_number", "Must be a number.")
			return nil
		}
		return &x
	}
	whole := func(opt, s string) int64 {
		if s == "" {
			return 0
		}
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			errs.Add(opt, "validation_invalid_number", "Must be a whole number.")
			return 0
		}
		return x
	}
	switch f.Type {
	case core.FieldText, core.FieldPassword:
		f.Min, f.Max, f.Pattern = num("min", row.Min), num("max", row.Max), row.Pattern
		if f.Type == core.FieldText {
			f.AutogeneratePattern = row.AutogeneratePattern
		} else {
			f.Cost = int(whole("cost", row.Cost))
		}
	case core.FieldNumber:
		f.Min, f.Max, f.OnlyInt = num("min", row.Min), num("max", row.Max), row.OnlyInt
	case core.FieldEditor:
		f.MaxSize, f.ConvertURLs = whole("maxSize", row.MaxSize), row.ConvertURLs
	case core.FieldEmail, core.FieldURL:
		f.OnlyDomains, f.ExceptDomains = splitCommaList(row.OnlyDomains), splitCommaList(row.ExceptDomains)
	case core.FieldDate:
		f.MinDate, f.MaxDate = row.Min, row.Max
	case core.FieldAutodate:
		f.OnCreate, f.OnUpdate = row.OnCreate, row.OnUpdate
	case core.FieldSelect:
		f.Values, f.MaxSelect = splitCommaList(row.Values), int(whole("maxSelect", row.MaxSelect))
	case core.FieldFile:
		f.MaxSelect, f.MaxSize = int(whole("maxSelect", row.MaxSelect)), whole("maxSize", row.MaxSize)
		f.MimeTypes, f.Thumbs, f.Protected = splitCommaList(row.MimeTypes), splitCommaList(row.Thumbs), row.Protected
	case core.FieldRelation:
		f.CollectionID, f.CascadeDelete = row.CollectionID, row.CascadeDelete
		f.MinSelect, f.MaxSelect = int(whole("minSelect", row.MinSelect)), int(whole("maxSelect", row.MaxSelect))
	case core.FieldJSON:
		f.MaxSize = whole("maxSize", row.MaxSize)
	}
	return row, f
}

// readAuthOptions reads an auth collection's options into body, over base's
// (so what the editor does not show, such as OAuth2 providers and the MFA
// rule, is sent back as it was: a top-level key of an update replaces
// the stored one whole).
func readAuthOptions(form url.Values, base *core.Collection, body map[string]any, errs core.ValidationErrors) *colAuthForm {
	opts := core.DefaultAuthOptions()
	if base.Auth != nil {
		opts = base.Auth.Public()
	}
	on := func(k string) bool { return form.Get(k) != "" }
	af := &colAuthForm{PasswordEnabled: on("passwordAuth.enabled"), IdentityFields: form.Get("passwordAuth.identityFields"),
		AuthAlert: on("authAlert.enabled"), OTPEnabled: on("otp.enabled"), OTPDuration: strings.TrimSpace(form.Get("otp.duration")),
		OTPLength: strings.TrimSpace(form.Get("otp.length")), MFAEnabled: on("mfa.enabled"), MFADuration: strings.TrimSpace(form.Get("mfa.duration"))}
	whole := func(key, s string, into *int64) {
		if s == "" {
			return
		}
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			errs.Add(key, "validation_invalid_number", "Must be a whole number of seconds.")
			return
		}
		*into = x
	}
	opts.PasswordAuth.Enabled = af.PasswordEnabled
	opts.PasswordAuth.IdentityFields = splitCommaList(af.IdentityFields)
	if opts.PasswordAuth.IdentityFields == nil {
		opts.PasswordAuth.IdentityFields = []string{}
	}
	opts.AuthAlert.Enabled = af.AuthAlert
	opts.OTP.Enabled, opts.MFA.Enabled = af.OTPEnabled, af.MFAEnabled
	whole("otp", af.OTPDuration, &opts.OTP.Duration)
	length := int64(opts.OTP.Length)
	whole("otp", af.OTPLength, &length)
	opts.OTP.Length = int(length)
	whole("mfa", af.MFADuration, &opts.MFA.Duration)
	for _, t := range colTokenKinds(&opts) {
		d := strings.TrimSpace(form.Get(t.key + ".duration"))
		af.Tokens = append(af.Tokens, colTokenRow{Key: t.key, Label: t.label, Duration: d})
		whole(t.key, d, &t.cfg.Duration)
		body[t.key] = t.cfg
	}
	body["passwordAuth"], body["authAlert"], body["otp"], body["mfa"] = opts.PasswordAuth, opts.AuthAlert, opts.OTP, opts.MFA
	return af
}

// searchOptionText is a search option as the editor's textarea shows it.
func searchOptionText(so *core.SearchOptions) string {
	if so == nil {
		return ""
	}
	b, err := json.MarshalIndent(so, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// readSearchOption reads the search textarea: blank is no search option
// (null), else a JSON object of core.SearchOptions, unknown keys refused
// so that a misspelt one is not silently dropped. The service checks the
// fields and weights.
func readSearchOption(text string, errs core.ValidationErrors) *core.SearchOptions {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	var so core.SearchOptions
	if err := dec.Decode(&so); err != nil || dec.More() {
		msg := `Must be a JSON object such as {"fields": [{"name": "title", "weight": 3}]}, or empty.`
		if err != nil {
			msg = "Invalid JSON (" + err.Error() + "): " + msg
		}
		errs.Add("search", "validation_invalid_json", msg)
		return nil
	}
	return &so
}

// textareaValue is a textarea's text with the line breaks browsers send
// (CRLF) as the stored text has them (LF), so that a form saved unchanged
// leaves it unchanged.
func textareaValue(form url.Values, name string) string {
	return strings.ReplaceAll(form.Get(name), "\r\n", "\n")
}

// splitCommaList reads a comma-separated list, dropping blanks.
func splitCommaList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// splitIndexStatements reads the index statements, one per line; a line that
// does not start a statement continues the one before.
func splitIndexStatements(s string) []string {
	out := []string{}
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(out) > 0 && !strings.HasPrefix(strings.ToUpper(line), "CREATE") {
			out[len(out)-1] += " " + line
			continue
		}
		out = append(out, strings.TrimSuffix(line, ";"))
	}
	for i := range out {
		out[i] = strings.TrimSuffix(strings.TrimSpace(out[i]), ";")
	}
	return out
}

// showErrors puts the service's problems (or the form's own) beside
// their inputs: fields.<i>.<option> on row i, a rule's under the rule
// with its position marked, the rest by key; problems under keys the page
// has no input for are listed at the top, so none is lost.
func (v *colEditor) showErrors(e *core.Error) {
	shown := map[string]bool{"name": true, "type": true, "viewQuery": true, "indexes": true, "fields": true,
		"passwordAuth": true, "otp": true, "mfa": true}
	for _, t := range colTokenKinds(&core.AuthOptions{}) {
		shown[t.key] = true
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		fe := e.Fields[key]
		if rest, ok := strings.CutPrefix(key, "fields."); ok {
			idx, opt, _ := strings.Cut(rest, ".")
			if i, err := strconv.Atoi(idx); err == nil && i >= 0 && i < len(v.Fields) {
				row := &v.Fields[i]
				switch opt {
				case "name", "min", "max", "pattern", "autogeneratePattern", "values", "maxSelect", "minSelect",
					"collectionId", "maxSize", "cost", "onlyDomains", "exceptDomains", "mimeTypes", "thumbs":
					if row.System {
						opt = ""
					}
				default:
					opt = ""
				}
				if row.Errs[opt] == "" {
					row.Errs[opt] = fe.Message
				}
				continue
			}
		}
		if (key == "search" || strings.HasPrefix(key, "search.")) && v.Type != core.TypeView {
			// All of the search option's problems go beside its textarea.
			v.Errors["search"] = strings.TrimSpace(v.Errors["search"] + " " + fe.Message)
			continue
		}
		if i := slices.IndexFunc(v.Rules, func(r colRule) bool { return r.Name == key }); i >= 0 {
			v.Rules[i].Check = ruleCheckOf(v.Rules[i].Text, fe.Message)
			continue
		}
		if shown[key] && (key != "viewQuery" || v.Type == core.TypeView) && (key != "indexes" || v.Type != core.TypeView) &&
			(v.Auth != nil || !isAuthOptionKey(key)) {
			v.Errors[key] = fe.Message
			continue
		}
		v.Other = append(v.Other, key+": "+fe.Message)
	}
	v.FormError = e.Message
	if len(e.Fields) > 0 {
		v.FormError = "The collection was not saved: see the problems marked below."
	}
}

func isAuthOptionKey(k string) bool {
	switch k {
	case "passwordAuth", "otp", "mfa", "authToken", "verificationToken", "passwordResetToken", "emailChangeToken", "fileToken":
		return true
	}
	return false
}
