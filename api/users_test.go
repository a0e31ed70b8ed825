package api_test

import (
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// usersSchema creates an auth collection "users" open for sign-up whose
// records only their owners see, and an owner-only "notes" collection.
func usersSchema(t testing.TB, s *testkit.Server, authRule any) {
	t.Helper()
	owner := "id = @request.auth.id"
	s.Super("POST", "/api/collections", map[string]any{
		"name": "users", "type": "auth", "createRule": "", "listRule": owner, "viewRule": owner,
		"updateRule": owner, "deleteRule": owner, "authRule": authRule,
		"fields": []map[string]any{{"name": "name", "type": "text"}, {"name": "secret", "type": "text", "hidden": true}},
	}, 200, nil)
	mine := "owner = @request.auth.id"
	s.Super("POST", "/api/collections", map[string]any{
		"name": "notes", "listRule": mine, "viewRule": mine, "createRule": mine, "updateRule": mine, "deleteRule": mine,
		"fields": []map[string]any{
			{"name": "text", "type": "text"},
			{"name": "owner", "type": "relation", "collectionId": "users", "maxSelect": 1, "required": true},
			{"name": "about", "type": "relation", "collectionId": "users", "maxSelect": 1},
		},
	}, 200, nil)
}

type authed struct {
	Token  string
	Record map[string]any
}

func signUp(t *testing.T, s *testkit.Server, email, password string) authed {
	t.Helper()
	var rec map[string]any
	s.Do("POST", "/api/collections/users/records", "", map[string]any{
		"email": email, "password": password, "passwordConfirm": password, "name": email,
	}, 200, &rec)
	var a authed
	s.Do("POST", "/api/collections/users/auth-with-password", "", map[string]any{"identity": email, "password": password}, 200, &a)
	return a
}

func TestSignUpAndLogin(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		// Many sign-ups from one address follow: lift the per-IP limit.
		s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"rules": []any{
			map[string]any{"label": "signup", "maxRequests": 100, "duration": 60}}}}, 200, nil)
		path := "/api/collections/users/records"
		for name, body := range map[string]map[string]any{
			"no confirm":   {"email": "x1@example.com", "password": "password-123"},
			"mismatch":     {"email": "x2@example.com", "password": "password-123", "passwordConfirm": "password-124"},
			"short":        {"email": "x3@example.com", "password": "short", "passwordConfirm": "short"},
			"self-verify":  {"email": "x4@example.com", "password": "password-123", "passwordConfirm": "password-123", "verified": true},
			"set tokenKey": {"email": "x5@example.com", "password": "password-123", "passwordConfirm": "password-123", "tokenKey": "mine"},
			"bad email":    {"email": "not-an-email", "password": "password-123", "passwordConfirm": "password-123"},
		} {
			if r := s.Request("POST", path, "", body); r.Status != 400 {
				t.Errorf("%s: status %d %s", name, r.Status, r.Body)
			}
		}
		a := signUp(t, s, "ann@example.com", "ann-password-1")
		if a.Token == "" || a.Record["email"] != "ann@example.com" || a.Record["verified"] != false {
			t.Fatalf("login: %+v", a)
		}
		for _, leak := range []string{"password", "tokenKey", "secret"} {
			if _, ok := a.Record[leak]; ok {
				t.Errorf("%s in auth response", leak)
			}
		}
		// The same email, in any case, cannot sign up twice.
		var e errBody
		s.Do("POST", path, "", map[string]any{"email": "ANN@example.com", "password": "password-123", "passwordConfirm": "password-123"}, 400, &e)
		if e.Data["email"].Code != "validation_not_unique" {
			t.Errorf("duplicate sign-up: %+v", e)
		}
		s.Do("POST", "/api/collections/users/auth-with-password", "", map[string]any{"identity": "ann@example.com", "password": "wrong-password"}, 400, nil)
		// A user token is no superuser token.
		s.Do("GET", "/api/collections", a.Token, nil, 403, nil)
		var refreshed authed
		s.Do("POST", "/api/collections/users/auth-refresh", a.Token, nil, 200, &refreshed)
		s.Do("POST", "/api/collections/_superusers/auth-refresh", a.Token, nil, 401, nil)
	})
}

