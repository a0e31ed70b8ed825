package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// TestAttackHiddenFieldsAreNotWritable: a hidden field is one only
// superusers see, so rules may trust it (an isAdmin flag). A body from
// anyone else that names one, in any form a body can take, answers as
// for an unknown field and changes nothing; superusers set them.
func TestAttackHiddenFieldsAreNotWritable(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		liftLimits(t, s)
		enableBatch(t, s)
		me := "id = @request.auth.id"
		s.Super("POST", "/api/collections", map[string]any{
			"name": "members", "type": "auth", "createRule": "", "listRule": me, "viewRule": me, "updateRule": me,
			"fields": []map[string]any{
				{"name": "nick", "type": "text"},
				{"name": "isAdmin", "type": "bool", "hidden": true},
				{"name": "badge", "type": "file", "maxSelect": 1, "hidden": true},
			},
		}, 200, nil)
		s.Super("POST", "/api/collections", map[string]any{
			"name": "reports", "listRule": "@request.auth.isAdmin = true", "viewRule": "@request.auth.isAdmin = true",
			"fields": []map[string]any{{"name": "body", "type": "text"}},
		}, 200, nil)
		s.Super("POST", "/api/collections/reports/records", map[string]any{"body": "confidential"}, 200, nil)

		pw := "a-long-password"
		signup := func(email string, extra map[string]any) int {
			body := map[string]any{"email": email, "password": pw, "passwordConfirm": pw}
			for k, v := range extra {
				body[k] = v
			}
			return s.Request("POST", "/api/collections/members/records", "", body).Status
		}
		for _, key := range []string{"isAdmin", "isAdmin+", "+isAdmin"} {
			if st := signup("x-"+key+"@example.com", map[string]any{key: true}); st != 400 {
				t.Errorf("a sign-up setting %s: %d, want 400", key, st)
			}
		}
		if st := signup("m@example.com", nil); st != 200 {
			t.Fatalf("a plain sign-up: %d", st)
		}
		var login struct {
			Token  string
			Record map[string]any
		}
		s.Do("POST", "/api/collections/members/auth-with-password", "", map[string]any{"identity": "m@example.com", "password": pw}, 200, &login)
		tok, id := login.Token, login.Record["id"].(string)
		path := "/api/collections/members/records/" + id

		bad := s.Request("PATCH", path, tok, map[string]any{"isAdmin": true})
		var e errBody
		_ = json.Unmarshal(bad.Body, &e)
		if bad.Status != 400 || e.Data["isAdmin"].Code != "validation_unknown_field" {
			t.Errorf("PATCH isAdmin: %d %s, want 400 as an unknown field", bad.Status, bad.Body)
		}
		if st, _ := sendMultipart(t, s, "PATCH", path, tok, part{key: "isAdmin", data: []byte("on")}); st != 400 {
			t.Errorf("multipart isAdmin=on: %d, want 400", st)
		}
		if st, _ := sendMultipart(t, s, "PATCH", path, tok, part{key: "@jsonPayload", data: []byte(`{"isAdmin":true}`)}); st != 400 {
			t.Errorf("@jsonPayload isAdmin: %d, want 400", st)
		}
		r := s.Request("POST", "/api/batch", tok, map[string]any{"requests": []batchReq{
			{Method: "PATCH", URL: path, Body: map[string]any{"nick": "n", "isAdmin": true}}}})
		if r.Status != 400 {
			t.Errorf("a batch item setting isAdmin: %d, want 400", r.Status)
		}
		files := &countingFiles{Store: s.App.Records.Files()}
		s.App.Records.SetFiles(files)
		if st, _ := sendMultipart(t, s, "PATCH", path, tok, part{key: "badge", name: "b.txt", data: []byte("b")}); st != 400 || files.puts.Load() != 0 {
			t.Errorf("an upload to a hidden file field: %d, %d objects written; want 400 and none", st, files.puts.Load())
		}

		// None of it took: the member reads no report.
		var l struct{ TotalItems int }
		s.Do("GET", "/api/collections/reports/records", tok, nil, 200, &l)
		if l.TotalItems != 0 {
			t.Fatalf("the member promoted itself: it lists %d reports", l.TotalItems)
		}
		// The member's own writes of its visible fields still work.
		s.Do("PATCH", path, tok, map[string]any{"nick": "mine"}, 200, nil)
		// A superuser sets the hidden field; then the rule admits the member.
		s.Super("PATCH", path, map[string]any{"isAdmin": true}, 200, nil)
		s.Do("GET", "/api/collections/reports/records", tok, nil, 200, &l)
		if l.TotalItems != 1 {
			t.Errorf("a superuser's isAdmin: the member lists %d reports, want 1", l.TotalItems)
		}
	})
}

