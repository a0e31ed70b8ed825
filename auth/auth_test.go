package auth_test

import (
	"context"
	"testing"

	"github.com/tortoise-dev/tortoise"
	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
)

// Shorthands for testkit's helpers of service-layer tests.
var (
	superuser  = testkit.Superuser
	guest      = testkit.Guest
	kindOf     = testkit.Kind
	fieldCode  = testkit.FieldCode
	collection = testkit.Collection
)

const ok = testkit.NoError

func system(t *testing.T, app *tortoise.App, name string) *core.Collection {
	t.Helper()
	c, err := app.Service.Collection(name)
	if err != nil {
		t.Fatalf("system collection %s: %v", name, err)
	}
	return c
}

// account creates an auth record as a superuser.
func account(t *testing.T, app *tortoise.App, c *core.Collection, body map[string]any) *core.Record {
	t.Helper()
	rec, err := app.Records.Create(context.Background(), superuser, c, body)
	if err != nil {
		t.Fatalf("create %s %v: %v", c.Name, body["email"], err)
	}
	return rec
}

func reread(t *testing.T, app *tortoise.App, rec *core.Record) *core.Record {
	t.Helper()
	got, err := app.Records.Get(context.Background(), superuser, rec.Collection, rec.ID())
	if err != nil {
		t.Fatalf("get %s/%s: %v", rec.Collection.Name, rec.ID(), err)
	}
	return got
}

// login logs in with a password and fails the test if it cannot.
func login(t *testing.T, app *tortoise.App, c *core.Collection, email, password string) string {
	t.Helper()
	_, tok, err := app.Auth.AuthWithPassword(context.Background(), c, email, password, "", "")
	if err != nil {
		t.Fatalf("log in %s: %v", email, err)
	}
	return tok
}

// valid reports whether token still authenticates.
func valid(t *testing.T, app *tortoise.App, token string) bool {
	t.Helper()
	_, _, err := app.Auth.Authenticate(context.Background(), token)
	if err != nil && core.KindOf(err) != core.KindUnauthorized {
		t.Fatalf("authenticate: %v", err)
	}
	return err == nil
}

// UpsertSuperuser creates the superuser, then finds it again by its email
// in any case and sets its password, which signs out its old tokens.
func TestUpsertSuperuser(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		sus := system(t, app, core.SuperusersName)
		if _, err := app.Auth.UpsertSuperuser(ctx, "root@example.com", "short"); core.KindOf(err) != core.KindInvalid {
			t.Fatalf("a short password: %v", err)
		}
		first, err := app.Auth.UpsertSuperuser(ctx, "root@example.com", "first-password-1")
		if err != nil {
			t.Fatal(err)
		}
		tok := login(t, app, sus, "root@example.com", "first-password-1")
		if got, _, err := app.Auth.Authenticate(ctx, tok); err != nil || got.ID() != first.ID() {
			t.Fatalf("authenticate: %v %v", got, err)
		}
		again, err := app.Auth.UpsertSuperuser(ctx, " ROOT@example.com ", "second-password-2")
		if err != nil || again.ID() != first.ID() {
			t.Fatalf("upsert again: %v %v", again, err)
		}
		if valid(t, app, tok) {
			t.Error("the token issued before the reset still works")
		}
		if _, _, err := app.Auth.AuthWithPassword(ctx, sus, "root@example.com", "first-password-1", "", ""); core.KindOf(err) != core.KindInvalid {
			t.Errorf("the old password: %v", err)
		}
		login(t, app, sus, "root@example.com", "second-password-2")
		res, err := app.Records.List(ctx, superuser, sus, records.ListParams{})
		if err != nil || res.TotalItems != 1 {
			t.Errorf("superusers: %v %v", res, err)
		}
	})
}

