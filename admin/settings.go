package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/api"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/settings"
)

// The settings page: one form per section (application, SMTP, S3, rate
// limits, batch, addresses), each saved as a JSON patch through
// settings.Service.UpdateSettingsChecked, as PATCH /api/settings is, so the
// service validates every key and seals the secrets. Secrets (the SMTP
// password, the S3 secret) are never put in the page: their inputs are
// always empty, and an empty one keeps the stored secret. OAuth2 providers
// and token durations belong to each auth collection: settings_auth.go.

// settingsRoutes registers the settings pages.
func (a *Admin) settingsRoutes() {
	a.page("GET /admin/settings", a.settingsPage)
	a.page("POST /admin/settings/test-email", a.settingsTestEmail)
	a.page("POST /admin/settings/test-s3", a.settingsTestS3)
	a.page("POST /admin/settings/{section}", a.settingsSave)
	a.authSettingsRoutes()
}

// settingsView is the settings page, after a failed save with the
// submitted section's values and errors.
type settingsView struct {
	S settings.Settings
	// Section is the section Form, Errors and Message belong to.
	Section string
	Form    url.Values
	opsErrs
	Message string
	// Rules are the rate limit rules' rows, with blank ones to add more.
	Rules []ruleRow
	// The test email form.
	TestEmail, TestTemplate string
	Templates               []string
	// Mailbox: mail goes to the dev mailbox now (no SMTP server).
	Mailbox bool
}

func (settingsView) title() (string, string) { return "Settings", "settings" }

// ruleRow is one row of the rate limit rules' table.
type ruleRow struct {
	Index                          int
	Label, Audience, Max, Duration string
	Remove                         bool
}

// blankRules is how many empty rows the rules table offers for new rules.
const blankRules = 3

// maxFormRules bounds the rule rows read from a form (the settings allow
// 1000 rules).
const maxFormRules = 1000 + blankRules

// settingsSection is the section a field belongs to, by its name.
func settingsSection(name string) string {
	for _, s := range []struct{ prefix, section string }{
		{"meta.", "app"}, {"smtp.", "smtp"}, {"test.", "smtp"}, {"s3.", "s3"}, {"rateLimits.", "limits"}, {"batch.", "batch"},
		{"trustedProxies", "addresses"}, {"trustedProxy.", "addresses"}, {"superuserIPs", "addresses"},
	} {
		if strings.HasPrefix(name, s.prefix) {
			return s.section
		}
	}
	return ""
}

// submitted reports whether name's value is to be shown as submitted.
func (v settingsView) submitted(name string) bool {
	return v.Form != nil && settingsSection(name) == v.Section
}

// Val is the value to show in the input name: as submitted after a failed
// save of its section, else cur.
func (v settingsView) Val(name string, cur any) string {
	if v.submitted(name) {
		return v.Form.Get(name)
	}
	if list, ok := cur.([]string); ok {
		return strings.Join(list, "\n")
	}
	return fmt.Sprint(cur)
}

// On is whether the checkbox name is to be shown checked.
func (v settingsView) On(name string, cur bool) bool {
	if v.submitted(name) {
		return opsOn(v.Form.Get(name))
	}
	return cur
}

// SectionMessage is the message of section s ("" for another section).
func (v settingsView) SectionMessage(s string) string {
	if v.Section != s {
		return ""
	}
	return v.Message
}

func (a *Admin) settingsPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	v, err := a.settingsView(r, "", nil)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "settings.html", sess, v)
	return nil
}

