package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tortoise-dev/tortoise/auth/oauth2"
	"github.com/tortoise-dev/tortoise/core"
)

// The settings of each auth collection that the issue lists under
// Settings: how long its tokens live (the superusers' own session among
// them) and its OAuth2 providers. They live in the collection's options,
// so they are saved through collections.Service.Update with a partial
// collection, as PATCH /api/collections/{collection} is. Client secrets
// are write-only: the page only ever sees the collection's public options,
// and a provider saved with an empty secret keeps its stored one (the
// service's KeepSecrets).

func (a *Admin) authSettingsRoutes() {
	a.page("GET /admin/settings/auth", a.authSettingsList)
	a.page("GET /admin/settings/auth/{collection}", a.authSettingsPage)
	a.page("POST /admin/settings/auth/{collection}/{section}", a.authSettingsSave)
}

// tokenKinds are an auth collection's tokens, in the order shown.
var tokenKinds = []struct{ Key, Label, Hint string }{
	{"authToken", "Sign-in token", "How long a sign-in lasts (on _superusers: an admin session). 60 seconds to 10 years."},
	{"verificationToken", "Email verification token", ""},
	{"passwordResetToken", "Password reset token", ""},
	{"emailChangeToken", "Email change token", ""},
	{"fileToken", "Protected file token", ""},
}

// authListView lists the auth collections.
type authListView struct {
	Collections []authRow
}

type authRow struct {
	Name          string
	System        bool
	AuthToken     int64
	OAuth2Enabled bool
	Providers     []string
}

func (authListView) title() (string, string) { return "Auth collections · Settings", "settings" }

func (a *Admin) authSettingsList(w http.ResponseWriter, r *http.Request, sess *session) error {
	var v authListView
	for _, c := range a.opts.Service.Schema().List() {
		if !c.IsAuth() || c.Auth == nil {
			continue
		}
		pub := c.Auth.Public()
		row := authRow{Name: c.Name, System: c.System, AuthToken: pub.AuthToken.Duration, OAuth2Enabled: pub.OAuth2.Enabled}
		for _, p := range pub.OAuth2.Providers {
			row.Providers = append(row.Providers, p.Name)
		}
		v.Collections = append(v.Collections, row)
	}
	a.render(w, r, http.StatusOK, "settings_auth_list.html", sess, v)
	return nil
}

// authView is one auth collection's token durations and OAuth2 providers,
// after a failed save with what was submitted.
type authView struct {
	Name      string
	Superuser bool // the _superusers collection: no OAuth2 here
	Tokens    []tokenRow
	OAuth2    bool
	Providers []providerRow
	Presets   []oauth2.Preset
	Section   string
	Message   string
	opsErrs
}

type tokenRow struct {
	Key, Label, Hint, Value string
}

// providerRow is one provider's row; New rows are blank, to add one.
type providerRow struct {
	Index                                     int
	New, Remove                               bool
	Name, DisplayName, ClientID, DiscoveryURL string
	AuthURL, TokenURL, UserInfoURL            string
}

func (v authView) title() (string, string) { return v.Name + " · Auth settings", "settings" }

// SectionMessage is the message of section s ("" for another section).
func (v authView) SectionMessage(s string) string {
	if v.Section != s {
		return ""
	}
	return v.Message
}

// authCollection is the auth collection named in the path.
func (a *Admin) authCollection(r *http.Request) (*core.Collection, error) {
	c, err := a.opts.Service.Collection(r.PathValue("collection"))
	if err != nil {
		return nil, err
	}
	if !c.IsAuth() || c.Auth == nil {
		return nil, core.NotFound("%q is not an auth collection.", c.Name)
	}
	return c, nil
}

func (a *Admin) authSettingsPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.authCollection(r)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "settings_auth.html", sess, a.authView(c, "", nil))
	return nil
}

// authView builds the page from c's public options (no secret is ever in
// them); form, for section, is a failed save's, shown again.
func (a *Admin) authView(c *core.Collection, section string, form url.Values) *authView {
	pub := c.Auth.Public()
	v := &authView{Name: c.Name, Superuser: c.Name == core.SuperusersName, OAuth2: pub.OAuth2.Enabled,
		Presets: oauth2.Presets(), Section: section, opsErrs: opsErrs{}}
	durations := map[string]int64{
		"authToken": pub.AuthToken.Duration, "verificationToken": pub.VerificationToken.Duration,
		"passwordResetToken": pub.PasswordResetToken.Duration, "emailChangeToken": pub.EmailChangeToken.Duration,
		"fileToken": pub.FileToken.Duration,
	}
	for _, k := range tokenKinds {
		row := tokenRow{Key: k.Key, Label: k.Label, Hint: k.Hint, Value: strconv.FormatInt(durations[k.Key], 10)}
		if section == "tokens" && form != nil {
			row.Value = form.Get(k.Key)
		}
		v.Tokens = append(v.Tokens, row)
	}
	if section == "oauth2" && form != nil {
		v.OAuth2 = opsOn(form.Get("oauth2.enabled"))
		f := &opsForm{v: form}
		for i := range f.count("oauth2.providers.count", maxFormProviders) {
			v.Providers = append(v.Providers, providerFromForm(f, i))
		}
		return v
	}
	for i, p := range pub.OAuth2.Providers {
		v.Providers = append(v.Providers, providerRow{Index: i, Name: p.Name, DisplayName: p.DisplayName, ClientID: p.ClientID,
			DiscoveryURL: p.DiscoveryURL, AuthURL: p.AuthURL, TokenURL: p.TokenURL, UserInfoURL: p.UserInfoURL})
	}
	v.Providers = append(v.Providers, providerRow{Index: len(v.Providers), New: true})
	return v
}