// A password login needs the right identity and password and the
// authRule's consent; a refresh asks the authRule again, and a deleted
// account's tokens die with it.
func TestAuthWithPassword(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		members := collection(t, app, `{"name":"members","type":"auth","fields":[{"name":"name","type":"text"}],"authRule":"verified = true"}`)
		locked := collection(t, app, `{"name":"locked","type":"auth","authRule":null}`)
		closed := collection(t, app, `{"name":"closed","type":"auth","passwordAuth":{"enabled":false}}`)
		ann := account(t, app, members, map[string]any{"email": "ann@example.com", "password": "ann-password-1", "verified": true, "name": "ann"})
		account(t, app, members, map[string]any{"email": "ben@example.com", "password": "ben-password-1"})
		account(t, app, locked, map[string]any{"email": "lee@example.com", "password": "lee-password-1", "verified": true})
		account(t, app, closed, map[string]any{"email": "cid@example.com", "password": "cid-password-1", "verified": true})
		for _, tc := range []struct {
			name               string
			c                  *core.Collection
			identity, password string
			identityField      string
			want               core.Kind
			field              string // the error names it
		}{
			{"right password", members, "ann@example.com", "ann-password-1", "", ok, ""},
			{"email in another case", members, "ANN@example.com", "ann-password-1", "", ok, ""},
			{"wrong password", members, "ann@example.com", "ann-password-2", "", core.KindInvalid, ""},
			{"unknown email", members, "nobody@example.com", "ann-password-1", "", core.KindInvalid, ""},
			{"refused by the authRule", members, "ben@example.com", "ben-password-1", "", core.KindInvalid, ""},
			{"an identity field not allowed", members, "ann", "ann-password-1", "name", core.KindInvalid, "identityField"},
			{"a null authRule", locked, "lee@example.com", "lee-password-1", "", core.KindInvalid, ""},
			{"password logins disabled", closed, "cid@example.com", "cid-password-1", "", core.KindForbidden, ""},
		} {
			rec, tok, err := app.Auth.AuthWithPassword(ctx, tc.c, tc.identity, tc.password, tc.identityField, "")
			if kindOf(err) != tc.want || (tc.field != "" && fieldCode(err, tc.field) == "") {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
				continue
			}
			if err == nil && (rec.ID() != ann.ID() || !valid(t, app, tok)) {
				t.Errorf("%s: %v %q", tc.name, rec, tok)
			}
			if err != nil && (rec != nil || tok != "") {
				t.Errorf("%s: a failed login returned %v %q", tc.name, rec, tok)
			}
		}

		tok := login(t, app, members, "ann@example.com", "ann-password-1")
		rec, refreshable, err := app.Auth.Authenticate(ctx, tok)
		if err != nil || !refreshable || rec.ID() != ann.ID() {
			t.Fatalf("authenticate: %v %v %v", rec, refreshable, err)
		}
		fresh, err := app.Auth.RefreshAuthToken(ctx, rec)
		if err != nil || !valid(t, app, fresh) {
			t.Fatalf("refresh: %v", err)
		}
		// Once the authRule shuts her out, a refresh is refused.
		if _, err := app.Records.Update(ctx, superuser, members, ann.ID(), map[string]any{"verified": false}); err != nil {
			t.Fatal(err)
		}
		rec, _, err = app.Auth.Authenticate(ctx, fresh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Auth.RefreshAuthToken(ctx, rec); core.KindOf(err) != core.KindForbidden {
			t.Errorf("refresh refused by the authRule: %v", err)
		}
		// A deleted account's tokens fail.
		if err := app.Records.Delete(ctx, superuser, members, ann.ID()); err != nil {
			t.Fatal(err)
		}
		for _, token := range []string{tok, fresh} {
			if _, _, err := app.Auth.Authenticate(ctx, token); core.KindOf(err) != core.KindUnauthorized {
				t.Errorf("a deleted account's token: %v", err)
			}
		}
		if _, _, err := app.Auth.Authenticate(ctx, "not.a.token"); core.KindOf(err) != core.KindUnauthorized {
			t.Errorf("garbage: %v", err)
		}
	})
}

