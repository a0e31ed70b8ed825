package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// Issue 6, findings 1 and 2: the access rules read @request.body as the
// record reads it — modifiers applied, values converted to the field's
// type — so no way of writing a body gets a value past a rule that the
// plain value would not pass. These tests attack a realistic app: an
// open sign-up users collection with an admin-only role, and owner-only
// records guarded by @request.body rules on every field kind that has
// modifiers.

// encodings are the three ways a client can send a record body.
var encodings = []string{"json", "form", "multipart"}

// sendBody sends body in the given encoding with token.
func sendBody(s *testkit.Server, method, path, token, encoding string, body map[string]any) testkit.Response {
	headers := map[string]string{}
	if token != "" {
		headers["Authorization"] = token
	}
	if encoding == "json" {
		b, _ := json.Marshal(body)
		headers["Content-Type"] = "application/json"
		return s.RequestWithHeaders(method, path, headers, b)
	}
	vals := url.Values{}
	for k, v := range body {
		switch x := v.(type) {
		case []string:
			for _, e := range x {
				vals.Add(k, e)
			}
		case string:
			vals.Set(k, x)
		default:
			vals.Set(k, fmt.Sprint(x))
		}
	}
	if encoding == "form" {
		headers["Content-Type"] = "application/x-www-form-urlencoded"
		return s.RequestWithHeaders(method, path, headers, vals.Encode())
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, l := range vals {
		for _, v := range l {
			_ = mw.WriteField(k, v)
		}
	}
	_ = mw.Close()
	headers["Content-Type"] = mw.FormDataContentType()
	return s.RequestWithHeaders(method, path, headers, buf.Bytes())
}

// jsonOnly reports whether body can only be said in JSON (a form value is
// always text, so a JSON number or bool has no exact form spelling).
func jsonOnly(body map[string]any) bool {
	for _, v := range body {
		switch v.(type) {
		case string, []string:
		default:
			return true
		}
	}
	return false
}

// TestIssue6ModifiersCannotBypassBodyRules: every @request.body modifier
// (:isset, :changed, :length, :each, comparisons) sees the resolved value
// of every field kind that has modifiers, on create and on update, in JSON,
// urlencoded and multipart bodies.
func TestIssue6ModifiersCannotBypassBodyRules(t *testing.T) {
	t.Parallel()
	type attack struct {
		name       string
		field      map[string]any
		rule       string         // on top of owner = @request.auth.id
		seed       map[string]any // the stored record an update starts from
		updateOnly bool           // the rule is about a change (:changed)
		refused    []map[string]any
		allowed    []map[string]any // the rule is no wall: these pass
	}
	tags := map[string]any{"name": "tags", "type": "select", "values": []string{"a", "b", "c", "d", "admin"}, "maxSelect": 5}
	attacks := []attack{
		{
			name: "number comparison", field: map[string]any{"name": "score", "type": "number"},
			rule: "@request.body.score <= 10", seed: map[string]any{"score": 8},
			refused: []map[string]any{{"score+": 20}, {"score+": "20"}, {"score": 5, "score+": 30}, {"score-": -20}, {"score-": "-30"}},
			allowed: []map[string]any{{"score+": 2}, {"score": 1}},
		},
		{
			name: "number isset", field: map[string]any{"name": "score", "type": "number"},
			rule: "@request.body.score:isset = false", seed: map[string]any{"score": 8},
			refused: []map[string]any{{"score-": 1}, {"score+": 1}, {"score+": "0"}, {"score": 1}},
			allowed: []map[string]any{{"note": "x"}},
		},
		{
			name: "number changed", field: map[string]any{"name": "credits", "type": "number"},
			rule: "@request.body.credits:changed = false", seed: map[string]any{"credits": 8}, updateOnly: true,
			refused: []map[string]any{{"credits+": 5000}, {"credits-": 1}, {"credits+": "1"}, {"credits": 8, "credits+": 1}},
			allowed: []map[string]any{{"credits+": 0}, {"credits": 8}, {"credits": "8"}, {"note": "x"}},
		},
		{
			name: "select length", field: tags,
			rule: "@request.body.tags:length <= 2", seed: map[string]any{"tags": []string{"a", "b"}},
			refused: []map[string]any{{"tags+": []string{"a", "b", "c"}}, {"tags": []string{"a"}, "tags+": []string{"b", "c"}}, {"+tags": []string{"c", "d", "a"}}},
			allowed: []map[string]any{{"tags-": "a"}, {"tags": []string{"c"}}},
		},
		{
			name: "select each", field: tags,
			rule: "@request.body.tags:each != 'admin'", seed: map[string]any{"tags": []string{"a"}},
			refused: []map[string]any{{"tags+": "admin"}, {"+tags": "admin"}, {"tags": []string{"b"}, "tags+": "admin"}},
			allowed: []map[string]any{{"tags+": "b"}},
		},
		{
			name: "select isset", field: tags,
			rule: "@request.body.tags:isset = false", seed: map[string]any{"tags": []string{"a"}},
			refused: []map[string]any{{"tags-": "a"}, {"tags+": "b"}, {"+tags": "b"}},
			allowed: []map[string]any{{"note": "x"}},
		},
		{
			name: "select changed", field: tags,
			rule: "@request.body.tags:changed = false", seed: map[string]any{"tags": []string{"a"}}, updateOnly: true,
			refused: []map[string]any{{"tags+": "b"}, {"tags-": "a"}, {"+tags": "c"}},
			allowed: []map[string]any{{"tags+": "a"}, {"tags-": "d"}},
		},
		{
			name: "single select comparison", field: map[string]any{"name": "level", "type": "select", "values": []string{"low", "high"}, "maxSelect": 1},
			rule: "@request.body.level != 'high'", seed: map[string]any{"level": "low"},
			refused: []map[string]any{{"level+": "high"}, {"level": "low", "level+": "high"}, {"level-": "low", "level+": "high"}},
			allowed: []map[string]any{{"level+": "low"}, {"level-": "low"}},
		},
		{
			name: "relation length", field: map[string]any{"name": "helpers", "type": "relation", "collectionId": "users", "maxSelect": 5},
			rule: "@request.body.helpers:length <= 1", seed: map[string]any{"helpers": []string{"@bob"}},
			refused: []map[string]any{{"helpers+": "@alice", "helpers": []string{"@bob"}}, {"+helpers": []string{"@alice", "@bob"}}},
			allowed: []map[string]any{{"helpers-": "@bob"}, {"helpers": []string{"@alice"}}},
		},
		{
			name: "relation each", field: map[string]any{"name": "helpers", "type": "relation", "collectionId": "users", "maxSelect": 5},
			rule: "@request.body.helpers:each = @request.auth.id", seed: map[string]any{"helpers": []string{"@bob"}},
			refused: []map[string]any{{"helpers+": "@alice"}, {"+helpers": "@alice"}},
			allowed: []map[string]any{{"helpers+": "@bob"}},
		},
		{
			name: "bool comparison", field: map[string]any{"name": "featured", "type": "bool"},
			rule: "@request.body.featured != true", seed: map[string]any{"featured": false},
			refused: []map[string]any{{"featured": "on"}, {"featured": "ON"}, {"featured": " On "}, {"featured": "1"}, {"featured": "TRUE"}, {"featured": 1}, {"featured": true}},
			allowed: []map[string]any{{"featured": "off"}, {"featured": "0"}, {"featured": false}},
		},
		{
			name: "bool changed", field: map[string]any{"name": "featured", "type": "bool"},
			rule: "@request.body.featured:changed = false", seed: map[string]any{"featured": false}, updateOnly: true,
			refused: []map[string]any{{"featured": "on"}, {"featured": "On"}, {"featured": "true"}, {"featured": 1}},
			allowed: []map[string]any{{"featured": "off"}, {"featured": false}},
		},
		{
			name: "date comparison", field: map[string]any{"name": "at", "type": "date"},
			rule: "@request.body.at < '2025-01-01'", seed: map[string]any{"at": "2024-01-01"},
			refused: []map[string]any{{"at": " 2030-01-01"}, {"at": "2024-12-31T23:00:00-05:00"}, {"at": "2030-01-01 00:00:00Z"}},
			allowed: []map[string]any{{"at": "2024-06-01"}, {"at": " 2024-12-31T18:00:00-05:00"}},
		},
	}
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		alice := signUp(t, s, "alice@example.com", "alice-password-1")
		bob := signUp(t, s, "bob@example.com", "bob-password-1")
		ids := map[string]string{"@alice": alice.Record["id"].(string), "@bob": bob.Record["id"].(string)}
		// resolve replaces the "@name" placeholders with user ids.
		resolve := func(body map[string]any) map[string]any {
			out := map[string]any{}
			for k, v := range body {
				switch x := v.(type) {
				case string:
					if id, ok := ids[x]; ok {
						v = id
					}
				case []string:
					l := make([]string, len(x))
					for i, e := range x {
						if id, ok := ids[e]; ok {
							e = id
						}
						l[i] = e
					}
					v = l
				}
				out[k] = v
			}
			return out
		}
		for i, a := range attacks {
			name := fmt.Sprintf("attack%d", i)
			rule := "owner = @request.auth.id && (" + a.rule + ")"
			createRule := any(rule)
			if a.updateOnly {
				createRule = "owner = @request.auth.id"
			}
			s.Super("POST", "/api/collections", map[string]any{
				"name": name, "listRule": "owner = @request.auth.id", "viewRule": "owner = @request.auth.id",
				"createRule": createRule, "updateRule": rule,
				"fields": []any{
					map[string]any{"name": "owner", "type": "relation", "collectionId": "users", "maxSelect": 1},
					map[string]any{"name": "note", "type": "text"},
					a.field,
				},
			}, 200, nil)
			base := "/api/collections/" + name + "/records"
			seed := resolve(a.seed)
			seed["owner"] = ids["@bob"]
			for _, enc := range encodings {
				for _, body := range a.refused {
					if enc != "json" && jsonOnly(body) {
						continue
					}
					label := fmt.Sprintf("%s: %s body %v", a.name, enc, body)
					var rec map[string]any
					s.Super("POST", base, seed, 200, &rec)
					path := base + "/" + rec["id"].(string)
					r := sendBody(s, "PATCH", path, bob.Token, enc, resolve(body))
					if r.Status != 404 && r.Status != 400 {
						t.Errorf("update, %s: status %d, want 404 or 400: %s", label, r.Status, r.Body)
					}
					var after map[string]any
					s.Super("GET", path, nil, 200, &after)
					for k := range a.seed {
						if fmt.Sprint(after[k]) != fmt.Sprint(rec[k]) {
							t.Errorf("update, %s: %s is now %v (was %v)", label, k, after[k], rec[k])
						}
					}
					if a.updateOnly {
						continue
					}
					create := resolve(body)
					create["owner"] = ids["@bob"]
					var before list
					s.Super("GET", base+"?perPage=1", nil, 200, &before)
					if r := sendBody(s, "POST", base, bob.Token, enc, create); r.Status != 400 {
						t.Errorf("create, %s: status %d, want 400: %s", label, r.Status, r.Body)
					}
					var now list
					s.Super("GET", base+"?perPage=1", nil, 200, &now)
					if now.TotalItems != before.TotalItems {
						t.Errorf("create, %s: a record was stored", label)
					}
				}
				for _, body := range a.allowed {
					if enc != "json" && jsonOnly(body) {
						continue
					}
					label := fmt.Sprintf("%s: %s body %v", a.name, enc, body)
					var rec map[string]any
					s.Super("POST", base, seed, 200, &rec)
					if r := sendBody(s, "PATCH", base+"/"+rec["id"].(string), bob.Token, enc, resolve(body)); r.Status != 200 {
						t.Errorf("update, %s: status %d, want 200: %s", label, r.Status, r.Body)
					}
					if a.updateOnly {
						continue
					}
					create := resolve(body)
					create["owner"] = ids["@bob"]
					if r := sendBody(s, "POST", base, bob.Token, enc, create); r.Status != 200 {
						t.Errorf("create, %s: status %d, want 200: %s", label, r.Status, r.Body)
					}
				}
			}
		}
	})
}