// maxFormProviders bounds the provider rows read from a form.
const maxFormProviders = 100

func providerFromForm(f *opsForm, i int) providerRow {
	p := "oauth2.providers." + strconv.Itoa(i) + "."
	return providerRow{Index: i, New: !f.on(p + "existing"), Remove: f.on(p + "remove"),
		Name: f.text(p + "name"), DisplayName: f.text(p + "displayName"), ClientID: f.text(p + "clientId"),
		DiscoveryURL: f.text(p + "discoveryURL"), AuthURL: f.text(p + "authURL"), TokenURL: f.text(p + "tokenURL"),
		UserInfoURL: f.text(p + "userInfoURL")}
}

// authSettingsSave saves the token durations ("tokens") or the OAuth2
// providers ("oauth2") of an auth collection.
func (a *Admin) authSettingsSave(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.authCollection(r)
	if err != nil {
		return err
	}
	if err := parseForm(w, r, 256<<10); err != nil {
		return err
	}
	section := r.PathValue("section")
	f := newOpsForm(r)
	patch := map[string]any{}
	var rows []int
	switch section {
	case "tokens":
		for _, k := range tokenKinds {
			d := f.int(k.Key)
			if _, bad := f.errs[k.Key]; !bad && d < 1 {
				f.errs.Add(k.Key, "validation_min_number_constraint", "Must be at least 1 second.")
			}
			patch[k.Key] = map[string]any{"duration": d}
		}
	case "oauth2":
		if c.Name == core.SuperusersName {
			return core.Invalid("Superusers sign in with their password; OAuth2 is not offered for them here.")
		}
		pub := c.Auth.Public()
		current := map[string]core.OAuth2Provider{}
		for _, p := range pub.OAuth2.Providers {
			current[p.Name] = p
		}
		providers := []map[string]any{}
		for i := range f.count("oauth2.providers.count", maxFormProviders) {
			row := providerFromForm(f, i)
			secret := f.raw("oauth2.providers." + strconv.Itoa(i) + ".clientSecret")
			if row.Remove || row.New && row == (providerRow{Index: i, New: true}) && secret == "" {
				continue // to remove, or the blank row
			}
			p := map[string]any{"name": row.Name, "displayName": row.DisplayName, "clientId": row.ClientID,
				"discoveryURL": row.DiscoveryURL, "authURL": row.AuthURL, "tokenURL": row.TokenURL, "userInfoURL": row.UserInfoURL}
			if secret != "" {
				p["clientSecret"] = secret
			}
			// What this page does not edit stays as it is.
			if cur, ok := current[row.Name]; ok && !row.New {
				if cur.PKCE != nil {
					p["pkce"] = *cur.PKCE
				}
				if cur.Extra != nil {
					p["extra"] = cur.Extra
				}
			}
			providers = append(providers, p)
			rows = append(rows, i)
		}
		patch["oauth2"] = map[string]any{"enabled": f.on("oauth2.enabled"), "mappedFields": pub.OAuth2.MappedFields, "providers": providers}
	default:
		return core.NotFound("There is no such section.")
	}
	failed := func(errs map[string]string, msg string) error {
		v := a.authView(c, section, r.PostForm)
		v.opsErrs, v.Message = errs, msg
		if msg == "" {
			v.Message = "Nothing was saved: correct the fields marked below."
		}
		a.render(w, r, http.StatusBadRequest, "settings_auth.html", sess, v)
		return nil
	}
	if len(f.errs) > 0 {
		return failed(opsFieldErrors(f.errs), "")
	}
	body, err := json.Marshal(patch)
	if err != nil {
		return core.Internal(err, "encode collection")
	}
	if _, err := a.opts.Collections.Update(r.Context(), c.ID, body); err != nil {
		fields, msg, ok := opsInvalid(err)
		if !ok {
			return err
		}
		if section == "oauth2" {
			fields = opsRemap(fields, "oauth2.providers.", rows)
		}
		return failed(fields, msg)
	}
	a.log.Info("admin changed auth settings", "collection", c.Name, "section", section, "superuser", sess.rec.ID())
	opsSeeOther(w, r, "/admin/settings/auth/"+url.PathEscape(c.Name)+"#"+section, "Saved.")
	return nil
}