// An account's protected fields are the manageRule's to change: its
// owner may not set tokenKey, verified or email, nor a password without
// the old one; an admin the manageRule admits may; a new password or
// email signs the account out everywhere.
func TestProtectedFields(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		users := collection(t, app, `{"name":"users","type":"auth",
			"fields":[{"name":"name","type":"text"},{"name":"role","type":"text"}],
			"createRule":"","viewRule":"id = @request.auth.id",
			"updateRule":"(id = @request.auth.id && @request.body.role:isset = false) || @request.auth.role = 'admin'",
			"manageRule":"@request.auth.role = 'admin'"}`)
		const pw = "olive-password-1"
		olive := account(t, app, users, map[string]any{"email": "olive@example.com", "password": pw})
		adam := account(t, app, users, map[string]any{"email": "adam@example.com", "password": "adam-password-1", "role": "admin"})
		otto := account(t, app, users, map[string]any{"email": "otto@example.com", "password": "otto-password-1"})
		asOlive, asAdam := &service.Request{Auth: olive}, &service.Request{Auth: adam}
		oliveToken := login(t, app, users, "olive@example.com", pw)

		for _, tc := range []struct {
			name  string
			body  map[string]any
			want  core.Kind
			field string
			code  string
		}{
			{"tokenKey", map[string]any{"tokenKey": "k0123456789k0123456789k0123456789k0123456789"}, core.KindInvalid, "tokenKey", "validation_readonly"},
			{"verified", map[string]any{"verified": true}, core.KindInvalid, "verified", "validation_readonly"},
			{"email", map[string]any{"email": "olive2@example.com"}, core.KindInvalid, "email", "validation_readonly"},
			{"password without the old one", map[string]any{"password": "new-password-1", "passwordConfirm": "new-password-1"}, core.KindInvalid, "oldPassword", "validation_invalid_old_password"},
			{"password with a wrong old one", map[string]any{"password": "new-password-1", "passwordConfirm": "new-password-1", "oldPassword": "wrong-password"}, core.KindInvalid, "oldPassword", "validation_invalid_old_password"},
			{"password not confirmed", map[string]any{"password": "new-password-1", "passwordConfirm": "new-password-2", "oldPassword": pw}, core.KindInvalid, "passwordConfirm", "validation_values_mismatch"},
			{"a field the updateRule keeps", map[string]any{"role": "admin"}, core.KindNotFound, "", ""},
			{"another account", nil, core.KindNotFound, "", ""},
		} {
			id := olive.ID()
			if tc.body == nil {
				id, tc.body = otto.ID(), map[string]any{"name": "hacked"}
			}
			_, err := app.Records.Update(ctx, asOlive, users, id, tc.body)
			if kindOf(err) != tc.want || fieldCode(err, tc.field) != tc.code {
				t.Errorf("owner sets %s: %v, want %v with %s %s", tc.name, err, tc.want, tc.field, tc.code)
			}
		}
		if got := reread(t, app, olive); got.String("email") != "olive@example.com" || got.Data["verified"] != false ||
			got.String("tokenKey") != olive.String("tokenKey") || got.String("role") != "" || !valid(t, app, oliveToken) {
			t.Fatalf("refused changes changed olive: %v", got.Data)
		}
		if got := reread(t, app, otto); got.String("name") != "" {
			t.Fatalf("olive changed otto: %v", got.Data)
		}
		// Plain fields, and her own email unchanged, are hers to set; the
		// session survives.
		if _, err := app.Records.Update(ctx, asOlive, users, olive.ID(), map[string]any{"name": "Olive", "email": "olive@example.com"}); err != nil {
			t.Fatalf("owner sets a plain field: %v", err)
		}
		if !valid(t, app, oliveToken) {
			t.Fatal("a plain change signed olive out")
		}
		// With the old password, a new one is set and signs her out.
		if _, err := app.Records.Update(ctx, asOlive, users, olive.ID(), map[string]any{"password": "new-password-1", "passwordConfirm": "new-password-1", "oldPassword": pw}); err != nil {
			t.Fatalf("owner changes the password: %v", err)
		}
		if valid(t, app, oliveToken) {
			t.Error("the token from before the password change still works")
		}
		if got := reread(t, app, olive); got.String("tokenKey") == olive.String("tokenKey") {
			t.Error("the token key did not change")
		}
		oliveToken = login(t, app, users, "olive@example.com", "new-password-1")

		// The manageRule lets adam change otto's email, verified state and
		// password (without the old one).
		ottoToken := login(t, app, users, "otto@example.com", "otto-password-1")
		if _, err := app.Records.Update(ctx, asAdam, users, otto.ID(), map[string]any{"email": "otto2@example.com", "verified": true}); err != nil {
			t.Fatalf("admin changes email and verified: %v", err)
		}
		if got := reread(t, app, otto); got.String("email") != "otto2@example.com" || got.Data["verified"] != true {
			t.Errorf("after the admin's change: %v", got.Data)
		}
		if valid(t, app, ottoToken) {
			t.Error("an email change left otto's token working")
		}
		_, err := app.Records.Update(ctx, asAdam, users, otto.ID(), map[string]any{"password": "otto-password-2"})
		if fieldCode(err, "passwordConfirm") != "validation_values_mismatch" {
			t.Errorf("admin sets a password unconfirmed: %v", err)
		}
		if _, err := app.Records.Update(ctx, asAdam, users, otto.ID(), map[string]any{"password": "otto-password-2", "passwordConfirm": "otto-password-2"}); err != nil {
			t.Errorf("admin sets a password: %v", err)
		}
		login(t, app, users, "otto2@example.com", "otto-password-2")

		// A superuser's email change signs the account out too.
		if _, err := app.Records.Update(ctx, superuser, users, olive.ID(), map[string]any{"email": "olive3@example.com"}); err != nil {
			t.Fatal(err)
		}
		if valid(t, app, oliveToken) {
			t.Error("a superuser's email change left olive's token working")
		}

		// Signing up: verified is not the newcomer's to set, and the
		// password must be confirmed.
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"verified", map[string]any{"email": "eve@example.com", "password": "eve-password-1", "passwordConfirm": "eve-password-1", "verified": true}, "verified"},
			{"unconfirmed", map[string]any{"email": "eve@example.com", "password": "eve-password-1"}, "passwordConfirm"},
			{"tokenKey", map[string]any{"email": "eve@example.com", "password": "eve-password-1", "passwordConfirm": "eve-password-1", "tokenKey": "k0123456789k0123456789k0123456789k0123456789"}, "tokenKey"},
		} {
			if _, err := app.Records.Create(ctx, guest, users, tc.body); fieldCode(err, tc.field) == "" {
				t.Errorf("sign-up with %s: %v", tc.name, err)
			}
		}
		eve, err := app.Records.Create(ctx, guest, users, map[string]any{"email": "eve@example.com", "password": "eve-password-1", "passwordConfirm": "eve-password-1"})
		if err != nil || eve.Data["verified"] != false {
			t.Fatalf("sign-up: %v %v", eve, err)
		}
	})
}