// roleApp is the app of the attack report: open sign-up that may not set
// role or credits, users who may change their own record but not its
// role, and admins who manage everyone.
func roleApp(t *testing.T, s *testkit.Server) {
	t.Helper()
	// The attacks below sign up many times from one address.
	s.Super("PATCH", "/api/settings", map[string]any{"rateLimits": map[string]any{"rules": []any{
		map[string]any{"label": "signup", "maxRequests": 100, "duration": 60}}}}, 200, nil)
	self := "id = @request.auth.id || @request.auth.role = 'admin'"
	s.Super("POST", "/api/collections", map[string]any{
		"name": "users", "type": "auth",
		"createRule": "@request.body.role:isset = false && @request.body.credits:isset = false",
		"listRule":   self, "viewRule": self,
		"updateRule": "(id = @request.auth.id && @request.body.role:isset = false && @request.body.credits:changed = false) || @request.auth.role = 'admin'",
		"manageRule": "@request.auth.role = 'admin'",
		"fields": []map[string]any{
			{"name": "role", "type": "select", "values": []string{"member", "admin"}, "maxSelect": 1},
			{"name": "credits", "type": "number"},
			{"name": "name", "type": "text"},
		},
	}, 200, nil)
}

// TestIssue6SelfPromotionThroughModifiers replays finding 1: Bob makes
// himself admin with "role+" and then takes over Alice's account; a guest
// signs up with role and credits through modifiers.
func TestIssue6SelfPromotionThroughModifiers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		roleApp(t, s)
		alice := signUp(t, s, "alice@example.com", "alice-password-1")
		bob := signUp(t, s, "bob@example.com", "bob-password-1")
		bobPath := "/api/collections/users/records/" + bob.Record["id"].(string)
		for _, enc := range encodings {
			for _, body := range []map[string]any{
				{"role": "admin"}, {"role+": "admin"}, {"+role": "admin"}, {"role": "", "role+": "admin"},
				{"credits+": "5000"}, {"credits-": "-5000"},
			} {
				if r := sendBody(s, "PATCH", bobPath, bob.Token, enc, body); r.Status != 404 && r.Status != 400 {
					t.Errorf("%s %v: status %d: %s", enc, body, r.Status, r.Body)
				}
			}
		}
		var me map[string]any
		s.Do("GET", bobPath, bob.Token, nil, 200, &me)
		if me["role"] != "" || me["credits"] != float64(0) {
			t.Fatalf("bob promoted himself: %v", me)
		}
		// Not being admin, he cannot touch Alice.
		alicePath := "/api/collections/users/records/" + alice.Record["id"].(string)
		s.Do("PATCH", alicePath, bob.Token, map[string]any{"email": "bob2@example.com", "password": "taken-over-1", "passwordConfirm": "taken-over-1", "verified": true}, 404, nil)
		s.Do("POST", "/api/collections/users/auth-with-password", "", map[string]any{"identity": "alice@example.com", "password": "alice-password-1"}, 200, nil)
		// His own name and other fields still change.
		s.Do("PATCH", bobPath, bob.Token, map[string]any{"credits+": 0}, 200, nil)

		// Guests cannot sign up with role or credits in any spelling.
		for _, enc := range encodings {
			for i, extra := range []map[string]any{{"role+": "admin"}, {"+role": "admin"}, {"credits+": "5000"}, {"credits-": "1"}, {"role+": "admin", "credits+": "5000"}} {
				body := map[string]any{"email": fmt.Sprintf("eve%d-%s@example.com", i, enc), "password": "eve-password-1", "passwordConfirm": "eve-password-1"}
				for k, v := range extra {
					body[k] = v
				}
				if r := sendBody(s, "POST", "/api/collections/users/records", "", enc, body); r.Status != 400 {
					t.Errorf("sign-up %s %v: status %d: %s", enc, extra, r.Status, r.Body)
				}
			}
		}
		var all list
		s.Super("GET", "/api/collections/users/records?filter="+url.QueryEscape("role = 'admin' || credits != 0"), nil, 200, &all)
		if all.TotalItems != 0 {
			t.Fatalf("privileged users exist: %v", all.Items)
		}
	})
}