// settingsView is the page with the stored settings; section and form,
// when set, are a failed save's, shown again.
func (a *Admin) settingsView(r *http.Request, section string, form url.Values) (*settingsView, error) {
	st, err := a.opts.Settings.Settings(r.Context())
	if err != nil {
		return nil, err
	}
	v := &settingsView{S: st, Section: section, Form: form, opsErrs: opsErrs{}, TestTemplate: "verification",
		Mailbox: !st.SMTP.Enabled && a.opts.Settings.Mailbox() != nil}
	for name := range settings.TestTemplates {
		v.Templates = append(v.Templates, name)
	}
	slices.Sort(v.Templates)
	if r.PostForm.Has("test.email") {
		v.TestEmail, v.TestTemplate = r.PostForm.Get("test.email"), r.PostForm.Get("test.template")
	}
	if form != nil && section == "limits" {
		f := &opsForm{v: form}
		n := f.count("rateLimits.rules.count", maxFormRules)
		for i := range n {
			p := "rateLimits.rules." + strconv.Itoa(i) + "."
			v.Rules = append(v.Rules, ruleRow{Index: i, Label: form.Get(p + "label"), Audience: form.Get(p + "audience"),
				Max: form.Get(p + "maxRequests"), Duration: form.Get(p + "duration"), Remove: opsOn(form.Get(p + "remove"))})
		}
	} else {
		for i, rule := range st.RateLimits.Rules {
			v.Rules = append(v.Rules, ruleRow{Index: i, Label: rule.Label, Audience: rule.Audience,
				Max: strconv.Itoa(rule.MaxRequests), Duration: strconv.FormatInt(rule.Duration, 10)})
		}
		for range blankRules {
			v.Rules = append(v.Rules, ruleRow{Index: len(v.Rules)})
		}
	}
	return v, nil
}

// settingsFailed shows the page again with the submitted section's values
// and its errors, with status 400.
func (a *Admin) settingsFailed(w http.ResponseWriter, r *http.Request, sess *session, section string, form url.Values, errs map[string]string, msg string) error {
	v, err := a.settingsView(r, section, form)
	if err != nil {
		return err
	}
	if errs != nil {
		v.opsErrs = errs
	}
	v.Message = msg
	if msg == "" && len(errs) > 0 && form != nil {
		v.Message = "The settings were not saved: correct the fields marked below."
	}
	a.render(w, r, http.StatusBadRequest, "settings.html", sess, v)
	return nil
}

// settingsSave saves one section of the settings.
func (a *Admin) settingsSave(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := parseForm(w, r, 256<<10); err != nil {
		return err
	}
	section := r.PathValue("section")
	f := newOpsForm(r)
	var (
		patch map[string]any
		rows  []int // limits: the form row of each rule in the patch
	)
	switch section {
	case "app":
		patch = map[string]any{"meta": map[string]any{
			"appName": f.text("meta.appName"), "appURL": f.text("meta.appURL"),
			"senderName": f.text("meta.senderName"), "senderAddress": f.text("meta.senderAddress"),
		}}
	case "smtp":
		patch = map[string]any{"smtp": map[string]any{
			"enabled": f.on("smtp.enabled"), "host": f.text("smtp.host"), "port": f.int("smtp.port"),
			"username": f.text("smtp.username"), "password": f.raw("smtp.password"),
			"authMethod": f.text("smtp.authMethod"), "tls": f.on("smtp.tls"), "localName": f.text("smtp.localName"),
		}}
	case "s3":
		patch = map[string]any{"s3": map[string]any{
			"enabled": f.on("s3.enabled"), "bucket": f.text("s3.bucket"), "region": f.text("s3.region"),
			"endpoint": f.text("s3.endpoint"), "accessKey": f.text("s3.accessKey"), "secret": f.raw("s3.secret"),
			"forcePathStyle": f.on("s3.forcePathStyle"),
		}}
	case "limits":
		rules := []map[string]any{}
		for i := range f.count("rateLimits.rules.count", maxFormRules) {
			p := "rateLimits.rules." + strconv.Itoa(i) + "."
			if f.text(p+"label") == "" || f.on(p+"remove") {
				continue // a blank row, or one to remove
			}
			rules = append(rules, map[string]any{"label": f.text(p + "label"), "audience": f.text(p + "audience"),
				"maxRequests": f.int(p + "maxRequests"), "duration": f.int(p + "duration")})
			rows = append(rows, i)
		}
		patch = map[string]any{"rateLimits": map[string]any{
			"enabled": f.on("rateLimits.enabled"), "excludedIPs": f.lines("rateLimits.excludedIPs"), "rules": rules,
		}}
	case "batch":
		patch = map[string]any{"batch": map[string]any{
			"enabled": f.on("batch.enabled"), "maxRequests": f.int("batch.maxRequests"),
			"timeout": f.int("batch.timeout"), "maxBodySize": f.int("batch.maxBodySize"),
		}}
	case "addresses":
		patch = map[string]any{
			"trustedProxies": f.lines("trustedProxies"),
			"trustedProxy":   map[string]any{"headers": f.lines("trustedProxy.headers"), "useLeftmostIP": f.on("trustedProxy.useLeftmostIP")},
			"superuserIPs":   f.lines("superuserIPs"),
		}
	default:
		return core.NotFound("There is no such settings section.")
	}
	if len(f.errs) > 0 {
		return a.settingsFailed(w, r, sess, section, r.PostForm, opsFieldErrors(f.errs), "")
	}
	body, err := json.Marshal(patch)
	if err != nil {
		return core.Internal(err, "encode settings")
	}
	if _, err := a.opts.Settings.UpdateSettingsChecked(r.Context(), body, api.SuperuserLockout(r)); err != nil {
		fields, msg, ok := opsInvalid(err)
		if !ok {
			return err
		}
		if section == "limits" {
			fields = opsRemap(fields, "rateLimits.rules.", rows)
		}
		return a.settingsFailed(w, r, sess, section, r.PostForm, fields, msg)
	}
	a.log.Info("admin changed settings", "section", section, "superuser", sess.rec.ID())
	opsSeeOther(w, r, "/admin/settings#"+section, "The settings were saved.")
	return nil
}