func TestAuthRule(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "verified = true")
		s.Do("POST", "/api/collections/users/records", "", map[string]any{
			"email": "bob@example.com", "password": "bob-password-1", "passwordConfirm": "bob-password-1"}, 200, nil)
		login := map[string]any{"identity": "bob@example.com", "password": "bob-password-1"}
		s.Do("POST", "/api/collections/users/auth-with-password", "", login, 400, nil)
		var l list
		s.Super("GET", "/api/collections/users/records", nil, 200, &l)
		s.Super("PATCH", "/api/collections/users/records/"+l.Items[0]["id"].(string), map[string]any{"verified": true}, 200, nil)
		s.Do("POST", "/api/collections/users/auth-with-password", "", login, 200, nil)
	})
}

// Security case 1: user B can neither see nor change user A's records, and
// filters give B no oracle on A's data.
func TestOwnerOnlyRecords(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		a := signUp(t, s, "a@example.com", "a-password-123")
		b := signUp(t, s, "b@example.com", "b-password-123")
		aID, bID := a.Record["id"].(string), b.Record["id"].(string)
		var note map[string]any
		s.Do("POST", "/api/collections/notes/records", a.Token, map[string]any{"text": "a's secret", "owner": aID}, 200, &note)
		noteID := note["id"].(string)
		// B cannot create a note in A's name.
		s.Do("POST", "/api/collections/notes/records", b.Token, map[string]any{"text": "forged", "owner": aID}, 400, nil)
		var bNote map[string]any
		s.Do("POST", "/api/collections/notes/records", b.Token, map[string]any{"text": "b's", "owner": bID, "about": aID}, 200, &bNote)

		var l list
		s.Do("GET", "/api/collections/notes/records", b.Token, nil, 200, &l)
		if l.TotalItems != 1 || ids(l)[0] != bNote["id"] {
			t.Errorf("B lists: %+v", l)
		}
		// The same answer whether or not the filter matches A's note.
		for _, f := range []string{"text ~ 'secret'", "text ~ 'zzz'", "owner.email ~ 'a@'"} {
			var fl list
			s.Do("GET", "/api/collections/notes/records?filter="+q(f), b.Token, nil, 200, &fl)
			if fl.TotalItems != 0 && !(len(fl.Items) == 1 && fl.Items[0]["id"] == bNote["id"]) {
				t.Errorf("filter %q leaks: %+v", f, fl)
			}
		}
		s.Do("GET", "/api/collections/notes/records/"+noteID, b.Token, nil, 404, nil)
		s.Do("PATCH", "/api/collections/notes/records/"+noteID, b.Token, map[string]any{"text": "x"}, 404, nil)
		s.Do("DELETE", "/api/collections/notes/records/"+noteID, b.Token, nil, 404, nil)
		s.Do("GET", "/api/collections/users/records/"+aID, b.Token, nil, 404, nil)
		s.Do("PATCH", "/api/collections/users/records/"+aID, b.Token, map[string]any{"name": "pwned"}, 404, nil)
		s.Do("DELETE", "/api/collections/users/records/"+aID, b.Token, nil, 404, nil)
		// Expanding a relation to a record B may not view leaves it out.
		var exp map[string]any
		s.Do("GET", "/api/collections/notes/records/"+bNote["id"].(string)+"?expand=about", b.Token, nil, 200, &exp)
		if _, ok := exp["expand"]; ok {
			t.Errorf("expand shows A's record to B: %v", exp)
		}
		// Hidden fields are unknown to B's filters: no oracle.
		r1 := s.Request("GET", "/api/collections/users/records?filter="+q("secret = 'x'"), b.Token, nil)
		r2 := s.Request("GET", "/api/collections/users/records?filter="+q("nosuchfield = 'x'"), b.Token, nil)
		if r1.Status != 400 || r2.Status != 400 {
			t.Errorf("hidden vs unknown field: %d %d", r1.Status, r2.Status)
		}
		// A still sees and changes their own.
		s.Do("GET", "/api/collections/notes/records/"+noteID, a.Token, nil, 200, nil)
		s.Do("PATCH", "/api/collections/notes/records/"+noteID, a.Token, map[string]any{"text": "y"}, 200, nil)
	})
}