// TestIssue6AuthIDsAreUniqueAcrossAuthCollections replays finding 7: a
// guest who signs up in another auth collection with Alice's id does not
// become Alice to rules that compare ids.
func TestIssue6AuthIDsAreUniqueAcrossAuthCollections(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		s.Super("POST", "/api/collections", map[string]any{"name": "partners", "type": "auth", "createRule": ""}, 200, nil)
		alice := signUp(t, s, "alice@example.com", "alice-password-1")
		aliceID := alice.Record["id"].(string)
		var note map[string]any
		s.Do("POST", "/api/collections/notes/records", alice.Token, map[string]any{"text": "private", "owner": aliceID}, 200, &note)

		r := s.Request("POST", "/api/collections/partners/records", "", map[string]any{
			"id": aliceID, "email": "eve@example.com", "password": "eve-password-1", "passwordConfirm": "eve-password-1"})
		if r.Status != 400 || !strings.Contains(string(r.Body), "validation_not_unique") {
			t.Fatalf("sign-up with alice's id: status %d: %s", r.Status, r.Body)
		}
		if r := s.Request("POST", "/api/collections/partners/auth-with-password", "", map[string]any{"identity": "eve@example.com", "password": "eve-password-1"}); r.Status == 200 {
			t.Fatalf("eve has an account: %s", r.Body)
		}
		// Nor may a sign-up take a superuser's id.
		var supers list
		s.Super("GET", "/api/collections/_superusers/records", nil, 200, &supers)
		r = s.Request("POST", "/api/collections/partners/records", "", map[string]any{
			"id": supers.Items[0]["id"], "email": "eve@example.com", "password": "eve-password-1", "passwordConfirm": "eve-password-1"})
		if r.Status != 400 {
			t.Fatalf("sign-up with a superuser's id: status %d: %s", r.Status, r.Body)
		}
		// A fresh id is fine, and sees nothing of Alice's.
		var eve map[string]any
		s.Do("POST", "/api/collections/partners/records", "", map[string]any{
			"id": "eveeveeveeveeve", "email": "eve@example.com", "password": "eve-password-1", "passwordConfirm": "eve-password-1"}, 200, &eve)
		var a authed
		s.Do("POST", "/api/collections/partners/auth-with-password", "", map[string]any{"identity": "eve@example.com", "password": "eve-password-1"}, 200, &a)
		s.Do("GET", "/api/collections/notes/records/"+note["id"].(string), a.Token, nil, 404, nil)
	})
}