// settingsTestEmail sends a sample mail through the mailer mail goes
// through now (the SMTP server, or the dev mailbox), as POST
// /api/settings/test/email does.
func (a *Admin) settingsTestEmail(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := parseForm(w, r, 64<<10); err != nil {
		return err
	}
	to := strings.TrimSpace(r.PostFormValue("test.email"))
	errs := map[string]string{}
	if addr, err := mail.ParseAddress(to); err != nil || addr.Address != to {
		errs["test.email"] = "Must be a valid email address."
	}
	kind, ok := settings.TestTemplates[r.PostFormValue("test.template")]
	if !ok {
		errs["test.template"] = "Choose one of the kinds of mail."
	}
	if len(errs) > 0 {
		return a.settingsFailed(w, r, sess, "smtp", nil, errs, "")
	}
	if err := a.opts.Settings.SendTestMail(r.Context(), kind, to); err != nil {
		// The superuser is testing the mail settings: the mailer's own
		// words (a refused login, an unreachable host) are the answer.
		return a.settingsFailed(w, r, sess, "smtp", nil, nil, "Failed to send the test email: "+strings.TrimSuffix(err.Error(), ".")+".")
	}
	msg := "A test email was sent to " + to + "."
	if st, err := a.opts.Settings.Settings(r.Context()); err == nil && !st.SMTP.Enabled {
		msg += " Without an SMTP server it is in the Mailbox."
	}
	opsSeeOther(w, r, "/admin/settings#smtp", msg)
	return nil
}

// settingsTestS3 checks the file storage's S3 settings by writing an
// object to the bucket and deleting it, as POST /api/settings/test/s3 does.
func (a *Admin) settingsTestS3(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := a.opts.Settings.CheckS3(r.Context(), "storage"); err != nil {
		if _, msg, ok := opsInvalid(err); ok {
			return a.settingsFailed(w, r, sess, "s3", nil, nil, msg)
		}
		return err
	}
	opsSeeOther(w, r, "/admin/settings#s3", "The S3 bucket answered: an object was written to it and deleted.")
	return nil
}