// TestAttackUploadsUnderRemoveStoreNothing: "field-" removes files by
// name; an upload sent under it would be stored and named by no record.
func TestAttackUploadsUnderRemoveStoreNothing(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, "sqlite")
	s.Super("POST", "/api/collections", map[string]any{"name": "docs", "createRule": "", "updateRule": "", "fields": []map[string]any{
		{"name": "title", "type": "text"}, {"name": "files", "type": "file", "maxSelect": 5}}}, 200, nil)
	files := &countingFiles{Store: s.App.Records.Files()}
	s.App.Records.SetFiles(files)
	st, body := sendMultipart(t, s, "POST", "/api/collections/docs/records", "",
		part{key: "title", data: []byte("t")}, part{key: "files-", name: "a.txt", data: []byte("a")})
	if st != 400 || files.puts.Load() != 0 {
		t.Errorf("create with an upload under files-: %d %v, %d objects written; want 400 and none", st, body, files.puts.Load())
	}
	var rec map[string]any
	s.Do("POST", "/api/collections/docs/records", "", map[string]any{"title": "t"}, 200, &rec)
	st, _ = sendMultipart(t, s, "PATCH", "/api/collections/docs/records/"+rec["id"].(string), "",
		part{key: "files-", name: "a.txt", data: []byte("a")})
	if st != 400 || files.puts.Load() != 0 {
		t.Errorf("update with an upload under files-: %d, %d objects written; want 400 and none", st, files.puts.Load())
	}
}

// TestAttackHiddenRelationsDoNotExpand: a hidden relation is unknown to
// the filters of those who may not see it; expanding it, forward or back,
// would show whom it points at all the same.
func TestAttackHiddenRelationsDoNotExpand(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		var members map[string]any
		s.Super("POST", "/api/collections", map[string]any{"name": "members", "type": "auth", "listRule": "", "viewRule": "",
			"fields": []map[string]any{{"name": "name", "type": "text"}}}, 200, &members)
		s.Super("POST", "/api/collections", map[string]any{"name": "purchases", "listRule": "", "viewRule": "",
			"fields": []map[string]any{{"name": "item", "type": "text"},
				{"name": "buyer", "type": "relation", "collectionId": members["id"], "maxSelect": 1, "hidden": true}}}, 200, nil)
		var m, p map[string]any
		s.Super("POST", "/api/collections/members/records", map[string]any{"email": "carol@example.com", "name": "Carol",
			"password": "a-long-password", "passwordConfirm": "a-long-password"}, 200, &m)
		s.Super("POST", "/api/collections/purchases/records", map[string]any{"item": "test", "buyer": m["id"]}, 200, &p)
		for _, path := range []string{
			"/api/collections/purchases/records?expand=buyer",
			"/api/collections/purchases/records/" + p["id"].(string) + "?expand=buyer",
			"/api/collections/members/records?expand=purchases_via_buyer",
			"/api/collections/members/records/" + m["id"].(string) + "?expand=purchases_via_buyer",
		} {
			r := s.Request("GET", path, "", nil)
			if r.Status != 400 || strings.Contains(string(r.Body), "Carol") || strings.Contains(string(r.Body), `"test"`) {
				t.Errorf("a guest's GET %s: %d %s, want 400 naming no related record", path, r.Status, r.Body)
			}
		}
		// Superusers see hidden fields, so they expand them.
		var got map[string]any
		s.Super("GET", "/api/collections/purchases/records/"+p["id"].(string)+"?expand=buyer", nil, 200, &got)
		if ex, _ := got["expand"].(map[string]any); ex == nil || ex["buyer"] == nil {
			t.Errorf("a superuser's expand of the hidden relation: %v", got)
		}
		s.Super("GET", "/api/collections/members/records/"+m["id"].(string)+"?expand=purchases_via_buyer", nil, 200, &got)
		if ex, _ := got["expand"].(map[string]any); ex == nil || ex["purchases_via_buyer"] == nil {
			t.Errorf("a superuser's back-relation expand of the hidden relation: %v", got)
		}
	})
}