// TestIssue6EmailChangeSignsOutOldTokens replays finding 8: an email
// changed by a superuser or through the manageRule rotates the token key,
// as confirm-email-change does.
func TestIssue6EmailChangeSignsOutOldTokens(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		roleApp(t, s)
		alice := signUp(t, s, "alice@example.com", "alice-password-1")
		bob := signUp(t, s, "bob@example.com", "bob-password-1")
		alicePath := "/api/collections/users/records/" + alice.Record["id"].(string)
		bobPath := "/api/collections/users/records/" + bob.Record["id"].(string)

		// A superuser's change of email.
		s.Super("PATCH", alicePath, map[string]any{"email": "alice2@example.com"}, 200, nil)
		s.Do("POST", "/api/collections/users/auth-refresh", alice.Token, nil, 401, nil)
		s.Do("GET", alicePath, alice.Token, nil, 404, nil)
		fresh := login(t, s, "alice2@example.com", "alice-password-1")
		// An unchanged email keeps the tokens.
		s.Super("PATCH", alicePath, map[string]any{"email": "alice2@example.com", "credits": 1}, 200, nil)
		s.Do("POST", "/api/collections/users/auth-refresh", fresh.Token, nil, 200, nil)

		// An admin's change through the manageRule.
		s.Super("PATCH", bobPath, map[string]any{"role": "admin"}, 200, nil)
		bob = login(t, s, "bob@example.com", "bob-password-1")
		s.Do("PATCH", alicePath, bob.Token, map[string]any{"email": "alice3@example.com"}, 200, nil)
		s.Do("POST", "/api/collections/users/auth-refresh", fresh.Token, nil, 401, nil)
		login(t, s, "alice3@example.com", "alice-password-1")
	})
}