// An auth record's id may not be one an auth record of another
// collection has: rules compare ids, so a sign-up must not become
// someone else (a superuser least of all).
func TestAuthIDsAreUniqueAcrossCollections(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		users := collection(t, app, `{"name":"users","type":"auth","createRule":""}`)
		members := collection(t, app, `{"name":"members","type":"auth","createRule":""}`)
		posts := collection(t, app, `{"name":"posts","fields":[{"name":"title","type":"text"}]}`)
		root, err := app.Auth.UpsertSuperuser(ctx, "root@example.com", "root-password-1")
		if err != nil {
			t.Fatal(err)
		}
		member := account(t, app, members, map[string]any{"email": "m@example.com", "password": "member-password-1"})
		signUp := func(id string) map[string]any {
			return map[string]any{"id": id, "email": "new@example.com", "password": "new-password-1", "passwordConfirm": "new-password-1"}
		}
		for _, tc := range []struct {
			name string
			req  *service.Request
			c    *core.Collection
			body map[string]any
			want core.Kind
		}{
			{"a superuser's id", guest, users, signUp(root.ID()), core.KindInvalid},
			{"another collection's id, by a superuser", superuser, users, signUp(member.ID()), core.KindInvalid},
			{"a new id", guest, users, signUp("freshid00000001"), ok},
			{"a base collection may reuse it", superuser, posts, map[string]any{"id": member.ID(), "title": "x"}, ok},
		} {
			_, err := app.Records.Create(ctx, tc.req, tc.c, tc.body)
			if kindOf(err) != tc.want || (tc.want != ok && fieldCode(err, "id") != "validation_not_unique") {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		res, err := app.Records.List(ctx, superuser, users, records.ListParams{})
		if err != nil || res.TotalItems != 1 || res.Items[0].ID() != "freshid00000001" {
			t.Errorf("users: %v %v", res, err)
		}
	})
}

