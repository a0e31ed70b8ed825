package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/tortoise-dev/tortoise/apikeys"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
)

// The API keys page: the keys (name, prefix, scope, last use — never a
// secret: only its hash is kept), a form to make one, whose answer shows
// the secret once, and revocation after a confirmation page. Through
// apikeys.Service, as /api/keys does.

// keyRoutes registers the keys pages.
func (a *Admin) keyRoutes() {
	a.page("GET /admin/keys", a.keysPage)
	a.page("POST /admin/keys", a.createKey)
	a.page("GET /admin/keys/{id}/revoke", a.revokeKeyPage)
	a.page("POST /admin/keys/{id}/revoke", a.revokeKey)
}

// keysView lists the keys; after a creation, Secret is the new key, shown
// this once.
type keysView struct {
	Keys []keyRow
	// Secret is the key just made, in clear; NewName its name.
	Secret, NewName string
	// The form, with what was sent after a failed creation.
	Name        string
	Superuser   bool
	Write       bool
	Chosen      []string // collections
	Scopes      []string
	Collections []string // the collections a key may be given
	AllScopes   []string
	opsErrs
	Message string
}

type keyRow struct {
	ID, Name, Prefix, Access string
	Created, LastUsed        string
}

func (keysView) title() (string, string) { return "API keys", "keys" }

// Has reports whether list holds s (for checkboxes).
func (keysView) Has(list []string, s string) bool { return slices.Contains(list, s) }

func (a *Admin) keysPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	v, err := a.keysView(r)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "keys.html", sess, v)
	return nil
}

func (a *Admin) keysView(r *http.Request) (*keysView, error) {
	recs, err := a.opts.Keys.List(r.Context())
	if err != nil {
		return nil, err
	}
	schema := a.opts.Service.Schema()
	v := &keysView{AllScopes: []string{service.ScopeJobs, service.ScopeWebhooks}, opsErrs: opsErrs{}}
	for _, c := range schema.List() {
		if !c.System {
			v.Collections = append(v.Collections, c.Name)
		}
	}
	for _, rec := range recs {
		row := keyRow{ID: rec.ID(), Name: rec.String("name"), Prefix: rec.String("prefix"),
			Created: rec.String("created"), LastUsed: rec.String("lastUsed")}
		var key service.APIKey
		raw, _ := rec.Data["scope"].(json.RawMessage)
		if err := json.Unmarshal(raw, &key); err != nil {
			row.Access = "unreadable scope"
		} else {
			row.Access = keyAccess(&key, func(id string) string {
				if c := schema.CollectionByNameOrID(id); c != nil {
					return c.Name
				}
				return id + " (deleted)"
			})
		}
		v.Keys = append(v.Keys, row)
	}
	return v, nil
}

// keyAccess says in words what a key may do.
func keyAccess(k *service.APIKey, name func(id string) string) string {
	if k.Superuser {
		return "superuser"
	}
	var parts []string
	if len(k.Collections) > 0 {
		names := make([]string, len(k.Collections))
		for i, id := range k.Collections {
			names[i] = name(id)
		}
		mode := "read"
		if k.Write {
			mode = "read and write"
		}
		parts = append(parts, mode+": "+strings.Join(names, ", "))
	}
	if len(k.Scopes) > 0 {
		parts = append(parts, "scopes: "+strings.Join(k.Scopes, ", "))
	}
	return strings.Join(parts, "; ")
}

// createKey makes a key and answers with the page showing its secret,
// once (not a redirect: the secret is in no address and no later page).
func (a *Admin) createKey(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := parseForm(w, r, 64<<10); err != nil {
		return err
	}
	in := apikeys.Input{Name: strings.TrimSpace(r.PostFormValue("name")), Superuser: r.PostFormValue("access") == "superuser",
		Write: opsOn(r.PostFormValue("write")), Collections: r.PostForm["collections"], Scopes: r.PostForm["scopes"]}
	if in.Superuser {
		in.Collections, in.Scopes, in.Write = nil, nil, false
	}
	secret, key, err := a.opts.Keys.Create(r.Context(), in)
	if err != nil {
		fields, msg, ok := opsInvalid(err)
		if !ok {
			return err
		}
		v, verr := a.keysView(r)
		if verr != nil {
			return verr
		}
		v.Name, v.Superuser, v.Write, v.Chosen, v.Scopes = in.Name, in.Superuser, in.Write, in.Collections, in.Scopes
		v.opsErrs, v.Message = fields, msg
		if msg == "" {
			v.Message = "The key was not made: correct the fields marked below."
		}
		a.render(w, r, http.StatusBadRequest, "keys.html", sess, v)
		return nil
	}
	a.log.Info("admin made an API key", "key", key.ID, "superuser", sess.rec.ID())
	v, err := a.keysView(r)
	if err != nil {
		return err
	}
	v.Secret, v.NewName = secret, key.Name
	a.render(w, r, http.StatusOK, "keys.html", sess, v)
	return nil
}

// keyTarget is the key named in the path.
func (a *Admin) keyTarget(r *http.Request) (*keyRow, error) {
	v, err := a.keysView(r)
	if err != nil {
		return nil, err
	}
	for _, k := range v.Keys {
		if k.ID == r.PathValue("id") {
			return &k, nil
		}
	}
	return nil, core.NotFound("The API key wasn't found.")
}

// keyRevokeView asks to confirm a revocation.
type keyRevokeView struct{ Key *keyRow }

func (keyRevokeView) title() (string, string) { return "Revoke an API key", "keys" }

func (a *Admin) revokeKeyPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	k, err := a.keyTarget(r)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "keys_revoke.html", sess, keyRevokeView{Key: k})
	return nil
}

func (a *Admin) revokeKey(w http.ResponseWriter, r *http.Request, sess *session) error {
	k, err := a.keyTarget(r)
	if err != nil {
		return err
	}
	if err := a.opts.Keys.Revoke(r.Context(), k.ID); err != nil {
		return err
	}
	a.log.Info("admin revoked an API key", "key", k.ID, "superuser", sess.rec.ID())
	opsSeeOther(w, r, "/admin/keys", "The key "+k.Name+" was revoked: it no longer works.")
	return nil
}
