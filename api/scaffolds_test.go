package api_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// userToken creates an account in users and logs it in.
func userToken(t *testing.T, s *testkit.Server) string {
	t.Helper()
	s.Do("POST", "/api/collections/users/records", "", map[string]any{
		"email": "ann@example.com", "password": "ann-password-1", "passwordConfirm": "ann-password-1"}, 200, nil)
	var auth struct{ Token string }
	s.Do("POST", "/api/collections/users/auth-with-password", "",
		map[string]any{"identity": "ann@example.com", "password": "ann-password-1"}, 200, &auth)
	return auth.Token
}

func fieldNames(fields []map[string]any) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f["name"].(string))
	}
	return out
}

// GET /api/collections/meta/scaffolds: the SDK's collections.getScaffolds().
func TestCollectionScaffolds(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		s.Do("GET", "/api/collections/meta/scaffolds", "", nil, 401, nil)
		s.Do("GET", "/api/collections/meta/scaffolds", userToken(t, s), nil, 403, nil)

		var raw map[string]json.RawMessage
		r := s.Super("GET", "/api/collections/meta/scaffolds", nil, 200, &raw)
		if strings.Contains(string(r.Body), `"secret"`) || strings.Contains(string(r.Body), "clientSecret") {
			t.Errorf("scaffolds show secrets: %s", r.Body)
		}
		if len(raw) != 3 {
			t.Fatalf("scaffold types: %s", r.Body)
		}
		type scaffold struct {
			ID, Name, Type, Created, Updated string
			System                           bool
			Fields                           []map[string]any
			Indexes                          []string
			ListRule                         *string
			ViewQuery                        *string
			AuthRule                         *string
			PasswordAuth                     *struct {
				Enabled        bool
				IdentityFields []string
			}
			AuthToken *struct{ Duration int }
			OAuth2    *struct {
				Enabled   bool
				Providers []any
			}
		}
		sc := map[string]scaffold{}
		for typ, b := range raw {
			var c scaffold
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			if c.Type != typ || c.ID != "" || c.Name != "" || c.System || c.ListRule != nil || c.Indexes == nil || c.Fields == nil {
				t.Errorf("%s scaffold: %s", typ, b)
			}
			sc[typ] = c
		}
		if got := fieldNames(sc["base"].Fields); !slices.Equal(got, []string{"id", "created", "updated"}) {
			t.Errorf("base fields %v", got)
		}
		id := sc["base"].Fields[0]
		if id["primaryKey"] != true || id["system"] != true || id["autogeneratePattern"] != "[a-z0-9]{15}" {
			t.Errorf("id field %v", id)
		}
		auth := sc["auth"]
		if got := fieldNames(auth.Fields); !slices.Equal(got, []string{"id", "password", "tokenKey", "email", "emailVisibility", "verified", "created", "updated"}) {
			t.Errorf("auth fields %v", got)
		}
		if auth.Fields[1]["hidden"] != true || auth.Fields[1]["type"] != "password" {
			t.Errorf("password field %v", auth.Fields[1])
		}
		if auth.AuthRule == nil || *auth.AuthRule != "" || auth.PasswordAuth == nil || !auth.PasswordAuth.Enabled ||
			!slices.Equal(auth.PasswordAuth.IdentityFields, []string{"email"}) || auth.AuthToken == nil || auth.AuthToken.Duration != 604800 ||
			auth.OAuth2 == nil || auth.OAuth2.Enabled || auth.OAuth2.Providers == nil {
			t.Errorf("auth options: %s", raw["auth"])
		}
		if sc["base"].PasswordAuth != nil || sc["base"].ViewQuery != nil {
			t.Errorf("base scaffold has auth or view options: %s", raw["base"])
		}
		if v := sc["view"]; v.ViewQuery == nil || *v.ViewQuery != "" || len(v.Fields) != 0 || v.PasswordAuth != nil {
			t.Errorf("view scaffold: %s", raw["view"])
		}

		// A client fills in a scaffold's name and creates it, as the
		// dashboards do; what it gets is what the scaffold said.
		for _, typ := range []string{"base", "auth"} {
			var def map[string]any
			if err := json.Unmarshal(raw[typ], &def); err != nil {
				t.Fatal(err)
			}
			def["name"] = "from_" + typ
			var made scaffold
			s.Super("POST", "/api/collections", def, 200, &made)
			if !slices.Equal(fieldNames(made.Fields), fieldNames(sc[typ].Fields)) || made.ID == "" {
				t.Errorf("%s created from its scaffold: %+v", typ, made)
			}
			if typ == "auth" && len(made.Indexes) != 2 {
				t.Errorf("auth collection from its scaffold has indexes %v", made.Indexes)
			}
		}
		var view map[string]any
		if err := json.Unmarshal(raw["view"], &view); err != nil {
			t.Fatal(err)
		}
		view["name"], view["viewQuery"], view["listRule"] = "from_view", "SELECT id, created FROM from_base", ""
		var made scaffold
		s.Super("POST", "/api/collections", view, 200, &made)
		if made.Type != "view" || !slices.Equal(fieldNames(made.Fields), []string{"id", "created"}) {
			t.Errorf("view created from its scaffold: %+v", made)
		}
		s.Do("GET", "/api/collections/from_view/records", "", nil, 200, nil)
		s.Super("POST", "/api/collections/from_auth/records", map[string]any{
			"email": "bo@example.com", "password": "bo-password-1", "passwordConfirm": "bo-password-1"}, 200, nil)
		s.Super("POST", "/api/collections/from_auth/records", map[string]any{
			"email": "BO@example.com", "password": "bo-password-1", "passwordConfirm": "bo-password-1"}, 400, nil)
		s.Do("POST", "/api/collections/from_auth/auth-with-password", "",
			map[string]any{"identity": "bo@example.com", "password": "bo-password-1"}, 200, nil)

		// A collection may be named meta: its own routes still answer.
		s.Super("POST", "/api/collections", map[string]any{"name": "meta", "listRule": "",
			"fields": []map[string]any{{"name": "title", "type": "text"}}}, 200, nil)
		s.Super("POST", "/api/collections/meta/records", map[string]any{"title": "hi"}, 200, nil)
		var l list
		s.Do("GET", "/api/collections/meta/records", "", nil, 200, &l)
		var meta struct{ Name string }
		s.Super("GET", "/api/collections/meta", nil, 200, &meta)
		if l.TotalItems != 1 || meta.Name != "meta" {
			t.Errorf("collection named meta: %+v %+v", l, meta)
		}
	})
}