func login(t *testing.T, s *testkit.Server, email, password string) authed {
	t.Helper()
	var a authed
	s.Do("POST", "/api/collections/users/auth-with-password", "", map[string]any{"identity": email, "password": password}, 200, &a)
	return a
}

// TestIssue6RefusedDeleteNamesNoHiddenRecord replays finding 9: a delete
// refused because another record requires this one does not name that
// record, which the caller may not be allowed to see.
func TestIssue6RefusedDeleteNamesNoHiddenRecord(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		s.Super("POST", "/api/collections", map[string]any{
			"name": "posts", "listRule": "", "viewRule": "", "deleteRule": "",
			"fields": []map[string]any{{"name": "title", "type": "text"}},
		}, 200, nil)
		s.Super("POST", "/api/collections", map[string]any{
			"name": "reports", "fields": []map[string]any{
				{"name": "reported", "type": "relation", "collectionId": "posts", "maxSelect": 1, "required": true}},
		}, 200, nil)
		var post, report map[string]any
		s.Super("POST", "/api/collections/posts/records", map[string]any{"title": "x"}, 200, &post)
		s.Super("POST", "/api/collections/reports/records", map[string]any{"reported": post["id"]}, 200, &report)
		r := s.Request("DELETE", "/api/collections/posts/records/"+post["id"].(string), "", nil)
		if r.Status != 400 {
			t.Fatalf("delete: status %d: %s", r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), report["id"].(string)) {
			t.Fatalf("the refusal names the hidden record: %s", r.Body)
		}
		if !strings.Contains(string(r.Body), "reported") {
			t.Fatalf("the refusal does not say why: %s", r.Body)
		}
	})
}