// Deleting an account deletes what belongs to it: its one-time codes,
// linked identities, pending second factors and login origins, and only
// its own.
func TestDeletingAnAccountDeletesItsLoginState(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		users := collection(t, app, `{"name":"users","type":"auth","otp":{"enabled":true}}`)
		var accounts []*core.Record
		for _, email := range []string{"gone@example.com", "stays@example.com"} {
			u := account(t, app, users, map[string]any{"email": email, "password": "user-password-1"})
			accounts = append(accounts, u)
			if _, err := app.Auth.RequestOTP(ctx, users, email); err != nil {
				t.Fatalf("request otp: %v", err)
			}
			from := auth.WithOrigin(ctx, auth.Origin{IP: "192.0.2.1", UserAgent: "test"})
			if _, _, err := app.Auth.AuthWithPassword(from, users, email, "user-password-1", "", ""); err != nil {
				t.Fatalf("log in: %v", err)
			}
			ref := map[string]any{"collectionRef": users.ID, "recordRef": u.ID()}
			for name, extra := range map[string]map[string]any{
				auth.ExternalAuthsName: {"provider": "google", "providerId": "g-" + u.ID()},
				auth.MFAsName:          {"method": "password"},
			} {
				body := map[string]any{}
				for k, v := range ref {
					body[k] = v
				}
				for k, v := range extra {
					body[k] = v
				}
				if _, err := app.Records.Create(ctx, superuser, system(t, app, name), body); err != nil {
					t.Fatalf("create %s: %v", name, err)
				}
			}
		}
		gone, stays := accounts[0], accounts[1]
		count := func(name, recordRef string) int {
			res, err := app.Records.List(ctx, superuser, system(t, app, name), records.ListParams{Filter: `recordRef = "` + recordRef + `"`})
			if err != nil {
				t.Fatalf("list %s: %v", name, err)
			}
			return res.TotalItems
		}
		names := []string{auth.OTPsName, auth.ExternalAuthsName, auth.MFAsName, auth.AuthOriginsName}
		for _, name := range names {
			if n := count(name, gone.ID()); n != 1 {
				t.Fatalf("%s before the delete: %d rows", name, n)
			}
		}
		if err := app.Records.Delete(ctx, superuser, users, gone.ID()); err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if n := count(name, gone.ID()); n != 0 {
				t.Errorf("%s: %d rows of the deleted account", name, n)
			}
			if n := count(name, stays.ID()); n != 1 {
				t.Errorf("%s: %d rows of the other account, want 1", name, n)
			}
		}
	})
}

// The last superuser cannot be deleted, so there is always a way in.
func TestLastSuperuserStays(t *testing.T) {
	testkit.EachApp(t, func(t *testing.T, app *tortoise.App) {
		ctx := context.Background()
		sus := system(t, app, core.SuperusersName)
		first, err := app.Auth.UpsertSuperuser(ctx, "first@example.com", "first-password-1")
		if err != nil {
			t.Fatal(err)
		}
		second, err := app.Auth.UpsertSuperuser(ctx, "second@example.com", "second-password-1")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			req  *service.Request
			id   string
			want core.Kind
		}{
			{"a guest", guest, first.ID(), core.KindForbidden},
			{"a superuser deletes one of two", superuser, first.ID(), ok},
			{"the last one", superuser, second.ID(), core.KindInvalid},
		} {
			if err := app.Records.Delete(ctx, tc.req, sus, tc.id); kindOf(err) != tc.want {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		login(t, app, sus, "second@example.com", "second-password-1")
	})
}