// Security case 2: users cannot set protected auth fields.
func TestProtectedAuthFields(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		a := signUp(t, s, "a@example.com", "a-password-123")
		id := a.Record["id"].(string)
		path := "/api/collections/users/records/" + id
		for name, body := range map[string]map[string]any{
			"verified":             {"verified": true},
			"tokenKey":             {"tokenKey": "x"},
			"email":                {"email": "new@example.com"},
			"password without old": {"password": "new-password-1", "passwordConfirm": "new-password-1"},
			"password wrong old":   {"password": "new-password-1", "passwordConfirm": "new-password-1", "oldPassword": "nope-nope-nope"},
		} {
			if r := s.Request("PATCH", path, a.Token, body); r.Status != 400 {
				t.Errorf("%s: status %d %s", name, r.Status, r.Body)
			}
		}
		s.Do("PATCH", path, a.Token, map[string]any{"emailVisibility": true, "name": "Ann"}, 200, nil)
		s.Do("PATCH", path, a.Token, map[string]any{"password": "new-password-1", "passwordConfirm": "new-password-1", "oldPassword": "a-password-123"}, 200, nil)
		// The password change signed out the old token.
		s.Do("POST", "/api/collections/users/auth-refresh", a.Token, nil, 401, nil)
		s.Do("POST", "/api/collections/users/auth-with-password", "", map[string]any{"identity": "a@example.com", "password": "new-password-1"}, 200, nil)
		// A superuser manages: verify and change the email directly.
		s.Super("PATCH", path, map[string]any{"verified": true, "email": "ann@example.com"}, 200, nil)
	})
}

func TestImpersonate(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		a := signUp(t, s, "a@example.com", "a-password-123")
		id := a.Record["id"].(string)
		var imp authed
		s.Super("POST", "/api/collections/users/impersonate/"+id, map[string]any{"duration": 120}, 200, &imp)
		if imp.Record["id"] != id || imp.Token == "" {
			t.Fatalf("impersonate: %+v", imp)
		}
		s.Do("GET", "/api/collections/users/records/"+id, imp.Token, nil, 200, nil)
		s.Do("POST", "/api/collections/users/auth-refresh", imp.Token, nil, 403, nil)
		s.Do("POST", "/api/collections/users/impersonate/"+id, a.Token, nil, 403, nil)
		s.Do("POST", "/api/collections/users/impersonate/"+id, "", nil, 401, nil)
		s.Super("POST", "/api/collections/users/impersonate/"+id, map[string]any{"duration": -5}, 400, nil)
		s.Super("POST", "/api/collections/users/impersonate/nope", nil, 404, nil)
		s.Super("POST", "/api/collections/notes/impersonate/"+id, nil, 400, nil)
	})
}

// Security case 6: password guessing is throttled per client IP and per
// account; forwarded headers from untrusted peers change nothing.
func TestLoginThrottled(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		signUp(t, s, "victim@example.com", "victim-password-1")
		path := "/api/collections/users/auth-with-password"
		guess := func(identity, xff string) testkit.Response {
			return s.RequestWithHeaders("POST", path, map[string]string{"X-Forwarded-For": xff},
				map[string]any{"identity": identity, "password": "wrong-guess-123"})
		}
		// Per IP: 10 an hour here (the default is 10 a minute: an hour keeps
		// a slow run, such as under the race detector, from refilling it
		// between guesses), whatever identities or spoofed X-Forwarded-For
		// headers the guesses carry; one login above already counts.
		s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"rules": []any{
			map[string]any{"label": "auth", "maxRequests": 10, "duration": 3600}}}}, 200, nil)
		limited := 0
		for i := range 12 {
			r := guess("someone"+string(rune('a'+i))+"@example.com", "198.51.100."+string(rune('1'+i%9)))
			if r.Status == 429 {
				limited++
				if r.Header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
			}
		}
		if limited < 2 {
			t.Errorf("per-IP limit: %d of 12 guesses refused", limited)
		}
		// Behind a trusted proxy, clients are told apart by X-Forwarded-For,
		// and the per-account limit still stops a distributed guess.
		s.Super("PATCH", "/api/settings", map[string]any{"trustedProxies": []string{"127.0.0.1", "::1"}}, 200, nil)
		accountLimited := false
		for i := range 12 {
			r := guess("Victim@Example.com", "203.0.113."+string(rune('1'+i%9))+"0")
			if r.Status == 429 {
				accountLimited = true
			}
		}
		if !accountLimited {
			t.Errorf("per-account limit never applied")
		}
		// Another client behind the proxy, for another account, still gets in.
		signUpFrom := s.RequestWithHeaders("POST", path, map[string]string{"X-Forwarded-For": "192.0.2.99"},
			map[string]any{"identity": "victim2@example.com", "password": "x-password-123"})
		if signUpFrom.Status == 429 {
			t.Errorf("unrelated client throttled")
		}
	})
}