// TestIssue6FileModifiers: file fields have modifiers ("doc+", "+doc",
// "doc-"). A name the record does not hold is refused in every spelling and
// encoding (a client cannot attach another record's file by naming it),
// only uploads can be added, and rules see the list as it will be stored:
// a rule capping the files at one refuses "doc+" that would make two.
func TestIssue6FileModifiers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "docs", "createRule": "", "viewRule": "", "updateRule": "@request.body.doc:length < 2",
			"fields": []map[string]any{{"name": "title", "type": "text"}, {"name": "doc", "type": "file", "maxSelect": 3}},
		}, 200, nil)
		status, rec := sendMultipart(t, s, "POST", "/api/collections/docs/records", "",
			part{key: "title", data: []byte("x")}, part{key: "doc", name: "a.txt", data: []byte("a")})
		if status != 200 {
			t.Fatalf("create: %d %v", status, rec)
		}
		id := rec["id"].(string)
		for _, key := range []string{"doc", "doc+", "+doc"} {
			for _, enc := range encodings {
				body := map[string]any{key: "someone_elses.txt"}
				if r := sendBody(s, "PATCH", "/api/collections/docs/records/"+id, "", enc, body); r.Status != 400 {
					t.Errorf("update %s %s: status %d: %s", enc, key, r.Status, r.Body)
				}
				if r := sendBody(s, "POST", "/api/collections/docs/records", "", enc, body); r.Status != 400 {
					t.Errorf("create %s %s: status %d: %s", enc, key, r.Status, r.Body)
				}
			}
		}
		for _, key := range []string{"doc+", "+doc"} {
			status, out := sendMultipart(t, s, "PATCH", "/api/collections/docs/records/"+id, "", part{key: key, name: "b.txt", data: []byte("b")})
			if status != 404 {
				t.Errorf("%s past the rule's cap: %d %v", key, status, out)
			}
		}
		var got map[string]any
		s.Super("GET", "/api/collections/docs/records/"+id, nil, 200, &got)
		if docs := got["doc"].([]any); len(docs) != 1 || docs[0] != rec["doc"].([]any)[0] {
			t.Fatalf("stored: %v", got["doc"])
		}
		var all list
		s.Super("GET", "/api/collections/docs/records", nil, 200, &all)
		if all.TotalItems != 1 {
			t.Fatalf("records: %d", all.TotalItems)
		}
	})
}