// GET /api/collections/meta/oauth2-providers: the SDK's
// collections.getAllOAuth2Providers().
func TestOAuth2ProviderPresets(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		s.Do("GET", "/api/collections/meta/oauth2-providers", "", nil, 401, nil)
		s.Do("GET", "/api/collections/meta/oauth2-providers", userToken(t, s), nil, 403, nil)

		var presets []map[string]any
		s.Super("GET", "/api/collections/meta/oauth2-providers", nil, 200, &presets)
		var names []string
		for _, p := range presets {
			for _, key := range []string{"name", "displayName", "logo"} {
				if _, ok := p[key].(string); !ok {
					t.Errorf("preset %v lacks %s", p, key)
				}
			}
			names = append(names, p["name"].(string))
		}
		for _, want := range []string{"oidc", "google", "github", "microsoft", "apple", "auth0"} {
			if !slices.Contains(names, want) {
				t.Errorf("presets %v lack %s", names, want)
			}
		}

		// Each preset, given the settings it lists as required, is a
		// provider an auth collection accepts; without one, it is refused
		// naming that setting. (A client secret left out of an update is
		// the one kept, since secrets are never shown.)
		for _, p := range presets {
			provider := map[string]any{"name": p["name"]}
			var required []string
			for _, k := range p["required"].([]any) {
				required = append(required, k.(string))
				provider[k.(string)] = "https://id.example.com/" + k.(string)
			}
			set := func(prov map[string]any) map[string]any {
				return map[string]any{"oauth2": map[string]any{"enabled": true, "providers": []any{prov}}}
			}
			s.Super("PATCH", "/api/collections/users", set(provider), 200, nil)
			for _, missing := range required {
				if missing == "clientSecret" {
					continue
				}
				without := map[string]any{}
				for k, v := range provider {
					if k != missing {
						without[k] = v
					}
				}
				var e errBody
				s.Super("PATCH", "/api/collections/users", set(without), 400, &e)
				if _, named := e.Data["oauth2.providers.0."+missing]; !named {
					t.Errorf("%s without %s: %+v", p["name"], missing, e)
				}
			}
		}
	})
}
